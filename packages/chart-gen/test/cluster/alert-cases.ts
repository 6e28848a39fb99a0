// Synthetic series that make each generated alert fire, and series just on
// the other side of its threshold (or of its `for`) that must leave it quiet,
// written as promtool's unit-test cases. Thresholds are derived from the model
// the same way the rules derive theirs, so a wrong rule fails here rather than
// a case written to match it.
import type { ResolvedModel } from '@catwalk/schema';
import { BURN_RATE_WINDOWS, DISAGREE_POLLS, errorBudget, SYNC_STALE_POLLS } from '../../src/monitoring/rules';

/** Seconds between samples and between rule evaluations in every case. */
export const STEP_SECONDS = 30;
export const NAMESPACE = 'ml';

export interface Series {
  readonly series: string;
  readonly values: string;
}

export interface AlertCase {
  readonly name: string;
  /** Seconds between samples and between rule evaluations. @default STEP_SECONDS */
  readonly stepSeconds?: number;
  readonly input: readonly Series[];
  /** Minutes after the first sample. */
  readonly evalMinutes: number;
  /** Labels of each expected alert, besides alertname; empty: the alert must not fire. */
  readonly expected: ReadonlyArray<Record<string, string>>;
}

const seriesText = (metric: string, labels: Record<string, string>) =>
  `${metric}{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;

/** promtool's expanding notation: `start`, then +`step` for `count` more samples. */
const ramp = (start: number, step: number, count: number) => `${start}+${step}x${count}`;
const steps = (minutes: number, step = STEP_SECONDS) => Math.ceil((minutes * 60) / step);

const durationMinutes = (d: string) => {
  const match = /^([0-9]+)([smhd])$/.exec(d);
  if (!match) throw new Error(`not a duration: ${d}`);
  return Number(match[1]) * { s: 1 / 60, m: 1, h: 60, d: 1440 }[match[2] as 's' | 'm' | 'h' | 'd'];
};

/** Every alert's cases: at least one that fires and one that must not. */
export function alertCases(
  model: ResolvedModel,
  /** The sidecars' poll interval the chart was installed with (sync.intervalSeconds). @default the spec's */
  installed: { readonly pollSeconds?: number } = {},
): Record<string, { fire: AlertCase[]; quiet: AlertCase[] }> {
  const name = model.name;
  const main = name;
  const canary = `${name}-canary`;
  const pod = (track: string, n: number) => `${track === 'canary' ? canary : main}-5d8f7c9b4-pod${n}`;
  const alertLabels = { severity: '', model: name, team: model.team };
  const labels = (severity: string, extra: Record<string, string>) => ({
    ...alertLabels,
    severity,
    ...extra,
  });
  const tfLabels = (status: string) => ({
    namespace: NAMESPACE,
    pod: pod('main', 1),
    catwalk_dev_model: name,
    catwalk_dev_track: 'main',
    model_name: name,
    status,
  });
  const syncLabels = (track: string, n: number) => ({
    namespace: NAMESPACE,
    pod: pod(track, n),
    catwalk_dev_model: name,
    catwalk_dev_track: track,
  });
  const requests = ':tensorflow:serving:request_count';
  const cases: Record<string, { fire: AlertCase[]; quiet: AlertCase[] }> = {};

  // Availability: server errors as a share of all requests, per window pair.
  const budget = errorBudget(model.monitoring.slo.availability);
  const perStep = 100_000;
  for (const w of BURN_RATE_WINDOWS) {
    const threshold = w.factor * budget;
    // Long windows need no 30 s samples: a tenth of the short window per step keeps promtool quick.
    const step = Math.min(600, Math.max(STEP_SECONDS, (durationMinutes(w.short) * 60) / 10));
    const minutes = durationMinutes(w.long) + durationMinutes(w.for) + 10;
    const count = steps(minutes, step);
    const traffic = (errorShare: number) => {
      const errors = Math.round(perStep * errorShare);
      // The caller's own mistakes count as requests, never against the target.
      const invalid = perStep / 10;
      return [
        { series: seriesText(requests, tfLabels('OK')), values: ramp(0, perStep - errors - invalid, count) },
        { series: seriesText(requests, tfLabels('INTERNAL')), values: ramp(0, errors, count) },
        { series: seriesText(requests, tfLabels('INVALID_ARGUMENT')), values: ramp(0, invalid, count) },
      ];
    };
    const fired = labels(w.severity, { namespace: NAMESPACE });
    const longSteps = steps(durationMinutes(w.long), step);
    const afterSteps = steps(durationMinutes(w.short) * 2, step);
    const errors = Math.round(perStep * threshold * 1.5);
    cases[w.alert] = {
      fire: [
        {
          name: `${w.factor}x the budget over ${w.long}`,
          stepSeconds: step,
          input: traffic(threshold * 1.5),
          evalMinutes: minutes,
          expected: [fired],
        },
      ],
      quiet: [
        {
          name: 'just under the burn rate',
          stepSeconds: step,
          input: traffic(threshold * 0.7),
          evalMinutes: minutes,
          expected: [],
        },
        {
          // The long window still remembers the outage; the short one shows it is over.
          name: `errors stopped a short window (${w.short}) ago`,
          stepSeconds: step,
          input: [
            {
              series: seriesText(requests, tfLabels('OK')),
              values: `${ramp(0, perStep - errors, longSteps)} ${ramp((perStep - errors) * longSteps + perStep, perStep, afterSteps - 1)}`,
            },
            {
              series: seriesText(requests, tfLabels('INTERNAL')),
              values: `${ramp(0, errors, longSteps)} ${ramp(errors * longSteps, 0, afterSteps - 1)}`,
            },
          ],
          evalMinutes: durationMinutes(w.long) + durationMinutes(w.short) * 1.5,
          expected: [],
        },
      ],
    };
  }

  // p99 latency: TF Serving's histogram in microseconds, around the target.
  const targetMicros = model.monitoring.slo.p99LatencyMs * 1000;
  const latency = (fast: number | string, total: number) => {
    const bucket = (le: string, count: number | string) => ({
      series: seriesText(':tensorflow:serving:request_latency_bucket', {
        namespace: NAMESPACE,
        pod: pod('main', 1),
        catwalk_dev_track: 'main',
        model_name: name,
        API: 'predict',
        entrypoint: 'REST',
        le,
      }),
      values: typeof count === 'string' ? count : ramp(0, count, steps(20)),
    });
    return [
      bucket(String(targetMicros / 2), fast),
      bucket(String(targetMicros * 4), total),
      bucket('+Inf', total),
    ];
  };
  cases.CatwalkLatencyP99High = {
    fire: [
      {
        name: 'every request slower than half the target, most over it',
        input: latency(0, 1000),
        evalMinutes: 18,
        expected: [labels('warning', { namespace: NAMESPACE, catwalk_dev_track: 'main' })],
      },
    ],
    quiet: [
      { name: '99.5% under half the target', input: latency(995, 1000), evalMinutes: 18, expected: [] },
      {
        name: 'slow for less than 10 minutes',
        // Fast for 8 minutes, then every request slow.
        input: latency(`${ramp(0, 995, steps(8))} ${ramp(995 * steps(8), 0, steps(12) - 1)}`, 1000),
        evalMinutes: 15,
        expected: [],
      },
    ],
  };

  // No available pod in a Deployment that wants some.
  const deployments = (available: Record<string, number>) =>
    Object.entries(available).flatMap(([deployment, count]) => [
      {
        series: seriesText('kube_deployment_status_replicas_available', { namespace: NAMESPACE, deployment }),
        values: `${count}x${steps(12)}`,
      },
      {
        series: seriesText('kube_deployment_spec_replicas', { namespace: NAMESPACE, deployment }),
        values: `2x${steps(12)}`,
      },
    ]);
  cases.CatwalkNoVersionAvailable = {
    fire: [
      {
        name: 'the canary has no available pod',
        input: deployments({ [main]: 2, [canary]: 0 }),
        evalMinutes: 10,
        expected: [labels('critical', { namespace: NAMESPACE, deployment: canary })],
      },
    ],
    quiet: [
      {
        name: 'one pod available; another release has none',
        input: deployments({ [main]: 1, [`${name}-other`]: 0 }),
        evalMinutes: 10,
        expected: [],
      },
    ],
  };

  // Release generations the sidecars applied.
  const poll = installed.pollSeconds ?? model.serving.pollSeconds;
  const disagreeMinutes = Math.max(DISAGREE_POLLS * poll, 60) / 60;
  const behindMinutes = Math.max(SYNC_STALE_POLLS * poll, 300) / 60;
  const generations = (
    pods: ReadonlyArray<[track: string, n: number, generation: number]>,
    minutes: number,
  ) =>
    pods.map(([track, n, generation]) => ({
      series: seriesText('catwalk_sync_release_generation', syncLabels(track, n)),
      values: `${generation}x${steps(minutes)}`,
    }));
  const disagreeEval = disagreeMinutes + 3;
  cases.CatwalkPodsDisagreeOnRelease = {
    fire: [
      {
        name: 'two main pods on different generations',
        input: generations(
          [
            ['main', 1, 5],
            ['main', 2, 4],
          ],
          disagreeEval + 2,
        ),
        evalMinutes: disagreeEval,
        expected: [labels('warning', { namespace: NAMESPACE, catwalk_dev_track: 'main' })],
      },
    ],
    quiet: [
      {
        name: 'each track agrees within itself',
        input: generations(
          [
            ['main', 1, 5],
            ['main', 2, 5],
            ['canary', 1, 4],
          ],
          disagreeEval + 2,
        ),
        evalMinutes: disagreeEval,
        expected: [],
      },
      {
        name: `a pod one generation behind for less than ${DISAGREE_POLLS} polls of ${poll} s`,
        input: [
          {
            series: seriesText('catwalk_sync_release_generation', syncLabels('main', 1)),
            values: `4x${steps(5) - 1} 5x${steps(disagreeMinutes + 2)}`,
          },
          {
            series: seriesText('catwalk_sync_release_generation', syncLabels('main', 2)),
            values: `4x${steps(disagreeMinutes + 8)}`,
          },
        ],
        evalMinutes: 5 + disagreeMinutes - 0.5,
        expected: [],
      },
    ],
  };
  const behindEval = behindMinutes + 3;
  cases.CatwalkReleaseNotApplied = {
    fire: [
      {
        name: 'a canary pod two generations behind',
        input: generations(
          [
            ['main', 1, 6],
            ['canary', 1, 4],
          ],
          behindEval + 2,
        ),
        evalMinutes: behindEval,
        expected: [labels('warning', syncLabels('canary', 1))],
      },
    ],
    quiet: [
      {
        name: 'every pod on the same generation',
        input: generations(
          [
            ['main', 1, 6],
            ['canary', 1, 6],
          ],
          behindEval + 2,
        ),
        evalMinutes: behindEval,
        expected: [],
      },
    ],
  };

  // The sidecar's last good sync, as a Unix time.
  const staleSeconds = Math.max(SYNC_STALE_POLLS * poll, 300);
  const staleEval = staleSeconds / 60 + 3;
  /** A sample time after staleEval, as long after a sync as the steps allow. */
  const lateInPoll =
    Math.ceil((Math.ceil((staleEval * 60) / poll) * poll + Math.max(poll - STEP_SECONDS, 0)) / STEP_SECONDS) *
    STEP_SECONDS;
  const lastSuccess = (advancing: boolean) => [
    {
      series: seriesText('catwalk_sync_last_success_timestamp_seconds', syncLabels('main', 1)),
      // Samples start at Unix time 0: a sidecar syncing every step reports the time of each.
      values: advancing ? ramp(0, STEP_SECONDS, steps(staleEval + 2)) : `0x${steps(staleEval + 2)}`,
    },
  ];
  cases.CatwalkSyncStale = {
    fire: [
      {
        name: `no good sync for ${staleSeconds} s`,
        input: lastSuccess(false),
        evalMinutes: staleEval,
        expected: [labels('warning', syncLabels('main', 1))],
      },
    ],
    quiet: [
      { name: 'a good sync every poll', input: lastSuccess(true), evalMinutes: staleEval, expected: [] },
      {
        // Late in a poll: the last good sync is almost one poll old, as it is
        // just before every sync when polls are longer than a sample step.
        name: `a good sync every ${poll} s, looked at just before the next`,
        input: [
          {
            series: seriesText('catwalk_sync_last_success_timestamp_seconds', syncLabels('main', 1)),
            values: Array.from(
              { length: steps(lateInPoll / 60 + 2) + 1 },
              (_, i) => Math.floor((i * STEP_SECONDS) / poll) * poll,
            ).join(' '),
          },
        ],
        evalMinutes: lateInPoll / 60,
        expected: [],
      },
    ],
  };

  const sync = (failed: number, checksumErrorsPerStep: number, networkErrorsPerStep: number) => [
    {
      series: seriesText('catwalk_sync_versions_failed', syncLabels('main', 1)),
      values: `${failed}x${steps(12)}`,
    },
    {
      series: seriesText('catwalk_sync_errors_total', {
        ...syncLabels('main', 1),
        kind: 'ChecksumMismatchError',
      }),
      values: ramp(3, checksumErrorsPerStep, steps(12)),
    },
    {
      series: seriesText('catwalk_sync_errors_total', { ...syncLabels('main', 1), kind: 'network' }),
      values: ramp(0, networkErrorsPerStep, steps(12)),
    },
  ];
  const checksumFired = labels('warning', { namespace: NAMESPACE, pod: pod('main', 1) });
  cases.CatwalkSyncChecksumFailures = {
    fire: [
      {
        name: 'a released version fails verification',
        input: sync(1, 0, 0),
        evalMinutes: 8,
        expected: [checksumFired],
      },
      {
        name: 'checksum mismatches keep coming',
        input: sync(0, 1, 0),
        evalMinutes: 8,
        expected: [checksumFired],
      },
    ],
    quiet: [
      {
        name: 'network errors only, old mismatches long gone',
        input: sync(0, 0, 5),
        evalMinutes: 8,
        expected: [],
      },
    ],
  };

  /**
   * One HPA's series as kube-state-metrics v2 exports them. `limited`: the
   * ScalingLimited condition is true (the controller wanted more than max).
   */
  const hpaSeries = (
    horizontalpodautoscaler: string,
    bounds: { current: number; min: number; max: number; limited: boolean },
  ) => {
    const hpaLabels = { namespace: NAMESPACE, horizontalpodautoscaler };
    const flat = (value: number) => `${value}x${steps(40)}`;
    return [
      {
        series: seriesText('kube_horizontalpodautoscaler_status_current_replicas', hpaLabels),
        values: flat(bounds.current),
      },
      {
        series: seriesText('kube_horizontalpodautoscaler_spec_min_replicas', hpaLabels),
        values: flat(bounds.min),
      },
      {
        series: seriesText('kube_horizontalpodautoscaler_spec_max_replicas', hpaLabels),
        values: flat(bounds.max),
      },
      ...(['true', 'false', 'unknown'] as const).map((status) => ({
        series: seriesText('kube_horizontalpodautoscaler_status_condition', {
          ...hpaLabels,
          condition: 'ScalingLimited',
          status,
        }),
        values: flat((status === 'true') === bounds.limited && status !== 'unknown' ? 1 : 0),
      })),
    ];
  };
  const hpa = (current: number, limited = current >= 8) => [
    ...hpaSeries(main, { current, min: 2, max: 8, limited }),
    ...hpaSeries(canary, { current: 1, min: 1, max: 2, limited: false }),
  ];
  cases.CatwalkHpaAtMaxReplicas = {
    fire: [
      {
        name: 'at 8 of 8 for over 30 minutes, wanting more',
        input: hpa(8),
        evalMinutes: 35,
        expected: [labels('warning', { namespace: NAMESPACE, horizontalpodautoscaler: main })],
      },
    ],
    quiet: [
      { name: 'at 7 of 8', input: hpa(7), evalMinutes: 35, expected: [] },
      { name: 'at 8 of 8 for 20 minutes', input: hpa(8), evalMinutes: 20, expected: [] },
      {
        name: 'at 8 of 8 with just enough (not limited)',
        input: hpa(8, false),
        evalMinutes: 35,
        expected: [],
      },
      {
        // At a low weight the chart pins the canary's bounds (min = max = 2 at
        // weight 10 of 10 replicas, 1 and 1 at weight 0): at its maximum all along.
        name: 'a canary at weight 10 with min = max = 2 and the main track below its maximum',
        input: [
          ...hpaSeries(main, { current: 5, min: 2, max: 8, limited: false }),
          ...hpaSeries(canary, { current: 2, min: 2, max: 2, limited: true }),
        ],
        evalMinutes: 35,
        expected: [],
      },
      {
        name: 'a canary at weight 0 with min = max = 1',
        input: [
          ...hpaSeries(main, { current: 5, min: 2, max: 8, limited: false }),
          ...hpaSeries(canary, { current: 1, min: 1, max: 1, limited: true }),
        ],
        evalMinutes: 35,
        expected: [],
      },
    ],
  };

  const restarts = (values: string, reason: string) => {
    const container = { namespace: NAMESPACE, pod: pod('main', 1), container: 'tfserving' };
    return [
      { series: seriesText('kube_pod_container_status_restarts_total', container), values },
      {
        series: seriesText('kube_pod_container_status_last_terminated_reason', { ...container, reason }),
        values: `1x${steps(40)}`,
      },
    ];
  };
  const restartedOnce = `0x${steps(5)} 1x${steps(35)}`;
  const restartedThrice = `0x${steps(5)} 1x${steps(5)} 2x${steps(5)} 3x${steps(25)}`;
  const podLabels = { namespace: NAMESPACE, pod: pod('main', 1), container: 'tfserving' };
  cases.CatwalkPodOOMKilled = {
    fire: [
      {
        name: 'restarted after running out of memory',
        input: restarts(restartedOnce, 'OOMKilled'),
        evalMinutes: 8,
        expected: [labels('critical', podLabels)],
      },
    ],
    quiet: [
      {
        name: 'restarted after an error',
        input: restarts(restartedOnce, 'Error'),
        evalMinutes: 8,
        expected: [],
      },
    ],
  };
  cases.CatwalkPodRestarting = {
    fire: [
      {
        name: 'three restarts in 30 minutes',
        input: restarts(restartedThrice, 'Error'),
        evalMinutes: 25,
        expected: [labels('warning', podLabels)],
      },
    ],
    quiet: [{ name: 'one restart', input: restarts(restartedOnce, 'Error'), evalMinutes: 25, expected: [] }],
  };

  return cases;
}

/** A promtool unit-test file (as an object) for one alert's cases. */
export function promtoolTestFile(
  ruleFile: string,
  alert: string,
  all: { fire: AlertCase[]; quiet: AlertCase[] },
  groupOrder: readonly string[],
) {
  const cases = [...all.fire, ...all.quiet];
  // One evaluation interval per file: every case of an alert shares its step.
  const step = cases[0]?.stepSeconds ?? STEP_SECONDS;
  if (cases.some((c) => (c.stepSeconds ?? STEP_SECONDS) !== step))
    throw new Error(`${alert}: cases differ in step`);
  const tests = cases.map((c) => ({
    name: `${alert}: ${c.name}`,
    interval: `${step}s`,
    input_series: c.input,
    alert_rule_test: [
      {
        eval_time: `${Math.round(c.evalMinutes * 60)}s`,
        alertname: alert,
        exp_alerts: c.expected.map((exp_labels) => ({ exp_labels })),
      },
    ],
  }));
  // promtool evaluates groups in no fixed order unless told: recordings first, as a server settles to.
  return { rule_files: [ruleFile], evaluation_interval: `${step}s`, group_eval_order: groupOrder, tests };
}
