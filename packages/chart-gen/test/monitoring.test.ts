// Alerts and dashboards in the chart: the PrometheusRule (switchable, labelled
// for the Operator's ruleSelector, bound to the release's namespace and
// workloads), the files it is rendered from, and Datadog checks that name
// every metric they collect.
import { parseAllDocuments } from 'yaml';
import { createMetrics } from '../../registry/src/sidecar';
import { generateChart } from '../src';
import { buildDashboard } from '../src/monitoring/dashboard';
import { DATADOG_SYNC_METRICS, DATADOG_TF_SERVING_METRICS } from '../src/monitoring/datadog-metrics';
import { buildPrometheusRule } from '../src/monitoring/rules';
import { chartDir, exampleModel, helm, type K8sObject } from './support/helm';
import { named, ofKind, renderWith, valuesFile } from './support/value-sets';

const pricing = chartDir(exampleModel('pricing'));
const api = ['--api-versions', 'monitoring.coreos.com/v1'];

function template(release: string, values: unknown, args: string[] = []): K8sObject[] {
  const result = helm(['template', release, pricing, '-f', valuesFile(values), ...args]);
  if (result.status !== 0) throw new Error(result.stderr);
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
}

describe('PrometheusRule', () => {
  it('auto (the default) renders it only where helm sees the Prometheus Operator API; true always; false never', () => {
    expect(ofKind(renderWith(pricing, {}), 'PrometheusRule')).toEqual([]);
    expect(ofKind(renderWith(pricing, {}, api), 'PrometheusRule')).toHaveLength(1);
    expect(
      ofKind(renderWith(pricing, { monitoring: { prometheusRule: { enabled: true } } }), 'PrometheusRule'),
    ).toHaveLength(1);
    expect(
      ofKind(
        renderWith(pricing, { monitoring: { prometheusRule: { enabled: false } } }, api),
        'PrometheusRule',
      ),
    ).toEqual([]);
  });

  it("carries the labels the Operator's ruleSelector picks, and the chart's own", () => {
    const [rule] = ofKind(
      renderWith(pricing, {
        monitoring: { prometheusRule: { enabled: true, labels: { release: 'kube-prometheus-stack' } } },
      }),
      'PrometheusRule',
    );
    expect(rule!.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule!.metadata.labels).toMatchObject({
      release: 'kube-prometheus-stack',
      'catwalk.dev/model': 'pricing',
    });
  });

  it("selects the release's namespace and Deployments, whatever the release is called", () => {
    const [rule] = ofKind(template('prod', {}, [...api, '--namespace', 'pricing-prod']), 'PrometheusRule');
    const text = JSON.stringify(rule!.spec);
    expect(text).not.toContain('__CATWALK_');
    const exprs: string[] = rule!.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.expr));
    for (const expr of exprs) expect(expr).toContain('namespace="pricing-prod"');
    const hpa = rule!.spec.groups[1].rules.find((r: any) => r.alert === 'CatwalkHpaAtMaxReplicas');
    expect(hpa.expr).toContain('horizontalpodautoscaler=~"prod-pricing|prod-pricing-canary"');
    const restarts = rule!.spec.groups[1].rules.find((r: any) => r.alert === 'CatwalkPodRestarting');
    expect(restarts.expr).toContain('pod=~"(prod-pricing|prod-pricing-canary)-[a-z0-9]+-[a-z0-9]+"');
  });

  it.each([2, 7, 10, 60, 600, 3600])(
    'with sync.intervalSeconds=%i set at install, the poll thresholds and texts are those of a spec polling that often',
    (intervalSeconds) => {
      const [rule] = ofKind(renderWith(pricing, { sync: { intervalSeconds } }, api), 'PrometheusRule');
      const model = exampleModel('pricing');
      const expected = buildPrometheusRule(
        { ...model, serving: { ...model.serving, pollSeconds: intervalSeconds } },
        { namespace: 'default', workload: 'pricing', canaryWorkload: 'pricing-canary' },
      );
      for (const name of ['CatwalkSyncStale', 'CatwalkPodsDisagreeOnRelease', 'CatwalkReleaseNotApplied']) {
        const rendered = rule!.spec.groups[1].rules.find((r: any) => r.alert === name);
        const want = expected.alerts.find((a) => a.alert === name)!;
        expect({ name, expr: rendered.expr, for: rendered.for, annotations: rendered.annotations }).toEqual({
          name,
          expr: want.expr,
          for: want.for,
          annotations: want.annotations,
        });
      }
      expect(JSON.stringify(rule!.spec)).not.toContain('__CATWALK_');
    },
  );

  it('keeps the alert texts as Prometheus templates (helm does not render them)', () => {
    const [rule] = ofKind(renderWith(pricing, {}, api), 'PrometheusRule');
    const stale = rule!.spec.groups[1].rules.find((r: any) => r.alert === 'CatwalkSyncStale');
    expect(stale.annotations.summary).toContain('{{ $labels.pod }}');
    expect(Object.keys(stale.annotations).sort()).toEqual(['description', 'runbook', 'summary']);
    expect(stale.labels).toEqual({ severity: 'warning', model: 'pricing', team: 'marketplace' });
  });

  it.each(['monitoring.prometheusRule.enabled', 'metrics.serviceMonitor.enabled'])(
    'a bad %s says the choices are true, false or auto',
    (key) => {
      const result = helm(['template', 'pricing', pricing, '--set', `${key}=maybe`]);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain(`/${key.replaceAll('.', '/')}`);
      expect(result.stderr).toMatch(/true.*false.*auto/);
      expect(result.stderr).not.toContain("value must be 'auto'");
      for (const value of ['true', 'false', 'auto'])
        expect(helm(['template', 'pricing', pricing, '--set', `${key}=${value}`]).status).toBe(0);
    },
  );

  it('a bad switch fails at install, naming the value', () => {
    const result = helm([
      'template',
      'pricing',
      pricing,
      '--set',
      'monitoring.prometheusRule.enabled=sometimes',
    ]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('/monitoring/prometheusRule/enabled');
  });

  it('is generated from the spec into monitoring/prometheus-rules.yaml, with placeholders for the release', () => {
    const file = generateChart(exampleModel('pricing')).find(
      (f) => f.path === 'monitoring/prometheus-rules.yaml',
    );
    expect(file!.contents).toContain('__CATWALK_NAMESPACE__');
    expect(file!.contents).toContain('catwalk:slo_request_errors:ratio_rate1h');
  });

  it('the ServiceMonitor copies the model and track labels onto every series the rules select by', () => {
    const [monitor] = ofKind(
      renderWith(pricing, { metrics: { serviceMonitor: { enabled: true } } }),
      'ServiceMonitor',
    );
    expect(monitor!.spec.targetLabels).toEqual(['catwalk.dev/model', 'catwalk.dev/track']);
    const services = ofKind(renderWith(pricing, {}), 'Service');
    for (const s of services) expect(s.metadata.labels['catwalk.dev/model']).toBe('pricing');
  });
});

describe('Grafana dashboard', () => {
  it('is a ConfigMap labelled for the Grafana sidecar, holding the dashboard built for the model', () => {
    const objects = renderWith(pricing, {
      monitoring: { grafanaDashboard: { labels: { team: 'ml' }, annotations: { grafana_folder: 'Models' } } },
    });
    const map = named(objects, 'ConfigMap', 'pricing-dashboard');
    expect(map!.metadata.labels).toMatchObject({
      grafana_dashboard: '1',
      team: 'ml',
      'catwalk.dev/model': 'pricing',
    });
    expect(map!.metadata.annotations).toEqual({ grafana_folder: 'Models' });
    expect(Object.keys(map!.data)).toEqual(['pricing.json']);
    expect(JSON.parse(map!.data['pricing.json'])).toEqual(buildDashboard(exampleModel('pricing')).json);
  });

  it('the switch turns it off', () => {
    const objects = renderWith(pricing, { monitoring: { grafanaDashboard: { enabled: false } } });
    expect(objects.filter((o) => o.metadata.labels?.grafana_dashboard)).toEqual([]);
  });
});

describe('Datadog checks', () => {
  const annotations = named(renderWith(pricing, {}), 'Deployment', 'pricing')!.spec.template.metadata
    .annotations;
  const instance = (container: string) =>
    JSON.parse(annotations[`ad.datadoghq.com/${container}.checks`]).openmetrics.instances[0];

  it('list each metric by name, renamed, never by a pattern', () => {
    for (const container of ['tfserving', 'model-sync']) {
      for (const entry of instance(container).metrics) {
        expect(typeof entry).toBe('object');
        const entries = Object.entries(entry as Record<string, string>);
        expect(entries).toHaveLength(1);
        const [raw, renamed] = entries[0]!;
        expect(raw).toMatch(/^[:a-z_]+$/);
        expect(renamed).toMatch(/^[a-z_.]+$/);
      }
    }
    expect(instance('model-sync').metrics).toEqual(DATADOG_SYNC_METRICS.map((m) => ({ [m.raw]: m.name })));
    expect(instance('tfserving').metrics).toEqual(
      DATADOG_TF_SERVING_METRICS.map((m) => ({ [m.raw]: m.name })),
    );
  });

  it("collect only metrics the sidecar's registry has (counters without _total)", async () => {
    const exposed = (await createMetrics().registry.getMetricsAsJSON()).map((m) => ({
      name: m.name,
      type: m.type,
    }));
    for (const m of DATADOG_SYNC_METRICS) {
      const expectedName = m.kind === 'counter' ? `${m.raw}_total` : m.raw;
      expect(exposed).toContainEqual({ name: expectedName, type: m.kind });
    }
  });

  it("turn TF Serving's histograms into distributions, for percentiles across pods", () => {
    expect(instance('tfserving')).toMatchObject({
      histogram_buckets_as_distributions: true,
      collect_counters_with_distributions: true,
    });
  });
});
