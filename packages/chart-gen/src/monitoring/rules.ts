// Prometheus recording rules and alerts for one model, from its spec: the
// availability SLO as multi-window multi-burn-rate alerts, p99 latency
// against its target, and the health of what serves the model (a version
// AVAILABLE, the sync sidecar, the release every pod should apply, the
// autoscaler's headroom, restarts). Pure: the chart renders the result as a
// PrometheusRule, and the tests run it through promtool.
//
// Series and the labels they are selected by:
//   TF Serving   :tensorflow:serving:request_count{model_name,status}, the
//                :tensorflow:serving:request_latency histogram (microseconds)
//   sidecar      catwalk_sync_* with catwalk_dev_model / catwalk_dev_track, the
//                Service labels the chart's ServiceMonitor copies onto every
//                target (targetLabels); a hand-written scrape job must add them
//   kube-state-metrics (v2 names) by namespace and Deployment/HPA/pod name

import type { ResolvedModel } from '@catwalk/schema';

export type Severity = 'critical' | 'warning';

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  /** Prometheus duration the condition must hold before the alert fires. */
  readonly for: string;
  readonly severity: Severity;
  readonly summary: string;
  readonly description: string;
  /** What to check and what to do, in order. */
  readonly runbook: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface RuleGroup {
  readonly name: string;
  readonly interval: string;
  readonly rules: ReadonlyArray<
    | { readonly record: string; readonly expr: string; readonly labels: Readonly<Record<string, string>> }
    | {
        readonly alert: string;
        readonly expr: string;
        readonly for: string;
        readonly labels: Readonly<Record<string, string>>;
        readonly annotations: Readonly<Record<string, string>>;
      }
  >;
}

export interface PrometheusRuleSet {
  /** The `spec.groups` of a PrometheusRule, and the `groups` of a plain Prometheus rule file. */
  readonly groups: readonly RuleGroup[];
  readonly recordingRules: readonly RecordingRule[];
  readonly alerts: readonly AlertRule[];
}

export interface RuleOptions {
  /** Only series of this namespace. @default every namespace (series stay apart by their namespace label) */
  readonly namespace?: string;
  /** Name of the main Deployment and its HPA (the chart's full name). @default the model name */
  readonly workload?: string;
  /** Name of the canary Deployment and its HPA. @default <workload>-canary */
  readonly canaryWorkload?: string;
  /**
   * Thresholds that follow the sidecars' poll interval, as text. The chart
   * passes placeholders, filled in at install from sync.intervalSeconds,
   * which may differ from the spec's. @default syncTimings(spec.serving.pollSeconds)
   */
  readonly syncTimings?: SyncTimings;
}

/** Thresholds and their wording derived from the seconds between polls, each as the text rules hold. */
export interface SyncTimings {
  readonly pollSeconds: string;
  /** Age of the last good sync the stale alert fires above, in seconds. */
  readonly staleSeconds: string;
  /** The same as a Prometheus duration: also how long a pod may lag the newest release. */
  readonly staleFor: string;
  /** Whole polls within staleSeconds. */
  readonly stalePolls: string;
  /** How long pods of a track may disagree on the release (a Prometheus duration). */
  readonly disagreeFor: string;
  /** Whole polls within disagreeFor. */
  readonly disagreePolls: string;
}

/** Labels the chart's ServiceMonitor copies from the Services onto every scraped series. */
export const TARGET_LABELS = { model: 'catwalk_dev_model', track: 'catwalk_dev_track' } as const;

/**
 * gRPC codes TF Serving records in request_count's status label that are the
 * server's fault. The caller's own mistakes (INVALID_ARGUMENT, NOT_FOUND,
 * FAILED_PRECONDITION, ...) do not spend the availability budget.
 */
export const SERVER_ERROR_CODES = [
  'UNKNOWN',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
  'ABORTED',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
] as const;

/**
 * The burn-rate alerts of the availability SLO (a 30-day budget), after the
 * Google SRE workbook: each fires only while both its long and its short
 * window burn faster than the factor, so it starts within minutes of a real
 * outage and stops soon after it ends.
 */
export const BURN_RATE_WINDOWS = [
  {
    alert: 'CatwalkErrorBudgetBurnFast',
    long: '1h',
    short: '5m',
    factor: 14.4,
    severity: 'critical',
    for: '2m',
  },
  {
    alert: 'CatwalkErrorBudgetBurnSustained',
    long: '6h',
    short: '30m',
    factor: 6,
    severity: 'critical',
    for: '15m',
  },
  { alert: 'CatwalkErrorBudgetBurnSlow', long: '1d', short: '2h', factor: 3, severity: 'warning', for: '1h' },
] as const;

/** Windows the SLO error ratio is recorded over: every window some burn-rate alert reads. */
export const SLO_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d'] as const;

/** Polls a pod's sidecar may go without a good sync before the stale alert (and at least 5 minutes). */
export const SYNC_STALE_POLLS = 10;
/** Polls pods of one track may disagree on the release before the alert (and at least a minute). */
export const DISAGREE_POLLS = 3;

/** Least age of the last good sync before the stale alert, whatever the poll interval. */
export const SYNC_STALE_MIN_SECONDS = 300;
/** Least time pods of one track may disagree before the alert. */
export const DISAGREE_MIN_SECONDS = 60;

/** The poll-derived thresholds for polls every `pollSeconds`. templates/prometheusrule.yaml computes the same at install. */
export function syncTimings(pollSeconds: number): SyncTimings {
  const stale = Math.max(SYNC_STALE_POLLS * pollSeconds, SYNC_STALE_MIN_SECONDS);
  const disagree = Math.max(DISAGREE_POLLS * pollSeconds, DISAGREE_MIN_SECONDS);
  return {
    pollSeconds: String(pollSeconds),
    staleSeconds: String(stale),
    staleFor: promDuration(stale),
    stalePolls: String(Math.floor(stale / pollSeconds)),
    disagreeFor: promDuration(disagree),
    disagreePolls: String(Math.floor(disagree / pollSeconds)),
  };
}

/** Placeholders the chart's PrometheusRule template fills in from sync.intervalSeconds. */
export const SYNC_TIMING_PLACEHOLDERS: SyncTimings = {
  pollSeconds: '__CATWALK_POLL_SECONDS__',
  staleSeconds: '__CATWALK_STALE_SECONDS__',
  staleFor: '__CATWALK_STALE_FOR__',
  stalePolls: '__CATWALK_STALE_POLLS__',
  disagreeFor: '__CATWALK_DISAGREE_FOR__',
  disagreePolls: '__CATWALK_DISAGREE_POLLS__',
};

const TF_REQUESTS = ':tensorflow:serving:request_count';
const TF_LATENCY_BUCKETS = ':tensorflow:serving:request_latency_bucket';

/** A number for PromQL and messages, without float noise (0.1 - 0.0999 etc.). */
export function promNumber(value: number): string {
  return String(Number(value.toPrecision(12)));
}

/** Seconds as a Prometheus duration: 300 -> 5m, 90 -> 90s, 7200 -> 2h. */
export function promDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

const selector = (matchers: ReadonlyArray<readonly [string, string, string]>) =>
  `{${matchers.map(([label, op, value]) => `${label}${op}${JSON.stringify(value)}`).join(',')}}`;

/** Error budget as a ratio: 99.9 -> 0.001. */
export function errorBudget(availabilityPercent: number): number {
  return Number(((100 - availabilityPercent) / 100).toPrecision(12));
}

/** Every recording rule and alert of the model, grouped for a PrometheusRule. */
export function buildPrometheusRule(model: ResolvedModel, options: RuleOptions = {}): PrometheusRuleSet {
  const name = model.name;
  const ns = options.namespace !== undefined ? ([['namespace', '=', options.namespace]] as const) : [];
  const main = options.workload ?? name;
  const canary = options.canaryWorkload ?? `${main}-canary`;
  const workloads = `${main}|${canary}`;
  const { track } = TARGET_LABELS;
  const slo = model.monitoring.slo;
  const budget = errorBudget(slo.availability);
  const p99Seconds = slo.p99LatencyMs / 1000;
  const timing = options.syncTimings ?? syncTimings(model.serving.pollSeconds);
  const poll = timing.pollSeconds;
  const disagreeFor = timing.disagreeFor;
  const behindFor = timing.staleFor;

  const tf = (extra: ReadonlyArray<readonly [string, string, string]> = []) =>
    selector([['model_name', '=', name], ...ns, ...extra]);
  const sync = selector([[TARGET_LABELS.model, '=', name], ...ns]);
  const recorded = selector([['model', '=', name], ...ns]);
  const serverErrors = [['status', '=~', SERVER_ERROR_CODES.join('|')]] as const;
  const pods = selector([...ns, ['pod', '=~', `(${workloads})-[a-z0-9]+-[a-z0-9]+`]]);
  const deployments = selector([...ns, ['deployment', '=~', workloads]]);
  const hpas = selector([...ns, ['horizontalpodautoscaler', '=~', workloads]]);
  const modelLabels = { model: name };

  /** Errors over requests; 0 (not no data) while no request failed. */
  const errorRatio = (by: string, window: string) =>
    `(sum by (${by}) (rate(${TF_REQUESTS}${tf(serverErrors)}[${window}])) ` +
    `or sum by (${by}) (rate(${TF_REQUESTS}${tf()}[${window}])) * 0)\n` +
    `/ sum by (${by}) (rate(${TF_REQUESTS}${tf()}[${window}]))`;
  const quantile = (q: number) =>
    `histogram_quantile(${q}, sum by (namespace, ${track}, le) (rate(${TF_LATENCY_BUCKETS}${tf()}[5m]))) / 1e6`;

  const recordingRules: RecordingRule[] = [
    {
      record: 'catwalk:tfserving_requests:rate5m',
      expr: `sum by (namespace, ${track}) (rate(${TF_REQUESTS}${tf()}[5m]))`,
      labels: modelLabels,
    },
    {
      record: 'catwalk:tfserving_request_errors:ratio_rate5m',
      expr: errorRatio(`namespace, ${track}`, '5m'),
      labels: modelLabels,
    },
    ...([0.5, 0.9, 0.99] as const).map((q) => ({
      record: `catwalk:tfserving_request_latency_seconds:p${Math.round(q * 100)}_rate5m`,
      expr: quantile(q),
      labels: modelLabels,
    })),
    ...SLO_WINDOWS.map((window) => ({
      record: `catwalk:slo_request_errors:ratio_rate${window}`,
      expr: errorRatio('namespace', window),
      labels: modelLabels,
    })),
    {
      record: 'catwalk:sync_last_success_age_seconds',
      expr: `time() - max by (namespace, ${track}, pod) (catwalk_sync_last_success_timestamp_seconds${sync})`,
      labels: modelLabels,
    },
    {
      record: 'catwalk:sync_release_generation:max',
      expr: `max by (namespace, ${track}) (catwalk_sync_release_generation${sync})`,
      labels: modelLabels,
    },
    {
      record: 'catwalk:sync_release_generation:min',
      expr: `min by (namespace, ${track}) (catwalk_sync_release_generation${sync})`,
      labels: modelLabels,
    },
  ];

  const common = { model: name, team: model.team };
  const alert = (rule: Omit<AlertRule, 'labels' | 'annotations'>): AlertRule => ({
    ...rule,
    labels: { severity: rule.severity, ...common },
    annotations: { summary: rule.summary, description: rule.description, runbook: rule.runbook },
  });
  const target = `${promNumber(slo.availability)}%`;

  const alerts: AlertRule[] = [
    ...BURN_RATE_WINDOWS.map((w) =>
      alert({
        alert: w.alert,
        expr:
          `catwalk:slo_request_errors:ratio_rate${w.long}${recorded} > ${promNumber(w.factor * budget)}\n` +
          `and catwalk:slo_request_errors:ratio_rate${w.short}${recorded} > ${promNumber(w.factor * budget)}`,
        for: w.for,
        severity: w.severity,
        summary: `${name}: error budget burning ${w.factor}x too fast (${w.long} and ${w.short})`,
        description:
          `{{ $value | humanizePercentage }} of ${name}'s requests in {{ $labels.namespace }} failed with a server error ` +
          `over the last ${w.long}, and the last ${w.short} fails as often: over ${w.factor}x the rate a ${target} ` +
          `availability target allows, which spends the 30-day error budget in ${promNumber(30 / w.factor)} days.`,
        runbook:
          'Find which track fails: catwalk:tfserving_request_errors:ratio_rate5m by catwalk_dev_track, and the status codes of ' +
          ':tensorflow:serving:request_count. If the canary fails, abort the experiment (catwalk experiment abort). ' +
          'If a release just changed the served version, roll back (catwalk rollback <spec>). Otherwise read the TF Serving ' +
          'logs of the failing pods (kubectl logs <pod> -c tfserving) for the error and check CPU and memory saturation.',
      }),
    ),
    alert({
      alert: 'CatwalkLatencyP99High',
      expr: `catwalk:tfserving_request_latency_seconds:p99_rate5m${recorded} > ${promNumber(p99Seconds)}`,
      for: '10m',
      severity: 'warning',
      summary: `${name}: p99 latency above the ${promNumber(slo.p99LatencyMs)} ms target`,
      description:
        `The 99th percentile of TF Serving's request latency for ${name} (track {{ $labels.catwalk_dev_track }}) has been ` +
        `{{ $value | humanizeDuration }} for 10 minutes, above the ${promNumber(slo.p99LatencyMs)} ms target (spec.monitoring.slo.p99LatencyMs).`,
      runbook:
        'Compare the tracks: a slower canary is a slower model version (abort the experiment). If every track is slow, ' +
        'check CPU throttling against the limit and whether the autoscaler is at its maximum (CatwalkHpaAtMaxReplicas); ' +
        'with batching on, check the batch queueing delay. Raise spec.scaling.maxReplicas or the CPU, or revisit the target.',
    }),
    alert({
      alert: 'CatwalkNoVersionAvailable',
      expr:
        `kube_deployment_status_replicas_available${deployments} == 0\n` +
        `and on (namespace, deployment) kube_deployment_spec_replicas${deployments} > 0`,
      for: '5m',
      severity: 'critical',
      summary: `${name}: no pod of {{ $labels.deployment }} has a model version AVAILABLE`,
      description:
        `Deployment {{ $labels.deployment }} in {{ $labels.namespace }} has had no available pod for 5 minutes. A pod is ` +
        `ready only while TF Serving reports a version of ${name} AVAILABLE, so requests to this track fail.`,
      runbook:
        'Run catwalk status <spec>: it shows each pod, the versions its sidecar synced and why a version is not served. ' +
        'Check the sidecar logs (kubectl logs <pod> -c model-sync) for S3 or checksum errors and the TF Serving logs ' +
        '(-c tfserving) for a failed load (missing ops, out of memory). Roll back to the last good release if a new one ' +
        'does not load.',
    }),
    alert({
      alert: 'CatwalkPodsDisagreeOnRelease',
      expr:
        `max by (namespace, ${track}) (catwalk_sync_release_generation${sync})\n` +
        `!= min by (namespace, ${track}) (catwalk_sync_release_generation${sync})`,
      for: disagreeFor,
      severity: 'warning',
      summary: `${name}: pods of track {{ $labels.catwalk_dev_track }} serve different releases`,
      description:
        `For over ${disagreeFor} (${timing.disagreePolls} full polls at ${poll} s per poll; the alert waits at least ` +
        `${DISAGREE_POLLS} polls and at least ${promDuration(DISAGREE_MIN_SECONDS)}) the pods of ${name}'s ` +
        '{{ $labels.catwalk_dev_track }} track in ' +
        '{{ $labels.namespace }} have applied different release generations, so the same request may be answered by ' +
        'different model versions.',
      runbook:
        'catwalk status <spec> lists the generation each pod applied. The pods behind are named by ' +
        'CatwalkReleaseNotApplied; read their sidecar logs (kubectl logs <pod> -c model-sync) for the reason (S3 access, ' +
        'checksum failures, a full volume).',
    }),
    alert({
      alert: 'CatwalkReleaseNotApplied',
      expr:
        `max by (namespace) (catwalk_sync_release_generation${sync})\n` +
        `- on (namespace) group_right () catwalk_sync_release_generation${sync} > 0`,
      for: behindFor,
      severity: 'warning',
      summary: `${name}: pod {{ $labels.pod }} has not applied the newest release`,
      description:
        `Pod {{ $labels.pod }} is {{ $value }} release generation(s) behind the newest one other pods of ${name} ` +
        `read from S3, for over ${behindFor}: it still serves the versions of an older release.`,
      runbook:
        'Read the pod sidecar logs (kubectl logs {{ $labels.pod }} -c model-sync) and its /status (catwalk status <spec>). ' +
        'It catches up within a poll once the cause is fixed (S3 access, a corrupt version, a full volume); a pod still ' +
        'behind after that can be deleted, and its replacement syncs from scratch.',
    }),
    alert({
      alert: 'CatwalkSyncStale',
      expr: `time() - catwalk_sync_last_success_timestamp_seconds${sync} > ${timing.staleSeconds}`,
      for: '1m',
      severity: 'warning',
      summary: `${name}: sync sidecar of {{ $labels.pod }} has had no good sync for ${timing.staleFor}`,
      description:
        `The last good sync of pod {{ $labels.pod }} is over ${timing.staleFor} old (${timing.stalePolls} full polls at ` +
        `${poll} s per poll; the alert waits at least ${SYNC_STALE_POLLS} polls and at least ` +
        `${promDuration(SYNC_STALE_MIN_SECONDS)}). The pod keeps serving what it has, but releases and rollbacks do not reach it.`,
      runbook:
        'kubectl logs {{ $labels.pod }} -c model-sync shows each failed poll and its cause: S3 credentials (IRSA role, ' +
        'Pod Identity), the bucket policy, the network policy, or the S3 endpoint. catwalk status <spec> shows the last ' +
        'error of every pod.',
    }),
    alert({
      alert: 'CatwalkSyncChecksumFailures',
      expr:
        `max by (namespace, pod) (catwalk_sync_versions_failed${sync}) > 0\n` +
        `or sum by (namespace, pod) (increase(catwalk_sync_errors_total${selector([
          [TARGET_LABELS.model, '=', name],
          ...ns,
          ['kind', '=', 'ChecksumMismatchError'],
        ])}[15m])) > 0`,
      for: '2m',
      severity: 'warning',
      summary: `${name}: a released version fails its checksums on {{ $labels.pod }}`,
      description:
        `The sync sidecar of {{ $labels.pod }} cannot serve a version of the release: its files in S3 do not match the ` +
        'sha256 sums of its manifest. The versions that verify keep serving.',
      runbook:
        'catwalk status <spec> names the version and the reason. If the files in S3 were changed or damaged, push the ' +
        'export again as a new version and release it; until then release the previous version (catwalk rollback <spec>).',
    }),
    alert({
      alert: 'CatwalkHpaAtMaxReplicas',
      // At its maximum, with room it was given to scale (a track at a low
      // experiment weight gets min = max and sits at max all along), and
      // ScalingLimited true: the controller wanted more pods than max allows.
      expr:
        `kube_horizontalpodautoscaler_status_current_replicas${hpas}\n` +
        `>= on (namespace, horizontalpodautoscaler) kube_horizontalpodautoscaler_spec_max_replicas${hpas}\n` +
        `and on (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas${hpas}\n` +
        `  > on (namespace, horizontalpodautoscaler) kube_horizontalpodautoscaler_spec_min_replicas${hpas})\n` +
        `and on (namespace, horizontalpodautoscaler) kube_horizontalpodautoscaler_status_condition${selector([
          ...ns,
          ['horizontalpodautoscaler', '=~', workloads],
          ['condition', '=', 'ScalingLimited'],
          ['status', '=', 'true'],
        ])} == 1`,
      for: '30m',
      severity: 'warning',
      summary: `${name}: {{ $labels.horizontalpodautoscaler }} at its maximum replicas for 30 minutes`,
      description:
        `The autoscaler {{ $labels.horizontalpodautoscaler }} in {{ $labels.namespace }} has run at its maximum of ` +
        `{{ $value }} pods for 30 minutes and wants more (ScalingLimited): more load does not get more capacity, and ` +
        'latency and errors follow.',
      runbook:
        'Check the request rate against spec.traffic.expectedPeakRps. Raise spec.scaling.maxReplicas (or the CPU per pod) ' +
        'and regenerate the chart; during an experiment each track gets its weight share of maxReplicas.',
    }),
    alert({
      alert: 'CatwalkPodOOMKilled',
      expr:
        `increase(kube_pod_container_status_restarts_total${pods}[15m]) > 0\n` +
        `and on (namespace, pod, container) kube_pod_container_status_last_terminated_reason${selector([
          ...ns,
          ['pod', '=~', `(${workloads})-[a-z0-9]+-[a-z0-9]+`],
          ['reason', '=', 'OOMKilled'],
        ])} == 1`,
      for: '0s',
      severity: 'critical',
      summary: `${name}: container {{ $labels.container }} of {{ $labels.pod }} was killed out of memory`,
      description:
        `Container {{ $labels.container }} of pod {{ $labels.pod }} restarted after running out of memory. For ` +
        'tfserving this is most often a model version that needs more memory to load than the limit allows.',
      runbook:
        'Compare the memory limit with the size of the versions served (catwalk versions <spec>): loading a version ' +
        'needs about twice its size while the previous one still serves. Raise spec.resources.memory, serve fewer versions ' +
        'at once, or roll back the release that added the larger version.',
    }),
    alert({
      alert: 'CatwalkPodRestarting',
      expr: `increase(kube_pod_container_status_restarts_total${pods}[30m]) >= 3`,
      for: '0s',
      severity: 'warning',
      summary: `${name}: container {{ $labels.container }} of {{ $labels.pod }} restarted {{ $value }} times in 30 minutes`,
      description:
        `Container {{ $labels.container }} of pod {{ $labels.pod }} keeps restarting: a crash loop or failing liveness ` +
        'checks, while the pod is out of the load balancer each time.',
      runbook:
        'kubectl logs {{ $labels.pod }} -c {{ $labels.container }} --previous shows why the last run ended; kubectl ' +
        'describe pod {{ $labels.pod }} shows the last state (OOMKilled, Error) and probe failures. A startup that takes ' +
        'longer than the startup probe allows needs spec.resources.modelSizeBytes set to the real size.',
    }),
  ];

  const groups: RuleGroup[] = [
    {
      name: `catwalk.${name}.recording`,
      interval: '30s',
      rules: recordingRules.map((r) => ({ record: r.record, expr: r.expr, labels: r.labels })),
    },
    {
      name: `catwalk.${name}.alerts`,
      interval: '30s',
      rules: alerts.map((a) => ({
        alert: a.alert,
        expr: a.expr,
        for: a.for,
        labels: a.labels,
        annotations: a.annotations,
      })),
    },
  ];
  return { groups, recordingRules, alerts };
}
