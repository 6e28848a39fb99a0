// The sync executor: one poll brings the destination folder in line with
// the release. TF Serving watches that folder, so everything that appears
// in it appears whole: versions are downloaded into a temp folder on the
// same file system, verified against the manifest, then renamed into
// place; removed versions are renamed away before they are deleted; the
// live models.config is replaced by rename.

import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { completeManifests, listVersions, type ManifestCache, type ManifestReader } from './catalog';
import { ChecksumMismatchError, InvalidRecordError } from './errors';
import { HashingFileSink } from './file-sink';
import { mapLimit } from './hash';
import { MANIFEST_FILE, type ModelLocation, modelKey, parseVersionFolder, RESERVED_FILES } from './location';
import { type ConfigSource, renderModelsConfig } from './models-config';
import {
  type Manifest,
  type ManifestFile,
  parseManifest,
  type ReleaseState,
  unsafePathProblem,
} from './records';
import { defaultInitialRelease, type InitialRelease, initialState, readRelease } from './release';
import { describeError, withRetries } from './retry';
import { isNotFound } from './s3';
import { getObject, getObjectBytes } from './s3-direct';
import { planSync, servedConfig, type Track, wantedVersions } from './sync-plan';

export interface SyncOptions {
  readonly client: S3Client;
  readonly location: ModelLocation;
  /** The folder TF Serving watches for this model (its base_path). */
  readonly dest: string;
  /** @default 'all' */
  readonly track?: Track;
  /** The release before release.json exists. @default latest 1 */
  readonly initial?: InitialRelease;
  /** Where to write the live models.config, and what to write it from. */
  readonly config?: { readonly out: string; readonly source: ConfigSource };
  /** Files downloaded at once. @default 8 */
  readonly concurrency?: number;
  /**
   * Attempts per file and per manifest for what the S3 client's own retries cannot see: a body
   * cut short or reset after its headers, bytes that fail their sha256. A request that fails
   * (5xx, throttling, no answer) is retried by the client alone, up to its maxAttempts. @default 5
   */
  readonly attempts?: number;
  readonly signal?: AbortSignal;
  readonly onRetry?: (error: unknown, what: string) => void;
  /** Manifests read on earlier polls (complete versions never change). */
  readonly manifestCache?: ManifestCache;
  /** Fetch the files of a push in progress that the initial policy will want. @default true */
  readonly prefetch?: boolean;
  /**
   * How long a version stays on disk after models.config stopped naming it: TF Serving
   * reads models.config only every poll, and a folder that vanishes before then makes it
   * drop or fail the version on its own. Needs `state` to count from one poll to the next.
   * @default 0
   */
  readonly removeAfterMs?: number;
  /** What one poll leaves for the next (the sidecar keeps one). */
  readonly state?: SyncState;
}

/** Memory between polls. */
export interface SyncState {
  /** Versions models.config no longer names, and when they left it (ms since the epoch). */
  readonly leaving: Map<number, number>;
  /** Versions that failed verification, by "<version> <identity>": not tried again before retryAt. */
  readonly failed: Map<string, { reason: string; failures: number; retryAt: number }>;
}

export const newSyncState = (): SyncState => ({ leaving: new Map(), failed: new Map() });

/** A version that failed verification is tried again after this long, doubling up to FAILED_RETRY_MAX_MS. */
const FAILED_RETRY_MS = 30_000;
const FAILED_RETRY_MAX_MS = 5 * 60_000;

export interface SyncReport {
  readonly generation: number;
  readonly wanted: readonly number[];
  readonly present: readonly number[];
  readonly downloaded: readonly number[];
  readonly removed: readonly number[];
  readonly bytes: number;
  readonly missing: ReadonlyArray<{ readonly version?: number; readonly reason: string }>;
  /** Every wanted version is present and models.config names them. */
  readonly complete: boolean;
  readonly configChanged: boolean;
  /** A push this pod will want when it completes is running: worth polling again soon. */
  readonly pushInProgress: boolean;
  /** Wanted versions that cannot be served because S3 holds them corrupt or they failed verification. */
  readonly failed: ReadonlyArray<{ readonly version: number; readonly reason: string }>;
  /** Version folders on disk and the identity (sha256 of the manifest object's bytes) of each. */
  readonly onDisk: ReadonlyArray<{ readonly version: number; readonly identity: string | null }>;
  /** What models.config names after this poll. */
  readonly served: {
    readonly versions: readonly number[];
    readonly labels: Readonly<Record<string, number>>;
  };
  /** Set when the release lacks the label this pod's track follows: what is served instead, and why. */
  readonly fallback: string | null;
  /** Folders swapped for the version S3 holds now (their identity differed). */
  readonly replaced: readonly number[];
}

/** A claim refreshed within this long belongs to a push still running (push refreshes every lease/3). */
const LIVE_CLAIM_MS = 30_000;

const TMP = '.catwalk-tmp-';
const TRASH = '.catwalk-trash-';
const STAGE = '.catwalk-stage-';

/**
 * Version folders in `dest` that this sidecar writes: the number in its
 * canonical spelling. TF Serving also reads `00000123` as 123, but the sidecar
 * never writes such a name and every path it builds is `String(version)`, so a
 * padded folder someone else left is not one of ours and is left alone.
 */
export async function localVersions(dest: string): Promise<number[]> {
  const entries = await fs.readdir(dest, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const versions: number[] = [];
  for (const entry of entries) {
    const version = entry.isDirectory() ? parseVersionFolder(entry.name) : undefined;
    if (version !== undefined && String(version) === entry.name) versions.push(version);
  }
  return versions.sort((a, b) => a - b);
}

/** Removes temp and trash folders a killed sidecar left behind. */
export async function cleanLeftovers(dest: string): Promise<void> {
  const entries = await fs.readdir(dest).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((name) => name.startsWith(TMP) || name.startsWith(TRASH) || name.startsWith(STAGE))
      .map((name) => fs.rm(path.join(dest, name), { recursive: true, force: true })),
  );
}

/** Joins a manifest path under `root`, refusing anything that would land outside it. */
export function safeJoin(root: string, relative: string): string {
  const problem = unsafePathProblem(relative);
  if (problem) throw new InvalidRecordError(`refused to write '${relative}': it is ${problem}`);
  const full = path.resolve(root, ...relative.split('/'));
  if (!full.startsWith(path.resolve(root) + path.sep)) {
    throw new InvalidRecordError(`refused to write '${relative}': it resolves outside ${root}`);
  }
  return full;
}

/** What a downloaded file must be: its manifest entry, or (for a push in progress) the object's own metadata. */
type Expected = Pick<ManifestFile, 'size' | 'sha256'> | 'from-metadata';

/** Folders already created and checked during one download of a version, by path. */
type Folders = Map<string, Promise<void>>;

function plainFolder(dir: string, folders: Folders): Promise<void> {
  let ready = folders.get(dir);
  if (!ready) {
    ready = (async () => {
      await fs.mkdir(dir, { recursive: true });
      // A symlink planted where we write would send the bytes elsewhere: the folder must be ours, all the way down.
      const stat = await fs.lstat(dir);
      if (!stat.isDirectory())
        throw new InvalidRecordError(`refused to write into ${dir}: it is not a plain folder`);
    })();
    folders.set(dir, ready);
  }
  return ready;
}

/** Chunks reach the disk in writes of about this size: fewer system calls than one per network chunk. */
const WRITE_BYTES = 1024 * 1024;

async function downloadFile(
  options: SyncOptions,
  key: string,
  expected: Expected,
  target: string,
  onBytes: (n: number) => void,
  folders: Folders = new Map(),
): Promise<{ size: number; sha256: string }> {
  const { client, location, signal } = options;
  await plainFolder(path.dirname(target), folders);
  const response = await getObject(client, location.bucket, key, signal);
  const want =
    expected === 'from-metadata'
      ? { size: response.contentLength ?? -1, sha256: response.metadata.sha256 ?? '' }
      : expected;
  // 'wx': never follow or reuse something already at the path.
  const sink = new HashingFileSink(target, WRITE_BYTES, onBytes);
  await pipeline(response.body, sink, signal ? { signal } : {});
  const { size, sha256: digest } = sink.result();
  if (size !== want.size || digest !== want.sha256) {
    await fs.rm(target, { force: true });
    throw new ChecksumMismatchError(
      `s3://${location.bucket}/${key}: got ${size} bytes with sha256 ${digest.slice(0, 12)}…, ` +
        `the ${expected === 'from-metadata' ? 'object metadata' : 'manifest'} says ${want.size} bytes, ${want.sha256.slice(0, 12)}…`,
    );
  }
  return { size, sha256: digest };
}

/**
 * Files of a push still in progress, already downloaded and checked against
 * each object's sha256 metadata, kept in <dest>/.catwalk-stage-<v>/ with an
 * index beside it. When the manifest lands, files whose size and sha256
 * match it are moved into the version instead of being downloaded again:
 * the version appears moments after the push ends, whatever its size.
 */
interface Stage {
  readonly dir: string;
  readonly index: string;
  readonly files: Record<string, { size: number; sha256: string }>;
}

async function openStage(dest: string, version: number): Promise<Stage> {
  const dir = path.join(dest, `${STAGE}${version}`);
  const index = `${dir}.json`;
  const files = await fs
    .readFile(index, 'utf8')
    .then((t) => JSON.parse(t) as Stage['files'])
    .catch(() => ({}));
  return { dir, index, files };
}

async function prefetch(
  options: SyncOptions,
  version: number,
  keys: readonly string[],
  onBytes: (n: number) => void,
): Promise<void> {
  const stage = await openStage(options.dest, version);
  await fs.mkdir(stage.dir, { recursive: true });
  const prefix = `${modelKey(options.location, version)}/`;
  const todo = keys
    .map((k) => k.slice(prefix.length))
    .filter((rel) => !RESERVED_FILES.has(rel) && !unsafePathProblem(rel) && !stage.files[rel]);
  await mapLimit(todo, options.concurrency ?? 8, async (rel) => {
    const target = safeJoin(stage.dir, rel);
    await fs.rm(target, { force: true });
    // Best effort: a file that fails here is simply downloaded once the manifest is there.
    const got = await downloadFile(options, `${prefix}${rel}`, 'from-metadata', target, onBytes).catch(
      () => undefined,
    );
    if (got) stage.files[rel] = got;
  });
  await writeAtomic(stage.index, JSON.stringify(stage.files));
}

/**
 * A version as S3 holds it now: its manifest object's bytes and their sha256,
 * the version's identity. Two pushes that reused a number have different
 * identities even when their files look alike.
 */
interface Identified {
  readonly manifest: Manifest;
  readonly bytes: Buffer;
  readonly identity: string;
}

/**
 * Identities of the manifests the catalog handed out. Sync's catalog reads each
 * manifest through readIdentified and files the result here, so the bytes it
 * parsed are the identity and the download list; a poller's manifest cache
 * keeps them alive across polls.
 */
const identified = new WeakMap<Manifest, Promise<Identified>>();

/** One manifest read on the direct GET path: its bytes, what they parse to, their sha256 and the ETag. */
function readIdentified(options: SyncOptions, key: string): Promise<Identified & { readonly etag: string }> {
  const { client, location, signal } = options;
  const where = `s3://${location.bucket}/${key}`;
  return withRetries(
    async () => {
      const { bytes, contentLength, etag } = await getObjectBytes(client, location.bucket, key, signal);
      if (contentLength !== undefined && bytes.length !== contentLength) {
        throw new ChecksumMismatchError(
          `${where}: body cut short (${bytes.length} of ${contentLength} bytes)`,
        );
      }
      const manifest = parseManifest(bytes.toString('utf8'), where);
      return { manifest, bytes, identity: createHash('sha256').update(bytes).digest('hex'), etag };
    },
    { attempts: options.attempts ?? 5, ...(signal ? { signal } : {}) },
  );
}

/** The catalog's manifest reads for a sync: one GET per manifest serves the listing, the identity and the download. */
function catalogReader(options: SyncOptions): ManifestReader {
  return async (key) => {
    try {
      const read = await readIdentified(options, key);
      identified.set(read.manifest, Promise.resolve(read));
      return { manifest: read.manifest, etag: read.etag };
    } catch (error) {
      if (isNotFound(error)) return undefined; // deleted since the listing
      throw error;
    }
  };
}

/** A listed version's identity: the catalog's own read, or (a manifest from elsewhere) a read of its own. */
function identify(options: SyncOptions, listed: Manifest): Promise<Identified> {
  const cached = identified.get(listed);
  if (cached) return cached;
  const { location } = options;
  const key = modelKey(location, listed.version, MANIFEST_FILE);
  const read = readIdentified(options, key).then((got) => {
    // What is downloaded is what this read says, so the identity and the files always agree.
    if (got.manifest.version !== listed.version) {
      throw new InvalidRecordError(
        `s3://${location.bucket}/${key}: its manifest says version ${got.manifest.version}`,
      );
    }
    return got;
  });
  identified.set(listed, read);
  read.catch(() => identified.delete(listed));
  return read;
}

/** The identity recorded with a version folder: the sha256 of the manifest bytes written into it. */
async function localIdentity(dest: string, version: number): Promise<string | null> {
  const bytes = await fs.readFile(path.join(dest, String(version), MANIFEST_FILE)).catch(() => undefined);
  return bytes ? createHash('sha256').update(bytes).digest('hex') : null;
}

/**
 * Downloads and verifies one version into a temp folder, then renames it to
 * <dest>/<version>. With replace, a folder already there (another identity)
 * is renamed away first.
 */
async function materialise(
  options: SyncOptions,
  version: Identified,
  replace: boolean,
  onBytes: (n: number) => void,
): Promise<void> {
  const { manifest } = version;
  const { dest, location } = options;
  const tmp = path.join(dest, `${TMP}${manifest.version}-${randomUUID().slice(0, 8)}`);
  await fs.mkdir(tmp);
  let placed = false;
  try {
    // Check every path before the first byte is written.
    const targets = manifest.files.map((f) => safeJoin(tmp, f.path));
    const folders: Folders = new Map();
    const stage = await openStage(dest, manifest.version);
    // Largest first, so a big file does not start last and stretch the tail.
    const order = manifest.files
      .map((_, i) => i)
      .sort((a, b) => manifest.files[b]!.size - manifest.files[a]!.size);
    await mapLimit(order, options.concurrency ?? 8, async (i) => {
      const file = manifest.files[i]!;
      const staged = stage.files[file.path];
      if (staged && staged.size === file.size && staged.sha256 === file.sha256) {
        await fs.mkdir(path.dirname(targets[i]!), { recursive: true });
        const moved = await fs.rename(safeJoin(stage.dir, file.path), targets[i]!).then(
          () => true,
          () => false,
        );
        if (moved) return;
      }
      let attempt = 0;
      await withRetries(
        async () => {
          // A retry starts the file over; the first attempt writes into the fresh temp folder.
          if (attempt++ > 0) await fs.rm(targets[i]!, { force: true });
          await downloadFile(
            options,
            modelKey(location, manifest.version, file.path),
            file,
            targets[i]!,
            onBytes,
            folders,
          );
        },
        {
          attempts: options.attempts ?? 5,
          ...(options.signal ? { signal: options.signal } : {}),
          onRetry: (error) => options.onRetry?.(error, `${manifest.version}/${file.path}`),
        },
      );
    });
    // The manifest's own bytes: their sha256 is the identity the next poll compares with S3.
    await fs.writeFile(path.join(tmp, MANIFEST_FILE), version.bytes);
    const final = path.join(dest, String(manifest.version));
    // A poll abandoned at its deadline changes nothing on disk.
    options.signal?.throwIfAborted();
    if (replace) {
      const trash = path.join(dest, `${TRASH}${manifest.version}-${randomUUID().slice(0, 8)}`);
      await fs.rename(final, trash).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      await fs.rename(tmp, final);
      placed = true;
      await fs.rm(trash, { recursive: true, force: true });
    } else {
      placed = await fs.rename(tmp, final).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          // Someone put it there meanwhile (another sidecar on the same volume): theirs is as good as ours.
          if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
          return false;
        },
      );
    }
  } finally {
    // Once renamed into place there is no temp folder left to remove (a recursive rm of nothing still walks).
    if (!placed) await fs.rm(tmp, { recursive: true, force: true });
  }
  await dropStage(dest, manifest.version);
}

async function dropStage(dest: string, version: number): Promise<void> {
  const dir = path.join(dest, `${STAGE}${version}`);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.rm(`${dir}.json`, { force: true });
}

/** Writes a file by rename, so a reader sees the old or the new contents, never half. Returns whether it changed. */
export async function writeAtomic(file: string, contents: string): Promise<boolean> {
  const current = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (current === contents) return false;
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID().slice(0, 8)}.tmp`);
  await fs.writeFile(tmp, contents);
  await fs.rename(tmp, file);
  return true;
}

/** One poll. Throws when S3 cannot be read or a download fails after its retries; dest is then unchanged. */
export async function syncOnce(
  options: SyncOptions,
  onBytes: (n: number) => void = () => undefined,
): Promise<SyncReport> {
  const { client, location, dest } = options;
  const state = options.state ?? newSyncState();
  const initial = options.initial ?? defaultInitialRelease;
  await fs.mkdir(dest, { recursive: true });
  const versions = await listVersions(client, location, {
    readManifest: catalogReader(options),
    ...(options.manifestCache ? { manifestCache: options.manifestCache } : {}),
  });
  const current = await readRelease(client, location, initial, versions);
  const available = completeManifests(versions);
  const problems = new Map(
    versions.filter((v) => v.state === 'corrupt').map((v) => [v.version, v.problem ?? 'corrupt']),
  );

  // A pod that follows a label the release does not have serves the spec's policy rather than nothing.
  let release: ReleaseState = current.state;
  let track: Track = options.track ?? 'all';
  let fallback: string | null = null;
  if (track !== 'all' && release.labels[track] === undefined) {
    const labels = Object.keys(release.labels).join(', ') || 'none';
    release = initialState(initial, [...available.keys()]);
    fallback =
      `the release (generation ${current.generation}) has no '${track}' label (labels: ${labels}); ` +
      `this pod follows --track ${track}, so it serves the spec's version policy instead ` +
      `(versions ${release.serve.join(', ') || 'none'})`;
    track = 'all';
  }
  const wanted = wantedVersions(release, track).versions;

  // What S3 holds now for each wanted version, and what each local folder holds.
  const now = Date.now();
  const inS3 = new Map<number, Identified>();
  for (const v of wanted) {
    const listed = available.get(v);
    if (!listed) continue;
    try {
      inS3.set(v, await identify(options, listed));
    } catch (error) {
      if (isNotFound(error)) {
        available.delete(v); // deleted since the listing (a prune): as if it had not been listed
        continue;
      }
      if (!(error instanceof InvalidRecordError || error instanceof ChecksumMismatchError)) throw error;
      problems.set(v, describeError(error));
      available.delete(v);
    }
  }
  const local = await localVersions(dest);
  const stale = new Set<number>();
  for (const v of local) {
    const theirs = inS3.get(v);
    if (theirs && (await localIdentity(dest, v)) !== theirs.identity) stale.add(v);
  }
  const failedKey = (v: number) => `${v} ${inS3.get(v)?.identity}`;
  const quarantined = new Map<number, string>();
  for (const v of inS3.keys()) {
    const f = state.failed.get(failedKey(v));
    if (f && f.retryAt > now) quarantined.set(v, f.reason);
  }
  const plan = planSync({
    state: release,
    track,
    available: new Set(available.keys()),
    problems,
    local,
    stale,
    failed: quarantined,
  });
  // Bytes moved, counting retried attempts too: it is what the network carried.
  let bytes = 0;
  const count = (n: number) => {
    bytes += n;
    onBytes(n);
  };
  const missing = [...plan.missing];
  const failedNow = new Map<number, string>();
  const downloaded: number[] = [];
  for (const version of plan.download) {
    try {
      await materialise(options, inS3.get(version)!, plan.replace.includes(version), count);
      downloaded.push(version);
      state.failed.delete(failedKey(version));
    } catch (error) {
      // One bad version must not hold back the rest of the release; S3 being down still fails the poll.
      if (!(error instanceof ChecksumMismatchError || error instanceof InvalidRecordError)) throw error;
      const before = state.failed.get(failedKey(version));
      const failures = (before?.failures ?? 0) + 1;
      const reason = describeError(error);
      state.failed.set(failedKey(version), {
        reason,
        failures,
        retryAt: Date.now() + Math.min(FAILED_RETRY_MAX_MS, FAILED_RETRY_MS * 2 ** (failures - 1)),
      });
      failedNow.set(version, reason);
      missing.push({ version, reason: `version ${version} failed verification: ${reason}` });
    }
  }
  for (const key of state.failed.keys()) {
    if (!wanted.some((v) => key === failedKey(v))) state.failed.delete(key); // no longer asked for
  }

  // Point TF Serving at the new set before the old folders go.
  let present = await localVersions(dest);
  const served = servedConfig(release, plan.wanted, present);
  let configChanged = false;
  options.signal?.throwIfAborted();
  if (options.config && served.versions.length > 0) {
    configChanged = await writeAtomic(options.config.out, renderModelsConfig(options.config.source, served));
  }
  // Folders leave once TF Serving has had a poll to drop them, and never down to zero versions.
  const removeAfter = options.removeAfterMs ?? 0;
  for (const v of [...state.leaving.keys()]) {
    if (plan.wanted.includes(v) || !present.includes(v)) state.leaving.delete(v);
  }
  const servesWanted = plan.wanted.some((v) => present.includes(v));
  const removed: number[] = [];
  for (const version of servesWanted ? plan.remove : []) {
    if (!state.leaving.has(version)) state.leaving.set(version, Date.now());
    if (Date.now() - state.leaving.get(version)! < removeAfter) continue;
    options.signal?.throwIfAborted();
    const trash = path.join(dest, `${TRASH}${version}-${randomUUID().slice(0, 8)}`);
    await fs.rename(path.join(dest, String(version)), trash);
    await fs.rm(trash, { recursive: true, force: true });
    state.leaving.delete(version);
    removed.push(version);
  }
  present = await localVersions(dest);
  const failed: Array<{ version: number; reason: string }> = [];
  for (const v of plan.wanted) {
    const reason =
      failedNow.get(v) ?? quarantined.get(v) ?? (present.includes(v) ? undefined : problems.get(v));
    if (reason !== undefined) failed.push({ version: v, reason });
  }
  const complete =
    plan.wanted.length > 0 && plan.wanted.every((v) => present.includes(v)) && failed.length === 0;
  // A push newer than every complete version, still running, that this pod will want the moment
  // it completes: before the first release, under a latest/all policy. (After a release, a new
  // version waits for the next release, so there is nothing to hurry for.)
  const newestComplete = Math.max(0, ...available.keys());
  const running = versions.find(
    (v) =>
      v.state === 'incomplete' &&
      v.version > newestComplete &&
      v.claim !== undefined &&
      !v.claim.interrupted &&
      Date.now() - Date.parse(v.claim.heartbeatAt) < LIVE_CLAIM_MS,
  );
  const wantedWhenDone = (v: number) =>
    wantedVersions(initialState(initial, [...available.keys(), v]), track).versions.includes(v);
  const inProgress = running && !current.release && wantedWhenDone(running.version) ? running : undefined;
  const pushInProgress = inProgress !== undefined;
  // Stages of pushes that finished, died or are no longer wanted go.
  for (const name of await fs.readdir(dest)) {
    const match = new RegExp(`^${STAGE.replace(/[.]/g, '\\.')}(\\d+)$`).exec(name);
    if (match && Number(match[1]) !== inProgress?.version) await dropStage(dest, Number(match[1]));
  }
  // Fetch what it has uploaded so far, so its version appears moments after the push ends.
  if (inProgress && options.prefetch !== false)
    await prefetch(options, inProgress.version, inProgress.keys, count);
  return {
    generation: current.generation,
    wanted: plan.wanted,
    present,
    downloaded,
    removed,
    bytes,
    missing,
    complete,
    configChanged,
    pushInProgress,
    failed,
    onDisk: await Promise.all(
      present.map(async (v) => ({ version: v, identity: await localIdentity(dest, v) })),
    ),
    served,
    fallback,
    replaced: downloaded.filter((v) => plan.replace.includes(v)),
  };
}
