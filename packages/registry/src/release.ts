// Releases: which complete versions TF Serving serves and where the labels
// point. The decisions are pure functions of (current release, complete
// versions, request); the edge reads release.json with its ETag and writes
// the next generation with If-Match, so two operators never silently
// overwrite each other.

import type { S3Client } from '@aws-sdk/client-s3';
import type { ResolvedVersionPolicy } from '@catwalk/schema';
import { listVersions, type VersionInfo } from './catalog';
import { ConflictError, NotFoundError, UsageError } from './errors';
import { whoAmI } from './identity';
import { type ModelLocation, manifestKey, releaseKey } from './location';
import { HISTORY_LIMIT, parseRelease, RELEASE_FORMAT, type Release, type ReleaseState } from './records';
import { deleteKeys, getText, putJson, requireConditionalWrites } from './s3';

/** What the spec says before anyone releases: its versionPolicy and versionLabels. */
export interface InitialRelease {
  readonly versionPolicy: ResolvedVersionPolicy;
  readonly versionLabels: Readonly<Record<string, number>>;
}

export const defaultInitialRelease: InitialRelease = {
  versionPolicy: { kind: 'latest', count: 1 },
  versionLabels: {},
};

const ascending = (xs: Iterable<number>) => [...new Set(xs)].sort((a, b) => a - b);
const sortedLabels = (labels: Readonly<Record<string, number>>) =>
  Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));

/** The spec's version policy applied to the complete versions (pure). */
export function initialState(initial: InitialRelease, complete: readonly number[]): ReleaseState {
  const sorted = ascending(complete);
  const policy = initial.versionPolicy;
  const serve =
    policy.kind === 'all'
      ? sorted
      : policy.kind === 'latest'
        ? sorted.slice(Math.max(0, sorted.length - policy.count))
        : ascending(policy.versions);
  return { serve, labels: sortedLabels(initial.versionLabels) };
}

export interface CurrentRelease {
  /** release.json as stored, when there is one. */
  readonly release?: Release;
  readonly etag?: string;
  /** What is in force: release.json, or the initial release applied to the complete versions. */
  readonly state: ReleaseState;
  readonly generation: number;
}

export async function readRelease(
  client: S3Client,
  location: ModelLocation,
  initial: InitialRelease,
  versions: readonly VersionInfo[],
): Promise<CurrentRelease> {
  const key = releaseKey(location);
  const fetched = await getText(client, location.bucket, key);
  if (!fetched) {
    const complete = versions.filter((v) => v.state === 'complete').map((v) => v.version);
    return { state: initialState(initial, complete), generation: 0 };
  }
  const release = parseRelease(fetched.text, `s3://${location.bucket}/${key}`);
  return {
    release,
    etag: fetched.etag,
    state: { serve: release.serve, labels: release.labels },
    generation: release.generation,
  };
}

export interface ReleaseRequest {
  /** The versions to serve; when absent, the current ones plus any newly labelled. */
  readonly serve?: readonly number[];
  /** Labels to set; `null` removes one. Labels not named keep their version. */
  readonly labels?: Readonly<Record<string, number | null>>;
}

/** Checks that every served or labelled version is complete and every label is served (pure). */
export function checkState(state: ReleaseState, complete: ReadonlySet<number>): void {
  if (state.serve.length === 0) throw new UsageError('a release must serve at least one version');
  const notComplete = state.serve.filter((v) => !complete.has(v));
  if (notComplete.length > 0) {
    throw new UsageError(
      `version${notComplete.length > 1 ? 's' : ''} ${notComplete.join(', ')} ${notComplete.length > 1 ? 'are' : 'is'} not ` +
        `complete (complete: ${[...complete].sort((a, b) => a - b).join(', ') || 'none'}); push ${notComplete.length > 1 ? 'them' : 'it'} first`,
    );
  }
  for (const [label, version] of Object.entries(state.labels)) {
    if (!state.serve.includes(version)) {
      throw new UsageError(
        `label ${label}=${version} points at a version that is not served; add ${version} to --serve`,
      );
    }
  }
}

/** The release after `request` (pure). */
export function planRelease(
  current: ReleaseState,
  request: ReleaseRequest,
  complete: ReadonlySet<number>,
): ReleaseState {
  if (request.serve === undefined && Object.keys(request.labels ?? {}).length === 0) {
    throw new UsageError('nothing to release: give --serve and/or --label');
  }
  const labels: Record<string, number> = { ...current.labels };
  for (const [label, version] of Object.entries(request.labels ?? {})) {
    if (version === null) delete labels[label];
    else labels[label] = version;
  }
  const serve = request.serve
    ? ascending(request.serve)
    : ascending([...current.serve, ...Object.values(labels)]);
  const next = { serve, labels: sortedLabels(labels) };
  checkState(next, complete);
  return next;
}

/**
 * Rollback (pure): the bad version is what `stable` points at (else the
 * highest served). It stops being served, and `stable` moves to `to`, or to
 * the previous stable in the history, or to the highest complete version
 * below the bad one. Other labels on the bad version are dropped.
 */
export function planRollback(
  current: ReleaseState,
  history: readonly ReleaseState[],
  complete: ReadonlySet<number>,
  to?: number,
): { state: ReleaseState; from: number; to: number } {
  const bad = current.labels.stable ?? Math.max(...current.serve);
  if (!Number.isFinite(bad)) throw new NotFoundError('nothing is released, so there is nothing to roll back');
  const stableOf = (s: ReleaseState) =>
    s.labels.stable ?? (s.serve.length ? Math.max(...s.serve) : undefined);
  const target =
    to ??
    history.map(stableOf).find((v): v is number => v !== undefined && v !== bad && complete.has(v)) ??
    [...complete].filter((v) => v < bad).sort((a, b) => b - a)[0];
  if (target === undefined) {
    throw new NotFoundError(
      `there is no complete version to roll back to from ${bad}; push one or give --to`,
    );
  }
  if (target === bad) throw new UsageError(`version ${bad} is the one being rolled back; give another --to`);
  const labels: Record<string, number> = {};
  for (const [label, version] of Object.entries(current.labels)) if (version !== bad) labels[label] = version;
  if (current.labels.stable !== undefined) labels.stable = target;
  const state = {
    serve: ascending([...current.serve.filter((v) => v !== bad), target]),
    labels: sortedLabels(labels),
  };
  checkState(state, complete);
  return { state, from: bad, to: target };
}

/** Which versions prune deletes (pure): beyond the newest `keep` complete ones, never served or labelled. */
export function planPrune(versions: readonly VersionInfo[], state: ReleaseState, keep: number): number[] {
  if (!Number.isSafeInteger(keep) || keep < 0)
    throw new UsageError('--keep must be a whole number, 0 or more');
  const protectedVersions = new Set([...state.serve, ...Object.values(state.labels)]);
  const complete = versions
    .filter((v) => v.state === 'complete')
    .map((v) => v.version)
    .sort((a, b) => b - a);
  const kept = new Set(complete.slice(0, keep));
  return versions
    .filter((v) => v.state !== 'incomplete' && !kept.has(v.version) && !protectedVersions.has(v.version))
    .map((v) => v.version);
}

export interface ReleaseOptions {
  readonly client: S3Client;
  readonly location: ModelLocation;
  /** The spec's release, used until release.json exists. @default latest 1, no labels */
  readonly initial?: InitialRelease;
  /** Fail unless release.json is at this generation (0: not written yet). */
  readonly expectGeneration?: number;
  /** @default user@host */
  readonly updatedBy?: string;
}

export interface ReleaseResult {
  readonly release: Release;
  readonly previous: ReleaseState;
}

async function change(
  options: ReleaseOptions,
  reason: string,
  decide: (current: CurrentRelease, complete: ReadonlySet<number>) => ReleaseState,
): Promise<ReleaseResult> {
  const { client, location } = options;
  await requireConditionalWrites(client, location.bucket, location.prefix);
  const versions = await listVersions(client, location);
  const complete = new Set(versions.filter((v) => v.state === 'complete').map((v) => v.version));
  const current = await readRelease(client, location, options.initial ?? defaultInitialRelease, versions);
  if (options.expectGeneration !== undefined && options.expectGeneration !== current.generation) {
    throw new ConflictError(
      `release.json of ${location.name} is at generation ${current.generation}, not ${options.expectGeneration}; ` +
        'look at it again (catwalk versions) before changing it',
    );
  }
  const state = decide(current, complete);
  const now = new Date().toISOString();
  const updatedBy = options.updatedBy ?? whoAmI();
  const history = current.release
    ? [
        {
          generation: current.release.generation,
          serve: current.release.serve,
          labels: current.release.labels,
          updatedAt: current.release.updatedAt,
          updatedBy: current.release.updatedBy,
          reason: current.release.reason,
        },
        ...current.release.history,
      ].slice(0, HISTORY_LIMIT)
    : [];
  const release: Release = {
    format: RELEASE_FORMAT,
    model: location.name,
    generation: current.generation + 1,
    serve: state.serve,
    labels: state.labels,
    updatedAt: now,
    updatedBy,
    reason,
    history,
  };
  try {
    await putJson(
      client,
      location.bucket,
      releaseKey(location),
      release,
      current.etag ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
    );
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const now = await readRelease(client, location, options.initial ?? defaultInitialRelease, versions).catch(
      () => undefined,
    );
    const who = now?.release
      ? ` (now generation ${now.release.generation}, by ${now.release.updatedBy} at ${now.release.updatedAt}: ${describeState(now.state)})`
      : '';
    throw new ConflictError(
      `release.json of ${location.name} was changed by someone else while this ${reason} ran${who}. ` +
        'Nothing was written; check the current release and run the command again.',
    );
  }
  return { release, previous: current.state };
}

export function describeState(state: ReleaseState): string {
  const labels = Object.entries(state.labels).map(([l, v]) => `${l}=${v}`);
  return `serve ${state.serve.join(',') || 'nothing'}${labels.length ? `, ${labels.join(' ')}` : ''}`;
}

/** `catwalk release`: serve versions, move labels. */
export function release(
  options: ReleaseOptions & { readonly request: ReleaseRequest },
): Promise<ReleaseResult> {
  return change(options, 'release', (current, complete) =>
    planRelease(current.state, options.request, complete),
  );
}

/** `catwalk rollback`: move stable back and stop serving the bad version. */
export async function rollback(
  options: ReleaseOptions & { readonly to?: number },
): Promise<ReleaseResult & { from: number; to: number }> {
  let moved = { from: 0, to: 0 };
  const result = await change(options, 'rollback', (current, complete) => {
    const plan = planRollback(current.state, current.release?.history ?? [], complete, options.to);
    moved = { from: plan.from, to: plan.to };
    return plan.state;
  });
  return { ...result, ...moved };
}

export interface PruneResult {
  readonly deleted: readonly number[];
  readonly kept: readonly number[];
  readonly freedBytes: number;
}

/** `catwalk prune`: delete old versions, never a served or labelled one. Each version's manifest goes first. */
export async function prune(
  options: ReleaseOptions & { readonly keep: number; readonly dryRun?: boolean },
): Promise<PruneResult> {
  const { client, location } = options;
  const versions = await listVersions(client, location);
  const current = await readRelease(client, location, options.initial ?? defaultInitialRelease, versions);
  const doomed = new Set(planPrune(versions, current.state, options.keep));
  const kept = versions
    .filter((v) => v.state !== 'incomplete' && !doomed.has(v.version))
    .map((v) => v.version);
  const gone = versions.filter((v) => doomed.has(v.version));
  if (!options.dryRun && gone.length > 0) {
    // Re-read release.json just before deleting: a release that landed since must not lose its versions.
    const again = await readRelease(client, location, options.initial ?? defaultInitialRelease, versions);
    if (again.generation !== current.generation) {
      throw new ConflictError(
        `release.json of ${location.name} changed while prune was planning (generation ${current.generation} -> ${again.generation}); nothing was deleted, run it again`,
      );
    }
    for (const v of gone) {
      // Manifest first: the version stops existing at once, then its files go.
      await deleteKeys(client, location.bucket, [manifestKey(location, v.version)]);
      await deleteKeys(
        client,
        location.bucket,
        v.keys.filter((k) => k !== manifestKey(location, v.version)),
      );
    }
  }
  return {
    deleted: gone.map((v) => v.version),
    kept,
    freedBytes: gone.reduce((n, v) => n + v.storedBytes, 0),
  };
}
