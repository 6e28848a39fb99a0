// What one sync poll should do, decided from the release, what S3 holds
// and what the destination holds. Pure: the executor (sync.ts) does I/O.

import type { ReleaseState } from './records';

/** all: every served version; stable/canary: only the version that label points to. */
export type Track = 'all' | 'stable' | 'canary';

export interface SyncInput {
  readonly state: ReleaseState;
  readonly track: Track;
  /** Versions complete in S3 (manifest present and consistent). */
  readonly available: ReadonlySet<number>;
  /** Why a version in S3 is unusable (corrupt), by version. */
  readonly problems?: ReadonlyMap<number, string>;
  /** Version folders present in the destination. */
  readonly local: readonly number[];
  /** Local folders whose identity differs from the version S3 holds now: downloaded again. */
  readonly stale?: ReadonlySet<number>;
  /** Versions that failed verification recently, with the reason: not tried this poll. */
  readonly failed?: ReadonlyMap<number, string>;
}

export interface SyncPlan {
  /** What the release asks this pod to serve. */
  readonly wanted: readonly number[];
  readonly download: readonly number[];
  /** The downloads that replace a folder already there (its identity differs). */
  readonly replace: readonly number[];
  /** Removed only after the downloads succeeded; empty when removing would leave nothing to serve. */
  readonly remove: readonly number[];
  /** Wanted versions that cannot be had, with the reason. */
  readonly missing: ReadonlyArray<{ readonly version?: number; readonly reason: string }>;
}

const ascending = (xs: Iterable<number>) => [...new Set(xs)].sort((a, b) => a - b);

export function wantedVersions(state: ReleaseState, track: Track): { versions: number[]; problem?: string } {
  if (track === 'all') return { versions: ascending(state.serve) };
  const version = state.labels[track];
  if (version === undefined) {
    return {
      versions: [],
      problem: `the release has no '${track}' label (labels: ${Object.keys(state.labels).join(', ') || 'none'})`,
    };
  }
  return { versions: [version] };
}

export function planSync(input: SyncInput): SyncPlan {
  const wanted = wantedVersions(input.state, input.track);
  const local = new Set(input.local);
  const missing: Array<{ version?: number; reason: string }> = wanted.problem
    ? [{ reason: wanted.problem }]
    : [];
  const stale = input.stale ?? new Set<number>();
  const needs = (v: number) => !local.has(v) || stale.has(v);
  for (const v of wanted.versions) {
    const failed = input.failed?.get(v);
    if (needs(v) && failed !== undefined) {
      missing.push({ version: v, reason: `version ${v} failed verification: ${failed}` });
    } else if (!local.has(v) && !input.available.has(v)) {
      const problem = input.problems?.get(v);
      missing.push({
        version: v,
        reason: problem ? `version ${v} is corrupt in S3: ${problem}` : `version ${v} is not complete in S3`,
      });
    }
  }
  const download = wanted.versions.filter((v) => needs(v) && input.available.has(v) && !input.failed?.has(v));
  const replace = download.filter((v) => local.has(v));
  const willHave = wanted.versions.filter((v) => local.has(v) || download.includes(v));
  // Never take TF Serving down to zero versions: keep the old ones until a wanted one is there.
  const remove =
    willHave.length > 0 ? ascending(input.local.filter((v) => !wanted.versions.includes(v))) : [];
  return { wanted: wanted.versions, download, replace, remove, missing };
}

/** The versions and labels models.config should name once `present` are on disk. */
export function servedConfig(
  state: ReleaseState,
  wanted: readonly number[],
  present: readonly number[],
): { versions: number[]; labels: Record<string, number> } {
  const have = new Set(present);
  const serving = wanted.filter((v) => have.has(v));
  const versions = serving.length > 0 ? ascending(serving) : ascending(present);
  const labels: Record<string, number> = {};
  for (const [label, version] of Object.entries(state.labels))
    if (versions.includes(version)) labels[label] = version;
  return { versions, labels };
}
