// Where a model lives in S3 and the keys of everything below it.
//
//   <prefix>/                            the model folder (a spec's source.uri)
//   <prefix>/release.json                served versions and labels, with a generation
//   <prefix>/<version>/...               the SavedModel files
//   <prefix>/<version>/catwalk-claim.json     who is pushing this version (written first)
//   <prefix>/<version>/catwalk-manifest.json  files, sizes, sha256 (written last)

import { parseS3Uri } from '@catwalk/schema/names';
import { UsageError } from './errors';

export interface ModelLocation {
  readonly bucket: string;
  /** Key of the model folder, without a trailing slash ('' for the bucket root). */
  readonly prefix: string;
  /** The model's name: the spec's metadata.name, or the last folder of the prefix. */
  readonly name: string;
}

export const MANIFEST_FILE = 'catwalk-manifest.json';
export const CLAIM_FILE = 'catwalk-claim.json';
export const RELEASE_FILE = 'release.json';

/** Files of ours inside a version folder, never part of the SavedModel. */
export const RESERVED_FILES: ReadonlySet<string> = new Set([MANIFEST_FILE, CLAIM_FILE]);

export function parseModelUri(uri: string, name?: string): ModelLocation {
  // From @catwalk/schema/names, not the main entry: that one builds the spec's types at
  // import (110-170 ms), which a sync, the one caller of this on every pod start, never needs.
  const parsed = parseS3Uri(uri);
  if (!parsed.location) throw new UsageError(`'${uri}' is not a usable S3 folder: ${parsed.problem}`);
  const { bucket, prefix } = parsed.location;
  const last = prefix.split('/').filter(Boolean).pop();
  const modelName = name ?? last;
  if (!modelName) {
    throw new UsageError(`'${uri}' names no model folder; use s3://<bucket>/<prefix>/<model>`);
  }
  return { bucket, prefix, name: modelName };
}

export function formatUri(location: ModelLocation, ...rest: Array<string | number>): string {
  return `s3://${location.bucket}/${modelKey(location, ...rest)}`;
}

/** Joins the model prefix with the parts given: modelKey(loc, 3, 'saved_model.pb'). */
export function modelKey(location: ModelLocation, ...rest: Array<string | number>): string {
  return [location.prefix, ...rest.map(String)].filter((p) => p !== '').join('/');
}

export const versionPrefix = (location: ModelLocation, version: number): string =>
  `${modelKey(location, version)}/`;
export const manifestKey = (location: ModelLocation, version: number): string =>
  modelKey(location, version, MANIFEST_FILE);
export const claimKey = (location: ModelLocation, version: number): string =>
  modelKey(location, version, CLAIM_FILE);
export const releaseKey = (location: ModelLocation): string => modelKey(location, RELEASE_FILE);

/**
 * TF Serving's rule: a folder is a version when its whole name is an int64
 * (leading zeros allowed). Numbers above 2^53 - 1 cannot be held exactly
 * here, so they are not versions to us (push refuses to create them).
 */
export function parseVersionFolder(name: string): number | undefined {
  if (!/^\d{1,19}$/.test(name)) return undefined;
  const n = Number(name);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The largest version Catwalk writes: every number up to it is exact in JSON, JavaScript and TF Serving's int64. */
export const MAX_VERSION = Number.MAX_SAFE_INTEGER;

/** Refuses a version number TF Serving would not load or that would not survive a JSON round trip exactly. */
export function checkVersionNumber(version: number, what = 'the version'): void {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new UsageError(
      `${what} ${version} is not a version number Catwalk can store exactly: use a whole number from 0 to ${MAX_VERSION} (2^53 - 1)`,
    );
  }
}
