// Values a chart must refuse, each with a message naming the value, and
// annotations an operator overrides.
import { chartDir, exampleModel, helm } from './support/helm';
import { ofKind, renderWith, valuesFile } from './support/value-sets';

const pricing = chartDir(exampleModel('pricing'));

function refusal(values: unknown): string {
  const result = helm(['template', 'pricing', pricing, '-f', valuesFile(values)]);
  expect(result.status).not.toBe(0);
  return result.stderr;
}

describe('values.schema.json and the chart refuse', () => {
  it.each([
    [{ tfServing: { image: { tag: 'latest' } } }, '/tfServing/image/tag'],
    [{ tfServing: { resources: { requests: { cpu: '-2' } } } }, '/tfServing/resources/requests/cpu'],
    [{ tfServing: { resources: { requests: { cpu: -2 } } } }, '/tfServing/resources/requests/cpu'],
    [{ sync: { volumeSizeLimit: '-5Gi' } }, '/sync/volumeSizeLimit'],
    [{ podDisruptionBudget: { maxUnavailable: '150%' } }, '/podDisruptionBudget/maxUnavailable'],
    [{ experiment: { minReplicas: { canary: -1 } } }, '/experiment/minReplicas/canary'],
  ])('%j (schema, naming %s)', (values, where) => {
    const stderr = refusal(values);
    expect(stderr).toContain("values don't meet the specifications of the schema");
    expect(stderr).toContain(where);
  });

  it.each([
    [
      { tfServing: { resources: { requests: { memory: '8Gi' }, limits: { memory: '4Gi' } } } },
      'tfServing.resources.limits.memory (4Gi) is below tfServing.resources.requests.memory (8Gi)',
    ],
    [
      { tfServing: { resources: { requests: { cpu: '2500m' }, limits: { cpu: 2 } } } },
      'tfServing.resources.limits.cpu (2) is below tfServing.resources.requests.cpu (2500m)',
    ],
    [{ service: { httpPort: 8500 } }, 'service.httpPort and service.grpcPort are both 8500'],
    [{ model: { name: 'other' } }, 'model.name (other) must stay pricing'],
    [
      { experiment: { enabled: false, minReplicas: { stable: 4, canary: 0 } } },
      'experiment.minReplicas.stable (4) holds pods of an experiment, but experiment.enabled is false: set it to 0',
    ],
    [
      { ingress: { host: '', grpc: { enabled: false } } },
      'loadBalancer.tls.enabled needs ingress.certificateArns or ingress.host',
    ],
    [
      { termination: { drainSeconds: 90, gracePeriodSeconds: 60 } },
      'termination.drainSeconds (90) must be less than termination.gracePeriodSeconds (60)',
    ],
  ])('%j (across values: %s)', (values, message) => {
    expect(refusal(values)).toContain(message);
  });

  it('lists several problems at once', () => {
    const stderr = refusal({ service: { httpPort: 8500 }, model: { name: 'other' } });
    expect(stderr).toContain('service.httpPort');
    expect(stderr).toContain('model.name');
  });

  it('accepts limits equal to requests written in other units', () => {
    expect(() =>
      renderWith(pricing, {
        tfServing: {
          resources: { requests: { cpu: '2000m', memory: '4096Mi' }, limits: { cpu: 2, memory: '4Gi' } },
        },
      }),
    ).not.toThrow();
  });
});

describe('ingress.annotations', () => {
  it('override what the chart sets, each key once', () => {
    const objects = renderWith(pricing, {
      ingress: {
        annotations: {
          'alb.ingress.kubernetes.io/healthcheck-interval-seconds': '30',
          'alb.ingress.kubernetes.io/target-group-attributes':
            'deregistration_delay.timeout_seconds=30,load_balancing.algorithm.type=least_outstanding_requests',
          'example.com/team': 'marketplace',
        },
      },
    });
    for (const ingress of ofKind(objects, 'Ingress')) {
      const a = ingress.metadata.annotations;
      expect(a['alb.ingress.kubernetes.io/healthcheck-interval-seconds']).toBe('30');
      expect(a['alb.ingress.kubernetes.io/target-group-attributes']).toContain('least_outstanding_requests');
      expect(a['example.com/team']).toBe('marketplace');
    }
    // The rendered YAML holds each key once (a parser would keep only the last of two).
    const result = helm([
      'template',
      'pricing',
      pricing,
      '--show-only',
      'templates/ingress.yaml',
      '--set-string',
      'ingress.annotations.alb\\.ingress\\.kubernetes\\.io/healthcheck-interval-seconds=30',
    ]);
    expect(result.stdout.match(/healthcheck-interval-seconds/g)).toHaveLength(2);
  });
});
