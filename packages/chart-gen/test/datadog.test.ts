// The Datadog dashboard and monitors written beside each chart: bodies that
// Datadog's own typed API client reads without leftovers (every field and
// enum known to its v1 Dashboard and Monitor models), queries in the
// documented metric query syntax, metrics the pods' checks really send, and
// the same signals as the Prometheus alerts.
import { type ResolvedModel, validateSpecValue } from '@catwalk/schema';
import { generateChart } from '../src';
import { buildDatadog, datadogText } from '../src/monitoring/datadog';
import {
  DATADOG_SYNC_METRICS,
  DATADOG_SYNC_NAMESPACE,
  DATADOG_TF_SERVING_METRICS,
  DATADOG_TF_SERVING_NAMESPACE,
  datadogName,
} from '../src/monitoring/datadog-metrics';
import { buildPrometheusRule } from '../src/monitoring/rules';
import { DatadogQueryError, parseMetricQuery, parseMonitorQuery } from './support/datadog-query';
import { leftovers } from './support/datadog-schema';
import { exampleModel, exampleModels } from './support/helm';

/** Metrics the Kubernetes State Metrics Core check sends (Datadog's list for that integration). */
const KSM_METRICS = [
  'kubernetes_state.deployment.replicas_available',
  'kubernetes_state.hpa.current_replicas',
  'kubernetes_state.hpa.max_replicas',
  'kubernetes_state.hpa.min_replicas',
  'kubernetes_state.container.restarts',
  'kubernetes_state.container.status_report.count.terminated',
];

/** Every Datadog metric name the pods' checks produce, histograms as distributions (TF Serving) or not. */
const SENT = new Set([
  ...DATADOG_TF_SERVING_METRICS.flatMap((m) => [
    datadogName(DATADOG_TF_SERVING_NAMESPACE, m),
    ...(m.kind === 'histogram'
      ? [
          datadogName(DATADOG_TF_SERVING_NAMESPACE, m, 'count'),
          datadogName(DATADOG_TF_SERVING_NAMESPACE, m, 'sum'),
        ]
      : []),
  ]),
  ...DATADOG_SYNC_METRICS.map((m) => datadogName(DATADOG_SYNC_NAMESPACE, m)),
  ...KSM_METRICS,
]);

type Widget = { definition: Record<string, any> };
const allWidgets = (widgets: Widget[]): Widget[] =>
  widgets.flatMap((w) => [w, ...(w.definition.type === 'group' ? allWidgets(w.definition.widgets) : [])]);

function modelWith(spec: Record<string, unknown>): ResolvedModel {
  const result = validateSpecValue({
    apiVersion: 'catwalk/v1',
    kind: 'Model',
    metadata: { name: 'demo', team: 'search' },
    spec: { source: { uri: 's3://catwalk-models/search/demo' }, monitoring: { datadog: true }, ...spec },
  });
  return result.model!;
}

describe.each(exampleModels().map((m) => [m.name, m] as const))('%s', (name, model) => {
  const { dashboard, monitors } = buildDatadog(model);

  it("the dashboard is a v1 Dashboard body Datadog's typed client reads with nothing left over", () => {
    expect(leftovers(dashboard, 'Dashboard')).toEqual([]);
  });

  it("each monitor is a v1 Monitor body Datadog's typed client reads with nothing left over", () => {
    for (const monitor of monitors)
      expect([monitor.name, leftovers(monitor, 'Monitor')]).toEqual([monitor.name, []]);
  });

  it('every widget query is a metric query over a metric the checks send, scoped to this model', () => {
    const widgets = allWidgets(dashboard.widgets as Widget[]);
    expect(new Set(widgets.map((w) => w.definition.type))).toEqual(new Set(['note', 'group', 'timeseries']));
    for (const widget of widgets.filter((w) => w.definition.type === 'timeseries')) {
      for (const request of widget.definition.requests) {
        const names = request.queries.map((q: { name: string }) => q.name);
        for (const query of request.queries) {
          expect(query.data_source).toBe('metrics');
          const parsed = parseMetricQuery(query.query);
          expect(SENT).toContain(parsed.metric);
          expect(
            parsed.filters.some(
              (f) => f === `model:${name}` || f === `service:${name}` || f.includes(`${name},`),
            ),
          ).toBe(true);
        }
        // Formulas only name this request's queries.
        for (const { formula } of request.formulas) {
          for (const word of formula.match(/[a-z_][a-z0-9_]*/g) ?? []) expect(names).toContain(word);
        }
      }
    }
  });

  it('every monitor query parses, reads sent metrics, and states the threshold its options give', () => {
    for (const monitor of monitors) {
      const parsed = parseMonitorQuery(monitor.query);
      for (const metric of parsed.metrics) expect(SENT).toContain(metric.metric);
      expect(parsed.threshold).toBe(monitor.options.thresholds.critical);
      expect(monitor.message).toContain('Runbook:');
      expect(monitor.message).not.toContain('$labels');
      expect(monitor.tags).toEqual(expect.arrayContaining([`model:${name}`, `team:${model.team}`]));
    }
  });

  it('names and describes each monitor by the windows its query reads', () => {
    for (const monitor of monitors) {
      const parsed = parseMonitorQuery(monitor.query);
      const windows = [parsed.window, parsed.timeshift].filter(Boolean).map((w) => w!.replace(/^last_/, ''));
      const named = [
        ...`${monitor.name} ${monitor.message.split('\n\nRunbook:')[0]}`.matchAll(
          /\b(?:last |\()([0-9]+[mhd])\b/g,
        ),
      ];
      for (const [, window] of named)
        expect([monitor.name, window, windows]).toEqual([
          monitor.name,
          window,
          expect.arrayContaining([window]),
        ]);
    }
  });

  it('watches the signals of the Prometheus alerts', () => {
    const alerts = buildPrometheusRule(model).alerts.map((a) => a.alert);
    const mirrored = monitors.map((m) => /Prometheus alert ([A-Za-z0-9]+)/.exec(m.message)![1]);
    expect(mirrored.length).toBe(new Set(mirrored).size);
    expect([...mirrored].sort()).toEqual([...alerts].sort());
  });
});

describe('buildDatadog', () => {
  it('thresholds follow the spec: burn rates from the availability target, p99 in microseconds', () => {
    const { monitors } = buildDatadog(
      modelWith({ monitoring: { datadog: true, slo: { availability: 99.5, p99LatencyMs: 250 } } }),
    );
    const query = (alert: string) =>
      monitors.find((m) => m.message.includes(`Prometheus alert ${alert};`))!.query;
    expect(query('CatwalkErrorBudgetBurnFast')).toMatch(/^sum\(last_1h\):.* > 0\.072$/);
    expect(query('CatwalkErrorBudgetBurnSustained')).toMatch(/^sum\(last_6h\):.* > 0\.03$/);
    expect(query('CatwalkErrorBudgetBurnSlow')).toMatch(/^sum\(last_1d\):.* > 0\.015$/);
    expect(query('CatwalkLatencyP99High')).toBe(
      'avg(last_10m):p99:tfserving.request_latency{model:demo} by {kube_namespace,track} > 250000',
    );
    expect(query('CatwalkErrorBudgetBurnFast')).toContain(
      'status IN (unknown,deadline_exceeded,resource_exhausted,aborted,unimplemented,internal,unavailable,data_loss)',
    );
  });

  it('the stale-sync monitor waits as many polls as the Prometheus alert', () => {
    const query = (pollSeconds: number) =>
      buildDatadog(modelWith({ serving: { pollSeconds } })).monitors.find((m) =>
        m.message.includes('Prometheus alert CatwalkSyncStale;'),
      )!.query;
    expect(query(10)).toContain('change(max(last_5m),last_5m)');
    expect(query(60)).toContain('change(max(last_5m),last_10m)');
  });

  it('the HPA monitor triggers at the maximum only for an HPA with room to scale (not a canary pinned at min = max)', () => {
    const { query } = buildDatadog(exampleModel('pricing')).monitors.find((m) =>
      m.message.includes('Prometheus alert CatwalkHpaAtMaxReplicas;'),
    )!;
    const parsed = parseMonitorQuery(query);
    const triggers = (values: Record<string, number>) => {
      // Each metric query stands for its value; the rest is arithmetic.
      const body = query.slice(query.indexOf('):') + 2);
      const expression = body.replace(
        /[a-z0-9_]+:kubernetes_state\.hpa\.([a-z_]+)\{[^}]*\} by \{[^}]*\}/g,
        (_, m) => {
          if (!(m in values)) throw new Error(`no value for ${m}`);
          return String(values[m]);
        },
      );
      return Function(`return (${expression.replace(/ (>=|<=|>|<) (-?[0-9.]+)$/, ') $1 $2')}`)() as boolean;
    };
    expect(parsed.metrics.map((m) => m.metric)).toContain('kubernetes_state.hpa.min_replicas');
    expect(triggers({ current_replicas: 8, min_replicas: 2, max_replicas: 8 })).toBe(true);
    expect(triggers({ current_replicas: 7, min_replicas: 2, max_replicas: 8 })).toBe(false);
    expect(triggers({ current_replicas: 2, min_replicas: 2, max_replicas: 2 })).toBe(false);
    expect(triggers({ current_replicas: 1, min_replicas: 1, max_replicas: 1 })).toBe(false);
  });

  it("turns Prometheus' template actions into Datadog's message variables", () => {
    expect(datadogText('pod {{ $labels.pod }} in {{ $labels.namespace }} at {{ $value | humanize }}')).toBe(
      'pod {{pod_name.name}} in {{kube_namespace.name}} at {{value}}',
    );
    expect(() => datadogText('{{ $labels.le }}')).toThrow(/le/);
  });

  it('is written beside the chart for models with Datadog on, and left out of the chart package', () => {
    const paths = (m: ResolvedModel) => generateChart(m).map((f) => f.path);
    expect(paths(exampleModel('pricing'))).toEqual(
      expect.arrayContaining(['datadog/dashboard.json', 'datadog/monitors.json']),
    );
    expect(paths(exampleModel('image-tagger')).filter((p) => p.startsWith('datadog/'))).toEqual([]);
    const helmignore = generateChart(exampleModel('pricing')).find((f) => f.path === '.helmignore')!.contents;
    expect(helmignore).toMatch(/^datadog\/$/m);
  });
});

describe('the API schema check', () => {
  const { dashboard, monitors } = buildDatadog(exampleModel('pricing'));

  it('finds a field the API does not have, a widget of no known type, a bad enum value and a missing query', () => {
    const widgets = dashboard.widgets as Widget[];
    expect(leftovers({ ...dashboard, refresh: '30s' }, 'Dashboard')).toEqual([
      'Dashboard: unknown fields refresh',
    ]);
    expect(
      leftovers({ ...dashboard, widgets: [{ definition: { type: 'graph', title: 'x' } }] }, 'Dashboard'),
    ).toEqual([expect.stringMatching(/^Dashboard\.widgets\[0\]\.definition: matches no type the API knows/)]);
    expect(leftovers({ ...dashboard, layout_type: 'grid' }, 'Dashboard')).toEqual([
      expect.stringMatching(/^Dashboard\.layoutType: matches no type/),
    ]);
    expect(widgets.length).toBeGreaterThan(0);
    const { query: _, ...noQuery } = monitors[0]!;
    expect(leftovers(noQuery, 'Monitor')).toEqual([
      expect.stringContaining("missing required property 'query'"),
    ]);
    expect(leftovers({ ...monitors[0]!, type: 'prometheus alert' }, 'Monitor')).toEqual([
      expect.stringMatching(/^Monitor\.type: matches no type/),
    ]);
  });
});

describe('the query checker', () => {
  it.each([
    'avg(last_5m):avg:system.cpu.user{*} > 2',
    'sum(last_1h):sum:a.b{model:x,status IN (internal,unknown)} by {kube_namespace}.as_count() / sum:a.b{model:x} by {kube_namespace}.as_count() > 0.0144',
    'change(max(last_5m),last_10m):max:a.b{model:x} by {pod_name} <= 0',
    'min(last_30m):( max:a.b{model:x} by {h} - max:a.c{model:x} by {h} + 1 ) * ( max:a.c{model:x} by {h} - max:a.d{model:x} by {h} ) >= 1',
  ])('accepts %s', (q) => expect(() => parseMonitorQuery(q)).not.toThrow());

  it.each([
    ['avg(last_5):avg:a{*} > 1', /time window/],
    ['avg(last_200h):avg:a{*} > 1', /out of range/],
    ['median(last_5m):avg:a{*} > 1', /time aggregator/],
    ['avg(last_5m):avg:a{model=x} > 1', /tag filter/],
    ['avg(last_5m):avg:a{*}', /operator #/],
    ['avg(last_5m):top:a{*} > 1', /space aggregator/],
    ['avg(last_5m):( avg:a{*} - 1 > 1', /parenthes/],
  ])('refuses %s', (q, message) => {
    expect(() => parseMonitorQuery(q)).toThrow(DatadogQueryError);
    expect(() => parseMonitorQuery(q)).toThrow(message);
  });
});
