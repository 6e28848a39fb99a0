// Random valid specs through the whole pipeline: spec -> chart -> helm template
// -> Kubernetes schema check. All charts go into one parent chart as subcharts,
// so a single helm run renders them all.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateSpecValue } from '@catwalk/schema';
import fc from 'fast-check';
import { parseAllDocuments } from 'yaml';
import { validSpec } from '../../schema/test/arbitraries';
import { generateCharts } from '../src';
import { helm, kubernetesProblems, tempDir, writeFiles } from './support/helm';

const COUNT = 200;

it(`helm template renders ${COUNT} random valid specs into objects the Kubernetes API accepts`, () => {
  const specs = fc.sample(validSpec, { numRuns: COUNT });
  const models = specs.map((spec, i) => {
    // Model names double as subchart names: keep them unique.
    spec.metadata.name = `${spec.metadata.name.slice(0, 34)}-${i}`;
    const result = validateSpecValue(spec);
    if (!result.model)
      throw new Error(`generator made an invalid spec: ${JSON.stringify(result.diagnostics)}`);
    return result.model;
  });
  const root = tempDir();
  const parent = path.join(root, 'all-models');
  fs.mkdirSync(parent);
  fs.writeFileSync(path.join(parent, 'Chart.yaml'), 'apiVersion: v2\nname: all-models\nversion: 0.0.1\n');
  writeFiles(generateCharts(models), path.join(parent, 'charts'));

  const result = helm(['template', 'all', parent]);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  const objects = parseAllDocuments(result.stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  expect(deployments.length).toBeGreaterThanOrEqual(COUNT);
  // Every description, whatever characters it holds, arrives intact in the rendered ConfigMap's chart values.
  expect(kubernetesProblems(objects)).toEqual([]);
  for (const hpa of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
  }
  for (const model of models) {
    const deployment = deployments.find((d) => d.metadata.labels['catwalk.dev/model'] === model.name);
    expect(deployment?.metadata.annotations['catwalk.dev/description'] ?? '').toBe(model.description);
  }
});
