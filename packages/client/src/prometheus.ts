// A ready-made hook that feeds prom-client. prom-client is an optional peer
// dependency: the caller passes its module in, so the SDK never loads it.
import type { Hooks } from './hooks.js';

/** The parts of prom-client this hook uses (structural, so prom-client's types are not required). */
export interface PromClientLike<Registry = unknown> {
  Histogram: new (config: {
    name: string;
    help: string;
    labelNames: readonly string[];
    buckets?: number[];
    registers?: Registry[];
  }) => { observe(labels: Record<string, string>, value: number): void };
  Counter: new (config: {
    name: string;
    help: string;
    labelNames: readonly string[];
    registers?: Registry[];
  }) => { inc(labels: Record<string, string>, value?: number): void };
}

export interface PrometheusHookOptions<Registry = unknown> {
  /** prom-client Registry to register with. @default prom-client's global registry */
  readonly registry?: Registry;
  /** @default "catwalk_client" */
  readonly prefix?: string;
  /** Latency buckets in seconds. */
  readonly buckets?: number[];
}

const LABELS = ['model', 'version', 'transport', 'method'] as const;

/**
 * Latency histogram (`<prefix>_request_duration_seconds`) and error counter
 * (`<prefix>_errors_total`, with the error code) per model, version,
 * transport and method. Each attempt is one observation.
 *
 *   import * as prom from 'prom-client';
 *   createClient({ baseUrl, hooks: prometheusHooks(prom) });
 */
export function prometheusHooks<Registry>(
  prom: PromClientLike<Registry>,
  options: PrometheusHookOptions<Registry> = {},
): Hooks {
  const prefix = options.prefix ?? 'catwalk_client';
  const registers = options.registry ? [options.registry] : undefined;
  const latency = new prom.Histogram({
    name: `${prefix}_request_duration_seconds`,
    help: 'TF Serving call latency per attempt, as seen by @catwalk/client',
    labelNames: [...LABELS, 'outcome'],
    buckets: options.buckets ?? [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ...(registers ? { registers } : {}),
  });
  const errors = new prom.Counter({
    name: `${prefix}_errors_total`,
    help: 'Failed TF Serving call attempts, by error code',
    labelNames: [...LABELS, 'code'],
    ...(registers ? { registers } : {}),
  });
  const labels = (info: Parameters<NonNullable<Hooks['onRequest']>>[0]) => ({
    model: info.model,
    version: info.version !== undefined ? String(info.version) : (info.label ?? 'latest'),
    transport: info.transport,
    method: info.method,
  });
  return {
    onResponse(info, { durationMs }) {
      latency.observe({ ...labels(info), outcome: 'ok' }, durationMs / 1000);
    },
    onError(info, { durationMs, error }) {
      latency.observe({ ...labels(info), outcome: 'error' }, durationMs / 1000);
      errors.inc({ ...labels(info), code: error.code });
    },
  };
}
