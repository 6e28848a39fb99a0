// Every example chart with every named value set renders objects the
// Kubernetes API accepts (the targeted tests check what they mean).
import { chartDir, exampleModel, kubernetesProblems } from './support/helm';
import { renderWith, valueSets } from './support/value-sets';

const charts = ['pricing', 'fraud-check', 'image-tagger'].map(
  (name) => [name, chartDir(exampleModel(name))] as const,
);

describe.each(charts)('%s', (_name, dir) => {
  it.each(Object.entries(valueSets))('with the %s values', (_set, values) => {
    // Main pods of a model without labels must follow the stable label to run beside a canary.
    const objects = renderWith(dir, { sync: { mainTrack: 'stable' }, ...values });
    expect(objects.filter((o) => o.kind === 'Deployment').length).toBeGreaterThanOrEqual(1);
    expect(kubernetesProblems(objects)).toEqual([]);
  });
});
