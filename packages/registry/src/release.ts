// Releases: which complete versions TF Serving serves and where the labels
// point. The decisions are pure functions of (current release, complete
// versions, request); the edge reads release.json with its ETag and writes
// the next generation with If-Match, so two operators never silently
// overwrite each other.

import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ResolvedVersionPolicy } from '@catwalk/schema';
import { listVersions, type VersionInfo, verifyVersion } from './catalog';
import { ChecksumMismatchError, ConflictError, NotFoundError, UsageError } from './errors';
import { whoAmI } from './identity';
import { claimKey, type ModelLocation, manifestKey, releaseKey } from './location';
import {
  AUDIT_LIMIT,
  type AuditEntry,
  CLAIM_FORMAT,
  type ExperimentState,
  HISTORY_LIMIT,
  parseExperiment,
  parseRelease,
  RELEASE_FORMAT,
  type Release,
  type ReleaseEntry,
  type ReleaseState,
} from './records';
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

/** Label names TF Serving users reach for first; suggested when a name is close to one. */
const COMMON_LABELS = ['stable', 'canary'];

/**
 * TF Serving label names as Catwalk writes them: lowercase letters, digits,
 * '-' and '_', starting with a letter, at most 63 characters (they end up in
 * URLs, gRPC requests and Kubernetes labels). A near miss of a known label
 * ('Stable', 'stabel') is refused with the known name suggested, so a typo
 * never silently creates a second label.
 */
export function checkLabelName(label: string, known: readonly string[] = []): void {
  const candidates = [...new Set([...known, ...COMMON_LABELS])];
  const near = candidates.find(
    (k) => k !== label && (k === label.toLowerCase() || editDistance(k, label) <= 1),
  );
  if (!/^[a-z][a-z0-9_-]{0,62}$/.test(label)) {
    throw new UsageError(
      `label '${label}' is not a label name: use lowercase letters, digits, '-' and '_', starting with a letter` +
        `${near ? `; did you mean '${near}'?` : ''} (labels now: ${known.join(', ') || 'none'})`,
    );
  }
  if (near && !known.includes(label) && known.includes(near)) {
    throw new UsageError(
      `label '${label}' does not exist and is one letter away from '${near}'; did you mean '${near}'? ` +
        `(labels now: ${known.join(', ')})`,
    );
  }
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
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
  for (const label of Object.keys(request.labels ?? {})) checkLabelName(label, Object.keys(current.labels));
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

/** What a rollback may go back to, newest first: history older than the release the current state restored. */
function rollbackCandidates<H extends ReleaseState & { readonly generation?: number }>(
  current: ReleaseState & { readonly rolledBackTo?: number },
  history: readonly H[],
): readonly H[] {
  const anchor = current.rolledBackTo;
  return anchor === undefined
    ? history
    : history.filter((h) => h.generation !== undefined && h.generation < anchor);
}

const stableOf = (s: ReleaseState) => s.labels.stable ?? (s.serve.length ? Math.max(...s.serve) : undefined);

/**
 * Rollback (pure): the bad version is what `stable` points at (else the
 * highest served). It stops being served, and `stable` moves to `to`, or to
 * the stable of the newest earlier release, walking back: a state that was
 * itself made by a rollback looks only at releases older than the one it
 * restored, so rolling back again goes further back, never forward. With no
 * history at all, it goes to the highest complete version below the bad one.
 * Other labels on the bad version are dropped.
 */
export function planRollback(
  current: ReleaseState & { readonly rolledBackTo?: number },
  history: ReadonlyArray<ReleaseState & { readonly generation?: number }>,
  complete: ReadonlySet<number>,
  to?: number,
): { state: ReleaseState; from: number; to: number } {
  const bad = current.labels.stable ?? Math.max(...current.serve);
  if (!Number.isFinite(bad)) throw new NotFoundError('nothing is released, so there is nothing to roll back');
  const candidates = rollbackCandidates(current, history);
  const fromHistory = candidates
    .map(stableOf)
    .find((v): v is number => v !== undefined && v !== bad && complete.has(v));
  const target =
    to ??
    fromHistory ??
    (current.rolledBackTo === undefined && history.length === 0
      ? [...complete].filter((v) => v < bad).sort((a, b) => b - a)[0]
      : undefined);
  if (target === undefined) {
    throw new NotFoundError(
      history.length > 0 || current.rolledBackTo !== undefined
        ? `there is no earlier release to roll back to from ${bad}: release.json keeps the last ${HISTORY_LIMIT} ` +
            'generations and the rollbacks so far have gone back through all of them. Give --to <version> to choose one.'
        : `there is no complete version to roll back to from ${bad}; push one or give --to`,
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
    .filter(
      (v) =>
        (v.state === 'complete' || v.state === 'corrupt') &&
        !kept.has(v.version) &&
        !protectedVersions.has(v.version),
    )
    .map((v) => v.version);
}

export interface ReleaseOptions {
  readonly client: S3Client;
  readonly location: ModelLocation;
  /**
   * The spec's release, used until release.json exists. Absent when the model
   * was named by its S3 folder: then, with no release.json, nothing is known
   * about what is served, and release needs an explicit serve list while
   * prune and rollback refuse.
   */
  readonly initial?: InitialRelease;
  /** Fail unless release.json is at this generation (0: not written yet). */
  readonly expectGeneration?: number;
  /** @default user@host */
  readonly updatedBy?: string;
  /**
   * Read back every version the change starts serving and check it against its
   * manifest (an object overwritten in place keeps its size). @default true
   */
  readonly verify?: boolean;
}

export interface ReleaseResult {
  readonly release: Release;
  readonly previous: ReleaseState;
}

const entryOf = (r: Release): ReleaseEntry => {
  const { format: _f, model: _m, history: _h, pruning: _p, experiment: _e, audit: _a, ...entry } = r;
  return entry;
};

/** One line for the audit trail and conflict messages: "canary 4 vs stable 3 at 10% (running, by ana@host)". */
export function describeExperiment(e: ExperimentState): string {
  return `canary ${e.canary} vs stable ${e.stable} at ${e.weight}% (${e.phase}, started by ${e.startedBy} at ${e.startedAt})`;
}

/**
 * Writes the next generation of release.json with a compare-and-swap on the
 * ETag read. After a 412 or an error with no answer, reads it back: a
 * release.json carrying this write's request id is this write (its response
 * was lost), anything else is someone else's and is reported as a conflict.
 */
async function writeRelease(
  client: S3Client,
  location: ModelLocation,
  current: CurrentRelease,
  next: Release,
  what: string,
): Promise<void> {
  try {
    await putJson(
      client,
      location.bucket,
      releaseKey(location),
      next,
      current.etag ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
    );
  } catch (error) {
    const key = releaseKey(location);
    const there = await getText(client, location.bucket, key).catch(() => undefined);
    const stored = there ? parseRelease(there.text, `s3://${location.bucket}/${key}`) : undefined;
    if (stored?.requestId === next.requestId) return;
    if (!(error instanceof ConflictError)) throw error;
    const who = stored
      ? ` (now generation ${stored.generation}, by ${stored.updatedBy} at ${stored.updatedAt}: ${describeState(stored)}` +
        `${stored.experiment ? `; experiment ${describeExperiment(stored.experiment)}` : ''})`
      : '';
    throw new ConflictError(
      `release.json of ${location.name} was changed by someone else while this ${what} ran${who}. ` +
        'Nothing was written; check the current release and run the command again.',
    );
  }
}

interface NextExtra {
  rolledBackTo?: number;
  pruning?: readonly number[];
  /** The experiment after this write: absent keeps the current one, null ends it. */
  experiment?: ExperimentState | null;
  /** What the audit line says changed; default the served versions and labels before and after. */
  audit?: { from: string; to: string };
  /**
   * Whether the release before this one goes into `history` (what rollback
   * walks back through). Experiment steps that change neither the served
   * versions nor the labels keep it out, so a long experiment does not push
   * the releases worth rolling back to out of the bounded history. @default true
   */
  keepInHistory?: boolean;
}

function nextRelease(
  location: ModelLocation,
  current: CurrentRelease,
  state: ReleaseState,
  reason: string,
  updatedBy: string,
  extra: NextExtra = {},
): Release {
  const history = current.release
    ? extra.keepInHistory === false
      ? current.release.history
      : [entryOf(current.release), ...current.release.history].slice(0, HISTORY_LIMIT)
    : [];
  const updatedAt = new Date().toISOString();
  const generation = current.generation + 1;
  const entry: AuditEntry = {
    at: updatedAt,
    by: updatedBy,
    action: reason,
    from: extra.audit?.from ?? describeState(current.state),
    to: extra.audit?.to ?? describeState(state),
    generation,
  };
  const audit = [entry, ...(current.release?.audit ?? [])].slice(0, AUDIT_LIMIT);
  const experiment = extra.experiment === undefined ? current.release?.experiment : extra.experiment;
  return {
    format: RELEASE_FORMAT,
    model: location.name,
    generation,
    serve: state.serve,
    labels: state.labels,
    updatedAt,
    updatedBy,
    reason,
    requestId: randomUUID(),
    ...(extra.rolledBackTo !== undefined ? { rolledBackTo: extra.rolledBackTo } : {}),
    history,
    ...(extra.pruning?.length ? { pruning: extra.pruning } : {}),
    ...(experiment ? { experiment } : {}),
    audit,
  };
}

const unknownServed = (location: ModelLocation, what: string) =>
  new UsageError(
    `${location.name} has no release.json yet, so what is served comes from its spec's versionPolicy, which ` +
      `a command given only the S3 folder cannot see. ${what}`,
  );

async function change(
  options: ReleaseOptions,
  reason: string,
  decide: (current: CurrentRelease, complete: ReadonlySet<number>) => ReleaseState,
  extra: (current: CurrentRelease, state: ReleaseState) => { rolledBackTo?: number } = () => ({}),
): Promise<ReleaseResult> {
  const { client, location } = options;
  await requireConditionalWrites(client, location.bucket, location.prefix);
  const versions = await listVersions(client, location);
  const current = await readRelease(client, location, options.initial ?? defaultInitialRelease, versions);
  if (options.expectGeneration !== undefined && options.expectGeneration !== current.generation) {
    throw new ConflictError(
      `release.json of ${location.name} is at generation ${current.generation}, not ${options.expectGeneration}; ` +
        'look at it again (catwalk versions) before changing it',
    );
  }
  // Versions a running prune is deleting are as good as gone.
  const pruning = new Set(current.release?.pruning ?? []);
  const complete = new Set(
    versions.filter((v) => v.state === 'complete' && !pruning.has(v.version)).map((v) => v.version),
  );
  const state = decide(current, complete);
  if (options.verify !== false) {
    const added = state.serve.filter((v) => !current.state.serve.includes(v));
    for (const v of added) {
      const manifest = versions.find((x) => x.version === v)?.manifest;
      const problem = manifest ? await verifyVersion(client, location, manifest) : undefined;
      if (problem) {
        throw new ChecksumMismatchError(
          `version ${v} does not match its manifest in S3 (${problem}), so this ${reason} was not written. ` +
            'Push the export again as a new version; catwalk versions --verify lists every damaged version.',
        );
      }
    }
  }
  const next = nextRelease(location, current, state, reason, options.updatedBy ?? whoAmI(), {
    ...extra(current, state),
    ...(pruning.size ? { pruning: [...pruning] } : {}),
  });
  await writeRelease(client, location, current, next, reason);
  return { release: next, previous: current.state };
}

/** What an experiment command decides to write; see changeExperiment. */
export interface ExperimentChange {
  /** Served versions and labels after the change; absent keeps them. */
  readonly state?: ReleaseState;
  /** The experiment after the change; null ends it. */
  readonly experiment: ExperimentState | null;
  /** The audit line's action: experiment-start, experiment-weight, ... */
  readonly action: string;
  readonly from: string;
  readonly to: string;
}

/**
 * One experiment transition, written like every release: read release.json
 * with its ETag, decide (pure, from what is there), write generation + 1 with
 * If-Match. `decide` returning undefined means the record already says what
 * the command wants (a rerun after an interruption), and nothing is written.
 * A second operator who wrote in between makes this one fail with a
 * ConflictError naming them and their experiment; nothing of this change is
 * written then.
 */
export async function changeExperiment(
  options: ReleaseOptions,
  decide: (current: CurrentRelease, complete: ReadonlySet<number>) => ExperimentChange | undefined,
): Promise<{ readonly release: Release | undefined; readonly written: boolean }> {
  const { client, location } = options;
  await requireConditionalWrites(client, location.bucket, location.prefix);
  const versions = await listVersions(client, location);
  const current = await readRelease(client, location, options.initial ?? defaultInitialRelease, versions);
  if (options.expectGeneration !== undefined && options.expectGeneration !== current.generation) {
    const r = current.release;
    throw new ConflictError(
      `release.json of ${location.name} is at generation ${current.generation}, not ${options.expectGeneration}: ` +
        `changed by ${r?.updatedBy ?? 'someone'} at ${r?.updatedAt ?? '?'} (${r?.reason ?? '?'})` +
        `${r?.experiment ? `; experiment ${describeExperiment(r.experiment)}` : ''}. Nothing was written.`,
    );
  }
  const pruning = new Set(current.release?.pruning ?? []);
  const complete = new Set(
    versions.filter((v) => v.state === 'complete' && !pruning.has(v.version)).map((v) => v.version),
  );
  const decided = decide(current, complete);
  if (!decided) return { release: current.release, written: false };
  if (decided.experiment) parseExperiment(decided.experiment, `the experiment of ${location.name}`);
  const state = decided.state ?? current.state;
  if (decided.state) {
    refusePruning(current, [...state.serve, ...Object.values(state.labels)]);
    checkState(state, complete);
    if (options.verify !== false) {
      for (const v of state.serve.filter((x) => !current.state.serve.includes(x))) {
        const manifest = versions.find((x) => x.version === v)?.manifest;
        const problem = manifest ? await verifyVersion(client, location, manifest) : undefined;
        if (problem) {
          throw new ChecksumMismatchError(
            `version ${v} does not match its manifest in S3 (${problem}); the experiment was not changed. ` +
              'Push the export again as a new version.',
          );
        }
      }
    }
  }
  const sameState = describeState(state) === describeState(current.state);
  const next = nextRelease(location, current, state, decided.action, options.updatedBy ?? whoAmI(), {
    experiment: decided.experiment,
    audit: { from: decided.from, to: decided.to },
    keepInHistory: !sameState,
    ...(sameState && current.release?.rolledBackTo !== undefined
      ? { rolledBackTo: current.release.rolledBackTo }
      : {}),
    ...(pruning.size ? { pruning: [...pruning] } : {}),
  });
  await writeRelease(client, location, current, next, decided.action);
  return { release: next, written: true };
}

/** release.json as the experiment commands plan from it. */
export interface ExperimentRecordView {
  readonly generation: number;
  readonly serve: readonly number[];
  readonly labels: Readonly<Record<string, number>>;
  readonly experiment?: ExperimentState;
  readonly audit?: readonly AuditEntry[];
}

/**
 * The experiment commands' view of release.json (@catwalk/deploy's
 * ExperimentStore): read with the versions in S3, each write one
 * changeExperiment compare-and-swap on the generation the plan was made
 * from, failing with a ConflictError when the record moved.
 */
export function experimentStore(options: ReleaseOptions): {
  read(): Promise<ExperimentRecordView>;
  write(generation: number, change: ExperimentChange): Promise<void>;
} {
  return {
    async read() {
      const versions = await listVersions(options.client, options.location);
      const current = await readRelease(
        options.client,
        options.location,
        options.initial ?? defaultInitialRelease,
        versions,
      );
      return {
        generation: current.generation,
        serve: current.state.serve,
        labels: current.state.labels,
        ...(current.release?.experiment ? { experiment: current.release.experiment } : {}),
        ...(current.release?.audit ? { audit: current.release.audit } : {}),
      };
    },
    async write(generation, change) {
      await changeExperiment({ ...options, expectGeneration: generation }, () => change);
    },
  };
}

export function describeState(state: ReleaseState): string {
  const labels = Object.entries(state.labels).map(([l, v]) => `${l}=${v}`);
  return `serve ${state.serve.join(',') || 'nothing'}${labels.length ? `, ${labels.join(' ')}` : ''}`;
}

function refusePruning(current: CurrentRelease, versions: Iterable<number>): void {
  const pruning = current.release?.pruning ?? [];
  const hit = [...versions].filter((v) => pruning.includes(v));
  if (hit.length > 0) {
    throw new UsageError(
      `version${hit.length > 1 ? 's' : ''} ${hit.join(', ')} ${hit.length > 1 ? 'are' : 'is'} being deleted by a prune ` +
        `(release.json generation ${current.generation}, by ${current.release!.updatedBy}); release another version`,
    );
  }
}

/**
 * While an experiment runs, its two versions stay served and the canary and
 * stable labels stay where the experiment put them: the pods of each track
 * follow those labels, the experiment compares exactly those two versions,
 * and only the experiment commands may end the test (promote moves stable,
 * abort keeps it), in order.
 */
function refuseExperimentChange(current: CurrentRelease, next: ReleaseState): void {
  const e = current.release?.experiment;
  if (!e) return;
  const problems: string[] = [];
  if (next.labels.canary !== e.canary) problems.push(`the canary label must stay on ${e.canary}`);
  if (next.labels.stable !== e.stable) {
    problems.push(
      `the stable label must stay on ${e.stable} (catwalk experiment promote makes ${e.canary} stable; ` +
        `catwalk experiment abort ends the test with ${e.stable} stable)`,
    );
  }
  for (const v of [e.stable, e.canary])
    if (!next.serve.includes(v)) problems.push(`version ${v} must stay served`);
  if (problems.length) {
    throw new ConflictError(
      `an experiment is running on ${current.release!.model}: ${describeExperiment(e)}; ${problems.join(', ')}. ` +
        'End it first with catwalk experiment promote or catwalk experiment abort.',
    );
  }
}

/** `catwalk release`: serve versions, move labels. */
export function release(
  options: ReleaseOptions & { readonly request: ReleaseRequest },
): Promise<ReleaseResult> {
  return change(options, 'release', (current, complete) => {
    if (!current.release && !options.initial && options.request.serve === undefined) {
      throw unknownServed(
        options.location,
        'Give --serve with every version to serve (e.g. --serve 3,4), or name the model by its spec file.',
      );
    }
    refusePruning(current, [
      ...(options.request.serve ?? []),
      ...Object.values(options.request.labels ?? {}).filter((v): v is number => v !== null),
    ]);
    // Checked before the release itself, so a request that unserves a version under test is told why.
    const labels: Record<string, number> = { ...current.state.labels };
    for (const [label, version] of Object.entries(options.request.labels ?? {})) {
      if (version === null) delete labels[label];
      else labels[label] = version;
    }
    refuseExperimentChange(current, { serve: options.request.serve ?? current.state.serve, labels });
    return planRelease(current.state, options.request, complete);
  });
}

/** `catwalk rollback`: move stable back and stop serving the bad version. */
export async function rollback(
  options: ReleaseOptions & { readonly to?: number },
): Promise<ReleaseResult & { from: number; to: number }> {
  let moved = { from: 0, to: 0 };
  const result = await change(
    options,
    'rollback',
    (current, complete) => {
      if (!current.release && !options.initial) {
        throw unknownServed(
          options.location,
          'Release first (catwalk release --serve), or give the spec file.',
        );
      }
      const e = current.release?.experiment;
      if (e) {
        throw new ConflictError(
          `an experiment is running on ${options.location.name}: ${describeExperiment(e)}; a rollback would move ` +
            `the stable version under it. Run catwalk experiment abort first (stable stays ${e.stable}), then roll back.`,
        );
      }
      if (options.to !== undefined) refusePruning(current, [options.to]);
      const plan = planRollback(
        current.release ?? current.state,
        current.release?.history ?? [],
        complete,
        options.to,
      );
      moved = { from: plan.from, to: plan.to };
      return plan.state;
    },
    (current) => {
      // Where the next rollback continues from: the release whose stable this one went back to.
      const r = current.release;
      if (!r) return {};
      const found = rollbackCandidates(r, r.history).find((h) => stableOf(h) === moved.to);
      return { rolledBackTo: found ? (found.rolledBackTo ?? found.generation) : r.generation };
    },
  );
  return { ...result, ...moved };
}

export interface PruneResult {
  readonly deleted: readonly number[];
  readonly kept: readonly number[];
  readonly freedBytes: number;
}

/**
 * `catwalk prune`: delete old versions, never a served or labelled one.
 *
 * release.json is the lock: prune first writes the next generation of it,
 * compare-and-swap, naming the versions it is about to delete (`pruning`).
 * A release that read the generation before fails its own compare-and-swap;
 * one that reads it after refuses those versions. Then each version's claim
 * becomes a tombstone (its number is never used again), its manifest goes
 * (the version stops existing), then its files; last, the marker is cleared.
 */
export async function prune(
  options: ReleaseOptions & { readonly keep: number; readonly dryRun?: boolean },
): Promise<PruneResult> {
  const { client, location } = options;
  const versions = await listVersions(client, location);
  const current = await readRelease(client, location, options.initial ?? defaultInitialRelease, versions);
  if (!current.release) {
    throw new UsageError(
      `${location.name} has no release.json yet; prune deletes only what release.json, locked while prune ` +
        `runs, says is not served. Run 'catwalk release ${options.initial ? '<spec>' : 's3://…'} --serve <versions>' ` +
        'first to record what is served.',
    );
  }
  // A prune that died leaves its marker: those versions are finished off too.
  const leftover = new Set(current.release.pruning ?? []);
  const doomed = new Set([
    ...planPrune(versions, current.state, options.keep),
    ...versions.filter((v) => leftover.has(v.version)).map((v) => v.version),
  ]);
  const kept = versions
    .filter((v) => (v.state === 'complete' || v.state === 'corrupt') && !doomed.has(v.version))
    .map((v) => v.version);
  const gone = versions.filter((v) => doomed.has(v.version));
  const result = {
    deleted: gone.map((v) => v.version),
    kept,
    freedBytes: gone.reduce((n, v) => n + v.storedBytes, 0),
  };
  if (options.dryRun) return result;
  // Files in abandoned folders (uploads of a dead push that landed after its claim was retired):
  // never served, never listed as versions, so they go without the release.json lock.
  const strays = versions
    .filter((v) => v.state === 'abandoned')
    .flatMap((v) => v.keys.filter((k) => k !== claimKey(location, v.version)));
  if (strays.length > 0) await deleteKeys(client, location.bucket, strays);
  if (gone.length === 0) return result;
  await requireConditionalWrites(client, location.bucket, location.prefix);
  const updatedBy = options.updatedBy ?? whoAmI();

  // Prune serves and labels what was served and labelled: it is audited, but adds nothing to the
  // history rollback walks, where it would take places from the releases a rollback needs.
  const marked = nextRelease(location, current, current.state, 'prune', updatedBy, {
    keepInHistory: false,
    ...(current.release.rolledBackTo !== undefined ? { rolledBackTo: current.release.rolledBackTo } : {}),
    pruning: [...doomed].sort((a, b) => a - b),
  });
  try {
    await writeRelease(client, location, current, marked, 'prune');
  } catch (error) {
    if (error instanceof ConflictError) {
      throw new ConflictError(
        `release.json of ${location.name} changed while prune was planning; nothing was deleted, run it again`,
      );
    }
    throw error;
  }

  for (const v of gone) {
    await putJson(client, location.bucket, claimKey(location, v.version), {
      format: CLAIM_FORMAT,
      pushId: marked.requestId,
      exportId: '',
      startedAt: marked.updatedAt,
      pushedBy: updatedBy,
      heartbeatAt: marked.updatedAt,
      pruned: true,
    });
    // Manifest first: the version stops existing at once, then its files go.
    await deleteKeys(client, location.bucket, [manifestKey(location, v.version)]);
    await deleteKeys(
      client,
      location.bucket,
      v.keys.filter((k) => k !== manifestKey(location, v.version) && k !== claimKey(location, v.version)),
    );
  }

  // Clear the marker, keeping whatever releases were made meanwhile.
  for (let attempt = 0; attempt < 10; attempt++) {
    const now = await readRelease(client, location, defaultInitialRelease, versions);
    if (!now.release?.pruning?.some((v) => doomed.has(v))) break;
    const rest = now.release.pruning.filter((v) => !doomed.has(v));
    const cleared = nextRelease(location, now, now.state, 'prune done', updatedBy, {
      keepInHistory: false,
      ...(now.release.rolledBackTo !== undefined ? { rolledBackTo: now.release.rolledBackTo } : {}),
      pruning: rest,
    });
    try {
      await writeRelease(client, location, now, cleared, 'prune');
      break;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error; // a release landed meanwhile: read again
    }
  }
  return result;
}
