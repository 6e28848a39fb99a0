// spec.experiment has two uses: a fixed A/B test run by the chart
// (canaryVersion and canaryWeight, both given), or only the thresholds of the
// tests run with `catwalk experiment` (analysis alone, no fixed canary).
import { validateSpecValue } from '../src/validate';
import { baseSpec, withField } from './helpers';

const serving = { versionPolicy: { specific: [3, 4] }, versionLabels: { stable: 3 } };
const withExperiment = (experiment: unknown) =>
  withField(withField(baseSpec(), 'spec.serving', serving), 'spec.experiment', experiment);

describe('spec.experiment', () => {
  test('analysis alone configures catwalk experiment and runs no fixed test', () => {
    const result = validateSpecValue(withExperiment({ analysis: { minRequests: 1000 } }));
    expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(result.model).toBeDefined();
    expect(result.model!.experiment).toBeUndefined();
  });

  test('canaryVersion and canaryWeight together run a fixed test', () => {
    const result = validateSpecValue(withExperiment({ canaryVersion: 4, canaryWeight: 10 }));
    expect(result.model!.experiment).toEqual({
      stableVersion: 3,
      canaryVersion: 4,
      canaryWeight: 10,
      stableWeight: 90,
    });
  });

  test.each([
    [{ canaryVersion: 4 }, 'canaryWeight'],
    [{ canaryWeight: 10 }, 'canaryVersion'],
  ])('%j alone is refused, naming the missing field', (experiment, missing) => {
    const result = validateSpecValue(withExperiment(experiment));
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe('experiment-incomplete');
    expect(errors[0]!.message).toContain(missing);
    expect(errors[0]!.fix).toMatch(/catwalk experiment/);
  });
});
