// A version's signatures: read from the export at push and recorded in its
// manifest, read back by tools that need a model's interface without
// downloading it, and compared on release so a version whose inputs or
// outputs would break the callers of the stable version is not served by
// accident.
//
// Versions pushed before signatures were recorded have none in their
// manifest: their saved_model.pb (or .pbtxt) is read from S3 instead, once
// per check, and checked against the manifest's sha256 first. Manifests are
// immutable, so nothing is written back.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type {
  CompatibilityReport,
  ModelSignatures,
  readWarmupFile,
  SignatureChange,
  SignatureSpec,
} from '@catwalk/savedmodel';
import { listVersions, type VersionInfo } from './catalog';
import { InvalidRecordError, RegistryError } from './errors';
import { formatUri, type ModelLocation, modelKey } from './location';
import type { Manifest } from './records';
import { isNotFound } from './s3';

/**
 * @catwalk/savedmodel (TF Serving's protobuf messages, about 100 ms to load)
 * once a signature or warm-up file is read: the sync sidecar never reads one,
 * and pays for what it loads at every start.
 */
export const savedmodel = (): typeof import('@catwalk/savedmodel') => require('@catwalk/savedmodel');

/** What push records in the manifest's `signatures` field: the serving MetaGraph's signatures. */
export interface RecordedSignatures {
  /** The file they were read from: saved_model.pb or saved_model.pbtxt. */
  readonly source: string;
  /** The tag set of the MetaGraph read ({serve}, the one TF Serving loads). */
  readonly tags: readonly string[];
  readonly tensorflowVersion: string;
  /** @catwalk/savedmodel's signatureFingerprint, the one `catwalk codegen` writes into its modules. */
  readonly fingerprint: string;
  /** Every signature by name, as @catwalk/savedmodel reads them. */
  readonly signatures: Readonly<Record<string, SignatureSpec>>;
}

/** A manifest as push now writes it; older manifests have no `signatures`. */
export type SignedManifest = Manifest & { readonly signatures?: RecordedSignatures };

const SAVED_MODEL_FILES = ['saved_model.pb', 'saved_model.pbtxt'] as const;

function recordOf(read: ModelSignatures, source: string): RecordedSignatures {
  return {
    source,
    tags: read.tags,
    tensorflowVersion: read.tensorflowVersion,
    fingerprint: savedmodel().signatureFingerprint(read.signatures),
    signatures: read.signatures,
  };
}

/** Signatures from the bytes of saved_model.pb or saved_model.pbtxt; throws SavedModelError. */
export function signaturesFromBytes(bytes: Uint8Array, file: string, where: string): RecordedSignatures {
  const read =
    file === 'saved_model.pb'
      ? savedmodel().readSignatures(bytes, { source: where })
      : savedmodel().readSignaturesFromText(new TextDecoder().decode(bytes), { source: where });
  return recordOf(read, file);
}

/**
 * The signatures of an export folder, from saved_model.pb or else
 * saved_model.pbtxt (TF Serving's own order), or why they cannot be read.
 */
export async function readExportSignatures(
  dir: string,
  paths: readonly string[],
): Promise<{ signatures: RecordedSignatures } | { problem: string }> {
  const file = SAVED_MODEL_FILES.find((f) => paths.includes(f));
  if (file === undefined) return { problem: 'the export holds no saved_model.pb or saved_model.pbtxt' };
  try {
    const bytes = await fs.readFile(path.join(dir, file));
    return { signatures: signaturesFromBytes(bytes, file, file) };
  } catch (error) {
    return { problem: (error as Error).message };
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The `signatures` field of a manifest, checked: undefined when absent (a
 * version pushed before signatures were recorded, or whose SavedModel could
 * not be read at push); InvalidRecordError naming the field when malformed.
 */
export function recordedSignatures(manifest: Manifest, where: string): RecordedSignatures | undefined {
  const field = (manifest as SignedManifest).signatures as unknown;
  if (field === undefined) return undefined;
  const bad = (path: string, what: string): never => {
    throw new InvalidRecordError(`${where}: 'signatures${path}' ${what}; the version's manifest is corrupt`);
  };
  if (!isRecord(field)) return bad('', 'must be an object');
  if (!SAVED_MODEL_FILES.includes(field.source as (typeof SAVED_MODEL_FILES)[number]))
    bad('.source', 'must be saved_model.pb or saved_model.pbtxt');
  if (!Array.isArray(field.tags) || !field.tags.every((t) => typeof t === 'string'))
    bad('.tags', 'must be a list of strings');
  if (typeof field.tensorflowVersion !== 'string') bad('.tensorflowVersion', 'must be a string');
  if (typeof field.fingerprint !== 'string') bad('.fingerprint', 'must be a string');
  if (!isRecord(field.signatures)) return bad('.signatures', 'must be an object of signatures by name');
  for (const [name, sig] of Object.entries(field.signatures)) {
    const at = `.signatures[${JSON.stringify(name)}]`;
    if (!isRecord(sig)) return bad(at, 'must be an object');
    if (typeof sig.methodName !== 'string') bad(`${at}.methodName`, 'must be a string');
    for (const side of ['inputs', 'outputs'] as const) {
      const tensors = sig[side];
      if (!isRecord(tensors)) return bad(`${at}.${side}`, 'must be an object of tensors by name');
      for (const [alias, t] of Object.entries(tensors)) {
        const tat = `${at}.${side}[${JSON.stringify(alias)}]`;
        if (!isRecord(t)) return bad(tat, 'must be an object');
        if (typeof t.dtype !== 'string') bad(`${tat}.dtype`, 'must be a string');
        if (t.shape !== null && !(Array.isArray(t.shape) && t.shape.every((d) => Number.isInteger(d))))
          bad(`${tat}.shape`, 'must be a list of whole numbers, or null');
        if (typeof t.tensorName !== 'string') bad(`${tat}.tensorName`, 'must be a string');
      }
    }
  }
  return field as unknown as RecordedSignatures;
}

/** Where a version's signatures came from, or why there are none. */
export type VersionSignatures =
  | {
      readonly version: number;
      readonly from: 'manifest' | 'savedmodel';
      readonly signatures: RecordedSignatures;
    }
  | { readonly version: number; readonly from: 'unknown'; readonly problem: string };

/**
 * A complete version's signatures: from its manifest, or (a version pushed
 * before they were recorded) from its saved_model.pb in S3, checked against
 * the manifest's sha256.
 */
export async function versionSignatures(
  client: S3Client,
  location: ModelLocation,
  manifest: Manifest,
): Promise<VersionSignatures> {
  const version = manifest.version;
  const recorded = recordedSignatures(manifest, formatUri(location, version, 'catwalk-manifest.json'));
  if (recorded) return { version, from: 'manifest', signatures: recorded };
  const file = SAVED_MODEL_FILES.map((f) => manifest.files.find((x) => x.path === f)).find((f) => f);
  if (!file) return { version, from: 'unknown', problem: 'it holds no saved_model.pb or saved_model.pbtxt' };
  const key = modelKey(location, version, file.path);
  const uri = `s3://${location.bucket}/${key}`;
  let bytes: Uint8Array;
  try {
    const answer = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: key }));
    bytes = await answer.Body!.transformToByteArray();
  } catch (error) {
    if (isNotFound(error)) return { version, from: 'unknown', problem: `${uri} is missing` };
    throw error;
  }
  const sha256 = sha256Bytes(bytes);
  if (sha256 !== file.sha256) {
    return {
      version,
      from: 'unknown',
      problem: `${uri}: its sha256 is ${sha256}, not the manifest's ${file.sha256}; the stored file is damaged`,
    };
  }
  try {
    return { version, from: 'savedmodel', signatures: signaturesFromBytes(bytes, file.path, uri) };
  } catch (error) {
    return { version, from: 'unknown', problem: (error as Error).message };
  }
}

function sha256Bytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** One candidate version against the stable one. */
export interface SignatureComparison {
  readonly version: number;
  readonly report: CompatibilityReport;
}

/** Whose callers a check protects: the version labelled stable, or (no stable label) the highest version served. */
export interface SignatureBaseline {
  readonly version: number;
  readonly role: 'stable' | 'served';
}

export interface SignatureCheckResult {
  /** The version compared against when it is the one labelled stable. */
  readonly stable?: number;
  /** The version compared against and why it is the one; undefined when there is none. */
  readonly baseline?: SignatureBaseline;
  /** Each candidate that could be compared, with its report (breaking changes only with allowBreaking). */
  readonly compared: readonly SignatureComparison[];
  /** Compatible changes to report: added signatures and outputs, widened input shapes. */
  readonly additions: ReadonlyArray<SignatureChange & { readonly version: number }>;
  /** Breaking changes let through by allowBreaking. */
  readonly allowed: ReadonlyArray<SignatureChange & { readonly version: number }>;
  /** Versions whose signatures could not be known (the check could not protect their callers), and why. */
  readonly unchecked: ReadonlyArray<{ readonly version: number; readonly reason: string }>;
}

/** A release (or an A/B test) would serve versions that break the callers of the stable version. */
export class BreakingSignatureError extends RegistryError {
  override readonly name = 'BreakingSignatureError';
  readonly fault = 'client';
  constructor(
    message: string,
    /** The version whose callers would break (labelled stable, or the highest served when none is). */
    readonly stable: number,
    readonly comparisons: readonly SignatureComparison[],
    readonly baseline: SignatureBaseline = { version: stable, role: 'stable' },
  ) {
    super(message);
  }
}

export interface CheckReleaseSignaturesOptions {
  /** The S3 client of the registry. */
  readonly store: S3Client;
  /** The model's folder. */
  readonly model: ModelLocation;
  /** The version labelled stable, which callers are written against; without one, see `served`. */
  readonly from: number | undefined;
  /** The versions about to be served. */
  readonly to: readonly number[];
  /**
   * The versions served now. With no stable version, the highest of them is
   * compared against instead: it is what a request that names no version
   * reaches (TF Serving's default), so it is what unpinned callers are
   * written against. Comparing against every served version would let an
   * older, already superseded interface refuse every later release.
   */
  readonly served?: readonly number[];
  /**
   * Signatures callers depend on besides serving_default (e.g. those a spec
   * lists). @default serving_default, or every signature when stable has none
   */
  readonly signatureNames?: readonly string[];
  /** Report breaking changes instead of refusing. @default false */
  readonly allowBreaking?: boolean;
  /** The model's versions, when the caller has just listed them. */
  readonly versions?: readonly VersionInfo[];
}

/**
 * Compares the signatures of the versions about to be served with those of
 * the stable one. Throws BreakingSignatureError, whose message holds the diff
 * and the fix, when one would break stable's callers (unless allowBreaking);
 * returns the compatible additions to report otherwise.
 */
export async function checkReleaseSignatures(
  options: CheckReleaseSignaturesOptions,
): Promise<SignatureCheckResult> {
  const { store: client, model: location } = options;
  const baseline: SignatureBaseline | undefined =
    options.from !== undefined
      ? { version: options.from, role: 'stable' }
      : options.served && options.served.length > 0
        ? { version: Math.max(...options.served), role: 'served' }
        : undefined;
  const stable = baseline?.version;
  const known = baseline ? { baseline, ...(baseline.role === 'stable' ? { stable } : {}) } : {};
  const word = baseline?.role === 'served' ? 'served' : 'stable';
  const candidates = [...new Set(options.to)].filter((v) => v !== stable).sort((a, b) => a - b);
  if (stable === undefined || candidates.length === 0) {
    return {
      ...known,
      compared: [],
      additions: [],
      allowed: [],
      unchecked: [],
    };
  }
  const versions = options.versions ?? (await listVersions(client, location));
  const read = new Map<number, Promise<VersionSignatures>>();
  const signaturesOf = (version: number): Promise<VersionSignatures> => {
    let found = read.get(version);
    if (!found) {
      const manifest = versions.find((v) => v.version === version && v.state === 'complete')?.manifest;
      found = manifest
        ? versionSignatures(client, location, manifest)
        : Promise.resolve({ version, from: 'unknown', problem: `version ${version} is not complete` });
      read.set(version, found);
    }
    return found;
  };

  const base = await signaturesOf(stable);
  if (base.from === 'unknown') {
    return {
      ...known,
      compared: [],
      additions: [],
      allowed: [],
      unchecked: candidates.map((version) => ({
        version,
        reason: `the signatures of ${word} version ${stable} cannot be read (${base.problem})`,
      })),
    };
  }
  const before = base.signatures.signatures;
  const names =
    options.signatureNames && options.signatureNames.length > 0
      ? [...new Set([...(before.serving_default ? ['serving_default'] : []), ...options.signatureNames])]
      : undefined;
  const compared: SignatureComparison[] = [];
  const unchecked: Array<{ version: number; reason: string }> = [];
  for (const version of candidates) {
    const next = await signaturesOf(version);
    if (next.from === 'unknown') {
      unchecked.push({ version, reason: next.problem });
      continue;
    }
    compared.push({
      version,
      report: savedmodel().compareSignatures(
        before,
        next.signatures.signatures,
        names ? { signatures: names } : {},
      ),
    });
  }
  const breaking = compared.filter((c) => !c.report.compatible);
  if (breaking.length > 0 && options.allowBreaking !== true) {
    throw new BreakingSignatureError(
      breakingMessage(location, baseline!, breaking),
      stable,
      breaking,
      baseline,
    );
  }
  const tagged = (pick: (r: CompatibilityReport) => readonly SignatureChange[]) =>
    compared.flatMap((c) => pick(c.report).map((change) => ({ ...change, version: c.version })));
  return {
    ...known,
    compared,
    additions: tagged((r) => r.compatibleChanges),
    allowed: tagged((r) => r.breaking),
    unchecked,
  };
}

function breakingMessage(
  location: ModelLocation,
  baseline: SignatureBaseline,
  breaking: readonly SignatureComparison[],
): string {
  const lines: string[] = [];
  const { version: base, role } = baseline;
  for (const { version, report } of breaking) {
    lines.push(
      `version ${version} of ${location.name} would break callers of ${role} version ${base}:`,
      ...report.breaking.map((c) => `  - ${c.message}`),
      `  signatures (- ${role} ${base}, + version ${version}):`,
      ...report.diff.split('\n').map((line) => `    ${line}`),
    );
  }
  lines.push(
    'Nothing was changed. If every caller is ready for the new interface, run the command again with ' +
      '--allow-breaking; otherwise push this interface under a new model name and move callers to it.',
  );
  return lines.join('\n');
}

/** Warm-up requests for TF Serving to replay when it loads the version. */
export interface WarmupRequests {
  /** A list of requests, each the inputs by name in the form `catwalk predict --input` takes. */
  readonly requests: unknown;
  /** The signature they call. @default 'serving_default' */
  readonly signatureName?: string;
  /** Where they came from, for messages. @default 'warm-up requests' */
  readonly source?: string;
}

/** Warm-up requests that do not fit the model, or a model whose signatures cannot be read to check them. */
export class InvalidWarmupError extends RegistryError {
  override readonly name = 'InvalidWarmupError';
  readonly fault = 'client';
}

/**
 * The bytes of assets.extra/tf_serving_warmup_requests for these requests:
 * each is checked against the signature it calls, then written as a
 * PredictionLog record in TFRecord framing.
 */
export function warmupFileBytes(
  model: string,
  read: { signatures: RecordedSignatures } | { problem: string },
  warmup: WarmupRequests,
): Uint8Array {
  const source = warmup.source ?? 'warm-up requests';
  const signatureName = warmup.signatureName ?? 'serving_default';
  if (!Array.isArray(warmup.requests)) {
    throw new InvalidWarmupError(
      `${source}: expected a JSON list of requests, each an object of inputs by name, e.g. [{"x": [[1.0]]}]`,
    );
  }
  if ('problem' in read) {
    throw new InvalidWarmupError(
      `${source}: the requests cannot be checked, because the export's signatures cannot be read (${read.problem})`,
    );
  }
  const all = read.signatures.signatures;
  const signature = Object.hasOwn(all, signatureName) ? all[signatureName] : undefined;
  if (signature === undefined) {
    const names = Object.keys(read.signatures.signatures).filter((n) => !n.startsWith('__'));
    throw new InvalidWarmupError(
      `${source}: the model has no signature ${signatureName}; its signatures are ${names.join(', ') || '(none)'} (choose one with --warmup-signature)`,
    );
  }
  try {
    return savedmodel().buildWarmupFile({ model, signatureName, signature, requests: warmup.requests });
  } catch (error) {
    if (error instanceof savedmodel().WarmupError)
      throw new InvalidWarmupError(`${source}: ${error.message}`);
    throw error;
  }
}

/**
 * Checks a warm-up file that came with the export: TF Serving fails to load a
 * version whose warm-up file it cannot replay, so a cut or corrupt file, too
 * many records, or a request for a signature or input the model does not
 * have stops the push instead of every pod's load.
 */
export async function checkWarmupFile(
  file: string,
  read: { signatures: RecordedSignatures } | { problem: string },
): Promise<void> {
  const refuse = (why: string): never => {
    throw new InvalidWarmupError(
      `${why}; TF Serving would fail to load the version. Write it again (catwalk push --warmup) or remove it`,
    );
  };
  let logs: ReturnType<typeof readWarmupFile>;
  try {
    logs = savedmodel().readWarmupFile(await fs.readFile(file), file);
  } catch (error) {
    if (error instanceof savedmodel().WarmupError) return refuse(error.message);
    throw error;
  }
  const { MAX_WARMUP_RECORDS } = savedmodel();
  if (logs.length > MAX_WARMUP_RECORDS)
    refuse(`${file}: ${logs.length} records, and TF Serving replays at most ${MAX_WARMUP_RECORDS}`);
  if (!('signatures' in read)) return; // nothing to check the requests against; push has warned
  const signatures = read.signatures.signatures;
  logs.forEach((log, index) => {
    if (log.logType.case !== 'predictLog') return; // classify, regress... are not declared here
    const request = log.logType.value.request;
    const name = request?.modelSpec?.signatureName || 'serving_default';
    const signature = Object.hasOwn(signatures, name) ? signatures[name] : undefined;
    if (signature === undefined) {
      const names = Object.keys(signatures).filter((n) => !n.startsWith('__'));
      refuse(
        `${file}: record ${index} calls signature ${name}, which the model does not have (its signatures are ${names.join(', ') || 'none'})`,
      );
    }
    for (const alias of Object.keys(request?.inputs ?? {}).sort()) {
      if (!Object.hasOwn(signature!.inputs, alias)) {
        refuse(
          `${file}: record ${index} calls ${name} with input ${alias}, which it does not take (its inputs are ${Object.keys(signature!.inputs).sort().join(', ') || 'none'})`,
        );
      }
    }
  });
}
