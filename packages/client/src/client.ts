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
import { GrpcTransport } from './grpc.js';
import { type CallInfo, type Hooks, runHooks } from './hooks.js';
import { checkInputs, type ModelMetadata, type Signature, type TensorSpec } from './metadata.js';
import { RestTransport } from './rest.js';
import { backoffMs, type ResolvedRetry, type RetryOptions, resolveRetry, sleep } from './retry.js';
import { type Tensor, type TensorLike, toTensor } from './tensor-like.js';
import type {
  AttemptContext,
  ClassLabel,
  ExamplesInput,
  InferenceResult,
  InferenceTask,
  Target,
  Transport,
  TransportKind,
  VersionStatus,
} from './transport.js';

export interface ClientOptions {
  /** TF Serving's REST endpoint, e.g. "http://localhost:8501". Required for transport "rest". */
  readonly baseUrl?: string;
  /** @default "rest" */
  readonly transport?: TransportKind;
  /** host:port of TF Serving's gRPC port. @default baseUrl's host with port 8500 */
  readonly grpcAddress?: string;
  /** Deadline for a whole call, every retry included. @default 30000 */
  readonly timeoutMs?: number;
  /** Retries with exponential backoff and full jitter, for retryable failures only; false disables. */
  readonly retry?: RetryOptions | false;
  /** Headers (REST) or metadata (gRPC) sent with every call. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly hooks?: Hooks | readonly Hooks[];
  /**
   * Fetch each model's signature once and check inputs against it before
   * sending; it also names and types REST outputs. @default true
   */
  readonly validate?: boolean;
  readonly grpc?: { readonly credentials?: ChannelCredentials; readonly channelOptions?: ChannelOptions };
  readonly rest?: { readonly connections?: number; readonly keepAliveTimeoutMs?: number };
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Overrides the client's timeoutMs for this call. */
  readonly timeoutMs?: number;
  readonly version?: number;
  readonly label?: string;
  /** Sent as x-request-id; a fresh UUID by default. */
  readonly requestId?: string;
}

export interface PredictOptions extends CallOptions {
  readonly signature?: string;
  /** REST body format: "columnar" (`inputs`) or "row" (`instances`). @default "columnar" */
  readonly format?: 'columnar' | 'row';
  /** Only these outputs (gRPC asks the server; REST filters the answer). */
  readonly outputFilter?: readonly string[];
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

export interface Model {
  readonly name: string;
  predict(
    inputs: Readonly<Record<string, TensorLike>>,
    options?: PredictOptions,
  ): Promise<Record<string, Tensor>>;
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
  model(name: string, options?: ModelOptions): Model;
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
  readonly impl: Transport;
  readonly timeoutMs: number;
  readonly retry: ResolvedRetry;
  readonly headers: Readonly<Record<string, string>>;
  readonly hooks: readonly Hooks[];
  readonly validate: boolean;

  constructor(options: ClientOptions) {
    this.transport = options.transport ?? 'rest';
    if (this.transport === 'rest') {
      if (!options.baseUrl) throw configError('createClient: baseUrl is required for the REST transport');
      this.impl = new RestTransport({ baseUrl: checkUrl(options.baseUrl), ...options.rest });
    } else if (this.transport === 'grpc') {
      const address =
        options.grpcAddress ??
        (options.baseUrl ? `${new URL(checkUrl(options.baseUrl)).hostname}:8500` : undefined);
      if (!address)
        throw configError('createClient: grpcAddress (host:port) is required for the gRPC transport');
      this.impl = new GrpcTransport({ address, ...options.grpc });
    } else {
      throw configError(
        `createClient: transport must be "rest" or "grpc", got ${JSON.stringify(options.transport)}`,
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
  }

  model(name: string, options: ModelOptions = {}): Model {
    if (typeof name !== 'string' || name === '')
      throw configError('model(name): the model name must be a non-empty string');
    return new ModelImpl(this, name, options);
  }

  async reloadConfig(
    config: MessageInitShape<typeof ModelServerConfigSchema>,
    options: CallOptions = {},
  ): Promise<void> {
    const impl = this.impl;
    if (!(impl instanceof GrpcTransport)) {
      throw new UnimplementedError(
        'reloadConfig exists only in the gRPC API; create the client with transport: "grpc"',
        {
          code: 'UNIMPLEMENTED',
          transport: 'rest',
        },
      );
    }
    // Not idempotent in effect on a live server: never retried.
    await this.call('reloadConfig', { model: '' }, options, (ctx) => impl.reloadConfig(config, ctx), false);
  }

  close(): Promise<void> {
    return this.impl.close();
  }

  /** Runs one call: deadline over all attempts, retries with backoff and budget, hooks, cancellation. */
  async call<T>(
    method: Method,
    target: Target,
    options: CallOptions,
    attempt: (ctx: AttemptContext) => Promise<T>,
    retryable = true,
  ): Promise<T> {
    const requestId = options.requestId ?? this.headers['x-request-id'] ?? randomUUID();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const userSignal = options.signal;
    const maxAttempts = retryable ? this.retry.maxAttempts : 1;
    const details = () => ({
      model: target.model || undefined,
      version: target.version,
      label: target.label,
      requestId,
      transport: this.transport,
    });

    for (let n = 1; ; n++) {
      if (userSignal?.aborted) throw cancelled(details(), userSignal);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw deadlineExceeded(details(), timeoutMs);

      const info: CallInfo = {
        method,
        model: target.model,
        version: target.version,
        label: target.label,
        signature: target.signature,
        transport: this.transport,
        requestId,
        attempt: n,
        // A copy only when a hook may add headers to this attempt.
        headers: this.hooks.length > 0 ? { ...this.headers } : (this.headers as Record<string, string>),
      };
      const started = performance.now();
      try {
        runHooks(this.hooks, 'onRequest', info);
        // Transports enforce the deadline themselves (gRPC deadlines, undici
        // timeouts): a per-call AbortController and timer cost more than the
        // rest of the SDK's per-call work on a fast server.
        const result = await attempt({
          signal: userSignal,
          deadline,
          headers: info.headers,
          requestId,
        });
        this.retry.budget?.onSuccess();
        runHooks(this.hooks, 'onResponse', info, { durationMs: performance.now() - started });
        return result;
      } catch (thrown) {
        let error: CatwalkError;
        if (userSignal?.aborted) error = cancelled(details(), userSignal);
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

function cancelled(details: object, signal: AbortSignal): CancelledError {
  return new CancelledError('the call was cancelled by the caller', {
    ...details,
    code: 'CANCELLED',
    cause: signal.reason,
  });
}

function deadlineExceeded(details: { model?: string | undefined }, timeoutMs: number): DeadlineExceededError {
  const what = details.model ? `call to model "${details.model}"` : 'call';
  return new DeadlineExceededError(`the ${what} did not finish within its ${timeoutMs} ms deadline`, {
    ...details,
    code: 'DEADLINE_EXCEEDED',
  });
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

class ModelImpl implements Model {
  private readonly signatures = new Map<string, Promise<ModelMetadata | undefined>>();
  /** Metadata already fetched, for use without waiting on a promise. */
  private readonly known = new Map<string, ModelMetadata>();

  constructor(
    private readonly client: ClientImpl,
    readonly name: string,
    private readonly options: ModelOptions,
  ) {
    if (options.version !== undefined && options.label !== undefined) {
      throw configError(`model "${name}": give a version or a label, not both`);
    }
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
    if (typeof inputs !== 'object' || inputs === null || Object.keys(inputs).length === 0) {
      throw configError(
        `model "${this.name}": predict needs at least one named input, e.g. { x: tensor(...) }`,
      );
    }
    const metadata = this.client.validate
      ? (this.known.get(metadataKey(target)) ?? (await this.metadataFor(target, options)))
      : undefined;
    const signature = metadata?.signatures[target.signature!];
    if (metadata && !signature) {
      throw new InvalidInputError(
        `model "${this.name}" has no signature "${target.signature}"; it has ${Object.keys(
          metadata.signatures,
        )
          .map((s) => `"${s}"`)
          .join(', ')}`,
        { code: 'INVALID_ARGUMENT', model: this.name, version: target.version, label: target.label },
      );
    }
    const tensors: Record<string, Tensor> = {};
    for (const [alias, value] of Object.entries(inputs)) {
      tensors[alias] = toTensor(value, signature?.inputs[alias] as TensorSpec | undefined, alias);
    }
    if (signature) checkInputs(signature, tensors, target);
    const call = {
      inputs: tensors,
      format: options.format ?? 'columnar',
      outputFilter: options.outputFilter,
      signature: signature as Signature | undefined,
    };
    return this.client.call('predict', target, options, (ctx) => this.client.impl.predict(target, call, ctx));
  }

  classify(examples: readonly ExampleInput[], options: ExampleOptions = {}): Promise<ClassLabel[][]> {
    const target = this.target(options);
    const input = examplesInput(this.name, examples, options);
    return this.client.call('classify', target, options, (ctx) =>
      this.client.impl.classify(target, input, ctx),
    );
  }

  regress(examples: readonly ExampleInput[], options: ExampleOptions = {}): Promise<number[]> {
    const target = this.target(options);
    const input = examplesInput(this.name, examples, options);
    return this.client.call('regress', target, options, (ctx) =>
      this.client.impl.regress(target, input, ctx),
    );
  }

  multiInference(
    tasks: readonly InferenceTask[],
    examples: readonly ExampleInput[],
    options: ExampleOptions = {},
  ): Promise<InferenceResult[]> {
    const target = this.target(options);
    const input = examplesInput(this.name, examples, options);
    return this.client.call('multiInference', target, options, (ctx) =>
      this.client.impl.multiInference(target, tasks, input, ctx),
    );
  }

  metadata(options: CallOptions = {}): Promise<ModelMetadata> {
    const target = this.target(options);
    return this.client.call('metadata', target, options, (ctx) => this.client.impl.metadata(target, ctx));
  }

  status(options: CallOptions = {}): Promise<VersionStatus[]> {
    const target = this.target(options);
    return this.client.call('status', target, options, (ctx) => this.client.impl.status(target, ctx));
  }

  /**
   * The signature map, fetched once per version/label. A model that does not
   * exist fails here with the server's error; any other failure skips
   * validation for this call (the predict itself will report it).
   */
  private async metadataFor(target: Target, options: CallOptions): Promise<ModelMetadata | undefined> {
    const key = metadataKey(target);
    let pending = this.signatures.get(key);
    if (!pending) {
      const metaTarget = { model: target.model, version: target.version, label: target.label };
      pending = this.client
        .call(
          'metadata',
          metaTarget,
          { signal: options.signal, timeoutMs: options.timeoutMs, requestId: options.requestId },
          (ctx) => this.client.impl.metadata(metaTarget, ctx),
        )
        .then((metadata) => {
          this.known.set(key, metadata);
          return metadata;
        })
        .catch((error: unknown) => {
          this.signatures.delete(key);
          if (error instanceof CatwalkError && (error.code === 'NOT_FOUND' || error.code === 'CANCELLED'))
            throw error;
          return undefined;
        });
      this.signatures.set(key, pending);
    }
    return pending;
  }
}

function metadataKey(target: Target): string {
  return `${target.version ?? ''}|${target.label ?? ''}`;
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
