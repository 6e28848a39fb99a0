import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { experimentWeights } from '../../src/status';

// The weights `catwalk status` shows come from the Ingress as the real helm
// renders the committed pricing chart (an A/B test at 90/10): its first
// action is a track's addressed route, not the weighted split.
const repo = path.resolve(__dirname, '../../../..');

function renderedIngresses(set: string[] = []) {
  const out = execFileSync(
    path.join(repo, 'tools/bin/helm'),
    ['template', 'pricing', path.join(repo, 'charts/pricing'), ...set.flatMap((s) => ['--set', s])],
    { encoding: 'utf8' },
  );
  return parseAllDocuments(out)
    .map((d) => d.toJS())
    .filter((o) => o?.kind === 'Ingress');
}

test('the weights of an A/B test are those of the unaddressed split, on REST and gRPC alike', () => {
  const ingresses = renderedIngresses();
  expect(ingresses.length).toBeGreaterThan(0);
  for (const ingress of ingresses) {
    expect(experimentWeights(ingress)).toEqual({ pricing: 90, 'pricing-canary': 10 });
  }
  const moved = renderedIngresses(['experiment.weights.stable=50', 'experiment.weights.canary=50']);
  expect(experimentWeights(moved[0])).toEqual({ pricing: 50, 'pricing-canary': 50 });
});

test('no experiment, no weights', () => {
  for (const ingress of renderedIngresses(['experiment.enabled=false'])) {
    expect(experimentWeights(ingress)).toBeNull();
  }
});
