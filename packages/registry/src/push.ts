// push: one SavedModel export -> one immutable version.
//
// Order of writes, and why:
//   1. catwalk-claim.json with If-None-Match: *   a version folder belongs to one push, for ever
//   2. the files, each tagged with its sha256
//   3. the claim again, sealed (If-Match)          nobody may retire the claim from here on
//   4. catwalk-manifest.json with If-None-Match: * the version exists from here on
// A folder is only ever written by the push named in its claim. A push that
// finds the claim of a dead push of the same files does not write into that
// folder: it retires the claim (compare-and-swap, only while unsealed), which
// stops the old push at its seal, then claims a new number and copies the
// files it can verify from the abandoned folder, server-side. An upload of
// the old push still in flight can therefore only land in a folder that will
// never get a manifest.

import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { listVersions, readClaim, type VersionInfo, type VersionState } from './catalog';
import { ConflictError, IdenticalExportError, VersionExistsError } from './errors';
import { mapLimit, sha256File, sha256Text } from './hash';
import { whoAmI } from './identity';
import {
  checkVersionNumber,
  claimKey,
  formatUri,
  type ModelLocation,
  manifestKey,
  modelKey,
} from './location';
import {
  CLAIM_FORMAT,
  type Claim,
  fingerprintLines,
  MANIFEST_FORMAT,
  type ManifestFile,
  parseManifest,
} from './records';
import {
  copyObject,
  deleteKeys,
  getText,
  headObject,
  isNotFound,
  putJson,
  requireConditionalWrites,
} from './s3';
import { type CheckedExport, checkExport, type ExportFile } from './savedmodel';
import {
  checkWarmupFile,
  InvalidWarmupError,
  type RecordedSignatures,
  readExportSignatures,
  type SignedManifest,
  savedmodel,
  type WarmupRequests,
  warmupFileBytes,
} from './signature-check';
import { abortUploads, ByteBudget, uploadFile } from './upload';

export interface PushProgress {
  readonly phase: 'uploading' | 'done';
  readonly version?: number;
  readonly filesDone: number;
  readonly filesTotal: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** Files found already uploaded by an earlier, interrupted push. */
  readonly filesSkipped: number;
}

export interface PushOptions {
  readonly client: S3Client;
  readonly location: ModelLocation;
  /** One export folder (saved_model.pb at its root). */
  readonly dir: string;
  /** The version to write; it must be free (never claimed, never pruned). @default highest ever used + 1 */
  readonly version?: number;
  /**
   * A number to use when it was never used (e.g. the export folder's own name,
   * 00000123 -> 123); when taken, the next free number is used and
   * `preferredVersionTaken` in the result says why. Ignored with `version`.
   */
  readonly preferredVersion?: number;
  /**
   * Refuse (IdenticalExportError) when a complete version holds exactly these
   * files, instead of adding a duplicate version. @default false
   */
  readonly refuseIdentical?: boolean;
  /** Files uploaded at once. @default 8 */
  readonly concurrency?: number;
  /** Files above this size go up in parts of this size. @default 8 MiB */
  readonly partSize?: number;
  /** Bytes read from disk but not yet sent, across all uploads of the push. @default 32 MiB */
  readonly memoryBudget?: number;
  /** A claim not refreshed for this long belongs to a push that died. @default 30000 */
  readonly leaseMs?: number;
  /** @default user@host */
  readonly pushedBy?: string;
  /** @default 'catwalk' */
  readonly tool?: string;
  /**
   * @deprecated Ignored. A push has one retry layer, the S3 client's: set
   * `maxAttempts` on createS3Client (@default DEFAULT_ATTEMPTS per request).
   */
  readonly attempts?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: PushProgress) => void;
  /** Trouble that did not stop the push (a heartbeat that failed and will be tried again). */
  readonly onWarning?: (message: string) => void;
  /**
   * Requests TF Serving replays when it loads the version, checked against
   * the signature they call and written into the version as
   * assets.extra/tf_serving_warmup_requests (at most 1,000).
   */
  readonly warmup?: WarmupRequests;
}

export interface PushResult {
  readonly version: number;
  readonly uri: string;
  readonly files: number;
  readonly bytes: number;
  readonly uploadedBytes: number;
  readonly skippedFiles: number;
  /** Whether it continued an interrupted push of the same files (copying what that push had uploaded). */
  readonly resumed: boolean;
  /** The version of the interrupted push it continued. */
  readonly resumedFrom?: number;
  /** When `preferredVersion` could not be used: the state of the version that holds that number. */
  readonly preferredVersionTaken?: VersionState | 'claimed';
  /** With the signatures recorded, when the export's could be read. */
  readonly manifest: SignedManifest;
}

const MiB = 1024 * 1024;

interface Chosen {
  readonly version: number;
  readonly etag: string;
  readonly preferredVersionTaken?: VersionState | 'claimed';
  /** An abandoned folder of a dead push of the same files, to copy verified files from. */
  readonly resumeFrom?: number;
  /** Multipart uploads that dead pushes had open: aborted, since they cannot. */
  readonly abandonedUploads: ReadonlyArray<{ readonly key: string; readonly uploadId: string }>;
}

/** Whether process `pid` on this host is gone (a pid we may not signal still exists). */
function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A claim nobody works on any more: marked interrupted, its lease expired, or its process on this host gone. */
const isStale = (claim: Claim, leaseMs: number, now: number) =>
  claim.interrupted === true ||
  now - Date.parse(claim.heartbeatAt) > leaseMs ||
  (claim.host === os.hostname() &&
    claim.pid !== undefined &&
    claim.pid !== process.pid &&
    processGone(claim.pid));

/**
 * Claims a version folder of our own: the number asked for if it was never
 * used, else the next number above every one ever used (pruned numbers
 * included: their tombstones stay). On the way, retires the claim of a dead
 * push of the same files so its uploads can be copied.
 */
async function claimVersion(
  options: PushOptions,
  versions: readonly VersionInfo[],
  claim: Claim,
  leaseMs: number,
): Promise<Chosen> {
  const { client, location } = options;
  const create = async (version: number) => {
    try {
      return await putJson(client, location.bucket, claimKey(location, version), claim, { ifNoneMatch: '*' });
    } catch (error) {
      // After a lost response the SDK's retry meets our own claim: recognise it by its push id.
      const there = await readClaim(client, location, version).catch(() => undefined);
      if (there?.pushId === claim.pushId && !there.retiredBy) return there.etag;
      throw error;
    }
  };

  if (options.version !== undefined) {
    const asked = options.version;
    const v = versions.find((x) => x.version === asked);
    if (v) throw new VersionExistsError(versionTakenMessage(location, v));
    try {
      return { version: asked, etag: await create(asked), abandonedUploads: [] };
    } catch (error) {
      if (error instanceof ConflictError) {
        throw new VersionExistsError(
          `another push claimed ${formatUri(location, asked)} at the same moment; versions are never shared. ` +
            'Push without --version to get the next free number.',
        );
      }
      throw error;
    }
  }

  // Dead pushes (any export): retire their claims (only while unsealed: If-Match on what we read), so
  // they can never complete, and collect the multipart uploads they left open for the caller to abort.
  // The files of a dead push of exactly these files are then copied instead of uploaded again.
  let resumeFrom: number | undefined;
  const abandonedUploads: Array<{ key: string; uploadId: string }> = [];
  const now = Date.now();
  for (const v of versions) {
    const c = v.claim;
    if (v.state !== 'incomplete' || !c) continue;
    if (c.sealed || c.retiredBy || c.pruned || !isStale(c, leaseMs, now)) continue;
    const same = c.exportId === claim.exportId;
    if (!same && !c.uploads?.length) continue; // nothing to clean up; leave it to its own rerun
    try {
      await putJson(
        client,
        location.bucket,
        claimKey(location, v.version),
        { ...withoutEtag(c), retiredBy: claim.pushId },
        { ifMatch: c.etag },
      );
      abandonedUploads.push(...(c.uploads ?? []));
      if (same && resumeFrom === undefined) resumeFrom = v.version;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error; // it sealed, beat, or someone else retired it
    }
  }
  // A folder of these files that another push already retired can still be copied from.
  resumeFrom ??= versions.find(
    (v) =>
      v.state === 'abandoned' &&
      v.claim?.exportId === claim.exportId &&
      v.keys.some((k) => k !== claimKey(location, v.version)),
  )?.version;

  let preferredVersionTaken: VersionState | 'claimed' | undefined;
  if (options.preferredVersion !== undefined) {
    const preferred = options.preferredVersion;
    const holder = versions.find((v) => v.version === preferred);
    if (holder) {
      preferredVersionTaken = holder.state;
    } else {
      try {
        const etag = await create(preferred);
        return {
          version: preferred,
          etag,
          abandonedUploads,
          ...(resumeFrom !== undefined ? { resumeFrom } : {}),
        };
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        preferredVersionTaken = 'claimed'; // a concurrent push got there first
      }
    }
  }
  let next = versions.reduce((max, v) => Math.max(max, v.version), 0) + 1;
  for (let attempt = 0; attempt < 100; attempt++, next++) {
    checkVersionNumber(next);
    try {
      const etag = await create(next);
      return {
        version: next,
        etag,
        abandonedUploads,
        ...(resumeFrom !== undefined ? { resumeFrom } : {}),
        ...(preferredVersionTaken ? { preferredVersionTaken } : {}),
      };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error; // taken by a concurrent push: try the next number
    }
  }
  throw new ConflictError(
    `could not claim a version number for ${formatUri(location)}: too many concurrent pushes`,
  );
}

const withoutEtag = ({ etag: _, ...rest }: Claim & { etag: string }): Claim => rest;

function versionTakenMessage(location: ModelLocation, v: VersionInfo): string {
  const uri = formatUri(location, v.version);
  if (v.state === 'pruned') {
    return `${uri} was pruned; a version number is never used twice (a pod may still hold the old bytes). Push without --version to get the next free number.`;
  }
  if (v.state === 'incomplete') {
    const who = v.claim ? ` by ${v.claim.pushedBy} (started ${v.claim.startedAt})` : '';
    return (
      `${uri} was started by another push${who} and is not complete; a version folder is only ever ` +
      'written by the push that claimed it. Push without --version to get the next free number.'
    );
  }
  return `${uri} already exists (${v.state}); versions are never overwritten. Push without --version to get the next number.`;
}

/** The complete version holding exactly these files, if one does (hashes only when paths and sizes match). */
async function identicalVersion(
  versions: readonly VersionInfo[],
  files: readonly ExportFile[],
): Promise<VersionInfo | undefined> {
  const shape = (list: ReadonlyArray<{ path: string; size: number }>) =>
    list
      .map((f) => `${f.path} ${f.size}`)
      .sort()
      .join('\n');
  const ours = shape(files);
  const candidates = versions.filter((v) => v.state === 'complete' && shape(v.manifest!.files) === ours);
  if (candidates.length === 0) return undefined;
  const hashed: ManifestFile[] = await mapLimit(files, 4, async (f) => ({
    path: f.path,
    size: f.size,
    sha256: await sha256File(f.absolute),
  }));
  const fingerprint = sha256Text(fingerprintLines(hashed));
  return candidates.find((v) => v.manifest!.fingerprint === fingerprint);
}

/**
 * Pushes one export as a new version. Its signatures are read first and
 * recorded in the manifest; an export whose signatures cannot be read is
 * still pushed, without them, after a warning (TF Serving's own reader is
 * the judge of whether it loads; only the release check loses sight of its
 * interface). Warm-up requests, when given, are checked against the
 * signature they call and added as assets.extra/tf_serving_warmup_requests.
 */
export async function push(options: PushOptions): Promise<PushResult> {
  if (options.version !== undefined) checkVersionNumber(options.version, '--version');
  if (options.preferredVersion !== undefined) checkVersionNumber(options.preferredVersion);
  const exported = await checkExport(options.dir);
  const { WARMUP_FILE } = savedmodel();
  const read = await readExportSignatures(
    options.dir,
    exported.files.map((f) => f.path),
  );
  if (!options.warmup) {
    if (exported.files.some((f) => f.path === WARMUP_FILE)) {
      await checkWarmupFile(path.join(options.dir, ...WARMUP_FILE.split('/')), read);
    }
    if ('problem' in read) {
      options.onWarning?.(
        `the signatures of ${options.dir} cannot be read (${read.problem}); pushing it without them, ` +
          'so release cannot check its inputs and outputs against the stable version',
      );
    }
    return pushChecked(options, exported, 'signatures' in read ? read.signatures : undefined);
  }
  if (exported.files.some((f) => f.path === WARMUP_FILE)) {
    throw new InvalidWarmupError(
      `${options.dir} already holds ${WARMUP_FILE}; remove it from the export or push without --warmup`,
    );
  }
  const bytes = warmupFileBytes(options.location.name, read, options.warmup);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'catwalk-warmup-'));
  try {
    const absolute = path.join(work, path.basename(WARMUP_FILE));
    await fs.writeFile(absolute, bytes);
    // A constant mtime: a rerun with the same requests is the same export, and resumes.
    const files = [...exported.files, { path: WARMUP_FILE, absolute, size: bytes.length, mtimeMs: 0 }].sort(
      (a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
    );
    return await pushChecked(
      options,
      { dir: exported.dir, files, totalBytes: exported.totalBytes + bytes.length },
      'signatures' in read ? read.signatures : undefined,
    );
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

async function pushChecked(
  options: PushOptions,
  checked: CheckedExport,
  signatures: RecordedSignatures | undefined,
): Promise<PushResult> {
  const { client, location, signal } = options;
  const concurrency = options.concurrency ?? 8;
  const partSize = Math.max(5 * MiB, options.partSize ?? 8 * MiB);
  const leaseMs = options.leaseMs ?? 30_000;
  const budget = new ByteBudget(Math.max(partSize, options.memoryBudget ?? 32 * MiB));
  await requireConditionalWrites(client, location.bucket, location.prefix);

  const total = { files: checked.files.length, bytes: checked.totalBytes };
  let filesDone = 0;
  let bytesDone = 0;
  let filesSkipped = 0;
  let version: number | undefined;
  const report = (phase: PushProgress['phase']) =>
    options.onProgress?.({
      phase,
      ...(version !== undefined ? { version } : {}),
      filesDone,
      filesTotal: total.files,
      bytesDone,
      bytesTotal: total.bytes,
      filesSkipped,
    });

  // Which export this is, without reading it: paths, sizes and modification times. A rerun on the
  // same unchanged folder has the same id and resumes; contents are hashed file by file while uploading.
  const exportId = sha256Text(checked.files.map((f) => `${f.path} ${f.size} ${f.mtimeMs}\n`).join(''));
  const pushId = randomUUID();
  const pushedBy = options.pushedBy ?? whoAmI();
  const startedAt = new Date().toISOString();
  const claimFor = (extra: Partial<Claim> = {}): Claim => ({
    format: CLAIM_FORMAT,
    pushId,
    exportId,
    startedAt,
    pushedBy,
    heartbeatAt: new Date().toISOString(),
    host: os.hostname(),
    pid: process.pid,
    ...(openUploads.size > 0
      ? { uploads: [...openUploads].map(([uploadId, key]) => ({ key, uploadId })) }
      : {}),
    ...extra,
  });
  /** uploadId -> key of the multipart uploads open right now. */
  const openUploads = new Map<string, string>();

  const versions = await listVersions(client, location);
  if (options.version !== undefined) {
    const taken = versions.find((v) => v.version === options.version);
    if (taken) throw new VersionExistsError(versionTakenMessage(location, taken));
  }
  if (options.refuseIdentical) {
    const same = await identicalVersion(versions, checked.files);
    if (same) {
      throw new IdenticalExportError(
        same.version,
        `${options.dir} is identical to ${formatUri(location, same.version)} (same files, same sha256); ` +
          'nothing was pushed. Push with --force to add it again as a new version.',
      );
    }
  }
  const chosen = await claimVersion(options, versions, claimFor(), leaseMs);
  version = chosen.version;
  if (chosen.abandonedUploads.length > 0) {
    // Parts of a killed push's uploads are stored (and billed) until someone aborts them.
    const failed = await abortUploads(client, location.bucket, chosen.abandonedUploads);
    if (failed.length > 0) {
      options.onWarning?.(
        `could not abort ${failed.length} unfinished upload${failed.length === 1 ? '' : 's'} of a push that died ` +
          `(${failed[0]}); the bucket's lifecycle rule removes them (see the registry README)`,
      );
    }
  }
  let claimEtag = chosen.etag;
  const keyOf = (p: string) => modelKey(location, chosen.version, p);
  const lost = () =>
    new ConflictError(
      `another push judged this one dead and took over its files (its lease of ${leaseMs} ms ran out); ` +
        `this push stopped without completing ${formatUri(location, chosen.version)}. Run it again.`,
    );

  // Keep the claim fresh so nobody retires a push that is still running. One heartbeat at a time:
  // each carries the ETag the previous one returned.
  let lostClaim: ConflictError | undefined;
  let stopBeating: () => void = () => undefined;
  let stopped = false;
  let uploadsChanged = false;
  const beatOnce = async () => {
    const sent = claimFor();
    try {
      claimEtag = await putJson(client, location.bucket, claimKey(location, chosen.version), sent, {
        ifMatch: claimEtag,
      });
    } catch (error) {
      // A 412 after a lost response is our own write: read it back before calling it a takeover.
      const now = await readClaim(client, location, chosen.version).catch(() => undefined);
      if (now?.retiredBy || (error instanceof ConflictError && now?.pushId !== pushId)) {
        lostClaim = lost();
        return;
      }
      if (now?.pushId === pushId) claimEtag = now.etag; // still ours: carry on from what is there
      if (now?.heartbeatAt !== sent.heartbeatAt && !(error instanceof ConflictError)) {
        options.onWarning?.(
          `could not refresh the claim on ${formatUri(location, chosen.version)} (${(error as Error).message}); ` +
            'trying again',
        );
      }
    }
  };
  const heartbeat = (async () => {
    while (!stopped && !lostClaim) {
      if (!uploadsChanged)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(100, leaseMs / 3));
          timer.unref();
          stopBeating = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      if (stopped || lostClaim) break;
      uploadsChanged = false;
      await beatOnce();
    }
  })();
  // A new or finished multipart upload is written into the claim at once, not at the next beat.
  const onMultipart = (event: 'open' | 'closed', uploadId: string, key: string) => {
    if (event === 'open') openUploads.set(uploadId, key);
    else openUploads.delete(uploadId);
    uploadsChanged = true;
    stopBeating();
  };
  const stopHeartbeat = async () => {
    stopped = true;
    stopBeating();
    await heartbeat;
  };

  let sealed = false;
  try {
    report('uploading');
    const hashes = new Map<string, string>();
    const copyFromAbandoned = async (file: ExportFile): Promise<string | undefined> => {
      if (chosen.resumeFrom === undefined) return undefined;
      const from = modelKey(location, chosen.resumeFrom, file.path);
      const head = await headObject(client, location.bucket, from);
      if (!head || head.size !== file.size || !head.metadata.sha256) return undefined;
      const sha256 = await sha256File(file.absolute);
      if (head.metadata.sha256 !== sha256) return undefined;
      // A prune may clean the abandoned folder meanwhile: then the file is simply uploaded.
      const copiedOk = await copyObject(client, location.bucket, from, keyOf(file.path)).then(
        () => true,
        (error) => {
          if (isNotFound(error)) return false;
          throw error;
        },
      );
      if (!copiedOk) return undefined;
      // The abandoned folder may still receive a late upload: trust only what the copy holds.
      const copied = await headObject(client, location.bucket, keyOf(file.path));
      return copied?.size === file.size && copied.metadata.sha256 === sha256 ? sha256 : undefined;
    };
    const uploadOne = async (file: ExportFile) => {
      signal?.throwIfAborted();
      if (lostClaim) throw lostClaim;
      const copied = await copyFromAbandoned(file);
      if (copied) {
        hashes.set(file.path, copied);
        filesSkipped++;
        filesDone++;
        bytesDone += file.size;
        report('uploading');
        return 0;
      }
      const sha256 = await uploadFile(
        { client, bucket: location.bucket, key: keyOf(file.path), file: file.absolute, size: file.size },
        {
          partSize,
          partConcurrency: 4,
          budget,
          ...(signal ? { signal } : {}),
          onBytes: (n) => {
            bytesDone += n;
            report('uploading');
          },
          onMultipart: (event, uploadId) => onMultipart(event, uploadId, keyOf(file.path)),
        },
      );
      hashes.set(file.path, sha256);
      filesDone++;
      report('uploading');
      return file.size;
    };
    // Largest first, so the long multipart uploads do not start last; the byte budget bounds memory.
    const bySize = [...checked.files].sort((a, b) => b.size - a.size);
    const uploaded = await mapLimit(bySize, concurrency, uploadOne);
    const files: ManifestFile[] = checked.files.map((f) => ({
      path: f.path,
      size: f.size,
      sha256: hashes.get(f.path)!,
    }));
    const fingerprint = sha256Text(fingerprintLines(files));
    await stopHeartbeat();
    if (lostClaim) throw lostClaim;
    signal?.throwIfAborted();

    // Seal: after this nobody can retire the claim, and a retirement that got in first makes this fail.
    try {
      claimEtag = await putJson(
        client,
        location.bucket,
        claimKey(location, chosen.version),
        claimFor({ sealed: true }),
        { ifMatch: claimEtag },
      );
    } catch (error) {
      const now = await readClaim(client, location, chosen.version).catch(() => undefined);
      if (!(now && now.pushId === pushId && now.sealed && !now.retiredBy)) {
        if (error instanceof ConflictError || now?.retiredBy) throw lost();
        throw error;
      }
      claimEtag = now.etag; // our seal landed; only its response was lost
    }
    sealed = true;

    const manifest: SignedManifest = {
      format: MANIFEST_FORMAT,
      model: location.name,
      version: chosen.version,
      files,
      totalBytes: total.bytes,
      fingerprint,
      pushedAt: new Date().toISOString(),
      pushedBy,
      pushId,
      tool: options.tool ?? 'catwalk',
      ...(signatures ? { signatures } : {}),
    };
    const key = manifestKey(location, chosen.version);
    try {
      await putJson(client, location.bucket, key, manifest, { ifNoneMatch: '*' });
    } catch (error) {
      // After a 412 or a lost response, the manifest there may be our own.
      const there = await getText(client, location.bucket, key).catch(() => undefined);
      const ours = there
        ? parseManifest(there.text, `s3://${location.bucket}/${key}`).pushId === pushId
        : false;
      if (!ours) {
        if (error instanceof ConflictError) {
          throw new ConflictError(
            `${formatUri(location, chosen.version)} got a manifest from another push although this push held its sealed claim; ` +
              'the S3 server does not honour conditional writes',
          );
        }
        throw error;
      }
    }
    if (chosen.resumeFrom !== undefined) {
      // The abandoned folder's files live on in this version; its claim stays, so its number is never reused.
      const abandoned = versions.find((v) => v.version === chosen.resumeFrom);
      const leftovers = (abandoned?.keys ?? []).filter((k) => k !== claimKey(location, chosen.resumeFrom!));
      await deleteKeys(client, location.bucket, leftovers).catch((error) =>
        options.onWarning?.(
          `could not delete the files of abandoned ${formatUri(location, chosen.resumeFrom!)}: ${(error as Error).message}`,
        ),
      );
    }
    report('done');
    return {
      version: chosen.version,
      uri: formatUri(location, chosen.version),
      files: files.length,
      bytes: total.bytes,
      uploadedBytes: uploaded.reduce((n, b) => n + b, 0),
      skippedFiles: filesSkipped,
      resumed: chosen.resumeFrom !== undefined,
      ...(chosen.resumeFrom !== undefined ? { resumedFrom: chosen.resumeFrom } : {}),
      ...(chosen.preferredVersionTaken ? { preferredVersionTaken: chosen.preferredVersionTaken } : {}),
      manifest,
    };
  } catch (error) {
    await stopHeartbeat();
    // Say at once that this push stopped, so a rerun resumes without waiting for the lease.
    if (!lostClaim && !sealed) {
      await putJson(
        client,
        location.bucket,
        claimKey(location, chosen.version),
        claimFor({ interrupted: true }),
        { ifMatch: claimEtag },
      ).catch(() => undefined);
    }
    throw error;
  }
}
