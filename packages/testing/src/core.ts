// The transport-independent heart of the fake: which versions are served,
// how a request finds its servable, and TF Serving's error texts.
import type { ErrorCode, ModelState, Tensor } from '@catwalk/client';
import type { Entrypoint, InferenceApi, ServingMetrics } from './metrics.js';
import { type FakeModel, type FakeSignature, FeatureError, type Features } from './models.js';
import { type TrafficBehaviour, TrafficModel } from './traffic.js';

export class TfError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface VersionState {
  state: ModelState;
  errorCode: ErrorCode;
  errorMessage: string;
}

export interface Servable {
  readonly model: FakeModel;
  readonly version: number;
  readonly signatures: Readonly<Record<string, FakeSignature>>;
}

export type FakeMethod = 'predict' | 'classify' | 'regress' | 'multiInference' | 'metadata' | 'status';

export interface RecordedRequest {
  readonly transport: 'rest' | 'grpc';
  readonly method: FakeMethod;
  readonly model: string;
  readonly headers: Readonly<Record<string, string>>;
}

interface Fault {
  remaining: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly methods: readonly FakeMethod[];
}

export interface CoreMonitoring {
  readonly metrics: ServingMetrics;
  /** Folder the versions are "loaded" from, for the model_path label. */
  readonly modelBasePath: string;
  readonly loadMs: number;
  /** Absent: the versions have no warm-up data. */
  readonly warmupMs?: number;
}

export class Core {
  private readonly models = new Map<string, FakeModel>();
  private readonly states = new Map<string, Map<number, VersionState>>();
  private readonly labels = new Map<string, Map<string, number>>();
  private readonly faults: Fault[] = [];
  private readonly traffic = new Map<string, TrafficModel>();
  latencyMs = 0;
  readonly requests: RecordedRequest[] = [];

  constructor(
    models: readonly FakeModel[],
    readonly monitoring?: CoreMonitoring,
  ) {
    for (const model of models) this.addModel(model);
  }

  /** The page TF Serving serves on its monitoring path. */
  metricsPage(): string {
    return this.monitoring?.metrics.render() ?? '';
  }

  setTraffic(model: string, behaviour: TrafficBehaviour): void {
    this.traffic.set(model, new TrafficModel(model, behaviour));
  }

  /**
   * One inference call as TF Serving accounts for it (request_count by
   * status, request_latency when it succeeded), after the model's simulated
   * wait and failure share.
   */
  async inference<T>(
    model: string,
    api: InferenceApi,
    entrypoint: Entrypoint,
    run: () => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    const traffic = this.traffic.get(model);
    // Both draws happen before any wait, so outcomes follow the order calls arrive in.
    const waitMs = traffic?.drawLatencyMs() ?? 0;
    const fails = traffic?.drawFailure() ?? false;
    // The simulated wait counts as drawn, not as the timer fired: on a loaded
    // test machine timers fire late, and that lag belongs to the machine, not
    // to the server the test describes.
    let timerMs = 0;
    const record = (code: ErrorCode) =>
      this.monitoring?.metrics.recordRequest(
        model,
        api,
        entrypoint,
        code,
        Math.round((performance.now() - started - timerMs + waitMs) * 1000),
        Math.round(waitMs * 1000),
      );
    try {
      if (waitMs > 0) {
        const before = performance.now();
        await new Promise((resolve) => setTimeout(resolve, waitMs).unref());
        timerMs = performance.now() - before;
      }
      if (fails) throw new TfError(traffic!.errorCode, failureMessage(traffic!.errorCode));
      const result = await run();
      record('OK');
      return result;
    } catch (error) {
      record(error instanceof TfError ? error.code : 'INTERNAL');
      throw error;
    }
  }

  private recordLoad(name: string, version: number): void {
    const m = this.monitoring;
    if (!m) return;
    const base = m.modelBasePath.replace(/\/+$/, '');
    m.metrics.recordLoad(
      `${base}/${name}/${version}`,
      m.loadMs * 1000,
      m.warmupMs === undefined ? undefined : m.warmupMs * 1000,
    );
  }

  addModel(model: FakeModel): void {
    if (this.models.has(model.name)) {
      throw new Error(`Illegal to list model ${model.name} multiple times in config list`);
    }
    this.models.set(model.name, model);
    const states = new Map<number, VersionState>();
    for (const v of servedVersions(model)) {
      states.set(v, { state: 'AVAILABLE', errorCode: 'OK', errorMessage: '' });
      this.recordLoad(model.name, v);
    }
    this.states.set(model.name, states);
    this.labels.set(model.name, new Map());
    for (const [label, version] of Object.entries(model.labels ?? {}))
      this.setLabel(model.name, label, version);
  }

  setVersionState(
    name: string,
    version: number,
    state: ModelState,
    error?: { code: ErrorCode; message: string },
  ): void {
    const states = this.states.get(name);
    if (!states) throw new Error(`no model ${name} in the fake`);
    if (state === 'AVAILABLE' && states.get(version)?.state !== 'AVAILABLE') this.recordLoad(name, version);
    states.set(version, { state, errorCode: error?.code ?? 'OK', errorMessage: error?.message ?? '' });
  }

  setLabel(name: string, label: string, version: number): void {
    if (this.states.get(name)?.get(version)?.state !== 'AVAILABLE') {
      throw new TfError(
        'FAILED_PRECONDITION',
        `Request to assign label to version ${version} of model ${name}, which is not currently available for inference`,
      );
    }
    this.labels.get(name)!.set(label, version);
  }

  /** HandleReloadConfigRequest: the listed models stay (with new labels), the others are unloaded. */
  reload(entries: ReadonlyArray<{ name: string; labels: Readonly<Record<string, number>> }>): void {
    for (const entry of entries) {
      if (!this.models.has(entry.name)) {
        throw new TfError(
          'INVALID_ARGUMENT',
          `the fake has no model ${entry.name}; add it with addModel() first`,
        );
      }
    }
    const keep = new Set(entries.map((e) => e.name));
    for (const name of [...this.models.keys()]) {
      if (keep.has(name)) continue;
      this.models.delete(name);
      this.states.delete(name);
      this.labels.delete(name);
    }
    for (const entry of entries) {
      this.labels.set(entry.name, new Map());
      for (const [label, version] of Object.entries(entry.labels)) this.setLabel(entry.name, label, version);
    }
  }

  failNext(count: number, code: ErrorCode, message: string, methods: readonly FakeMethod[]): void {
    this.faults.push({ remaining: count, code, message, methods });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Throws the next injected failure for this method, if any. */
  injectFault(method: FakeMethod): void {
    const fault = this.faults.find((f) => f.remaining > 0 && f.methods.includes(method));
    if (!fault) return;
    fault.remaining--;
    throw new TfError(fault.code, fault.message);
  }

  record(request: RecordedRequest): void {
    this.requests.push(request);
  }

  /** ServerCore::ServableRequestFromModelSpec + BasicManager lookup. */
  resolve(name: string, version?: number, label?: string): Servable {
    if (version !== undefined && label !== undefined) {
      throw new TfError(
        'INVALID_ARGUMENT',
        `Both model version (${version}) and model version label (${label}) cannot be supplied.`,
      );
    }
    const model = this.models.get(name);
    if (label !== undefined) {
      const target = this.labels.get(name)?.get(label);
      if (target === undefined)
        throw new TfError('INVALID_ARGUMENT', `Unrecognized servable version label: ${label}`);
      version = target;
    }
    const states = this.states.get(name);
    const available = [...(states ?? new Map<number, VersionState>()).entries()]
      .filter(([, s]) => s.state === 'AVAILABLE')
      .map(([v]) => v);
    if (version === undefined) {
      if (!model || available.length === 0)
        throw new TfError('NOT_FOUND', `Servable not found for request: Latest(${name})`);
      const latest = Math.max(...available);
      return { model, version: latest, signatures: signaturesOf(model, latest) };
    }
    if (!model || !available.includes(version)) {
      throw new TfError('NOT_FOUND', `Servable not found for request: Specific(${name}, ${version})`);
    }
    return { model, version, signatures: signaturesOf(model, version) };
  }

  /** GetModelStatus: every tracked version, or one. */
  status(name: string, version?: number): Array<{ version: number } & VersionState> {
    const states = this.states.get(name);
    if (!states || states.size === 0)
      throw new TfError('NOT_FOUND', `Could not find any versions of model ${name}`);
    const all = [...states.entries()].sort(([a], [b]) => b - a).map(([v, s]) => ({ version: v, ...s }));
    if (version === undefined) return all;
    const one = all.filter((s) => s.version === version);
    if (one.length === 0)
      throw new TfError('NOT_FOUND', `Could not find version ${version} of model ${name}`);
    return one;
  }

  signature(servable: Servable, name: string, transport: 'rest' | 'grpc'): FakeSignature {
    const key = name === '' ? 'serving_default' : name;
    const signature = servable.signatures[key];
    if (!signature) {
      if (transport === 'rest') {
        throw new TfError('INVALID_ARGUMENT', `Serving signature name: "${key}" not found in signature def`);
      }
      throw new TfError('FAILED_PRECONDITION', `Serving signature key "${key}" not found.`);
    }
    return signature;
  }

  async delay(): Promise<void> {
    // unref: a call still waiting when the fake stops must not keep the process alive.
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs).unref());
  }
}

function failureMessage(code: ErrorCode): string {
  return code === 'UNAVAILABLE'
    ? 'The batch scheduling queue to which this task was submitted is full'
    : `simulated ${code} from the model`;
}

function signaturesOf(model: FakeModel, version: number): Readonly<Record<string, FakeSignature>> {
  return model.signaturesByVersion?.[version] ?? model.signatures;
}

function servedVersions(model: FakeModel): number[] {
  const all = [...model.versions].sort((a, b) => b - a);
  const policy = model.policy ?? { latest: 1 };
  if ('all' in policy) return all;
  if ('specific' in policy) return all.filter((v) => policy.specific.includes(v));
  return all.slice(0, Math.max(1, policy.latest));
}

export function runPredict(
  signature: FakeSignature,
  inputs: Readonly<Record<string, Tensor>>,
  outputFilter: readonly string[],
): Record<string, Tensor> {
  if (signature.methodName !== 'tensorflow/serving/predict' || !signature.predict) {
    throw new TfError(
      'INVALID_ARGUMENT',
      `Expected prediction signature method_name to be tensorflow/serving/predict. Was: ${signature.methodName}`,
    );
  }
  const expected = Object.keys(signature.inputs);
  const given = Object.keys(inputs);
  const missing = expected.filter((a) => !given.includes(a));
  const extra = given.filter((a) => !expected.includes(a));
  if (missing.length > 0 || extra.length > 0) {
    throw new TfError(
      'INVALID_ARGUMENT',
      `input size does not match signature: ${given.length}!=${expected.length} len({${given.join(',')}}) != len({${expected.join(',')}}). Sent extra: {${extra.join(',')}}. Missing but required: {${missing.join(',')}}.`,
    );
  }
  for (const alias of outputFilter) {
    if (!Object.hasOwn(signature.outputs, alias)) {
      throw new TfError(
        'INVALID_ARGUMENT',
        `output tensor alias not found in signature: ${alias} Outputs expected to be in the set {${Object.keys(signature.outputs).join(',')}}.`,
      );
    }
  }
  const outputs = signature.predict(inputs);
  if (outputFilter.length === 0) return outputs;
  const filtered: Record<string, Tensor> = {};
  for (const alias of outputFilter) filtered[alias] = outputs[alias]!;
  return filtered;
}

export function runExamples(
  kind: 'classify' | 'regress',
  signature: FakeSignature,
  examples: readonly Features[],
): Array<Array<[string, number]>> | number[] {
  const expected = `tensorflow/serving/${kind}`;
  const fn = kind === 'classify' ? signature.classify : signature.regress;
  if (signature.methodName !== expected || !fn) {
    const noun = kind === 'classify' ? 'classification' : 'regression';
    throw new TfError(
      'INVALID_ARGUMENT',
      `Expected ${noun} signature method_name to be ${expected}. Was: ${signature.methodName}`,
    );
  }
  if (examples.length === 0) throw new TfError('INVALID_ARGUMENT', 'Input is empty.');
  try {
    return fn(examples);
  } catch (error) {
    if (error instanceof FeatureError) throw new TfError('INVALID_ARGUMENT', error.message);
    throw error;
  }
}

/** ExampleListWithContext: each example sees the context's features too. */
export function withContext(examples: readonly Features[], context: Features | undefined): Features[] {
  return context ? examples.map((e) => ({ ...context, ...e })) : [...examples];
}
