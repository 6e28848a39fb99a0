// The Grafana dashboard generated for each model: a shape Grafana accepts
// (datasource and targets on every panel, unique ids, a grid without
// overlaps), queries that parse as PromQL once Grafana has put its variables
// in, metric names that exist (TF Serving's own, the sync sidecar's, taken
// from the sidecar's real registry), and rows that follow the spec.

// The sidecar's registry is not part of @catwalk/registry's public API; its source is the
// authority on the names it exposes.
import { createMetrics } from '../../registry/src/sidecar';
import {
  buildDashboard,
  CLUSTER_METRICS,
  DASHBOARD_VARIABLES,
  TF_SERVING_METRICS,
} from '../src/monitoring/dashboard';
import { interpolate, metricNames, promqlErrors } from './support/dashboard-promql';
import { exampleModel, exampleModels } from './support/helm';

type Panel = {
  type: string;
  id: number;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{
    expr: string;
    refId: string;
    legendFormat?: string;
    datasource?: { type: string; uid: string };
  }>;
  panels?: Panel[];
  fieldConfig?: { defaults?: { unit?: string } };
};

const models = exampleModels();
const panelsOf = (json: object) => (json as { panels: Panel[] }).panels;
const graphs = (json: object) => panelsOf(json).filter((p) => p.type !== 'row');

const sample = {
  __rate_interval: '1m',
  __interval: '30s',
  __range: '1h',
  namespace: 'ml',
  model: 'm',
  track: '.*',
};

describe('buildDashboard', () => {
  it.each(models.map((m) => [m.name, m]))(
    '%s: every panel has a datasource and targets with PromQL',
    (_, model) => {
      const { json } = buildDashboard(model);
      const panels = graphs(json);
      expect(panels.length).toBeGreaterThan(10);
      for (const panel of panels) {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax.
        expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(panel.title).toEqual(expect.any(String));
        expect(panel.targets?.length).toBeGreaterThan(0);
        const refIds = panel.targets!.map((t) => t.refId);
        expect(new Set(refIds).size).toBe(refIds.length);
        for (const target of panel.targets!) {
          expect(target.datasource).toEqual(panel.datasource);
          expect(target.expr).toEqual(expect.any(String));
          expect(target.expr.length).toBeGreaterThan(0);
        }
      }
    },
  );

  it.each(models.map((m) => [m.name, m]))('%s: unique ids, and a grid without overlaps', (_, model) => {
    const panels = panelsOf(buildDashboard(model).json);
    const ids = panels.map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.gridPos.x).toBeGreaterThanOrEqual(0);
      expect(p.gridPos.w).toBeGreaterThan(0);
      expect(p.gridPos.h).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      // Rows span the whole width, one unit high.
      if (p.type === 'row') expect(p.gridPos).toMatchObject({ x: 0, w: 24, h: 1 });
    }
    for (let i = 0; i < panels.length; i++) {
      for (let j = i + 1; j < panels.length; j++) {
        const a = panels[i]!.gridPos;
        const b = panels[j]!.gridPos;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        if (overlap) throw new Error(`'${panels[i]!.title}' overlaps '${panels[j]!.title}'`);
      }
    }
    // Panels sit below their row, in row order: each row's panels start after it and end before the next.
    let rowY = -1;
    for (const p of panels) {
      if (p.type === 'row') {
        expect(p.gridPos.y).toBeGreaterThan(rowY);
        rowY = p.gridPos.y;
      } else expect(p.gridPos.y).toBeGreaterThan(rowY);
    }
  });

  it.each(models.map((m) => [m.name, m]))(
    '%s: queries lists every target, and each one parses',
    (_, model) => {
      const { json, queries } = buildDashboard(model);
      const fromPanels = graphs(json).flatMap((p) =>
        p.targets!.map((t) => ({ panel: p.title, expr: t.expr })),
      );
      const annotations = (json as { annotations: { list: Array<{ name: string; expr?: string }> } })
        .annotations.list;
      const fromAnnotations = annotations
        .filter((a) => a.expr !== undefined)
        .map((a) => ({ panel: `${a.name} (annotation)`, expr: a.expr! }));
      expect(fromAnnotations).toHaveLength(1);
      expect(queries).toEqual([...fromPanels, ...fromAnnotations]);
      for (const { panel, expr } of queries) {
        const errors = promqlErrors(interpolate(expr, sample));
        if (errors.length) throw new Error(`${panel}: ${expr}\n${errors.join('\n')}`);
      }
    },
  );

  it('the PromQL check catches a broken query (the check itself works)', () => {
    expect(promqlErrors('sum by (le) (rate(x[1m])')).not.toEqual([]);
    expect(promqlErrors('rate(x[$__rate_interval])')).not.toEqual([]);
    expect(promqlErrors(interpolate('rate(x{namespace="$namespace"}[$__rate_interval])', sample))).toEqual(
      [],
    );
    expect(() => interpolate('x{a="$nope"} + $model', {})).toThrow('no value for $model');
  });

  it('reads only metrics that exist: TF Serving’s names, the sidecar’s own registry, cluster exporters', () => {
    const sidecar = createMetrics();
    const sidecarNames = new Set<string>();
    for (const metric of sidecar.registry.getMetricsAsArray()) {
      const name = metric.name;
      if (!name.startsWith('catwalk_')) continue;
      sidecarNames.add(name);
      // Histograms are read through their series.
      for (const suffix of ['_bucket', '_sum', '_count']) sidecarNames.add(name + suffix);
    }
    const known = new Set([...TF_SERVING_METRICS, ...sidecarNames, ...CLUSTER_METRICS]);
    const used = new Set<string>();
    for (const model of models) {
      for (const { panel, expr } of buildDashboard(model).queries) {
        for (const name of metricNames(interpolate(expr, sample))) {
          used.add(name);
          if (!known.has(name)) throw new Error(`${panel}: unknown metric ${name}`);
        }
      }
    }
    // The signals the dashboard is for are all read.
    for (const name of [
      ':tensorflow:serving:request_count',
      ':tensorflow:serving:request_latency_bucket',
      ':tensorflow:cc:saved_model:load_latency',
      'catwalk_sync_release_generation',
      'catwalk_sync_last_success_timestamp_seconds',
      'catwalk_sync_errors_total',
      'container_cpu_usage_seconds_total',
      'container_memory_working_set_bytes',
      'kube_horizontalpodautoscaler_spec_max_replicas',
    ]) {
      expect(used).toContain(name);
    }
  });

  it('uses only the variables it defines, each one defined once', () => {
    for (const model of models) {
      const { json, queries } = buildDashboard(model);
      const list = (json as { templating: { list: Array<{ name: string; type: string }> } }).templating.list;
      const names = list.map((v) => v.name);
      expect(names).toEqual(['datasource', ...DASHBOARD_VARIABLES]);
      expect(list[0]).toMatchObject({ type: 'datasource', query: 'prometheus' });
      for (const { expr } of queries) {
        for (const [, name] of expr.matchAll(/\$(\w+)/g)) {
          // label_replace's "$1" is a regex group, not a Grafana variable.
          if (/^\d+$/.test(name!) || name!.startsWith('__')) continue;
          expect(DASHBOARD_VARIABLES).toContain(name);
        }
      }
    }
  });

  it("the model variable defaults to the chart's model, the track one to all tracks", () => {
    const { json } = buildDashboard(exampleModel('pricing'));
    const list = (json as { templating: { list: Array<Record<string, any>> } }).templating.list;
    const variable = (name: string) => list.find((v) => v.name === name)!;
    expect(variable('model').current).toMatchObject({ value: 'pricing' });
    expect(variable('track')).toMatchObject({ multi: true, includeAll: true, allValue: '.*' });
  });

  it('rows follow the spec: batching only with batching on, GPUs only with GPUs', () => {
    const rows = (name: string) =>
      panelsOf(buildDashboard(exampleModel(name)).json)
        .filter((p) => p.type === 'row')
        .map((p) => p.title);
    const titles = (name: string) => graphs(buildDashboard(exampleModel(name)).json).map((p) => p.title);
    expect(rows('image-tagger')).toContain('Batching');
    expect(rows('pricing')).toContain('Batching');
    expect(rows('fraud-check')).not.toContain('Batching');
    expect(titles('image-tagger').some((t) => /GPU/.test(t))).toBe(true);
    expect(titles('pricing').some((t) => /GPU/.test(t))).toBe(false);
    expect(rows('fraud-check')).toEqual([
      'Requests and errors',
      'Latency by track',
      'Model versions and loads',
      'Resources against requests and limits',
      'Replicas against autoscaler bounds',
      'Sync sidecar and release',
    ]);
  });

  it('latency panels put every track side by side: one series per track, p50, p90 and p99', () => {
    const panels = graphs(buildDashboard(exampleModel('pricing')).json);
    for (const q of ['0.5', '0.9', '0.99']) {
      const panel = panels.find((p) => p.targets!.some((t) => t.expr.startsWith(`histogram_quantile(${q},`)));
      expect(panel).toBeDefined();
      expect(panel!.targets![0]!.expr).toContain('sum by (catwalk_dev_track, le)');
      expect(panel!.targets![0]!.legendFormat).toBe('{{catwalk_dev_track}}');
      expect(panel!.fieldConfig?.defaults?.unit).toBe('µs');
    }
  });

  it('uids are unique per model, within Grafana’s 40 characters, and stable', () => {
    const long = { ...exampleModel('pricing'), name: 'a'.repeat(40) };
    const uids = [...models, long].map((m) => buildDashboard(m).uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const uid of uids) expect(uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(buildDashboard(exampleModel('pricing')).uid).toBe('catwalk-pricing');
    expect(buildDashboard(long).uid).toBe(buildDashboard({ ...long }).uid);
  });

  it("keeps Grafana's built-in annotations and marks releases on every panel", () => {
    const { json } = buildDashboard(exampleModel('pricing'));
    const list = (json as { annotations: { list: Array<Record<string, any>> } }).annotations.list;
    expect(list.map((a) => a.name)).toEqual(['Annotations & Alerts', 'Releases']);
    expect(list[0]).toMatchObject({ builtIn: 1, type: 'dashboard', datasource: { type: 'grafana' } });
    expect(list[1]!.expr).toContain('changes(catwalk_sync_release_generation{');
  });

  it('is plain JSON and deterministic (same model, same bytes)', () => {
    const model = exampleModel('image-tagger');
    const a = buildDashboard(model);
    expect(JSON.parse(JSON.stringify(a.json))).toEqual(a.json);
    expect(JSON.stringify(buildDashboard(model).json)).toBe(JSON.stringify(a.json));
    expect(a.title).toBe('Catwalk / image-tagger');
    expect((a.json as { uid: string; title: string }).uid).toBe(a.uid);
    expect((a.json as { uid: string; title: string }).title).toBe(a.title);
  });
});
