// What the Datadog Agent's OpenMetrics checks collect from each pod, and the
// names the metrics get in Datadog. Each one is billed as a custom metric, so
// the checks list these instead of a pattern. The pod annotations and the
// generated dashboard and monitors read the same lists.
//
// Naming (OpenMetrics check, latest mode): `<namespace>.<renamed>`; counters
// get `.count`; histograms `.count`/`.sum`/`.bucket`, or, with
// histogram_buckets_as_distributions, one distribution under the plain name
// (percentiles: `p99:`). Counters are listed without Prometheus' `_total`.

export type DatadogMetricKind = 'counter' | 'gauge' | 'histogram';

export interface DatadogMetric {
  /** The name on the Prometheus endpoint (without a counter's _total). */
  readonly raw: string;
  /** The name it gets in Datadog, below the check's namespace. */
  readonly name: string;
  readonly kind: DatadogMetricKind;
}

/** The OpenMetrics check's namespace for TF Serving's endpoint. */
export const DATADOG_TF_SERVING_NAMESPACE = 'tfserving';
/** The OpenMetrics check's namespace for the sync sidecar's endpoint. */
export const DATADOG_SYNC_NAMESPACE = 'catwalk';

/** TF Serving's metrics worth paying for: requests by status, latency, examples per request, model loads. */
export const DATADOG_TF_SERVING_METRICS: readonly DatadogMetric[] = [
  { raw: ':tensorflow:serving:request_count', name: 'request_count', kind: 'counter' },
  { raw: ':tensorflow:serving:request_latency', name: 'request_latency', kind: 'histogram' },
  { raw: ':tensorflow:serving:runtime_latency', name: 'runtime_latency', kind: 'histogram' },
  { raw: ':tensorflow:serving:request_example_counts', name: 'request_example_counts', kind: 'histogram' },
  { raw: ':tensorflow:cc:saved_model:load_attempt_count', name: 'model_load_attempt_count', kind: 'counter' },
  { raw: ':tensorflow:cc:saved_model:load_latency', name: 'model_load_latency', kind: 'counter' },
];

/** The sync sidecar's metrics (packages/registry/src/sidecar.ts). */
export const DATADOG_SYNC_METRICS: readonly DatadogMetric[] = [
  { raw: 'catwalk_sync_last_success_timestamp_seconds', name: 'sync.last_success_timestamp', kind: 'gauge' },
  { raw: 'catwalk_sync_release_generation', name: 'sync.release_generation', kind: 'gauge' },
  { raw: 'catwalk_sync_versions_present', name: 'sync.versions_present', kind: 'gauge' },
  { raw: 'catwalk_sync_versions_failed', name: 'sync.versions_failed', kind: 'gauge' },
  { raw: 'catwalk_sync_track_fallback', name: 'sync.track_fallback', kind: 'gauge' },
  { raw: 'catwalk_sync_errors', name: 'sync.errors', kind: 'counter' },
  { raw: 'catwalk_sync_poll_overruns', name: 'sync.poll_overruns', kind: 'counter' },
  { raw: 'catwalk_sync_bytes', name: 'sync.bytes', kind: 'counter' },
  { raw: 'catwalk_sync_duration_seconds', name: 'sync.duration_seconds', kind: 'histogram' },
];

/** The Datadog name of a listed metric, e.g. tfserving.request_count.count. */
export function datadogName(namespace: string, metric: DatadogMetric, part?: 'count' | 'sum'): string {
  const base = `${namespace}.${metric.name}`;
  if (metric.kind === 'counter') return `${base}.count`;
  return part ? `${base}.${part}` : base;
}
