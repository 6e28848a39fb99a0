// The recording rules and alerts generated for a model: thresholds from its
// spec, every series selected for this model only, texts for whoever is paged,
// and PromQL that parses (promtool checks and unit-tests them in
// test/cluster/promtool.test.ts).
import { type ResolvedModel, validateSpecValue } from '@catwalk/schema';
import {
  BURN_RATE_WINDOWS,
  buildPrometheusRule,
  errorBudget,
  promDuration,
  SLO_WINDOWS,
} from '../src/monitoring/rules';
import { promqlErrors } from './support/dashboard-promql';
import { exampleModels } from './support/helm';

function modelWith(spec: Record<string, unknown> = {}, name = 'demo'): ResolvedModel {
  const result = validateSpecValue({
    apiVersion: 'catwalk/v1',
    kind: 'Model',
    metadata: { name, team: 'search' },
    spec: { source: { uri: `s3://catwalk-models/search/${name}` }, ...spec },
  });
  if (!result.model) throw new Error(JSON.stringify(result.diagnostics));
  return result.model;
}

const alertNamed = (model: ResolvedModel, name: string) => {
  const alert = buildPrometheusRule(model).alerts.find((a) => a.alert === name);
  if (!alert) throw new Error(`no alert ${name}`);
  return alert;
};

/** Every `metric{matchers}` in an expression. */
function selectors(expr: string): Array<{ metric: string; matchers: string }> {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)].map((m) => ({
    metric: m[1]!,
    matchers: m[2]!,
  }));
}

describe('buildPrometheusRule', () => {
  const models = exampleModels();

  it.each(models.map((m) => [m.name, m]))('%s: every expression parses as PromQL', (_, model) => {
    const { recordingRules, alerts } = buildPrometheusRule(model);
    for (const rule of [...recordingRules, ...alerts])
      expect([rule.expr, promqlErrors(rule.expr)]).toEqual([rule.expr, []]);
  });

  it.each(models.map((m) => [m.name, m]))(
    '%s: each alert is labelled with severity, model and team and explains itself',
    (_, model) => {
      const { alerts } = buildPrometheusRule(model);
      expect(alerts.length).toBeGreaterThanOrEqual(11);
      expect(new Set(alerts.map((a) => a.alert)).size).toBe(alerts.length);
      for (const alert of alerts) {
        expect(alert.labels).toEqual({ severity: alert.severity, model: model.name, team: model.team });
        expect(['critical', 'warning']).toContain(alert.severity);
        for (const text of [alert.summary, alert.description, alert.runbook])
          expect(text.length).toBeGreaterThan(20);
        expect(alert.annotations).toEqual({
          summary: alert.summary,
          description: alert.description,
          runbook: alert.runbook,
        });
        expect(alert.for).toMatch(/^[0-9]+[smh]$/);
      }
    },
  );

  it.each(models.map((m) => [m.name, m]))('%s: every series is selected for this model only', (_, model) => {
    const { recordingRules, alerts } = buildPrometheusRule(model);
    for (const rule of [...recordingRules, ...alerts]) {
      const found = selectors(rule.expr);
      expect(found.length).toBeGreaterThan(0);
      for (const { metric, matchers } of found) {
        if (metric.startsWith(':tensorflow:')) expect(matchers).toContain(`model_name="${model.name}"`);
        else if (metric.startsWith('catwalk_sync_'))
          expect(matchers).toContain(`catwalk_dev_model="${model.name}"`);
        else if (metric.startsWith('catwalk:')) expect(matchers).toContain(`model="${model.name}"`);
        else if (metric.startsWith('kube_'))
          expect(matchers).toMatch(/(pod|deployment|horizontalpodautoscaler)=~"/);
        else throw new Error(`unexpected metric ${metric} in ${rule.expr}`);
      }
    }
    // No metric read without a selector: every name is followed by one.
    for (const rule of [...recordingRules, ...alerts]) {
      const bare = rule.expr.match(/(:tensorflow:[a-z_:]+|catwalk_sync_[a-z_]+|kube_[a-z_]+)(?![a-z_:{])/g);
      expect(bare).toBeNull();
    }
  });

  it('records what the alerts and dashboards read, each labelled with the model', () => {
    const model = modelWith();
    const { recordingRules, alerts, groups } = buildPrometheusRule(model);
    const records = recordingRules.map((r) => r.record);
    for (const window of SLO_WINDOWS)
      expect(records).toContain(`catwalk:slo_request_errors:ratio_rate${window}`);
    for (const rule of recordingRules) expect(rule.labels).toEqual({ model: 'demo' });
    // Every recorded series an alert reads exists.
    for (const alert of alerts) {
      for (const { metric } of selectors(alert.expr).filter((s) => s.metric.startsWith('catwalk:'))) {
        expect(records).toContain(metric);
      }
    }
    expect(groups.map((g) => [g.name, g.rules.length])).toEqual([
      ['catwalk.demo.recording', recordingRules.length],
      ['catwalk.demo.alerts', alerts.length],
    ]);
  });

  it.each([
    [
      99.9,
      {
        CatwalkErrorBudgetBurnFast: '0.0144',
        CatwalkErrorBudgetBurnSustained: '0.006',
        CatwalkErrorBudgetBurnSlow: '0.003',
      },
    ],
    [
      99.5,
      {
        CatwalkErrorBudgetBurnFast: '0.072',
        CatwalkErrorBudgetBurnSustained: '0.03',
        CatwalkErrorBudgetBurnSlow: '0.015',
      },
    ],
  ])(
    'availability %s%%: each burn-rate alert needs its long and its short window over factor x budget',
    (availability, thresholds) => {
      const model = modelWith({ monitoring: { slo: { availability } } });
      for (const w of BURN_RATE_WINDOWS) {
        const alert = alertNamed(model, w.alert);
        const threshold = thresholds[w.alert];
        expect(alert.expr).toBe(
          `catwalk:slo_request_errors:ratio_rate${w.long}{model="demo"} > ${threshold}\n` +
            `and catwalk:slo_request_errors:ratio_rate${w.short}{model="demo"} > ${threshold}`,
        );
      }
      expect(errorBudget(availability)).toBe(Number(((100 - availability) / 100).toFixed(6)));
    },
  );

  it('counts only server-side gRPC codes against the availability target', () => {
    const ratio = buildPrometheusRule(modelWith()).recordingRules.find(
      (r) => r.record === 'catwalk:slo_request_errors:ratio_rate5m',
    )!;
    const codes = /status=~"([^"]+)"/.exec(ratio.expr)![1]!.split('|');
    expect(codes).toEqual(
      expect.arrayContaining(['INTERNAL', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED']),
    );
    for (const callerFault of ['OK', 'INVALID_ARGUMENT', 'NOT_FOUND', 'FAILED_PRECONDITION']) {
      expect(codes).not.toContain(callerFault);
    }
    // No request failed yet is a ratio of 0, not no data.
    expect(ratio.expr).toContain('* 0)');
  });

  it('compares the p99 in seconds with the target, TF Serving recording microseconds', () => {
    const model = modelWith({ monitoring: { slo: { p99LatencyMs: 250 } } });
    expect(alertNamed(model, 'CatwalkLatencyP99High').expr).toBe(
      'catwalk:tfserving_request_latency_seconds:p99_rate5m{model="demo"} > 0.25',
    );
    const p99 = buildPrometheusRule(model).recordingRules.find(
      (r) => r.record === 'catwalk:tfserving_request_latency_seconds:p99_rate5m',
    )!;
    expect(p99.expr).toBe(
      'histogram_quantile(0.99, sum by (namespace, catwalk_dev_track, le) ' +
        '(rate(:tensorflow:serving:request_latency_bucket{model_name="demo"}[5m]))) / 1e6',
    );
  });

  it.each([
    [10, '300', '1m', '5m'],
    [60, '600', '3m', '10m'],
  ])(
    'polls every %s s: stale after %s s, disagreement after %s, lagging pods after %s',
    (pollSeconds, stale, disagree, behind) => {
      const model = modelWith({ serving: { pollSeconds } });
      expect(alertNamed(model, 'CatwalkSyncStale').expr).toBe(
        `time() - catwalk_sync_last_success_timestamp_seconds{catwalk_dev_model="demo"} > ${stale}`,
      );
      expect(alertNamed(model, 'CatwalkPodsDisagreeOnRelease').for).toBe(disagree);
      expect(alertNamed(model, 'CatwalkReleaseNotApplied').for).toBe(behind);
    },
  );

  it.each([2, 5, 7, 10, 60, 600])(
    'at %i s per poll, the stale and disagree texts state the time and the polls the expressions wait',
    (pollSeconds) => {
      const model = modelWith({ serving: { pollSeconds } });
      const seconds = (duration: string) => {
        const [, n, unit] = /^([0-9]+)([smh])$/.exec(duration)!;
        return Number(n) * { s: 1, m: 60, h: 3600 }[unit as 's' | 'm' | 'h'];
      };
      const stale = alertNamed(model, 'CatwalkSyncStale');
      const staleSeconds = Number(/ > ([0-9]+)$/.exec(stale.expr)![1]);
      const staleText =
        /is over ([0-9]+[smh]) old \(([0-9]+) full polls at ([0-9]+) s per poll; the alert waits at least ([0-9]+) polls and at least ([0-9]+[smh])\)/.exec(
          stale.description,
        );
      expect(staleText).not.toBeNull();
      const [, age, polls, poll, minPolls, minAge] = staleText!;
      expect(seconds(age!)).toBe(staleSeconds);
      expect(Number(poll)).toBe(pollSeconds);
      expect(Number(polls)).toBe(Math.floor(staleSeconds / pollSeconds));
      expect(staleSeconds).toBe(Math.max(Number(minPolls) * pollSeconds, seconds(minAge!)));
      expect(stale.summary).toContain(`no good sync for ${age}`);

      const disagree = alertNamed(model, 'CatwalkPodsDisagreeOnRelease');
      const disagreeText =
        /^For over ([0-9]+[smh]) \(([0-9]+) full polls at ([0-9]+) s per poll; the alert waits at least ([0-9]+) polls and at least ([0-9]+[smh])\)/.exec(
          disagree.description,
        );
      expect(disagreeText).not.toBeNull();
      const [, window, dPolls, dPoll, dMinPolls, dMinWindow] = disagreeText!;
      expect(window).toBe(disagree.for);
      expect(Number(dPoll)).toBe(pollSeconds);
      expect(Number(dPolls)).toBe(Math.floor(seconds(window!) / pollSeconds));
      expect(seconds(window!)).toBe(Math.max(Number(dMinPolls) * pollSeconds, seconds(dMinWindow!)));
    },
  );

  it('selects the namespace and the workloads it is given (the chart passes the release)', () => {
    const { recordingRules, alerts } = buildPrometheusRule(modelWith(), {
      namespace: 'ml',
      workload: 'prod-demo',
      canaryWorkload: 'prod-demo-canary',
    });
    for (const rule of [...recordingRules, ...alerts]) {
      for (const { matchers } of selectors(rule.expr)) expect(matchers).toContain('namespace="ml"');
    }
    expect(alertNamed(modelWith(), 'CatwalkHpaAtMaxReplicas').expr).toContain(
      'horizontalpodautoscaler=~"demo|demo-canary"',
    );
    const restarts = alerts.find((a) => a.alert === 'CatwalkPodRestarting')!;
    expect(restarts.expr).toContain('pod=~"(prod-demo|prod-demo-canary)-[a-z0-9]+-[a-z0-9]+"');
  });

  it('writes Prometheus durations', () => {
    expect([60, 90, 300, 3600, 7200, 5400].map(promDuration)).toEqual(['1m', '90s', '5m', '1h', '2h', '90m']);
  });
});
