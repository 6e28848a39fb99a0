// The two JSON records the registry keeps in S3, their formats and their
// readers. Readers never trust what they fetch: a record that does not
// parse, or names a path that could leave the version folder, is refused
// with the key at fault.

import { InvalidRecordError } from './errors';
import { RESERVED_FILES } from './location';

export const MANIFEST_FORMAT = 'catwalk.manifest/v1';
export const RELEASE_FORMAT = 'catwalk.release/v1';
export const CLAIM_FORMAT = 'catwalk.claim/v1';

export interface ManifestFile {
  /** Relative to the version folder, '/' separators. */
  readonly path: string;
  readonly size: number;
  /** Lowercase hex sha256 of the content. */
  readonly sha256: string;
}

/** <model>/<version>/catwalk-manifest.json: written last; a version without one does not exist. */
export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly model: string;
  readonly version: number;
  readonly files: readonly ManifestFile[];
  readonly totalBytes: number;
  /** sha256 of the sorted "path size sha256" lines: equal exports have equal fingerprints. */
  readonly fingerprint: string;
  readonly pushedAt: string;
  readonly pushedBy: string;
  readonly pushId: string;
  readonly tool: string;
}

/** <model>/<version>/catwalk-claim.json: written first (If-None-Match: *), so two pushes never share a version. */
export interface Claim {
  readonly format: typeof CLAIM_FORMAT;
  readonly pushId: string;
  /** sha256 of the export's "path size mtime" lines: the same unchanged folder pushed again resumes. */
  readonly exportId: string;
  readonly startedAt: string;
  readonly pushedBy: string;
  /** Refreshed while the push runs; a claim older than its lease belongs to a push that died. */
  readonly heartbeatAt: string;
  /** Set when the push stopped on an error or a signal: the next push of the same files resumes at once. */
  readonly interrupted?: boolean;
  /** Where the push runs: a push on the same host whose process is gone crashed, and is resumed at once. */
  readonly host?: string;
  readonly pid?: number;
  /**
   * Written by the claimant, compare-and-swap, just before its manifest: from
   * here on nobody may take the claim over, and the push that sealed it is
   * the only one that may write the manifest.
   */
  readonly sealed?: boolean;
  /**
   * Set, compare-and-swap, by a later push that judged this one dead (never
   * of a sealed claim). The folder is abandoned: its claimant can no longer
   * seal it, and no other push ever writes into it.
   */
  readonly retiredBy?: string;
  /** The version was pruned: this claim stays behind as a tombstone so its number is never used again. */
  readonly pruned?: boolean;
  /**
   * Multipart uploads the push has open, kept current by its heartbeats: the
   * push that retires this claim aborts them (a killed push cannot), so their
   * parts stop being stored and billed.
   */
  readonly uploads?: ReadonlyArray<{ readonly key: string; readonly uploadId: string }>;
}

export interface ReleaseState {
  /** Versions TF Serving serves, ascending. */
  readonly serve: readonly number[];
  /** Label -> version; every labelled version is served. */
  readonly labels: Readonly<Record<string, number>>;
}

export interface ReleaseEntry extends ReleaseState {
  readonly generation: number;
  readonly updatedAt: string;
  readonly updatedBy: string;
  /** What made this generation: 'release', 'rollback', ... */
  readonly reason: string;
  /** Random id of the command run that wrote it: a writer recognises its own write after a lost response. */
  readonly requestId?: string;
  /** For a rollback: the generation whose stable version it went back to (the next rollback goes further back). */
  readonly rolledBackTo?: number;
}

/** Where an A/B test stands; written by `catwalk experiment`, read by it, `status` and `deploy`. */
export type ExperimentPhase = 'starting' | 'running' | 'promoting' | 'aborting';

/** The last analysis between two steps (the shape the analysis returns; readers ignore unknown fields). */
export interface ExperimentVerdict {
  readonly at: string;
  readonly verdict: 'pass' | 'fail' | 'inconclusive';
  readonly reason: string;
  readonly step: number;
  readonly tracks?: Readonly<Record<string, unknown>>;
}

/**
 * An A/B test between the version `stable` points to and a canary version.
 * Everything a rerun of an interrupted command needs is here: the commands
 * derive their next action from it and from what the cluster reports.
 */
export interface ExperimentState {
  readonly canary: number;
  readonly stable: number;
  /** Percent of unaddressed requests the canary gets now (0-100). */
  readonly weight: number;
  /** The weights to walk, one step per interval; one step for a fixed weight. */
  readonly plan: { readonly steps: readonly number[]; readonly intervalSeconds: number };
  /** Index in plan.steps of the weight in force; -1 while the canary is not yet taking traffic. */
  readonly step: number;
  /** When the current step's weight was set: the next step waits intervalSeconds from here. */
  readonly stepStartedAt?: string;
  readonly phase: ExperimentPhase;
  readonly startedAt: string;
  readonly startedBy: string;
  /** Promote on its own after the last step passes. */
  readonly autoPromote?: boolean;
  /** Prometheus URL the steps are analysed against. */
  readonly analysisUrl?: string;
  readonly analysis?: ExperimentVerdict;
}

/** One line of the audit trail: every change of release.json says who, when, what and from/to. */
export interface AuditEntry {
  readonly at: string;
  readonly by: string;
  /** release, rollback, prune, experiment-start, experiment-weight, experiment-promote, ... */
  readonly action: string;
  readonly from: string;
  readonly to: string;
  readonly generation: number;
}

/** <model>/release.json. Every write is a compare-and-swap on the object's ETag, with generation + 1. */
export interface Release extends ReleaseEntry {
  readonly format: typeof RELEASE_FORMAT;
  readonly model: string;
  /** Earlier generations, newest first (at most HISTORY_LIMIT): what rollback goes back to. */
  readonly history: readonly ReleaseEntry[];
  /**
   * Versions a running prune is deleting. Written (compare-and-swap) before
   * the first delete and cleared after the last: a release that reads it
   * refuses those versions, and one that read the generation before fails its
   * compare-and-swap.
   */
  readonly pruning?: readonly number[];
  /** The A/B test in progress, if any. */
  readonly experiment?: ExperimentState;
  /** Every change, newest first (at most AUDIT_LIMIT). */
  readonly audit?: readonly AuditEntry[];
}

export const HISTORY_LIMIT = 20;
/** Audit lines kept: an experiment writes one per step, so this is larger than the history. */
export const AUDIT_LIMIT = 200;

/**
 * Why `p` is not a safe relative path inside a version folder, if it is
 * not. Sync joins these with the destination folder, so anything that could
 * resolve outside it ('..', absolute, drive letters, backslashes, NUL) is out.
 */
export function unsafePathProblem(p: string): string | undefined {
  if (typeof p !== 'string' || p.length === 0) return 'an empty path';
  if (p.includes('\0')) return 'a NUL character';
  if (p.includes('\\')) return "a backslash (paths use '/')";
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return 'an absolute path';
  const parts = p.split('/');
  if (parts.some((s) => s === '..')) return "a '..' segment that would leave the version folder";
  if (parts.some((s) => s === '' || s === '.')) return "an empty or '.' segment";
  if (Buffer.byteLength(p) > 700) return 'a path longer than 700 bytes';
  return undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isVersion = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function parseJson(text: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidRecordError(`${where} is not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(value)) throw new InvalidRecordError(`${where} must hold a JSON object`);
  return value;
}

export function parseManifest(text: string, where: string): Manifest {
  const m = parseJson(text, where);
  const bad = (field: string, what: string): never => {
    throw new InvalidRecordError(`${where}: '${field}' ${what}; the version is corrupt, push it again`);
  };
  if (m.format !== MANIFEST_FORMAT)
    bad('format', `must be '${MANIFEST_FORMAT}' (found ${JSON.stringify(m.format)})`);
  if (typeof m.model !== 'string') bad('model', 'must be a string');
  if (!isVersion(m.version)) bad('version', 'must be a non-negative integer');
  if (!Array.isArray(m.files) || m.files.length === 0) bad('files', 'must be a non-empty list');
  const seen = new Set<string>();
  let total = 0;
  for (const [i, f] of (m.files as unknown[]).entries()) {
    if (!isRecord(f)) bad(`files[${i}]`, 'must be an object');
    if (!isRecord(f)) continue;
    const problem = unsafePathProblem(f.path as string);
    if (problem) bad(`files[${i}].path`, `is ${problem} (${JSON.stringify(f.path)}), refused`);
    if (RESERVED_FILES.has(f.path as string)) bad(`files[${i}].path`, 'names a reserved file');
    if (seen.has(f.path as string)) bad(`files[${i}].path`, `repeats '${f.path}'`);
    seen.add(f.path as string);
    if (!Number.isSafeInteger(f.size) || (f.size as number) < 0)
      bad(`files[${i}].size`, 'must be a byte count');
    if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256))
      bad(`files[${i}].sha256`, 'must be 64 lowercase hex digits');
    total += f.size as number;
  }
  // A path that is a file and also a folder ('a' and 'a/b') cannot be written to disk.
  for (const p of seen) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      if (seen.has(parts.slice(0, i).join('/')))
        bad('files', `has '${p}' below the file '${parts.slice(0, i).join('/')}'`);
    }
  }
  if (!seen.has('saved_model.pb') && !seen.has('saved_model.pbtxt')) {
    bad(
      'files',
      'must list saved_model.pb or saved_model.pbtxt at the root of the version (TF Serving loads nothing else)',
    );
  }
  if (m.totalBytes !== total) bad('totalBytes', `must be the sum of the file sizes (${total})`);
  for (const field of ['fingerprint', 'pushedAt', 'pushedBy', 'pushId', 'tool'] as const) {
    if (typeof m[field] !== 'string') bad(field, 'must be a string');
  }
  return m as unknown as Manifest;
}

export function parseClaim(text: string, where: string): Claim {
  const c = parseJson(text, where);
  if (c.format !== CLAIM_FORMAT || typeof c.pushId !== 'string' || typeof c.exportId !== 'string') {
    throw new InvalidRecordError(`${where} is not a Catwalk push claim`);
  }
  return c as unknown as Claim;
}

function parseState(r: Record<string, unknown>, where: string): ReleaseState {
  if (!Array.isArray(r.serve) || !r.serve.every(isVersion)) {
    throw new InvalidRecordError(`${where}: 'serve' must be a list of version numbers`);
  }
  if (!isRecord(r.labels) || !Object.values(r.labels).every(isVersion)) {
    throw new InvalidRecordError(`${where}: 'labels' must map label names to version numbers`);
  }
  return { serve: r.serve as number[], labels: r.labels as Record<string, number> };
}

export function parseRelease(text: string, where: string): Release {
  const r = parseJson(text, where);
  if (r.format !== RELEASE_FORMAT) {
    throw new InvalidRecordError(
      `${where}: 'format' must be '${RELEASE_FORMAT}' (found ${JSON.stringify(r.format)})`,
    );
  }
  if (!Number.isSafeInteger(r.generation) || (r.generation as number) < 1) {
    throw new InvalidRecordError(`${where}: 'generation' must be a positive integer`);
  }
  parseState(r, where);
  if (!Array.isArray(r.history)) throw new InvalidRecordError(`${where}: 'history' must be a list`);
  (r.history as unknown[]).forEach((h, i) => {
    if (!isRecord(h)) throw new InvalidRecordError(`${where}: history[${i}] must be an object`);
    parseState(h, `${where} history[${i}]`);
  });
  if (r.experiment !== undefined) parseExperiment(r.experiment, `${where}: experiment`);
  if (r.pruning !== undefined && !(Array.isArray(r.pruning) && r.pruning.every(isVersion))) {
    throw new InvalidRecordError(`${where}: 'pruning' must be a list of version numbers`);
  }
  if (r.audit !== undefined && !Array.isArray(r.audit)) {
    throw new InvalidRecordError(`${where}: 'audit' must be a list`);
  }
  (r.audit as unknown[] | undefined)?.forEach((entry, i) => {
    const ok =
      isRecord(entry) &&
      typeof entry.at === 'string' &&
      typeof entry.by === 'string' &&
      typeof entry.action === 'string';
    if (!ok) {
      throw new InvalidRecordError(`${where}: audit[${i}] must be an object with 'at', 'by' and 'action'`);
    }
  });
  return r as unknown as Release;
}

const PHASES: readonly string[] = ['starting', 'running', 'promoting', 'aborting'];

/** Throws InvalidRecordError naming the field when `value` is not an experiment record. */
export function parseExperiment(value: unknown, where: string): void {
  const bad = (what: string): never => {
    throw new InvalidRecordError(`${where}: ${what}`);
  };
  if (!isRecord(value)) bad('must be an object');
  const e = value as Record<string, unknown>;
  if (!isVersion(e.canary)) bad("'canary' must be a version number");
  if (!isVersion(e.stable)) bad("'stable' must be a version number");
  const percent = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 100;
  if (!percent(e.weight)) bad("'weight' must be a whole percent, 0 to 100");
  const plan = e.plan as Record<string, unknown> | undefined;
  if (!isRecord(plan) || !Array.isArray(plan.steps) || !plan.steps.every(percent)) {
    bad("'plan.steps' must be a list of whole percents");
  }
  if (!Number.isFinite(plan!.intervalSeconds) || (plan!.intervalSeconds as number) < 0) {
    bad("'plan.intervalSeconds' must be a number of seconds");
  }
  if (!Number.isInteger(e.step) || (e.step as number) < -1)
    bad("'step' must be an index of plan.steps, or -1");
  if (!PHASES.includes(e.phase as string)) bad(`'phase' must be one of ${PHASES.join(', ')}`);
  if (typeof e.startedBy !== 'string' || typeof e.startedAt !== 'string') {
    bad("'startedBy' and 'startedAt' must be strings");
  }
}

/** The fingerprint of a file list: identifies "the same export" across runs. */
export function fingerprintLines(files: readonly ManifestFile[]): string {
  return [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => `${f.path} ${f.size} ${f.sha256}\n`)
    .join('');
}
