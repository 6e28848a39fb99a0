// A Datadog dashboard and monitors for one model, as the bodies of Datadog's
// v1 API (POST /api/v1/dashboard, POST /api/v1/monitor, one per monitor), for
// teams that apply them with Terraform or the API. They watch the same
// signals as the Prometheus rules, through the metrics the pods' OpenMetrics
// checks send (./datadog-metrics.ts) and the Kubernetes State Metrics Core
// check. Pure; written next to the chart as datadog/*.json.
//
// Datadog's metric monitors evaluate one window each, so the availability
// burn rates are one monitor per long window (1h, 6h, 1d) rather than the
// long-and-short pairs of the Prometheus alerts, and the release lag is
// watched per namespace rather than per pod.

import type { ResolvedModel } from '@catwalk/schema';
import {
  DATADOG_SYNC_METRICS,
  DATADOG_SYNC_NAMESPACE,
  DATADOG_TF_SERVING_METRICS,
  DATADOG_TF_SERVING_NAMESPACE,
  type DatadogMetric,
  datadogName,
} from './datadog-metrics';
import {
  type AlertRule,
  BURN_RATE_WINDOWS,
  buildPrometheusRule,
  errorBudget,
  promNumber,
  SERVER_ERROR_CODES,
  syncTimings,
} from './rules';

export interface DatadogMonitor {
  readonly name: string;
  readonly type: 'query alert';
  readonly query: string;
  readonly message: string;
  readonly tags: readonly string[];
  readonly priority: number;
  readonly options: {
    readonly thresholds: { readonly critical: number };
    readonly notify_no_data: boolean;
    readonly require_full_window: boolean;
    readonly include_tags: boolean;
    readonly renotify_interval: number;
  };
}

export interface DatadogArtefacts {
  /** Body of POST /api/v1/dashboard. */
  readonly dashboard: Record<string, unknown>;
  /** Bodies of POST /api/v1/monitor, one per monitor. */
  readonly monitors: readonly DatadogMonitor[];
}

export interface DatadogOptions {
  /** Name of the main Deployment and its HPA (the Helm release's full name). @default the model name */
  readonly workload?: string;
}

const metric = (list: readonly DatadogMetric[], raw: string) => {
  const found = list.find((m) => m.raw === raw);
  if (!found) throw new Error(`${raw} is not among the metrics the Datadog checks collect`);
  return found;
};
const tf = (raw: string, part?: 'count' | 'sum') =>
  datadogName(DATADOG_TF_SERVING_NAMESPACE, metric(DATADOG_TF_SERVING_METRICS, raw), part);
const sync = (raw: string) => datadogName(DATADOG_SYNC_NAMESPACE, metric(DATADOG_SYNC_METRICS, raw));

const REQUESTS = tf(':tensorflow:serving:request_count');
const LATENCY = tf(':tensorflow:serving:request_latency');
const LOAD_LATENCY = tf(':tensorflow:cc:saved_model:load_latency');
const GENERATION = sync('catwalk_sync_release_generation');
const LAST_SUCCESS = sync('catwalk_sync_last_success_timestamp_seconds');
const VERSIONS_FAILED = sync('catwalk_sync_versions_failed');
const SYNC_ERRORS = sync('catwalk_sync_errors');

/** Datadog lower-cases tag values: TF Serving's status INTERNAL arrives as status:internal. */
const SERVER_ERRORS = `status IN (${SERVER_ERROR_CODES.map((c) => c.toLowerCase()).join(',')})`;

/** Prometheus labels in the alert texts, as the tags the Datadog monitors group by. */
const TAG_OF_LABEL: Readonly<Record<string, string>> = {
  namespace: 'kube_namespace',
  pod: 'pod_name',
  container: 'kube_container_name',
  deployment: 'kube_deployment',
  horizontalpodautoscaler: 'horizontalpodautoscaler',
  catwalk_dev_track: 'track',
};

/** An alert text with Prometheus' template actions turned into Datadog's message variables. */
export function datadogText(text: string): string {
  return text
    .replace(/\{\{\s*\$labels\.([a-z_]+)\s*\}\}/g, (_, label: string) => {
      const tag = TAG_OF_LABEL[label];
      if (!tag) throw new Error(`no Datadog tag for the label ${label}`);
      return `{{${tag}.name}}`;
    })
    .replace(/\{\{\s*\$value[^}]*\}\}/g, '{{value}}');
}

const timeseries = (
  title: string,
  queries: ReadonlyArray<readonly [name: string, query: string]>,
  formulas: ReadonlyArray<readonly [formula: string, alias: string]>,
  displayType: 'line' | 'bars' = 'line',
) => ({
  definition: {
    type: 'timeseries',
    title,
    show_legend: true,
    requests: [
      {
        response_format: 'timeseries',
        display_type: displayType,
        queries: queries.map(([name, query]) => ({ data_source: 'metrics', name, query })),
        formulas: formulas.map(([formula, alias]) => ({ formula, alias })),
      },
    ],
  },
});

const group = (title: string, widgets: ReadonlyArray<Record<string, unknown>>) => ({
  definition: { type: 'group', title, layout_type: 'ordered', widgets },
});

/** The model's Datadog dashboard and monitors. */
export function buildDatadog(model: ResolvedModel, options: DatadogOptions = {}): DatadogArtefacts {
  const name = model.name;
  const main = options.workload ?? name;
  const workloads = `${main},${main}-canary`;
  const slo = model.monitoring.slo;
  const budget = errorBudget(slo.availability);
  const scope = `model:${name},$kube_namespace,$track`;
  const alerts = new Map(buildPrometheusRule(model, { workload: main }).alerts.map((a) => [a.alert, a]));

  const dashboard = {
    title: `Catwalk / ${name}`,
    description: `Serving, model sync and capacity of ${name} (team ${model.team}), generated by Catwalk from its spec.`,
    layout_type: 'ordered',
    reflow_type: 'auto',
    template_variables: [
      { name: 'kube_namespace', prefix: 'kube_namespace', available_values: [], default: '*' },
      { name: 'track', prefix: 'track', available_values: ['main', 'canary'], default: '*' },
    ],
    widgets: [
      {
        definition: {
          type: 'note',
          content:
            `Targets from spec.monitoring.slo: ${promNumber(slo.availability)}% of requests without a server error ` +
            `(error budget ${promNumber(budget * 100)}%), p99 latency under ${promNumber(slo.p99LatencyMs)} ms.`,
          background_color: 'white',
          font_size: '14',
          text_align: 'left',
          show_tick: false,
          has_padding: true,
        },
      },
      group('Requests', [
        timeseries(
          'Requests per second by track',
          [['requests', `sum:${REQUESTS}{${scope}} by {track}.as_rate()`]],
          [['requests', 'requests/s']],
        ),
        timeseries(
          'Server error ratio by track',
          [
            ['errors', `sum:${REQUESTS}{${scope},${SERVER_ERRORS}} by {track}.as_count()`],
            ['requests', `sum:${REQUESTS}{${scope}} by {track}.as_count()`],
          ],
          [['errors / requests', 'error ratio']],
        ),
        timeseries(
          'Latency by track (ms)',
          (['p50', 'p90', 'p99'] as const).map((p) => [p, `${p}:${LATENCY}{${scope}} by {track}`] as const),
          // TF Serving records microseconds.
          (['p50', 'p90', 'p99'] as const).map((p) => [`${p} / 1000`, p] as const),
        ),
        timeseries(
          'Model load time (ms, per load)',
          [['load', `sum:${LOAD_LATENCY}{${scope}} by {pod_name}.as_count()`]],
          [['load / 1000', 'load time']],
          'bars',
        ),
      ]),
      group('Model sync', [
        timeseries(
          'Release generation by pod',
          [['generation', `max:${GENERATION}{${scope}} by {pod_name}`]],
          [['generation', 'generation']],
        ),
        timeseries(
          'Released versions failing their checksums',
          [['failed', `max:${VERSIONS_FAILED}{${scope}} by {pod_name}`]],
          [['failed', 'versions']],
          'bars',
        ),
        timeseries(
          'Sync errors by kind',
          [['errors', `sum:${SYNC_ERRORS}{${scope}} by {kind}.as_count()`]],
          [['errors', 'errors']],
          'bars',
        ),
        timeseries(
          'Last good sync (unix time) by pod',
          [['last', `max:${LAST_SUCCESS}{${scope}} by {pod_name}`]],
          [['last', 'last good sync']],
        ),
      ]),
      group('Capacity', [
        timeseries(
          'Replicas against the autoscaler maximum',
          [
            [
              'current',
              `max:kubernetes_state.hpa.current_replicas{horizontalpodautoscaler IN (${workloads}),$kube_namespace} by {horizontalpodautoscaler}`,
            ],
            [
              'maximum',
              `max:kubernetes_state.hpa.max_replicas{horizontalpodautoscaler IN (${workloads}),$kube_namespace} by {horizontalpodautoscaler}`,
            ],
          ],
          [
            ['current', 'current'],
            ['maximum', 'maximum'],
          ],
        ),
        timeseries(
          'Container restarts',
          [
            [
              'restarts',
              `max:kubernetes_state.container.restarts{service:${name},$kube_namespace} by {pod_name,kube_container_name}`,
            ],
          ],
          [['restarts', 'restarts']],
        ),
      ]),
    ],
  };

  const monitor = (
    alertName: string,
    query: string,
    critical: number,
    alert: AlertRule | undefined = alerts.get(alertName),
  ): DatadogMonitor => {
    if (!alert) throw new Error(`no Prometheus alert ${alertName} to mirror`);
    return {
      name: `[catwalk] ${datadogText(alert.summary)}`,
      type: 'query alert',
      query,
      message: [
        datadogText(alert.description),
        '',
        `Runbook: ${datadogText(alert.runbook)}`,
        '',
        `(Prometheus alert ${alert.alert}; add your notification handles here.)`,
      ].join('\n'),
      tags: ['managed-by:catwalk', `model:${name}`, `team:${model.team}`, `severity:${alert.severity}`],
      priority: alert.severity === 'critical' ? 1 : 3,
      options: {
        thresholds: { critical },
        notify_no_data: false,
        require_full_window: false,
        include_tags: true,
        renotify_interval: 0,
      },
    };
  };

  const m = `model:${name}`;
  const hpaMetric = (part: string) =>
    `max:kubernetes_state.hpa.${part}{horizontalpodautoscaler IN (${workloads})} by {kube_namespace,horizontalpodautoscaler}`;
  const staleMinutes = Math.ceil(Number(syncTimings(model.serving.pollSeconds).staleSeconds) / 60);
  const monitors: DatadogMonitor[] = [
    ...BURN_RATE_WINDOWS.map((w) => {
      const threshold = Number(promNumber(w.factor * budget));
      return monitor(
        w.alert,
        `sum(last_${w.long}):sum:${REQUESTS}{${m},${SERVER_ERRORS}} by {kube_namespace}.as_count() / ` +
          `sum:${REQUESTS}{${m}} by {kube_namespace}.as_count() > ${threshold}`,
        threshold,
        // One window per metric monitor: the text names only the window the query reads.
        {
          ...alerts.get(w.alert)!,
          summary: `${name}: error budget burning ${w.factor}x too fast over the last ${w.long}`,
          description:
            `{{ $value | humanizePercentage }} of ${name}'s requests in {{ $labels.namespace }} failed with a server ` +
            `error over the last ${w.long}: over ${w.factor}x the rate a ${promNumber(slo.availability)}% availability ` +
            `target allows, which spends the 30-day error budget in ${promNumber(30 / w.factor)} days.`,
        },
      );
    }),
    monitor(
      'CatwalkLatencyP99High',
      `avg(last_10m):p99:${LATENCY}{${m}} by {kube_namespace,track} > ${slo.p99LatencyMs * 1000}`,
      slo.p99LatencyMs * 1000,
    ),
    monitor(
      'CatwalkNoVersionAvailable',
      `max(last_5m):max:kubernetes_state.deployment.replicas_available{kube_deployment IN (${workloads})} by {kube_namespace,kube_deployment} < 1`,
      1,
    ),
    monitor(
      'CatwalkPodsDisagreeOnRelease',
      `min(last_5m):max:${GENERATION}{${m}} by {kube_namespace,track} - min:${GENERATION}{${m}} by {kube_namespace,track} > 0`,
      0,
    ),
    monitor(
      'CatwalkReleaseNotApplied',
      `min(last_${staleMinutes}m):max:${GENERATION}{${m}} by {kube_namespace} - min:${GENERATION}{${m}} by {kube_namespace} > 0`,
      0,
      // A monitor compares within its groups, not each pod with the newest generation: it names the namespace.
      {
        ...alerts.get('CatwalkReleaseNotApplied')!,
        summary: `${name}: not every pod in {{ $labels.namespace }} has applied the newest release`,
        description:
          `Pods of ${name} in {{ $labels.namespace }} have been up to {{ $value }} release generation(s) apart for over ` +
          `${staleMinutes} minutes: some still serve the versions of an older release.`,
        runbook:
          'catwalk status <spec> lists the generation each pod applied; read the sidecar logs of the pods behind ' +
          '(kubectl logs <pod> -c model-sync) for the reason (S3 access, a corrupt version, a full volume). They catch up ' +
          'within a poll once it is fixed; a pod still behind after that can be deleted.',
      },
    ),
    monitor(
      'CatwalkSyncStale',
      `change(max(last_5m),last_${staleMinutes}m):max:${LAST_SUCCESS}{${m}} by {kube_namespace,pod_name} <= 0`,
      0,
    ),
    monitor(
      'CatwalkSyncChecksumFailures',
      `max(last_5m):max:${VERSIONS_FAILED}{${m}} by {kube_namespace,pod_name} > 0`,
      0,
    ),
    monitor(
      'CatwalkHpaAtMaxReplicas',
      // (current - max + 1) * (max - min) is at least 1 only at the maximum of
      // an HPA with room to scale: a track at a low experiment weight gets
      // min = max and would otherwise sit at its maximum all along.
      `min(last_30m):( ${hpaMetric('current_replicas')} - ${hpaMetric('max_replicas')} + 1 ) * ` +
        `( ${hpaMetric('max_replicas')} - ${hpaMetric('min_replicas')} ) >= 1`,
      1,
      {
        ...alerts.get('CatwalkHpaAtMaxReplicas')!,
        description:
          'The autoscaler {{ $labels.horizontalpodautoscaler }} in {{ $labels.namespace }} has run at its maximum ' +
          'replicas, above its minimum, for 30 minutes: more load does not get more capacity, and latency and errors follow.',
      },
    ),
    monitor(
      'CatwalkPodOOMKilled',
      `max(last_15m):max:kubernetes_state.container.status_report.count.terminated{service:${name},reason:oomkilled} by {kube_namespace,pod_name,kube_container_name} >= 1`,
      1,
    ),
    monitor(
      'CatwalkPodRestarting',
      `change(max(last_30m),last_30m):max:kubernetes_state.container.restarts{service:${name}} by {kube_namespace,pod_name,kube_container_name} >= 3`,
      3,
    ),
  ];
  return { dashboard, monitors };
}
