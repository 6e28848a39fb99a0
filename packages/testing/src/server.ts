import type { AddressInfo } from 'node:net';
import type { ErrorCode, ModelState } from '@catwalk/client';
import { type Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';
import { Core, type CoreMonitoring, type FakeMethod, type RecordedRequest } from './core.js';
import { createGrpcServer } from './grpc-server.js';
import { ServingMetrics } from './metrics.js';
import type { FakeModel } from './models.js';
import { createRestServer } from './rest-server.js';
import type { TrafficBehaviour } from './traffic.js';

/** TF Serving's default path for the Prometheus page (PrometheusExporter::kPrometheusPath). */
export const DEFAULT_MONITORING_PATH = '/monitoring/prometheus/metrics';

export interface MonitoringOptions {
  /** Path of the Prometheus page on the REST port. @default "/monitoring/prometheus/metrics" */
  readonly path?: string;
  /** Also the batching_session metrics, as TF Serving has with --enable_batching. @default false */
  readonly batching?: boolean;
  /** Folder shown in the model_path label of the load metrics. @default "/models" */
  readonly modelBasePath?: string;
  /** Load time recorded for each version that becomes available. @default 250 */
  readonly loadMs?: number;
  /** Warm-up time recorded for each version; null when the versions ship no warm-up data. @default 40 */
  readonly warmupMs?: number | null;
}

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
  /** TF Serving's Prometheus metrics on the REST port, as with --monitoring_config_file. @default off */
  readonly monitoring?: boolean | MonitoringOptions;
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
  /** e.g. "http://127.0.0.1:43121/monitoring/prometheus/metrics"; empty when monitoring is off. */
  readonly metricsUrl: string;
  /** The Prometheus page as it is now; empty when monitoring is off. */
  metricsText(): string;
  /**
   * What the model does to the inference calls it gets from now on: a share
   * of failures and a latency distribution (replaces the model's previous one).
   */
  setTraffic(model: string, behaviour: TrafficBehaviour): void;
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
  const monitoring = resolveMonitoring(options.monitoring);
  const core = new Core(options.models, monitoring?.core);
  const host = options.host ?? '127.0.0.1';
  const rest = createRestServer(core, monitoring ? { monitoringPath: monitoring.path } : {});
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
    metricsUrl: monitoring ? `http://${host}:${restPort}${monitoring.path}` : '',
    metricsText: () => core.metricsPage(),
    setTraffic: (model, behaviour) => core.setTraffic(model, behaviour),
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

function resolveMonitoring(
  option: FakeServingOptions['monitoring'],
): { path: string; core: CoreMonitoring } | undefined {
  if (option === undefined || option === false) return undefined;
  const o: MonitoringOptions = option === true ? {} : option;
  const path = o.path ?? DEFAULT_MONITORING_PATH;
  if (!path.startsWith('/') || path.startsWith('/v1/') || path === '/v1') {
    throw new Error(
      `monitoring.path must start with "/" and stay outside /v1 (the model API), got "${path}"`,
    );
  }
  return {
    path,
    core: {
      metrics: new ServingMetrics(o.batching ?? false),
      modelBasePath: o.modelBasePath ?? '/models',
      loadMs: o.loadMs ?? 250,
      ...(o.warmupMs === null ? {} : { warmupMs: o.warmupMs ?? 40 }),
    },
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
