// experiment.analysis: the thresholds the automated experiment analysis
// tests against, with documented defaults and clear errors.
import { analysisThresholds, defaults } from '../src';
import { validateSpecValue } from '../src/validate';
import { baseSpec, withField } from './helpers';

const withExperiment = (analysis?: unknown) =>
  withField(
    withField(baseSpec(), 'spec.serving', {
      versionPolicy: { specific: [3, 4] },
      versionLabels: { stable: 3 },
    }),
    'spec.experiment',
    { canaryVersion: 4, canaryWeight: 10, ...(analysis === undefined ? {} : { analysis }) },
  );

describe('experiment.analysis', () => {
  test('defaults when the spec has no experiment or no analysis', () => {
    expect(defaults.experimentAnalysis).toEqual({
      maxErrorRateIncrease: 0.005,
      maxP99LatencyRatio: 1.5,
      minRequests: 500,
    });
    expect(analysisThresholds(baseSpec() as never)).toEqual(defaults.experimentAnalysis);
    expect(analysisThresholds(withExperiment() as never)).toEqual(defaults.experimentAnalysis);
  });

  test('a spec sets some thresholds and keeps the defaults of the others', () => {
    const spec = withExperiment({ maxErrorRateIncrease: 0.01, minRequests: 2000 });
    const result = validateSpecValue(spec);
    expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(analysisThresholds(spec as never)).toEqual({
      maxErrorRateIncrease: 0.01,
      maxP99LatencyRatio: 1.5,
      minRequests: 2000,
    });
  });

  test.each([
    ['maxErrorRateIncrease', 1.5],
    ['maxErrorRateIncrease', -0.1],
    ['maxP99LatencyRatio', 0.8],
    ['minRequests', 0],
    ['minRequests', 10.5],
  ])('%s: %s is refused with the field named', (field, value) => {
    const result = validateSpecValue(withExperiment({ [field]: value }));
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    expect(errors.map((d) => d.path)).toEqual([`spec.experiment.analysis.${field}`]);
    expect(errors[0]!.fix ?? errors[0]!.message).toBeTruthy();
  });

  test('an unknown threshold is refused', () => {
    const result = validateSpecValue(withExperiment({ maxLatency: 3 }));
    expect(result.diagnostics.map((d) => d.code)).toContain('unknown-field');
  });
});
