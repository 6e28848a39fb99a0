// What is in a model folder: every version with its state, read from one
// listing plus each version's manifest.

import { createHash } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { InvalidRecordError } from './errors';
import { mapLimit } from './hash';
import {
  CLAIM_FILE,
  claimKey,
  MANIFEST_FILE,
  type ModelLocation,
  manifestKey,
  modelKey,
  parseVersionFolder,
} from './location';
import { type Claim, type Manifest, parseClaim, parseManifest } from './records';
import { getText, isNotFound, type ListedObject, listAll } from './s3';

/**
 * complete: has a manifest that matches the listing; incomplete: no manifest
 * (a push running, interrupted or abandoned); corrupt: a manifest that does
 * not match; pruned: only the tombstone claim prune leaves, so the number is
 * never used again; abandoned: the claim of a push that died, retired by a
 * later push that took its files into a new version (the folder is never
 * written again).
 */
export type VersionState = 'complete' | 'incomplete' | 'corrupt' | 'pruned' | 'abandoned';

export interface VersionInfo {
  readonly version: number;
  readonly state: VersionState;
  /** Bytes stored under the version folder. */
  readonly storedBytes: number;
  readonly manifest?: Manifest;
  /** Why the version is corrupt. */
  readonly problem?: string;
  /** The push that claimed an incomplete version. */
  readonly claim?: Claim & { readonly etag: string };
  /** Every key under the version folder. */
  readonly keys: readonly string[];
}

/** Every numeric version folder under the model, ascending. */
/**
 * Manifests already read, by version and ETag. A complete version never
 * changes, so a poller that keeps one of these reads each manifest once.
 */
export type ManifestCache = Map<string, Manifest>;

/**
 * Reads and parses one manifest: undefined when it is gone, InvalidRecordError
 * when it is not a manifest. Sync brings its own (its direct GET path, keeping
 * the bytes as the version's identity); everyone else reads through the SDK.
 */
export type ManifestReader = (
  key: string,
) => Promise<{ readonly manifest: Manifest; readonly etag: string } | undefined>;

export interface ListOptions {
  readonly manifestCache?: ManifestCache;
  readonly readManifest?: ManifestReader;
}

const sdkManifestReader =
  (client: S3Client, bucket: string): ManifestReader =>
  async (key) => {
    const fetched = await getText(client, bucket, key);
    if (!fetched) return undefined;
    return { manifest: parseManifest(fetched.text, `s3://${bucket}/${key}`), etag: fetched.etag };
  };

export async function listVersions(
  client: S3Client,
  location: ModelLocation,
  options: ListOptions = {},
): Promise<VersionInfo[]> {
  const base = `${modelKey(location)}${location.prefix ? '/' : ''}`;
  const objects = await listAll(client, location.bucket, base);
  const byVersion = new Map<number, ListedObject[]>();
  for (const o of objects) {
    const [folder, ...rest] = o.key.slice(base.length).split('/');
    const version = parseVersionFolder(folder ?? '');
    if (version === undefined || rest.length === 0) continue;
    const list = byVersion.get(version) ?? [];
    list.push(o);
    byVersion.set(version, list);
  }
  const versions = [...byVersion.keys()].sort((a, b) => a - b);
  const read = options.readManifest ?? sdkManifestReader(client, location.bucket);
  return mapLimit(versions, 8, (version) =>
    describeVersion(client, location, version, byVersion.get(version)!, read, options.manifestCache),
  );
}

async function describeVersion(
  client: S3Client,
  location: ModelLocation,
  version: number,
  objects: readonly ListedObject[],
  readManifest: ManifestReader,
  cache: ManifestCache | undefined,
): Promise<VersionInfo> {
  const prefix = `${modelKey(location, version)}/`;
  const sizes = new Map(objects.map((o) => [o.key.slice(prefix.length), o.size]));
  const keys = objects.map((o) => o.key);
  const storedBytes = objects.reduce((n, o) => n + o.size, 0);
  const base = { version, storedBytes, keys };
  if (!sizes.has(MANIFEST_FILE)) {
    const claim = sizes.has(CLAIM_FILE) ? await readClaim(client, location, version) : undefined;
    const state = claim?.pruned ? 'pruned' : claim?.retiredBy ? 'abandoned' : 'incomplete';
    return { ...base, state, ...(claim ? { claim } : {}) };
  }
  const listedEtag = objects.find((o) => o.key === manifestKey(location, version))?.etag;
  const cacheKey = listedEtag ? `${version} ${listedEtag}` : undefined;
  try {
    let manifest = cacheKey ? cache?.get(cacheKey) : undefined;
    if (!manifest) {
      const fetched = await readManifest(manifestKey(location, version));
      if (!fetched) return { ...base, state: 'incomplete' }; // deleted since the listing
      manifest = fetched.manifest;
      if (cache && fetched.etag) cache.set(`${version} ${fetched.etag}`, manifest);
    }
    const missing = manifest.files.filter((f) => sizes.get(f.path) !== f.size);
    if (missing.length > 0) {
      const f = missing[0]!;
      const have = sizes.get(f.path);
      return {
        ...base,
        state: 'corrupt',
        manifest,
        problem: `${f.path} is ${have === undefined ? 'missing' : `${have} bytes, the manifest says ${f.size}`}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`,
      };
    }
    if (manifest.version !== version) {
      return {
        ...base,
        state: 'corrupt',
        manifest,
        problem: `its manifest says version ${manifest.version}`,
      };
    }
    return { ...base, state: 'complete', manifest };
  } catch (error) {
    if (error instanceof InvalidRecordError) return { ...base, state: 'corrupt', problem: error.message };
    throw error;
  }
}

/** A version's claim with its ETag, or undefined when there is none or it cannot be read. */
export async function readClaim(
  client: S3Client,
  location: ModelLocation,
  version: number,
): Promise<(Claim & { etag: string }) | undefined> {
  const key = claimKey(location, version);
  const fetched = await getText(client, location.bucket, key);
  if (!fetched) return undefined;
  try {
    return { ...parseClaim(fetched.text, `s3://${location.bucket}/${key}`), etag: fetched.etag };
  } catch {
    return undefined; // an unreadable claim is treated as no claim: the version is simply incomplete
  }
}

/** The manifests of complete versions, by version. */
export function completeManifests(versions: readonly VersionInfo[]): Map<number, Manifest> {
  return new Map(versions.filter((v) => v.state === 'complete').map((v) => [v.version, v.manifest!]));
}

/**
 * Reads every file of a complete version back from S3 and checks its size
 * and sha256 against the manifest: the listing only shows sizes, and an
 * object overwritten in place with as many bytes stays "complete" there.
 * Returns what is wrong, or undefined when every byte matches.
 */
export async function verifyVersion(
  client: S3Client,
  location: ModelLocation,
  manifest: Manifest,
  options: { readonly concurrency?: number } = {},
): Promise<string | undefined> {
  const problems = await mapLimit(manifest.files, options.concurrency ?? 4, async (f) => {
    const key = modelKey(location, manifest.version, f.path);
    let body: AsyncIterable<Uint8Array> | undefined;
    try {
      body = (await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: key })))
        .Body as unknown as AsyncIterable<Uint8Array>;
    } catch (error) {
      if (isNotFound(error)) return `${f.path} is missing`;
      throw error;
    }
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of body) {
      hash.update(chunk);
      size += chunk.length;
    }
    const sha256 = hash.digest('hex');
    if (size !== f.size || sha256 !== f.sha256) {
      return `${f.path} holds ${size} bytes with sha256 ${sha256.slice(0, 12)}…, the manifest says ${f.size} bytes, ${f.sha256.slice(0, 12)}…`;
    }
    return undefined;
  });
  const bad = problems.filter((p): p is string => p !== undefined);
  if (bad.length === 0) return undefined;
  return `${bad[0]}${bad.length > 1 ? ` (and ${bad.length - 1} more)` : ''}`;
}
