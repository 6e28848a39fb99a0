import type { AddressInfo } from 'node:net';
import type { ErrorCode, ModelState } from '@catwalk/client';
import { type Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';
import { Core, type FakeMethod, type RecordedRequest } from './core.js';
import { createGrpcServer } from './grpc-server.js';
import type { FakeModel } from './models.js';
import { createRestServer } from './rest-server.js';

export interface FakeServingOptions {
  readonly models: readonly FakeModel[];
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** 0 picks a free port. @default 0 */
  readonly restPort?: number;
  /** 0 picks a free port. @default 0 */
  readonly grpcPort?: number;
  /** Serve gRPC as well as REST. @default true */
  readonly grpc?: boolean;
  /** gRPC outputs as tensor_content, like --enable_serialization_as_tensor_content. @default false (typed *_val fields) */
  readonly tensorContent?: boolean;
}

export interface FailOptions {
  /** @default "UNAVAILABLE" */
  readonly code?: ErrorCode;
  /** @default a TF-like text for the code */
  readonly message?: string;
  /** Which calls fail. @default ["predict", "classify", "regress", "multiInference"] */
  readonly methods?: readonly FakeMethod[];
}

export interface FakeServing {
  /** e.g. "http://127.0.0.1:43121" */
  readonly restUrl: string;
  /** e.g. "127.0.0.1:43122"; empty when gRPC is off. */
  readonly grpcAddress: string;
  /** Every request received, in order, with its headers or gRPC metadata. */
  readonly requests: readonly RecordedRequest[];
  /** The next `count` matching calls fail with this error (TF Serving's code, HTTP status and text). */
  failNext(count: number, options?: FailOptions): void;
  /** Drops failures set up by failNext that have not happened yet. */
  clearFailures(): void;
  /** Every inference call waits this long before answering. */
  setLatency(ms: number): void;
  setVersionState(
    model: string,
    version: number,
    state: ModelState,
    error?: { code: ErrorCode; message: string },
  ): void;
  setLabel(model: string, label: string, version: number): void;
  addModel(model: FakeModel): void;
  /** Stops at once, cutting open connections and calls (a crashed server). */
  kill(): Promise<void>;
  /** Stops, closing connections. */
  close(): Promise<void>;
}

/** Starts a TF-Serving-compatible server in this process. */
export async function startFakeServing(options: FakeServingOptions): Promise<FakeServing> {
  const core = new Core(options.models);
  const host = options.host ?? '127.0.0.1';
  const rest = createRestServer(core);
  await new Promise<void>((resolve, reject) => {
    rest.once('error', reject);
    rest.listen(options.restPort ?? 0, host, () => resolve());
  });
  const restPort = (rest.address() as AddressInfo).port;

  let grpc: GrpcServer | undefined;
  let grpcAddress = '';
  if (options.grpc !== false) {
    grpc = createGrpcServer(core, { tensorContent: options.tensorContent ?? false });
    const port = await new Promise<number>((resolve, reject) => {
      grpc!.bindAsync(`${host}:${options.grpcPort ?? 0}`, ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      );
    });
    grpcAddress = `${host}:${port}`;
  }

  let stopped = false;
  const stop = async (graceful: boolean) => {
    if (stopped) return;
    stopped = true;
    const restClosed = new Promise<void>((resolve) => rest.close(() => resolve()));
    if (graceful) rest.closeIdleConnections();
    rest.closeAllConnections();
    if (grpc) {
      if (graceful) await new Promise<void>((resolve) => grpc!.tryShutdown(() => resolve()));
      else grpc.forceShutdown();
    }
    await restClosed;
  };

  return {
    restUrl: `http://${host}:${restPort}`,
    grpcAddress,
    requests: core.requests,
    failNext(count, fail = {}) {
      const code = fail.code ?? 'UNAVAILABLE';
      core.failNext(
        count,
        code,
        fail.message ?? defaultMessage(code),
        fail.methods ?? ['predict', 'classify', 'regress', 'multiInference'],
      );
    },
    clearFailures: () => core.clearFaults(),
    setLatency(ms) {
      core.latencyMs = ms;
    },
    setVersionState: (model, version, state, error) => core.setVersionState(model, version, state, error),
    setLabel: (model, label, version) => core.setLabel(model, label, version),
    addModel: (model) => core.addModel(model),
    kill: () => stop(false),
    close: () => stop(true),
  };
}

function defaultMessage(code: ErrorCode): string {
  switch (code) {
    case 'UNAVAILABLE':
      return 'The batch scheduling queue to which this task was submitted is full';
    case 'RESOURCE_EXHAUSTED':
      return 'Out of memory while trying to allocate';
    default:
      return `injected ${code}`;
  }
}
