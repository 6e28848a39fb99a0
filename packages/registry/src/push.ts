// push: one SavedModel export -> one immutable version.
//
// Order of writes, and why:
//   1. catwalk-claim.json with If-None-Match: *   two pushes never share a version
//   2. the files, each tagged with its sha256      a rerun skips what is already there
//   3. catwalk-manifest.json with If-None-Match: * the version exists from here on
// A push that stops anywhere before 3 leaves an incomplete version that
// readers ignore and that the next push of the same files resumes.

import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import type { S3Client } from '@aws-sdk/client-s3';
import { listVersions, type VersionInfo } from './catalog';
import { ConflictError, VersionExistsError } from './errors';
import { mapLimit, sha256File, sha256Text } from './hash';
import { whoAmI } from './identity';
import { claimKey, formatUri, type ModelLocation, manifestKey, modelKey } from './location';
import {
  CLAIM_FORMAT,
  type Claim,
  fingerprintLines,
  MANIFEST_FORMAT,
  type Manifest,
  type ManifestFile,
} from './records';
import { headObject, putJson, requireConditionalWrites } from './s3';
import { checkExport, type ExportFile } from './savedmodel';
import { ByteBudget, uploadFile } from './upload';

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
  /** The version to write. @default highest existing + 1 (or the interrupted push of the same files) */
  readonly version?: number;
  /** Files uploaded at once. @default 8 */
  readonly concurrency?: number;
  /** Files above this size go up in parts of this size. @default 8 MiB */
  readonly partSize?: number;
  /** Bytes read from disk but not yet sent, across all uploads of the push. @default 64 MiB */
  readonly memoryBudget?: number;
  /** A claim not refreshed for this long belongs to a push that died. @default 30000 */
  readonly leaseMs?: number;
  /** @default user@host */
  readonly pushedBy?: string;
  /** @default 'catwalk' */
  readonly tool?: string;
  /** Attempts per file upload (on top of the SDK's own per-request retries). @default 5 */
  readonly attempts?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: PushProgress) => void;
}

export interface PushResult {
  readonly version: number;
  readonly uri: string;
  readonly files: number;
  readonly bytes: number;
  readonly uploadedBytes: number;
  readonly skippedFiles: number;
  /** Whether it continued an interrupted push of the same files. */
  readonly resumed: boolean;
  readonly manifest: Manifest;
}

const MiB = 1024 * 1024;

interface Chosen {
  readonly version: number;
  readonly etag: string;
  readonly resumed: boolean;
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

/** Claims the version to write: the one asked for, an interrupted push of the same files, or the next free number. */
async function claimVersion(
  options: PushOptions,
  versions: readonly VersionInfo[],
  claim: Claim,
  leaseMs: number,
): Promise<Chosen> {
  const { client, location } = options;
  const now = Date.now();
  const takeOver = async (v: VersionInfo): Promise<Chosen> => {
    const key = claimKey(location, v.version);
    const etag = v.claim
      ? await putJson(client, location.bucket, key, claim, { ifMatch: v.claim.etag })
      : await putJson(client, location.bucket, key, claim, { ifNoneMatch: '*' });
    return { version: v.version, etag, resumed: v.claim?.exportId === claim.exportId };
  };

  if (options.version !== undefined) {
    const asked = options.version;
    const v = versions.find((x) => x.version === asked);
    if (v && v.state !== 'incomplete') {
      throw new VersionExistsError(
        `${formatUri(location, asked)} already exists (${v.state}); versions are never overwritten. ` +
          'Push without --version to get the next number.',
      );
    }
    if (v?.claim && !isStale(v.claim, leaseMs, now)) {
      throw new ConflictError(
        `version ${asked} is being pushed right now by ${v.claim.pushedBy} (started ${v.claim.startedAt}); ` +
          'pick another version or wait for it to finish',
      );
    }
    try {
      return v
        ? await takeOver(v)
        : {
            version: asked,
            etag: await putJson(client, location.bucket, claimKey(location, asked), claim, {
              ifNoneMatch: '*',
            }),
            resumed: false,
          };
    } catch (error) {
      if (error instanceof ConflictError) {
        throw new ConflictError(
          `another push claimed version ${asked} at the same moment; pick another version`,
        );
      }
      throw error;
    }
  }

  // Resume the interrupted push of exactly these files, if there is one.
  for (const v of versions) {
    if (v.state === 'incomplete' && v.claim?.exportId === claim.exportId && isStale(v.claim, leaseMs, now)) {
      try {
        return await takeOver(v);
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error; // someone else resumed it first
      }
    }
  }
  let next = versions.reduce((max, v) => Math.max(max, v.version), 0) + 1;
  for (let attempt = 0; attempt < 100; attempt++, next++) {
    try {
      const etag = await putJson(client, location.bucket, claimKey(location, next), claim, {
        ifNoneMatch: '*',
      });
      return { version: next, etag, resumed: false };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error; // taken by a concurrent push: try the next number
    }
  }
  throw new ConflictError(
    `could not claim a version number for ${formatUri(location)}: too many concurrent pushes`,
  );
}

/** Pushes one checked export as a new version. */
export async function push(options: PushOptions): Promise<PushResult> {
  const { client, location, signal } = options;
  const concurrency = options.concurrency ?? 8;
  const partSize = Math.max(5 * MiB, options.partSize ?? 8 * MiB);
  const leaseMs = options.leaseMs ?? 30_000;
  const budget = new ByteBudget(Math.max(partSize, options.memoryBudget ?? 32 * MiB));
  const checked = await checkExport(options.dir);
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
    ...extra,
  });

  const versions = await listVersions(client, location);
  const chosen = await claimVersion(options, versions, claimFor(), leaseMs);
  version = chosen.version;
  let claimEtag = chosen.etag;
  const keyOf = (p: string) => modelKey(location, chosen.version, p);

  // Keep the claim fresh so nobody resumes a push that is still running.
  let lostClaim: unknown;
  let heartbeatRunning = Promise.resolve();
  const heartbeat = setInterval(
    () => {
      heartbeatRunning = putJson(client, location.bucket, claimKey(location, chosen.version), claimFor(), {
        ifMatch: claimEtag,
      }).then(
        (etag) => {
          claimEtag = etag;
        },
        (error) => {
          if (error instanceof ConflictError) lostClaim = error;
        },
      );
    },
    Math.max(100, leaseMs / 3),
  );
  heartbeat.unref();

  try {
    report('uploading');
    const hashes = new Map<string, string>();
    const uploadOne = async (file: ExportFile) => {
      signal?.throwIfAborted();
      if (lostClaim)
        throw new ConflictError(`another push took over version ${chosen.version}; this push stopped`);
      if (chosen.resumed) {
        const head = await headObject(client, location.bucket, keyOf(file.path));
        if (head && head.size === file.size && head.metadata.sha256) {
          const sha256 = await sha256File(file.absolute);
          if (head.metadata.sha256 === sha256) {
            hashes.set(file.path, sha256);
            filesSkipped++;
            filesDone++;
            bytesDone += file.size;
            report('uploading');
            return 0;
          }
        }
      }
      const sha256 = await uploadFile(
        { client, bucket: location.bucket, key: keyOf(file.path), file: file.absolute, size: file.size },
        {
          partSize,
          partConcurrency: 4,
          budget,
          retry: { attempts: options.attempts ?? 5, ...(signal ? { signal } : {}) },
          ...(signal ? { signal } : {}),
          onBytes: (n) => {
            bytesDone += n;
            report('uploading');
          },
        },
      );
      hashes.set(file.path, sha256);
      filesDone++;
      report('uploading');
      return file.size;
    };
    // Largest first, so the long multipart uploads do not start last; the byte budget bounds memory.
    const bySize = [...checked.files].sort((a, b) => b.size - a.size);
    const uploaded = [await mapLimit(bySize, concurrency, uploadOne)];
    const files: ManifestFile[] = checked.files.map((f) => ({
      path: f.path,
      size: f.size,
      sha256: hashes.get(f.path)!,
    }));
    const fingerprint = sha256Text(fingerprintLines(files));
    await heartbeatRunning;
    if (lostClaim)
      throw new ConflictError(`another push took over version ${chosen.version}; this push stopped`);

    const manifest: Manifest = {
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
    };
    signal?.throwIfAborted();
    try {
      await putJson(client, location.bucket, manifestKey(location, chosen.version), manifest, {
        ifNoneMatch: '*',
      });
    } catch (error) {
      if (error instanceof ConflictError) {
        throw new ConflictError(`version ${chosen.version} was completed by another push while this one ran`);
      }
      throw error;
    }
    clearInterval(heartbeat);
    report('done');
    return {
      version: chosen.version,
      uri: formatUri(location, chosen.version),
      files: files.length,
      bytes: total.bytes,
      uploadedBytes: uploaded.flat().reduce((n, b) => n + b, 0),
      skippedFiles: filesSkipped,
      resumed: chosen.resumed,
      manifest,
    };
  } catch (error) {
    clearInterval(heartbeat);
    await heartbeatRunning;
    // Say at once that this push stopped, so a rerun resumes without waiting for the lease.
    if (!lostClaim) {
      await putJson(
        client,
        location.bucket,
        claimKey(location, chosen.version),
        claimFor({ interrupted: true }),
        {
          ifMatch: claimEtag,
        },
      ).catch(() => undefined);
    }
    throw error;
  }
}
