// catwalk generate writes each model's alerting rules and dashboards with its
// chart: the PrometheusRule's rules (thresholds from spec.monitoring.slo) for
// every model, the Datadog dashboard and monitors for models with Datadog on.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { catwalk, repoRoot, tempDir } from './run';

const examples = path.join(repoRoot, 'examples/models');

describe('catwalk generate: monitoring', () => {
  it('writes the rules of every model, and Datadog files where the spec asks for Datadog', async () => {
    const dir = tempDir();
    const r = await catwalk(['generate', examples, '--out', 'charts'], { cwd: dir });
    expect(r.code).toBe(0);
    for (const model of ['fraud-check', 'image-tagger', 'pricing']) {
      const rules = parse(
        fs.readFileSync(path.join(dir, 'charts', model, 'monitoring', 'prometheus-rules.yaml'), 'utf8'),
      );
      const alerts = rules.groups.flatMap((g: { rules: Array<{ alert?: string }> }) =>
        g.rules.filter((x) => x.alert),
      );
      expect(alerts.length).toBeGreaterThanOrEqual(11);
      for (const alert of alerts) expect(alert.labels.model).toBe(model);
    }
    for (const model of ['fraud-check', 'pricing']) {
      const monitors = JSON.parse(
        fs.readFileSync(path.join(dir, 'charts', model, 'datadog', 'monitors.json'), 'utf8'),
      );
      expect(monitors.length).toBeGreaterThan(5);
      expect(
        JSON.parse(fs.readFileSync(path.join(dir, 'charts', model, 'datadog', 'dashboard.json'), 'utf8'))
          .title,
      ).toBe(`Catwalk / ${model}`);
    }
    expect(fs.existsSync(path.join(dir, 'charts', 'image-tagger', 'datadog'))).toBe(false);
  });

  it('takes the availability and latency targets from the spec', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'models'));
    const spec = parse(fs.readFileSync(path.join(examples, 'image-tagger.yaml'), 'utf8'));
    spec.spec.monitoring = { prometheus: true, slo: { availability: 99.5, p99LatencyMs: 250 } };
    fs.writeFileSync(path.join(dir, 'models', 'image-tagger.yaml'), JSON.stringify(spec));
    const r = await catwalk(['generate', 'models', '--out', 'charts'], { cwd: dir });
    expect(r.code).toBe(0);
    const text = fs.readFileSync(
      path.join(dir, 'charts', 'image-tagger', 'monitoring', 'prometheus-rules.yaml'),
      'utf8',
    );
    // Selectors carry a placeholder for the namespace, which helm fills in at install.
    expect(text).toMatch(
      /catwalk:slo_request_errors:ratio_rate1h\{model="image-tagger",namespace="[A-Z_]+"\} > 0\.072\n/,
    );
    expect(text).toMatch(
      /catwalk:tfserving_request_latency_seconds:p99_rate5m\{model="image-tagger",namespace="[A-Z_]+"\} > 0\.25\n/,
    );
    expect(text).not.toContain('&a1');
  });

  it('refuses an SLO without an error budget, naming the field', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'models'));
    const spec = parse(fs.readFileSync(path.join(examples, 'image-tagger.yaml'), 'utf8'));
    spec.spec.monitoring = { slo: { availability: 100 } };
    fs.writeFileSync(path.join(dir, 'models', 'image-tagger.yaml'), JSON.stringify(spec));
    const r = await catwalk(['generate', 'models', '--out', 'charts'], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.monitoring.slo.availability');
    expect(fs.existsSync(path.join(dir, 'charts'))).toBe(false);
  });
});
