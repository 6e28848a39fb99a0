// A GPU request with a CPU build of TF Serving wastes the GPU silently: the pod
// gets a GPU node and never uses it. That is an error unless the spec states
// that its custom image has CUDA though its tag lacks -gpu.
import { validateSpecValue } from '../src/validate';
import { baseSpec, withField } from './helpers';

function check(resources: Record<string, unknown>, serving: Record<string, unknown>) {
  const spec = withField(withField(baseSpec(), 'spec.resources', resources), 'spec.serving', serving);
  return validateSpecValue(spec);
}

describe('GPU request and image', () => {
  it('refuses a GPU request with the CPU build, naming the field and both fixes', () => {
    const report = check({ gpu: 1 }, { image: 'tensorflow/serving:2.19.0' });
    expect(report.model).toBeUndefined();
    expect(report.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'error',
        code: 'gpu-image',
        path: 'spec.serving.image',
        message: expect.stringContaining("image tag '2.19.0' is the CPU build"),
        fix: expect.stringMatching(/tensorflow\/serving:2\.19\.0-gpu.*allowCustomGpuImage: true/),
      }),
    ]);
  });

  it('refuses the default image with a GPU request too', () => {
    expect(check({ gpu: 2 }, {}).diagnostics.map((d) => [d.code, d.severity])).toEqual([
      ['gpu-image', 'error'],
    ]);
  });

  it('accepts a custom CUDA image when the spec says so', () => {
    const report = check(
      { gpu: 1 },
      { image: 'registry.example.com/ml/tf-serving-cuda:2.19.0', allowCustomGpuImage: true },
    );
    expect(report.diagnostics).toEqual([]);
    expect(report.model?.resources.gpu).toBe(1);
  });

  it('keeps a -gpu image with a GPU request valid, and allowCustomGpuImage must be a boolean', () => {
    expect(check({ gpu: 1 }, { image: 'tensorflow/serving:2.19.0-gpu' }).diagnostics).toEqual([]);
    const wrongType = check({ gpu: 1 }, { allowCustomGpuImage: 'yes' });
    expect(wrongType.diagnostics[0]).toMatchObject({
      severity: 'error',
      path: 'spec.serving.allowCustomGpuImage',
    });
  });

  it('still only warns about a GPU build without a GPU request', () => {
    expect(
      check({}, { image: 'tensorflow/serving:2.19.0-gpu' }).diagnostics.map((d) => [d.code, d.severity]),
    ).toEqual([['gpu-image', 'warning']]);
  });
});
