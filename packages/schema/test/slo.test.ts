// spec.monitoring.slo: the targets the generated alerts measure against.
import { defaults } from '../src/resolve';
import { validateSpecText, validateSpecValue } from '../src/validate';
import { baseSpec, withField } from './helpers';

const withSlo = (slo: unknown) => withField(baseSpec(), 'spec.monitoring', { slo });

describe('spec.monitoring.slo', () => {
  it('defaults to 99.9% availability and a 500 ms p99 when the spec says nothing', () => {
    const model = validateSpecValue(baseSpec()).model!;
    expect(model.monitoring.slo).toEqual({ availability: 99.9, p99LatencyMs: 500 });
    expect(defaults.slo).toEqual({ availability: 99.9, p99LatencyMs: 500 });
  });

  it('takes the targets the spec sets, each on its own', () => {
    expect(validateSpecValue(withSlo({ availability: 99.95 })).model!.monitoring.slo).toEqual({
      availability: 99.95,
      p99LatencyMs: 500,
    });
    expect(validateSpecValue(withSlo({ p99LatencyMs: 120 })).model!.monitoring.slo).toEqual({
      availability: 99.9,
      p99LatencyMs: 120,
    });
  });

  it.each([
    [{ availability: 100 }, 'spec.monitoring.slo.availability', 'out-of-range'],
    [{ availability: 80 }, 'spec.monitoring.slo.availability', 'out-of-range'],
    [{ availability: '99.9%' }, 'spec.monitoring.slo.availability', 'wrong-type'],
    [{ p99LatencyMs: 0 }, 'spec.monitoring.slo.p99LatencyMs', 'out-of-range'],
    [{ p99LatencyMs: 'fast' }, 'spec.monitoring.slo.p99LatencyMs', 'wrong-type'],
    [{ p99Latency: 100 }, 'spec.monitoring.slo.p99Latency', 'unknown-field'],
  ])('refuses %j with an error naming %s and a fix', (slo, path, code) => {
    const errors = validateSpecValue(withSlo(slo)).diagnostics.filter((d) => d.severity === 'error');
    expect(errors.map((d) => [d.code, d.path])).toEqual([[code, path]]);
    expect(errors[0]!.fix).toBeTruthy();
  });

  it('says why 100% cannot be a target', () => {
    const [error] = validateSpecValue(withSlo({ availability: 100 })).diagnostics;
    expect(error!.message).toContain('must be < 100');
    expect(error!.fix).toMatch(/error budget/);
  });

  it('points at the line of a bad target in a spec file', () => {
    const text = [
      'apiVersion: catwalk/v1',
      'kind: Model',
      'metadata: { name: demo, team: search }',
      'spec:',
      '  source: { uri: s3://catwalk-models/search/demo }',
      '  monitoring:',
      '    slo:',
      '      p99LatencyMs: -5',
      '',
    ].join('\n');
    const [error] = validateSpecText({ file: 'demo.yaml', text }).diagnostics;
    expect(error).toMatchObject({ path: 'spec.monitoring.slo.p99LatencyMs', line: 8, code: 'out-of-range' });
  });
});
