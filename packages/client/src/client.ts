import { randomUUID } from 'node:crypto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import {
  CancelledError,
  CatwalkError,
  DeadlineExceededError,
  InvalidInputError,
  ServerError,
  UnimplementedError,
} from './errors.js';
import type { ExampleInput } from './examples.js';
import type { ModelServerConfigSchema } from './generated/proto/tensorflow_serving/config/model_server_config_pb.js';
import type { GrpcTransport } from './grpc.js';
import { type CallInfo, type CallStart, type Hooks, runHooks } from './hooks.js';
import { checkInputs, type ModelMetadata, type TensorSpec } from './metadata.js';
import { backoffMs, type ResolvedRetry, type RetryOptions, resolveRetry, sleep } from './retry.js';
import type { ModelSignature, OutputName, PredictInputs, PredictOutputs } from './signature-types.js';
import { type Tensor, type TensorLike, toTensor } from './tensor-like.js';
import type {
  AttemptContext,
  ClassLabel,
  ExamplesInput,
  InferenceResult,
  InferenceTask,
  PredictCall,
  Target,
  Transport,
  TransportKind,
  VersionStatus,
} from './transport.js';

/** Settings both transports share. */
export interface ClientOptionsBase {
  /** Deadline for a whole call: signature fetch, every attempt and every backoff. @default 30000 */
  readonly timeoutMs?: number;
  /** Retries with exponential backoff and full jitter, for retryable failures only; false disables. */
  readonly retry?: RetryOptions | false;
  /** Headers (REST) or metadata (gRPC) sent with every call. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly hooks?: Hooks | readonly Hooks[];
  /**
   * Check inputs against the model's signature before sending (the
   * signature is fetched and cached per served version). @default true
   */
  readonly validate?: boolean;
  /**
   * How long a fetched signature is trusted before it is fetched again. It is
   * also fetched again when the server reports another version, rejects a
   * request as invalid, or before a call the cached signature rejects fails.
   * @default 60000
   */
  readonly signatureMaxAgeMs?: number;
}

export interface RestClientOptions extends ClientOptionsBase {
  /** @default "rest" */
  readonly transport?: 'rest';
  /** TF Serving's REST endpoint, e.g. "http://localhost:8501"; a path prefix (for an ingress) is kept. */
  readonly baseUrl: string;
  /** Used only when transport is "grpc"; allowed here so one options object can serve both. */
  readonly grpcAddress?: string;
  readonly rest?: {
    /** Keep-alive connections per origin. @default 16 */
    readonly connections?: number;
    /** @default 30000 */
    readonly keepAliveTimeoutMs?: number;
  };
}

interface GrpcClientOptionsBase extends ClientOptionsBase {
  readonly transport: 'grpc';
  readonly grpc?: { readonly credentials?: ChannelCredentials; readonly channelOptions?: ChannelOptions };
}

export type GrpcClientOptions = GrpcClientOptionsBase &
  (
    | {
        /** host:port of TF Serving's gRPC port. */
        readonly grpcAddress: string;
        readonly baseUrl?: string;
      }
    | {
        /** Without grpcAddress, the gRPC port is this URL's host with port 8500. */
        readonly baseUrl: string;
        readonly grpcAddress?: undefined;
      }
  );

/** Options for createClient: what each transport needs is required. */
export type ClientOptions = RestClientOptions | GrpcClientOptions;

export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Overrides the client's timeoutMs for this call. */
  readonly timeoutMs?: number;
  readonly version?: number;
  readonly label?: string;
  /** Sent as x-request-id; a fresh UUID by default. */
  readonly requestId?: string;
}

export interface PredictOptions<Output extends string = string> extends CallOptions {
  readonly signature?: string;
  /** REST body format: "columnar" (`inputs`) or "row" (`instances`). @default "columnar" */
  readonly format?: 'columnar' | 'row';
  /** Only these outputs (gRPC asks the server; REST filters the answer). */
  readonly outputFilter?: readonly Output[];
}

export interface ExampleOptions extends CallOptions {
  readonly signature?: string;
  /** Features shared by every example (ExampleListWithContext). */
  readonly context?: ExampleInput;
}

export interface ModelOptions {
  readonly version?: number;
  readonly label?: string;
  /** @default "serving_default" for predict */
  readonly signature?: string;
}

/**
 * A model on the server. `S` describes its signature for tsc (see
 * ModelSignature); without it, any input names and tensor-likes are
 * accepted and outputs are a record of tensors.
 */
export interface Model<S extends ModelSignature = ModelSignature> {
  readonly name: string;
  predict<F extends OutputName<S> = OutputName<S>>(
    inputs: PredictInputs<S>,
    options?: PredictOptions<F>,
  ): Promise<Pick<PredictOutputs<S>, F>>;
  classify(examples: readonly ExampleInput[], options?: ExampleOptions): Promise<ClassLabel[][]>;
  regress(examples: readonly ExampleInput[], options?: ExampleOptions): Promise<number[]>;
  /** gRPC only: several classify/regress signatures over the same examples in one call. */
  multiInference(
    tasks: readonly InferenceTask[],
    examples: readonly ExampleInput[],
    options?: ExampleOptions,
  ): Promise<InferenceResult[]>;
  metadata(options?: CallOptions): Promise<ModelMetadata>;
  status(options?: CallOptions): Promise<VersionStatus[]>;
}

export interface CatwalkClient {
  readonly transport: TransportKind;
  /** A handle on a model; `S` types its predict calls (see ModelSignature). */
  model<S extends ModelSignature = ModelSignature>(name: string, options?: ModelOptions): Model<S>;
  /** gRPC only: ModelService.HandleReloadConfigRequest (replaces the server's whole model config). */
  reloadConfig(
    config: MessageInitShape<typeof ModelServerConfigSchema>,
    options?: CallOptions,
  ): Promise<void>;
  /** Closes keep-alive connections. */
  close(): Promise<void>;
}

export function createClient(options: ClientOptions): CatwalkClient {
  return new ClientImpl(options);
}

type Method = CallInfo['method'];

class ClientImpl implements CatwalkClient {
  readonly transport: TransportKind;
  /** The transport, once loaded: undici or grpc-js load on a client's first call, not at import. */
  private loaded: Transport | undefined;
  private loading: Promise<Transport> | undefined;
  private readonly createTransport: () => Promise<Transport>;
  readonly timeoutMs: number;
  readonly retry: ResolvedRetry;
  readonly headers: Readonly<Record<string, string>>;
  readonly hooks: readonly Hooks[];
  readonly validate: boolean;
  readonly signatureMaxAgeMs: number;
  /** Where calls go, for hooks (server.address / server.port in traces). */
  readonly server: CallStart['server'];

  constructor(options: ClientOptions) {
    // Checked at run time too: JavaScript callers have no compiler to stop them.
    if (options.transport === 'grpc') {
      this.transport = 'grpc';
      const address =
        options.grpcAddress ??
        (options.baseUrl ? `${new URL(checkUrl(options.baseUrl)).hostname}:8500` : undefined);
      if (!address)
        throw configError('createClient: grpcAddress (host:port) is required for the gRPC transport');
      const grpc = { address, ...options.grpc };
      this.server = grpcServer(address);
      this.createTransport = async () => new (await import('./grpc.js')).GrpcTransport(grpc);
    } else if (options.transport === undefined || options.transport === 'rest') {
      this.transport = 'rest';
      if (!options.baseUrl) throw configError('createClient: baseUrl is required for the REST transport');
      const rest = { baseUrl: checkUrl(options.baseUrl), ...options.rest };
      this.server = restServer(rest.baseUrl);
      this.createTransport = async () => new (await import('./rest.js')).RestTransport(rest);
    } else {
      throw configError(
        `createClient: transport must be "rest" or "grpc", got ${JSON.stringify((options as { transport: unknown }).transport)}`,
      );
    }
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retry = resolveRetry(options.retry);
    this.headers = options.headers ?? {};
    this.hooks =
      options.hooks === undefined
        ? []
        : Array.isArray(options.hooks)
          ? options.hooks
          : [options.hooks as Hooks];
    this.validate = options.validate ?? true;
    this.signatureMaxAgeMs = options.signatureMaxAgeMs ?? 60_000;
  }

  model<S extends ModelSignature = ModelSignature>(name: string, options: ModelOptions = {}): Model<S> {
    if (typeof name !== 'string' || name === '')
      throw configError('model(name): the model name must be a non-empty string');
    // The handle is the same at run time; S only types its calls.
    return new ModelImpl(this, name, options) as unknown as Model<S>;
  }

  async reloadConfig(
    config: MessageInitShape<typeof ModelServerConfigSchema>,
    options: CallOptions = {},
  ): Promise<void> {
    if (this.transport !== 'grpc') {
      throw new UnimplementedError(
        'reloadConfig exists only in the gRPC API; create the client with transport: "grpc"',
        { code: 'UNIMPLEMENTED', transport: 'rest' },
      );
    }
    // Not idempotent in effect on a live server: never retried.
    await this.call(
      'reloadConfig',
      { model: '' },
      options,
      (ctx, impl) => (impl as GrpcTransport).reloadConfig(config, ctx),
      { retryable: false },
    );
  }

  async close(): Promise<void> {
    const impl = this.loaded ?? (await this.loading);
    await impl?.close();
  }

  /** The transport, loading it on first use. */
  transportImpl(): Promise<Transport> {
    this.loading ??= this.createTransport().then((impl) => {
      this.loaded = impl;
      return impl;
    });
    return this.loading;
  }

  /** Runs one call: deadline over all attempts, retries with backoff and budget, hooks, cancellation. */
  call<T>(
    method: Method,
    target: Target,
    options: CallOptions,
    attempt: (ctx: AttemptContext, impl: Transport) => Promise<T>,
    settings: { retryable?: boolean; deadline?: number } = {},
  ): Promise<T> {
    const requestId = options.requestId ?? this.headers['x-request-id'] ?? randomUUID();
    const call: CallStart = {
      method,
      model: target.model,
      version: target.version,
      label: target.label,
      signature: target.signature,
      transport: this.transport,
      requestId,
      server: this.server,
    };
    // Without hooks, nothing per call beyond the attempts themselves.
    if (this.hooks.length === 0) return this.attempts(call, target, options, attempt, settings, { sent: 0 });
    return this.observed(call, target, options, attempt, settings);
  }

  /** A call with its hooks: onCallStart, then the attempts, then onCallEnd however it ends. */
  private async observed<T>(
    call: CallStart,
    target: Target,
    options: CallOptions,
    attempt: (ctx: AttemptContext, impl: Transport) => Promise<T>,
    settings: { retryable?: boolean; deadline?: number },
  ): Promise<T> {
    runHooks(this.hooks, 'onCallStart', call);
    const started = performance.now();
    const count = { sent: 0 };
    try {
      const result = await this.attempts(call, target, options, attempt, settings, count);
      runHooks(this.hooks, 'onCallEnd', call, {
        durationMs: performance.now() - started,
        attempts: count.sent,
      });
      return result;
    } catch (thrown) {
      const error = asCatwalkError(thrown, { model: call.model || undefined, requestId: call.requestId });
      runHooks(this.hooks, 'onCallEnd', call, {
        durationMs: performance.now() - started,
        attempts: count.sent,
        error,
      });
      throw thrown;
    }
  }

  private async attempts<T>(
    call: CallStart,
    target: Target,
    options: CallOptions,
    attempt: (ctx: AttemptContext, impl: Transport) => Promise<T>,
    { retryable = true, deadline: given }: { retryable?: boolean; deadline?: number },
    count: { sent: number },
  ): Promise<T> {
    const requestId = call.requestId;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const deadline = given ?? Date.now() + timeoutMs;
    const userSignal = options.signal;
    const maxAttempts = retryable ? this.retry.maxAttempts : 1;
    const details = () => ({
      model: target.model || undefined,
      version: target.version,
      label: target.label,
      requestId,
      transport: this.transport,
    });

    let impl = this.loaded;
    if (!impl) {
      try {
        impl = await this.transportImpl();
      } catch (thrown) {
        throw asCatwalkError(thrown, details());
      }
    }

    for (let n = 1; ; n++) {
      if (userSignal?.aborted) throw aborted(details(), userSignal);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw deadlineExceeded(details(), timeoutMs);

      const info: CallInfo = {
        method: call.method,
        model: call.model,
        version: call.version,
        label: call.label,
        signature: call.signature,
        transport: call.transport,
        requestId,
        server: call.server,
        attempt: n,
        // A copy only when a hook may add headers to this attempt.
        headers: this.hooks.length > 0 ? { ...this.headers } : (this.headers as Record<string, string>),
        call,
      };
      count.sent = n;
      // Durations are for hooks only.
      const started = this.hooks.length > 0 ? performance.now() : 0;
      try {
        runHooks(this.hooks, 'onRequest', info);
        // Transports enforce the deadline themselves (gRPC deadlines, undici
        // timeouts): a per-call AbortController and timer cost more than the
        // rest of the SDK's per-call work on a fast server.
        const result = await attempt(
          { signal: userSignal, deadline, headers: info.headers, requestId },
          impl,
        );
        this.retry.budget?.onSuccess();
        runHooks(this.hooks, 'onResponse', info, { durationMs: performance.now() - started });
        return result;
      } catch (thrown) {
        let error: CatwalkError;
        if (userSignal?.aborted) error = aborted(details(), userSignal);
        else if (
          (thrown instanceof CatwalkError && thrown.code === 'DEADLINE_EXCEEDED' && !thrown.serverMessage) ||
          Date.now() >= deadline
        )
          error = deadlineExceeded(details(), timeoutMs);
        else error = asCatwalkError(thrown, details());
        runHooks(this.hooks, 'onError', info, { durationMs: performance.now() - started, error });
        if (!error.retryable || n >= maxAttempts) throw error;
        if (this.retry.budget && !this.retry.budget.onFailure()) throw error;
        const delay = backoffMs(this.retry, n);
        if (Date.now() + delay >= deadline) throw error;
        await sleep(delay, userSignal);
      }
    }
  }
}

/** The caller's signal fired: a cancel, or a deadline when it came from AbortSignal.timeout(). */
function aborted(
  details: { model?: string | undefined },
  signal: AbortSignal,
): CancelledError | DeadlineExceededError {
  const reason = signal.reason as { name?: unknown } | undefined;
  if (reason?.name === 'TimeoutError') {
    const what = details.model ? `call to model "${details.model}"` : 'call';
    return new DeadlineExceededError(`the ${what} was stopped by its AbortSignal's timeout`, {
      ...details,
      code: 'DEADLINE_EXCEEDED',
      cause: reason,
    });
  }
  return new CancelledError('the call was cancelled by the caller', {
    ...details,
    code: 'CANCELLED',
    cause: signal.reason,
  });
}

/**
 * Waits for a promise shared with other calls (a signature fetch), but no
 * longer than this call's own deadline and signal allow.
 */
function settleWithin<T>(
  promise: Promise<T>,
  deadline: number,
  signal: AbortSignal | undefined,
  details: { model?: string | undefined },
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      cleanup();
      reject(aborted(details, signal!));
    };
    const timer = setTimeout(
      () => {
        cleanup();
        reject(deadlineExceeded(details, timeoutMs));
      },
      Math.max(0, deadline - Date.now()),
    );
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
  });
}

function deadlineExceeded(details: { model?: string | undefined }, timeoutMs: number): DeadlineExceededError {
  const what = details.model ? `call to model "${details.model}"` : 'call';
  return new DeadlineExceededError(`the ${what} did not finish within its ${timeoutMs} ms deadline`, {
    ...details,
    code: 'DEADLINE_EXCEEDED',
  });
}

/** host:port of a gRPC target such as "models:8500", "dns:///models:8500" or "[::1]:8500". */
function grpcServer(address: string): CallStart['server'] {
  const bare = address.replace(/^(?:dns|ipv4|ipv6|unix|unix-abstract):(?:\/\/[^/]*\/)?/i, '');
  const match = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(bare);
  return { address: match?.[1] || bare, port: match?.[2] ? Number(match[2]) : 443 };
}

function restServer(baseUrl: string): CallStart['server'] {
  const url = new URL(baseUrl);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { address: url.hostname.replace(/^\[|\]$/g, ''), port };
}

function asCatwalkError(thrown: unknown, details: object): CatwalkError {
  if (thrown instanceof CatwalkError) return thrown;
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return new ServerError(`unexpected failure: ${message}`, { ...details, code: 'UNKNOWN', cause: thrown });
}

function configError(message: string): InvalidInputError {
  return new InvalidInputError(message, { code: 'INVALID_ARGUMENT' });
}

function checkUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
    return url;
  } catch {
    throw configError(
      `createClient: baseUrl must be an http(s) URL such as http://localhost:8501, got "${url}"`,
    );
  }
}

class ModelImpl {
  private readonly signatures: SignatureCache;
  /** Signature fetches in flight, by target, shared by the calls that need them. */
  private readonly fetching = new Map<string, Promise<ModelMetadata>>();

  constructor(
    private readonly client: ClientImpl,
    readonly name: string,
    private readonly options: ModelOptions,
  ) {
    if (options.version !== undefined && options.label !== undefined) {
      throw configError(`model "${name}": give a version or a label, not both`);
    }
    this.signatures = new SignatureCache(client.signatureMaxAgeMs);
  }

  private target(
    options: CallOptions & { signature?: string | undefined },
    defaultSignature?: string,
  ): Target {
    const version = options.version ?? (options.label === undefined ? this.options.version : undefined);
    const label = options.label ?? (options.version === undefined ? this.options.label : undefined);
    if (version !== undefined && label !== undefined) {
      throw configError(`model "${this.name}": give a version or a label, not both`);
    }
    if (version !== undefined && (!Number.isSafeInteger(version) || version < 0)) {
      throw configError(`model "${this.name}": version must be a non-negative integer, got ${version}`);
    }
    return {
      model: this.name,
      version,
      label,
      signature: options.signature ?? this.options.signature ?? defaultSignature,
    };
  }

  async predict(
    inputs: Readonly<Record<string, TensorLike>>,
    options: PredictOptions = {},
  ): Promise<Record<string, Tensor>> {
    const target = this.target(options, 'serving_default');
    // {} is a valid request for a signature without inputs (a counter's get_counter, say): whether
    // the signature takes inputs is the signature check's call, or the server's without one.
    if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
      throw configError(
        `model "${this.name}": predict takes an object of named inputs, e.g. { x: tensor(...) }`,
      );
    }
    const client = this.client;
    // One deadline for the whole call: the signature fetch, every attempt and every backoff.
    const timeoutMs = options.timeoutMs ?? client.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const key = targetKey(target);
    let metadata: ModelMetadata | undefined;
    let fetchedNow = false;
    // REST's JSON carries no dtypes, and a single output comes without its
    // name: REST needs the signature to name and type outputs.
    if (client.validate || client.transport === 'rest') {
      metadata = this.signatures.get(key);
      if (!metadata) {
        metadata = await this.fetchSignatures(target, options, deadline, timeoutMs);
        fetchedNow = true;
      }
    }
    let call: PredictCall;
    try {
      call = this.prepare(inputs, options, target, metadata);
    } catch (error) {
      if (fetchedNow || !metadata || !(error instanceof InvalidInputError)) throw error;
      // The cached signature may be an older version's: look again once before failing.
      this.signatures.drop(key);
      metadata = await this.fetchSignatures(target, options, deadline, timeoutMs);
      call = this.prepare(inputs, options, target, metadata);
    }
    try {
      const result = await client.call(
        'predict',
        target,
        options,
        (ctx, impl) => impl.predict(target, call, ctx),
        {
          deadline,
        },
      );
      if (result.version !== undefined) this.signatures.served(key, result.version);
      return result.outputs;
    } catch (error) {
      // The server refused what the cached signature allowed: it may serve another version now.
      if (error instanceof InvalidInputError && error.serverMessage !== undefined) this.signatures.drop(key);
      throw error;
    }
  }

  /** Inputs as tensors, typed and checked by the signature when it is known. */
  private prepare(
    inputs: Readonly<Record<string, TensorLike>>,
    options: PredictOptions,
    target: Target,
    metadata: ModelMetadata | undefined,
  ): PredictCall {
    const validate = this.client.validate;
    const signature = metadata?.signatures[target.signature!];
    if (validate && metadata && !signature) {
      throw new InvalidInputError(
        `model "${this.name}" has no signature "${target.signature}"; it has ${Object.keys(
          metadata.signatures,
        )
          .map((s) => `"${s}"`)
          .join(', ')}`,
        { code: 'INVALID_ARGUMENT', model: this.name, version: target.version, label: target.label },
      );
    }
    if (signature && Object.keys(signature.inputs).length === 0 && this.client.transport === 'rest') {
      // TF Serving's REST handler refuses every request for a signature whose input map is empty.
      throw new InvalidInputError(
        `model "${this.name}" signature "${signature.name}" takes no inputs, and TF Serving's REST API cannot call ` +
          'such a signature (it answers "Failed to get input map for signature"); call it over gRPC ' +
          "(createClient({ transport: 'grpc' }))",
        { code: 'INVALID_ARGUMENT', model: this.name, version: target.version, label: target.label },
      );
    }
    const tensors: Record<string, Tensor> = {};
    for (const [alias, value] of Object.entries(inputs)) {
      const spec = signature && Object.hasOwn(signature.inputs, alias) ? signature.inputs[alias] : undefined;
      tensors[alias] = toTensor(value, spec as TensorSpec | undefined, alias);
    }
    if (validate && signature) checkInputs(signature, tensors, target);
    return {
      inputs: tensors,
      format: options.format ?? 'columnar',
      outputFilter: options.outputFilter,
      signature,
    };
  }

  classify(examples: readonly ExampleInput[], options: ExampleOptions = {}): Promise<ClassLabel[][]> {
    const target = this.target(options);
    const input = examplesInput(this.name, examples, options);
    return this.client.call('classify', target, options, (ctx, impl) => impl.classify(target, input, ctx));
  }

  regress(examples: readonly ExampleInput[], options: ExampleOptions = {}): Promise<number[]> {
    const target = this.target(options);
    const input = examplesInput(this.name, examples, options);
    return this.client.call('regress', target, options, (ctx, impl) => impl.regress(target, input, ctx));
  }

  multiInference(
    tasks: readonly InferenceTask[],
    examples: readonly ExampleInput[],
    options: ExampleOptions = {},
  ): Promise<InferenceResult[]> {
    const target = this.target(options);
    const input = examplesInput(this.name, examples, options);
    return this.client.call('multiInference', target, options, (ctx, impl) =>
      impl.multiInference(target, tasks, input, ctx),
    );
  }

  metadata(options: CallOptions = {}): Promise<ModelMetadata> {
    const target = this.target(options);
    return this.client.call('metadata', target, options, (ctx, impl) => impl.metadata(target, ctx));
  }

  status(options: CallOptions = {}): Promise<VersionStatus[]> {
    const target = this.target(options);
    return this.client.call('status', target, options, (ctx, impl) => impl.status(target, ctx));
  }

  /**
   * Fetches the signature map for a target, sharing a fetch already in
   * flight. A model that does not exist fails here with the server's error,
   * as does this call's own deadline or cancel; any other failure skips
   * validation for this call (the predict itself will report it).
   */
  private async fetchSignatures(
    target: Target,
    options: CallOptions,
    deadline: number,
    timeoutMs: number,
  ): Promise<ModelMetadata | undefined> {
    const key = targetKey(target);
    let pending = this.fetching.get(key);
    const shared = pending !== undefined;
    if (!pending) {
      const metaTarget = { model: target.model, version: target.version, label: target.label };
      // No caller's signal: other calls may wait on this fetch. Each waiter
      // stops at its own deadline and signal (settleWithin).
      const fetch = this.client
        .call(
          'metadata',
          metaTarget,
          { requestId: options.requestId, timeoutMs },
          (ctx, impl) => impl.metadata(metaTarget, ctx),
          { deadline },
        )
        .then((metadata) => {
          this.signatures.set(key, metadata);
          return metadata;
        })
        .finally(() => {
          if (this.fetching.get(key) === fetch) this.fetching.delete(key);
        });
      this.fetching.set(key, fetch);
      pending = fetch;
    }
    const details = { model: this.name, version: target.version, label: target.label };
    try {
      return await settleWithin(pending, deadline, options.signal, details, timeoutMs);
    } catch (error) {
      if (!(error instanceof CatwalkError)) return undefined;
      if (error.code === 'NOT_FOUND' || error.code === 'CANCELLED') throw error;
      if (error.code === 'DEADLINE_EXCEEDED') {
        // Another call's deadline ended the shared fetch; this one may still have time.
        if (shared && Date.now() < deadline)
          return this.fetchSignatures(target, options, deadline, timeoutMs);
        throw error;
      }
      return undefined;
    }
  }
}

/** The cache key of what a call asks for: a version, a label, or the latest. */
function targetKey(target: Target): string {
  return `${target.version ?? ''}|${target.label ?? ''}`;
}

/**
 * Signature maps by the version that served them, and which version each
 * target (latest, a label, a version) was last seen to resolve to. A target
 * whose version changes, or whose entry is older than maxAgeMs, is fetched
 * again.
 */
class SignatureCache {
  private readonly byVersion = new Map<number, { metadata: ModelMetadata; fetchedAt: number }>();
  private readonly routes = new Map<string, number>();

  constructor(private readonly maxAgeMs: number) {}

  get(key: string): ModelMetadata | undefined {
    const version = this.routes.get(key);
    if (version === undefined) return undefined;
    const entry = this.byVersion.get(version);
    if (entry && performance.now() - entry.fetchedAt < this.maxAgeMs) return entry.metadata;
    this.routes.delete(key);
    return undefined;
  }

  set(key: string, metadata: ModelMetadata): void {
    this.byVersion.set(metadata.version, { metadata, fetchedAt: performance.now() });
    this.routes.set(key, metadata.version);
  }

  /** A response came from `version`: if the target resolved elsewhere before, forget where. */
  served(key: string, version: number): void {
    const known = this.routes.get(key);
    if (known === undefined || known === version) return;
    if (this.byVersion.has(version)) this.routes.set(key, version);
    else this.routes.delete(key);
  }

  drop(key: string): void {
    const version = this.routes.get(key);
    this.routes.delete(key);
    if (version !== undefined) this.byVersion.delete(version);
  }
}

function examplesInput(
  model: string,
  examples: readonly ExampleInput[],
  options: ExampleOptions,
): ExamplesInput {
  if (!Array.isArray(examples) || examples.length === 0) {
    throw configError(
      `model "${model}": classify/regress need a non-empty array of examples, e.g. [{ x: 2.0 }]`,
    );
  }
  return { examples, context: options.context };
}
