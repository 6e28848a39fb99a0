// The PrometheusRule each example chart renders, through the real promtool
// (Debian's prometheus package, put into ~/.cache/catwalk/prometheus by
// `npm run test:cluster`): `promtool check rules` on it as helm renders it, and
// `promtool test rules` with a generated test file per alert that makes the
// alert fire from synthetic series and, just across its threshold, not fire.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { buildPrometheusRule } from '../../src/monitoring/rules';
import { chartDir, exampleModels, type K8sObject, render, tempDir } from '../support/helm';
import { alertCases, NAMESPACE, promtoolTestFile } from './alert-cases';

function promtool(): string {
  if (process.env.CATWALK_PROMTOOL) return process.env.CATWALK_PROMTOOL;
  // Run outside `npm run test:cluster`: unpack it the same way.
  const { ensurePrometheus } = require('../../../../tools/prometheus/install.cjs');
  return ensurePrometheus().promtool;
}

function run(args: string[], cwd: string) {
  const result = spawnSync(promtool(), args, { cwd, encoding: 'utf8', timeout: 600_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The rule groups of the PrometheusRule `helm template` renders for the model in namespace ml. */
function renderedGroups(chart: string, extra: string[] = []): unknown[] {
  const objects: K8sObject[] = render(chart, [
    '--namespace',
    NAMESPACE,
    '--api-versions',
    'monitoring.coreos.com/v1',
    ...extra,
  ]);
  const rules = objects.filter((o) => o.kind === 'PrometheusRule');
  expect(rules).toHaveLength(1);
  return rules[0]!.spec.groups;
}

/** promtool compares annotations too; the unit tests check labels and timing, `check rules` the templates. */
const withoutAnnotations = (groups: unknown[]) =>
  (groups as Array<{ rules: Array<Record<string, unknown>> }>).map((g) => ({
    ...g,
    rules: g.rules.map(({ annotations: _, ...rule }) => rule),
  }));

describe.each(exampleModels().map((m) => [m.name, m] as const))('%s', (name, model) => {
  const dir = tempDir();
  let groups: unknown[];

  beforeAll(() => {
    groups = renderedGroups(chartDir(model));
    fs.writeFileSync(path.join(dir, 'rules.yaml'), stringify({ groups }));
    fs.writeFileSync(path.join(dir, 'unit-rules.yaml'), stringify({ groups: withoutAnnotations(groups) }));
  });

  it('promtool check rules accepts the rendered rules, with the release namespace and names in place', () => {
    const result = run(['check', 'rules', 'rules.yaml'], dir);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
    const text = fs.readFileSync(path.join(dir, 'rules.yaml'), 'utf8');
    expect(text).not.toContain('__CATWALK_');
    expect(text).toContain(`namespace="${NAMESPACE}"`);
    expect(text).toContain(`${name}|${name}-canary`);
  });

  it('has a fire and a no-fire case for every alert', () => {
    const cases = alertCases(model);
    const alerts = buildPrometheusRule(model).alerts.map((a) => a.alert);
    expect(Object.keys(cases).sort()).toEqual([...alerts].sort());
    for (const alert of alerts) {
      expect(cases[alert]!.fire.length).toBeGreaterThan(0);
      expect(cases[alert]!.fire.every((c) => c.expected.length > 0)).toBe(true);
      expect(cases[alert]!.quiet.length).toBeGreaterThan(0);
    }
  });

  const alerts = buildPrometheusRule(model).alerts.map((a) => a.alert);
  const groupNames = buildPrometheusRule(model).groups.map((g) => g.name);
  it.each(alerts)('promtool test rules: %s fires on its cases and stays quiet on the others', (alert) => {
    const file = `test-${alert}.yaml`;
    fs.writeFileSync(
      path.join(dir, file),
      stringify(promtoolTestFile('unit-rules.yaml', alert, alertCases(model)[alert]!, groupNames)),
    );
    const result = run(['test', 'rules', file], dir);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it.each([
    ['CatwalkSyncStale', 600],
    ['CatwalkPodsDisagreeOnRelease', 600],
    ['CatwalkReleaseNotApplied', 600],
    ['CatwalkSyncStale', 2],
  ])('promtool test rules: %s follows sync.intervalSeconds=%i set at install', (alert, pollSeconds) => {
    const installed = path.join(dir, `installed-${pollSeconds}`);
    fs.mkdirSync(installed, { recursive: true });
    const rendered = renderedGroups(chartDir(model), ['--set', `sync.intervalSeconds=${pollSeconds}`]);
    fs.writeFileSync(
      path.join(installed, 'unit-rules.yaml'),
      stringify({ groups: withoutAnnotations(rendered) }),
    );
    const file = `test-${alert}.yaml`;
    fs.writeFileSync(
      path.join(installed, file),
      stringify(
        promtoolTestFile('unit-rules.yaml', alert, alertCases(model, { pollSeconds })[alert]!, groupNames),
      ),
    );
    const result = run(['test', 'rules', file], installed);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('promtool test rules fails when a case expects the wrong thing (the cases can fail)', () => {
    const cases = alertCases(model).CatwalkSyncStale!;
    const swapped = {
      fire: cases.quiet.map((c) => ({ ...c, expected: cases.fire[0]!.expected })),
      quiet: cases.fire.map((c) => ({ ...c, expected: [] })),
    };
    fs.writeFileSync(
      path.join(dir, 'test-swapped.yaml'),
      stringify(promtoolTestFile('unit-rules.yaml', 'CatwalkSyncStale', swapped, groupNames)),
    );
    const result = run(['test', 'rules', 'test-swapped.yaml'], dir);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('FAILED');
  });
});
