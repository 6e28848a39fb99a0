// The Grafana dashboard of one model, built with Grafana's typed Foundation
// SDK rather than hand-written JSON. Pure: the chart mounts the result as a
// ConfigMap for Grafana's dashboard sidecar.
//
// Where the labels come from: TF Serving writes model_name (and status, API,
// entrypoint, model_path) itself; the ServiceMonitor adds namespace, pod and
// service, and copies the Services' catwalk.dev/model and catwalk.dev/track
// labels onto every series as catwalk_dev_model and catwalk_dev_track (the
// Prometheus Operator turns label names into valid ones that way). cAdvisor
// and kube-state-metrics series carry namespace and pod (and the HPA's name),
// so they are joined to this model's pods through the sidecar's series.

import { createHash } from 'node:crypto';
import type { ResolvedModel } from '@catwalk/schema';
import type * as CommonSdk from '@grafana/grafana-foundation-sdk/common';
import type * as DashboardSdk from '@grafana/grafana-foundation-sdk/dashboard';
import type * as PrometheusSdk from '@grafana/grafana-foundation-sdk/prometheus';
import type * as TimeseriesSdk from '@grafana/grafana-foundation-sdk/timeseries';

interface GrafanaSdk {
  readonly common: typeof CommonSdk;
  readonly dashboard: typeof DashboardSdk;
  readonly prometheus: typeof PrometheusSdk;
  readonly timeseries: typeof TimeseriesSdk;
}
let sdk: GrafanaSdk | undefined;

/**
 * The SDK's modules, loaded on first use: they take a tenth of a second or more to load,
 * which every CLI command (the sync sidecar's included) would otherwise pay at start-up.
 */
function grafana(): GrafanaSdk {
  sdk ??= {
    common: require('@grafana/grafana-foundation-sdk/common'),
    dashboard: require('@grafana/grafana-foundation-sdk/dashboard'),
    prometheus: require('@grafana/grafana-foundation-sdk/prometheus'),
    timeseries: require('@grafana/grafana-foundation-sdk/timeseries'),
  };
  return sdk;
}

export interface ModelDashboard {
  /** Grafana uid: catwalk-<model>, shortened with a hash past Grafana's 40 characters. */
  readonly uid: string;
  readonly title: string;
  /** The dashboard JSON, as Grafana imports it. */
  readonly json: object;
  /**
   * Every panel's PromQL, then the release annotation's, with Grafana's variables still in
   * them ($namespace, $model, $track, $__rate_interval).
   */
  readonly queries: ReadonlyArray<{ readonly panel: string; readonly expr: string }>;
}

/** The dashboard's variables besides the data source, in order. */
export const DASHBOARD_VARIABLES = ['namespace', 'model', 'track'] as const;

/** Label the ServiceMonitor copies from the Services' catwalk.dev/track (main or canary). */
export const TRACK_LABEL = 'catwalk_dev_track';
/** Label the ServiceMonitor copies from the Services' catwalk.dev/model. */
export const MODEL_LABEL = 'catwalk_dev_model';

/** TF Serving's metric names as its Prometheus endpoint writes them (histograms by their series). */
export const TF_SERVING_METRICS = [
  ':tensorflow:serving:request_count',
  ...histogramSeries(':tensorflow:serving:request_latency'),
  ...histogramSeries(':tensorflow:serving:model_warmup_latency'),
  ':tensorflow:cc:saved_model:load_latency',
  ...histogramSeries(':tensorflow:serving:batching_session:queuing_latency'),
  ':tensorflow:serving:batching_session:wrapped_run_count',
] as const;

/** What only a cluster has: cAdvisor (kubelet), kube-state-metrics, NVIDIA's DCGM exporter. */
export const CLUSTER_METRICS = [
  'container_cpu_usage_seconds_total',
  'container_memory_working_set_bytes',
  'kube_pod_container_resource_requests',
  'kube_pod_container_resource_limits',
  'kube_pod_container_status_restarts_total',
  'kube_horizontalpodautoscaler_spec_min_replicas',
  'kube_horizontalpodautoscaler_spec_max_replicas',
  'kube_horizontalpodautoscaler_status_current_replicas',
  'kube_horizontalpodautoscaler_status_desired_replicas',
  'DCGM_FI_DEV_GPU_UTIL',
  'DCGM_FI_DEV_FB_USED',
] as const;

function histogramSeries(name: string): string[] {
  return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
}

/** The TF Serving container's name in the chart's pods. */
const TF_CONTAINER = 'tfserving';

// Selectors. TF Serving's own series are picked by its model_name; the others by the labels
// the ServiceMonitor adds.
const tfSeries = `namespace="$namespace", model_name="$model", ${TRACK_LABEL}=~"$track"`;
const podSeries = `namespace="$namespace", ${MODEL_LABEL}="$model", ${TRACK_LABEL}=~"$track"`;
const rate = (metric: string, selector: string) => `rate(${metric}{${selector}}[$__rate_interval])`;

/** This model's pods, one series each (the sidecar's), with their track: the join for cluster series. */
const modelPods = `group by (namespace, pod, ${TRACK_LABEL}) (catwalk_sync_release_generation{${podSeries}})`;
/** Its HPAs: one per track, named like the track's Service. */
const modelHpas =
  `label_replace(group by (namespace, service, ${TRACK_LABEL}) (catwalk_sync_release_generation{${podSeries}}), ` +
  `"horizontalpodautoscaler", "$1", "service", "(.+)")`;
const onPods = (expr: string) => `${expr} * on (namespace, pod) group_left (${TRACK_LABEL}) ${modelPods}`;
const onHpas = (metric: string) =>
  `max by (${TRACK_LABEL}) (${metric}{namespace="$namespace"} * on (namespace, horizontalpodautoscaler) group_left (${TRACK_LABEL}) ${modelHpas})`;

/** Error ratio that reads 0, not "no data", while every request succeeds. */
function errorRatio(by: string): string {
  const all = `sum by (${by}) (${rate(':tensorflow:serving:request_count', tfSeries)})`;
  const failed = `sum by (${by}) (${rate(':tensorflow:serving:request_count', `${tfSeries}, status!="OK"`)})`;
  return `(${failed} or ${all} * 0) / ${all}`;
}

const quantile = (q: string, histogram: string, selector: string, by: string) =>
  `histogram_quantile(${q}, sum by (${by}, le) (${rate(`${histogram}_bucket`, selector)}))`;

interface Query {
  readonly expr: string;
  readonly legend: string;
}

interface PanelSpec {
  readonly title: string;
  /** How to read it: shown in the panel's (i) tooltip. */
  readonly description: string;
  readonly unit: string;
  /** Grid columns out of 24. */
  readonly width: number;
  readonly queries: readonly Query[];
  readonly min?: number;
  readonly max?: number;
}

interface RowSpec {
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

function requestRows(): RowSpec[] {
  const count = ':tensorflow:serving:request_count';
  const latency = ':tensorflow:serving:request_latency';
  const latencyPanel = (q: string, name: string): PanelSpec => ({
    title: `Latency ${name} by track`,
    description:
      `${name} of TF Serving's request latency (its own histogram, from the request arriving to the ` +
      'response), one line per track: during an A/B test the canary sits next to the main pods.',
    unit: 'µs',
    width: 8,
    min: 0,
    queries: [{ expr: quantile(q, latency, tfSeries, TRACK_LABEL), legend: `{{${TRACK_LABEL}}}` }],
  });
  return [
    {
      title: 'Requests and errors',
      panels: [
        {
          title: 'Request rate by track',
          description:
            'Requests per second TF Serving answered, successful or not, per track (main, canary).',
          unit: 'reqps',
          width: 8,
          min: 0,
          queries: [
            { expr: `sum by (${TRACK_LABEL}) (${rate(count, tfSeries)})`, legend: `{{${TRACK_LABEL}}}` },
          ],
        },
        {
          title: 'Request rate by status',
          description:
            'Requests per second by the status TF Serving gave them: OK, or the error code (INVALID_ARGUMENT is ' +
            "the caller's mistake, NOT_FOUND a version or label not served, INTERNAL and UNAVAILABLE the server's).",
          unit: 'reqps',
          width: 8,
          min: 0,
          queries: [{ expr: `sum by (status) (${rate(count, tfSeries)})`, legend: '{{status}}' }],
        },
        {
          title: 'Error ratio by track',
          description:
            'Share of requests that failed, per track. A canary whose line rises above the main one is worse.',
          unit: 'percentunit',
          width: 8,
          min: 0,
          queries: [{ expr: errorRatio(TRACK_LABEL), legend: `{{${TRACK_LABEL}}}` }],
        },
      ],
    },
    {
      title: 'Latency by track',
      panels: [
        latencyPanel('0.5', 'p50'),
        latencyPanel('0.9', 'p90'),
        latencyPanel('0.99', 'p99'),
        {
          title: 'Latency p99 by API',
          description: 'p99 latency per API (predict, classify, ...) and entry point (REST or gRPC).',
          unit: 'µs',
          width: 12,
          min: 0,
          queries: [
            {
              expr: quantile('0.99', latency, tfSeries, 'API, entrypoint'),
              legend: '{{API}} {{entrypoint}}',
            },
          ],
        },
        {
          title: 'Mean latency by track',
          description: 'Average request latency per track; far below p99 when a few requests are slow.',
          unit: 'µs',
          width: 12,
          min: 0,
          queries: [
            {
              expr:
                `sum by (${TRACK_LABEL}) (${rate(`${latency}_sum`, tfSeries)}) / ` +
                `sum by (${TRACK_LABEL}) (${rate(`${latency}_count`, tfSeries)})`,
              legend: `{{${TRACK_LABEL}}}`,
            },
          ],
        },
      ],
    },
  ];
}

function batchingRow(): RowSpec {
  const queuing = ':tensorflow:serving:batching_session:queuing_latency';
  const runs = ':tensorflow:serving:batching_session:wrapped_run_count';
  return {
    title: 'Batching',
    panels: [
      {
        title: 'Batch queueing latency by track',
        description:
          'Time requests wait in the batching queue before their batch runs (p50, p99). Near ' +
          'batchTimeoutMicros means batches rarely fill: traffic is below maxBatchSize per timeout.',
        unit: 'µs',
        width: 8,
        min: 0,
        queries: [
          { expr: quantile('0.5', queuing, podSeries, TRACK_LABEL), legend: `p50 {{${TRACK_LABEL}}}` },
          { expr: quantile('0.99', queuing, podSeries, TRACK_LABEL), legend: `p99 {{${TRACK_LABEL}}}` },
        ],
      },
      {
        title: 'Batches run per second',
        description: 'Runs of the model on a merged batch, per track.',
        unit: 'ops',
        width: 8,
        min: 0,
        queries: [
          { expr: `sum by (${TRACK_LABEL}) (${rate(runs, podSeries)})`, legend: `{{${TRACK_LABEL}}}` },
        ],
      },
      {
        title: 'Requests per batch',
        description:
          'Successful requests divided by batch runs: how full batches are. Close to 1 means batching only ' +
          'adds queueing time; close to maxBatchSize means batches are full and the queue may grow.',
        unit: 'short',
        width: 8,
        min: 0,
        queries: [
          {
            expr:
              `sum by (${TRACK_LABEL}) (${rate(':tensorflow:serving:request_count', `${tfSeries}, status="OK"`)}) / ` +
              `sum by (${TRACK_LABEL}) (${rate(runs, podSeries)})`,
            legend: `{{${TRACK_LABEL}}}`,
          },
        ],
      },
    ],
  };
}

function loadRow(): RowSpec {
  const warmup = ':tensorflow:serving:model_warmup_latency';
  return {
    title: 'Model versions and loads',
    panels: [
      {
        title: 'Load time by version',
        description:
          'Time TF Serving took to load each version (the legend names its folder, /models/<model>/<version>), ' +
          'slowest pod per track: the versions a track has loaded, and how long a new one takes before it can serve.',
        unit: 'µs',
        width: 12,
        min: 0,
        queries: [
          {
            expr: `max by (${TRACK_LABEL}, model_path) (:tensorflow:cc:saved_model:load_latency{${podSeries}})`,
            legend: `{{${TRACK_LABEL}}} {{model_path}}`,
          },
        ],
      },
      {
        title: 'Warm-up time by version',
        description:
          'Mean time spent replaying the warm-up requests stored with each version (assets.extra), slowest pod ' +
          'per track. Empty for versions without warm-up data.',
        unit: 'µs',
        width: 12,
        min: 0,
        queries: [
          {
            expr: `max by (${TRACK_LABEL}, model_path) (${warmup}_sum{${podSeries}} / ${warmup}_count{${podSeries}})`,
            legend: `{{${TRACK_LABEL}}} {{model_path}}`,
          },
        ],
      },
    ],
  };
}

function resourceRow(model: ResolvedModel): RowSpec {
  const container = `namespace="$namespace", container="${TF_CONTAINER}"`;
  const resource = (metric: string, name: string) =>
    `max (${onPods(`${metric}{${container}, resource="${name}"}`)})`;
  const panels: PanelSpec[] = [
    {
      title: 'CPU used against request and limit',
      description:
        "TF Serving's CPU per pod, with the request (what the autoscaler's target is a share of) and the " +
        'limit (where the kernel throttles). Pods at the limit while loading a version are expected.',
      unit: 'short',
      width: model.resources.gpu > 0 ? 6 : 12,
      min: 0,
      queries: [
        {
          expr: `sum by (pod, ${TRACK_LABEL}) (${onPods(`rate(container_cpu_usage_seconds_total{${container}}[$__rate_interval])`)})`,
          legend: `{{${TRACK_LABEL}}} {{pod}}`,
        },
        { expr: resource('kube_pod_container_resource_requests', 'cpu'), legend: 'request' },
        { expr: resource('kube_pod_container_resource_limits', 'cpu'), legend: 'limit' },
      ],
    },
    {
      title: 'Memory used against request and limit',
      description:
        "TF Serving's working set per pod against its request and limit. A new version loads next to the old " +
        'one, so a pod needs room for two; reaching the limit is an OOM kill.',
      unit: 'bytes',
      width: model.resources.gpu > 0 ? 6 : 12,
      min: 0,
      queries: [
        {
          expr: `sum by (pod, ${TRACK_LABEL}) (${onPods(`container_memory_working_set_bytes{${container}}`)})`,
          legend: `{{${TRACK_LABEL}}} {{pod}}`,
        },
        { expr: resource('kube_pod_container_resource_requests', 'memory'), legend: 'request' },
        { expr: resource('kube_pod_container_resource_limits', 'memory'), legend: 'limit' },
      ],
    },
  ];
  if (model.resources.gpu > 0) {
    panels.push(
      {
        title: 'GPU utilisation',
        description:
          "Share of time the pod's GPUs were busy (NVIDIA DCGM exporter), per pod, against the GPUs requested.",
        unit: 'percent',
        width: 6,
        min: 0,
        queries: [
          {
            expr: `avg by (pod, ${TRACK_LABEL}) (${onPods('DCGM_FI_DEV_GPU_UTIL{namespace="$namespace"}')})`,
            legend: `{{${TRACK_LABEL}}} {{pod}}`,
          },
        ],
      },
      {
        title: 'GPU memory used and GPUs requested',
        description:
          'Frame buffer memory in use per pod (MiB; TF Serving reserves most of it at start), and the GPUs ' +
          'each pod requests.',
        unit: 'decmbytes',
        width: 6,
        min: 0,
        queries: [
          {
            expr: `sum by (pod, ${TRACK_LABEL}) (${onPods('DCGM_FI_DEV_FB_USED{namespace="$namespace"}')})`,
            legend: `{{${TRACK_LABEL}}} {{pod}}`,
          },
          {
            expr: resource('kube_pod_container_resource_requests', 'nvidia_com_gpu'),
            legend: 'GPUs requested',
          },
        ],
      },
    );
  }
  return { title: 'Resources against requests and limits', panels };
}

function scalingRow(): RowSpec {
  return {
    title: 'Replicas against autoscaler bounds',
    panels: [
      {
        title: 'Replicas and HPA bounds by track',
        description:
          'Pods scraped per track, and what the HPA wants (desired), has (current), and may use (min, max). ' +
          'Current at max for long means the model needs more capacity than maxReplicas allows.',
        unit: 'short',
        width: 16,
        min: 0,
        queries: [
          {
            expr: `count by (${TRACK_LABEL}) (catwalk_sync_release_generation{${podSeries}})`,
            legend: `pods {{${TRACK_LABEL}}}`,
          },
          {
            expr: onHpas('kube_horizontalpodautoscaler_status_current_replicas'),
            legend: `current {{${TRACK_LABEL}}}`,
          },
          {
            expr: onHpas('kube_horizontalpodautoscaler_status_desired_replicas'),
            legend: `desired {{${TRACK_LABEL}}}`,
          },
          {
            expr: onHpas('kube_horizontalpodautoscaler_spec_min_replicas'),
            legend: `min {{${TRACK_LABEL}}}`,
          },
          {
            expr: onHpas('kube_horizontalpodautoscaler_spec_max_replicas'),
            legend: `max {{${TRACK_LABEL}}}`,
          },
        ],
      },
      {
        title: 'Container restarts (1 h)',
        description:
          'Restarts per container over the last hour. TF Serving restarting while a version loads is usually an ' +
          'OOM kill: raise the memory limit (it must hold two versions).',
        unit: 'short',
        width: 8,
        min: 0,
        queries: [
          {
            expr:
              `sum by (${TRACK_LABEL}, container) (` +
              onPods('increase(kube_pod_container_status_restarts_total{namespace="$namespace"}[1h])') +
              ')',
            legend: `{{${TRACK_LABEL}}} {{container}}`,
          },
        ],
      },
    ],
  };
}

function syncRow(): RowSpec {
  const perPod = `pod, ${TRACK_LABEL}`;
  return {
    title: 'Sync sidecar and release',
    panels: [
      {
        title: 'Release generation by pod',
        description:
          'Generation of release.json each pod has applied. All pods of a track on one line is healthy; ' +
          'a pod left behind after a release is not syncing.',
        unit: 'none',
        width: 8,
        queries: [
          {
            expr: `max by (${perPod}) (catwalk_sync_release_generation{${podSeries}})`,
            legend: `{{${TRACK_LABEL}}} {{pod}}`,
          },
        ],
      },
      {
        title: 'Seconds since the last good sync',
        description:
          'Age of each pod’s last good sync (S3 read, release applied). It climbs while S3 is unreachable; the ' +
          'pod keeps serving what it has, and its /readyz fails past the stale limit.',
        unit: 's',
        width: 8,
        min: 0,
        queries: [
          {
            expr: `time() - max by (${perPod}) (catwalk_sync_last_success_timestamp_seconds{${podSeries}})`,
            legend: `{{${TRACK_LABEL}}} {{pod}}`,
          },
        ],
      },
      {
        title: 'Sync errors by kind',
        description:
          'Failed polls and retried S3 requests per second, by kind: throttled or server (S3), network, ' +
          'ChecksumMismatchError or version_failed (a version that fails its sha256 check), deadline (a poll too slow).',
        unit: 'ops',
        width: 8,
        min: 0,
        queries: [
          { expr: `sum by (kind) (${rate('catwalk_sync_errors_total', podSeries)})`, legend: '{{kind}}' },
        ],
      },
      {
        title: 'Versions on disk, failing, track fallback',
        description:
          'Per pod: version folders present, released versions it cannot serve (corrupt or failing their ' +
          'checksum), and 1 while the release lacks the label its track follows (the spec’s policy is served).',
        unit: 'short',
        width: 12,
        min: 0,
        queries: [
          {
            expr: `max by (${perPod}) (catwalk_sync_versions_present{${podSeries}})`,
            legend: `present {{${TRACK_LABEL}}} {{pod}}`,
          },
          {
            expr: `max by (${perPod}) (catwalk_sync_versions_failed{${podSeries}})`,
            legend: `failed {{${TRACK_LABEL}}} {{pod}}`,
          },
          {
            expr: `max by (${perPod}) (catwalk_sync_track_fallback{${podSeries}})`,
            legend: `fallback {{${TRACK_LABEL}}} {{pod}}`,
          },
        ],
      },
      {
        title: 'Sync poll duration p99',
        description:
          'How long a poll takes: short when nothing changed, as long as a download when a version arrives.',
        unit: 's',
        width: 12,
        min: 0,
        queries: [
          {
            expr: quantile('0.99', 'catwalk_sync_duration_seconds', podSeries, TRACK_LABEL),
            legend: `{{${TRACK_LABEL}}}`,
          },
        ],
      },
    ],
  };
}

/** The rows of a model's dashboard, in order; batching and GPU panels only when the spec uses them. */
function rows(model: ResolvedModel): RowSpec[] {
  return [
    ...requestRows(),
    ...(model.serving.batching ? [batchingRow()] : []),
    loadRow(),
    resourceRow(model),
    scalingRow(),
    syncRow(),
  ];
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, for Grafana to fill in.
const DATASOURCE: CommonSdk.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
const PANEL_HEIGHT = 8;
const REF_IDS = 'ABCDEFGHIJ';

/** Grafana uids are at most 40 characters; a long model name keeps its start and gains a hash. */
export function dashboardUid(modelName: string): string {
  const uid = `catwalk-${modelName}`;
  if (uid.length <= 40) return uid;
  const hash = createHash('sha256').update(modelName).digest('hex').slice(0, 8);
  return `${uid.slice(0, 31)}-${hash}`;
}

function variables(model: ResolvedModel) {
  const { QueryVariableBuilder, DatasourceVariableBuilder, VariableRefresh, VariableSort } =
    grafana().dashboard;
  const query = (name: string, label: string, expr: string) =>
    new QueryVariableBuilder(name)
      .label(label)
      .datasource(DATASOURCE)
      .query(expr)
      .definition(expr)
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc);
  return [
    new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'),
    query('namespace', 'Namespace', 'label_values(catwalk_sync_release_generation, namespace)'),
    query(
      'model',
      'Model',
      `label_values(catwalk_sync_release_generation{namespace="$namespace"}, ${MODEL_LABEL})`,
    ).current({ text: model.name, value: model.name, selected: true }),
    query(
      'track',
      'Track',
      `label_values(catwalk_sync_release_generation{namespace="$namespace", ${MODEL_LABEL}="$model"}, ${TRACK_LABEL})`,
    )
      .multi(true)
      .includeAll(true)
      .allValue('.*')
      .current({ text: ['All'], value: ['$__all'], selected: true }),
  ];
}

function panel(id: number, spec: PanelSpec): TimeseriesSdk.PanelBuilder {
  const { common, prometheus, timeseries } = grafana();
  const builder = new timeseries.PanelBuilder()
    .id(id)
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width)
    .height(PANEL_HEIGHT)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    );
  if (spec.min !== undefined) builder.min(spec.min);
  if (spec.max !== undefined) builder.max(spec.max);
  spec.queries.forEach((q, i) => {
    builder.withTarget(
      new prometheus.DataqueryBuilder()
        .datasource(DATASOURCE)
        .refId(REF_IDS[i]!)
        .expr(q.expr)
        .legendFormat(q.legend),
    );
  });
  return builder;
}

/** Marks on every panel where a pod applied a new release generation (a `catwalk release`, rollback or experiment step). */
export const RELEASE_ANNOTATION_EXPR = `max by (${TRACK_LABEL}) (changes(catwalk_sync_release_generation{namespace="$namespace", ${MODEL_LABEL}="$model"}[2m])) > 0`;

function annotations() {
  const { AnnotationQueryBuilder } = grafana().dashboard;
  return [
    // Grafana's own annotations and alerts, which it expects in every dashboard.
    new AnnotationQueryBuilder()
      .name('Annotations & Alerts')
      .datasource({ type: 'grafana', uid: '-- Grafana --' })
      .type('dashboard')
      .builtIn(1)
      .enable(true)
      .hide(true)
      .iconColor('rgba(0, 211, 255, 1)'),
    new AnnotationQueryBuilder()
      .name('Releases')
      .datasource(DATASOURCE)
      .enable(true)
      .iconColor('purple')
      .expr(RELEASE_ANNOTATION_EXPR)
      .step('60s')
      .titleFormat(`Release applied ({{${TRACK_LABEL}}})`),
  ];
}

/** The typed dashboard, before it becomes plain JSON. */
export function dashboardModel(model: ResolvedModel): DashboardSdk.Dashboard {
  const { DashboardBuilder, DashboardCursorSync, RowBuilder } = grafana().dashboard;
  const builder = new DashboardBuilder(`Catwalk / ${model.name}`)
    .uid(dashboardUid(model.name))
    .description(
      `Serving, scaling and model sync of ${model.name} (team ${model.team}), generated by Catwalk.`,
    )
    .tags(['catwalk', `team:${model.team}`])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-3h', to: 'now' })
    .timezone('browser')
    .variables(variables(model))
    .annotations(annotations());
  let id = 0;
  for (const row of rows(model)) {
    builder.withRow(new RowBuilder(row.title).id(++id));
    for (const spec of row.panels) builder.withPanel(panel(++id, spec));
  }
  return builder.build();
}

/** The model's dashboard as Grafana's sidecar loads it, with every panel query listed for tests and tools. */
export function buildDashboard(model: ResolvedModel): ModelDashboard {
  // The SDK's query objects carry a marker method; JSON drops it, as Grafana would.
  const json = JSON.parse(JSON.stringify(dashboardModel(model))) as DashboardSdk.Dashboard;
  const queries = (json.panels ?? []).flatMap((p) =>
    p.type === 'row'
      ? []
      : ((p as { targets?: Array<{ expr?: string }> }).targets ?? []).map((t) => ({
          panel: p.title ?? '',
          expr: t.expr ?? '',
        })),
  );
  queries.push({ panel: 'Releases (annotation)', expr: RELEASE_ANNOTATION_EXPR });
  return { uid: dashboardUid(model.name), title: `Catwalk / ${model.name}`, json, queries };
}
