// The pods: readiness that means "a version is AVAILABLE", TF Serving flags
// derived from the values, thread pools sized to the container, and the
// autoscaler's metrics.
import { chartDir, exampleModel, helm } from './support/helm';
import { container, named, ofKind, renderWith, valuesFile } from './support/value-sets';

const pricing = chartDir(exampleModel('pricing'));
const tagger = chartDir(exampleModel('image-tagger'));
const main = (objects: any[]) => named(objects, 'Deployment', 'pricing')!;
const ann = (o: any, key: string) => o.metadata.annotations[`alb.ingress.kubernetes.io/${key}`];

describe('readiness means a version is AVAILABLE', () => {
  const objects = renderWith(pricing, {});
  const sync = container(main(objects), 'model-sync');
  const tf = container(main(objects), 'tfserving');

  it("the pod's readiness is the sidecar's /ready/serving, which asks TF Serving over loopback", () => {
    expect(sync.readinessProbe.httpGet).toEqual({ path: '/ready/serving', port: 'sync-metrics' });
    expect(sync.args).toContain('--serving-url=http://127.0.0.1:8501/v1/models/pricing');
    expect(sync.args).toContain('--port=9102');
    expect(sync.ports).toEqual([{ name: 'sync-metrics', containerPort: 9102, protocol: 'TCP' }]);
    // TF Serving's own status URL answers 200 while LOADING and after a failed load: not a readiness signal.
    expect(tf.readinessProbe).toBeUndefined();
  });

  it('probes have realistic timeouts, not the 1 s default', () => {
    expect(sync.readinessProbe.timeoutSeconds).toBeGreaterThanOrEqual(3);
    expect(sync.livenessProbe.timeoutSeconds).toBeGreaterThanOrEqual(3);
    expect(tf.startupProbe.timeoutSeconds).toBeGreaterThanOrEqual(3);
    expect(tf.livenessProbe.timeoutSeconds).toBeGreaterThanOrEqual(3);
  });

  it('the ALB health check asks the same endpoint on the sidecar port (healthcheck-port)', () => {
    const [rest] = ofKind(objects, 'Ingress');
    expect(ann(rest, 'healthcheck-port')).toBe('9102');
    expect(ann(rest, 'healthcheck-path')).toBe('/ready/serving');
    expect(Number(ann(rest, 'healthcheck-timeout-seconds'))).toBeGreaterThanOrEqual(3);
    const [policy] = ofKind(objects, 'NetworkPolicy');
    expect(policy!.spec.ingress[0].ports).toContainEqual({ port: 9102, protocol: 'TCP' });
  });

  it('a moved sidecar port moves the probe, the health check and the policy with it', () => {
    const moved = renderWith(pricing, { sync: { port: 9200 } });
    expect(container(main(moved), 'model-sync').args).toContain('--port=9200');
    expect(ann(ofKind(moved, 'Ingress')[0], 'healthcheck-port')).toBe('9200');
  });
});

describe('TF Serving flags come from the values', () => {
  it('service ports reach --port and --rest_api_port, the probe, the serving URL and the routes', () => {
    const objects = renderWith(pricing, { service: { httpPort: 9000, grpcPort: 9001 } });
    const tf = container(main(objects), 'tfserving');
    expect(tf.args).toEqual(expect.arrayContaining(['--rest_api_port=9000', '--port=9001']));
    expect(tf.ports).toEqual([
      { name: 'grpc', containerPort: 9001, protocol: 'TCP' },
      { name: 'http', containerPort: 9000, protocol: 'TCP' },
    ]);
    expect(container(main(objects), 'model-sync').args).toContain(
      '--serving-url=http://127.0.0.1:9000/v1/models/pricing',
    );
  });

  it('extraArgs are added without dropping the derived flags', () => {
    const tf = container(
      main(renderWith(pricing, { tfServing: { extraArgs: ['--rest_api_timeout_in_ms=5000'] } })),
      'tfserving',
    );
    expect(tf.args).toContain('--rest_api_timeout_in_ms=5000');
    expect(tf.args).toContain('--model_config_file=/models/models.config');
    expect(tf.args.at(-1)).toBe('--rest_api_timeout_in_ms=5000');
  });

  it('extraArgs may not set a derived flag: refused, naming the value to set instead', () => {
    const result = helm([
      'template',
      'pricing',
      pricing,
      '-f',
      valuesFile({ tfServing: { extraArgs: ['--rest_api_port=9999'] } }),
    ]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('tfServing.extraArgs sets --rest_api_port');
  });
});

describe('thread pools follow the CPU of the container', () => {
  const flags = (values: unknown, chart = pricing) => {
    const objects = renderWith(chart, values);
    const tf = container(ofKind(objects, 'Deployment')[0]!, 'tfserving');
    return Object.fromEntries(
      tf.args
        .filter((a: string) => /parallelism|num_threads/.test(a))
        .map((a: string) => a.replace(/^--/, '').split('=')),
    );
  };

  it('from the CPU limit (pricing: 4 cores)', () => {
    expect(flags({})).toEqual({
      tensorflow_intra_op_parallelism: '4',
      tensorflow_inter_op_parallelism: '2',
      rest_api_num_threads: '16',
    });
  });

  it('millicores round up, and a --set of the limit follows', () => {
    expect(
      flags({ tfServing: { resources: { requests: { cpu: '1' }, limits: { cpu: '1500m' } } } }),
    ).toMatchObject({
      tensorflow_intra_op_parallelism: '2',
    });
    expect(flags({ tfServing: { resources: { limits: { cpu: 8 } } } })).toMatchObject({
      tensorflow_intra_op_parallelism: '8',
      rest_api_num_threads: '32',
    });
  });

  it("a spec's extraArgs that size a pool become the matching value (the chart owns those flags)", () => {
    const model = exampleModel('pricing');
    const spec = {
      ...model,
      serving: {
        ...model.serving,
        extraArgs: ['--rest_api_num_threads=12', '--rest_api_timeout_in_ms=5000'],
      },
    };
    const args = container(ofKind(renderWith(chartDir(spec), {}), 'Deployment')[0]!, 'tfserving').args;
    expect(args.filter((a: string) => a.startsWith('--rest_api_num_threads'))).toEqual([
      '--rest_api_num_threads=12',
    ]);
    expect(args).toContain('--rest_api_timeout_in_ms=5000');
  });

  it('overridable one by one', () => {
    expect(flags({ tfServing: { threads: { intraOp: 3, interOp: 1, restApi: 10 } } })).toEqual({
      tensorflow_intra_op_parallelism: '3',
      tensorflow_inter_op_parallelism: '1',
      rest_api_num_threads: '10',
    });
  });
});

describe('autoscaling metrics', () => {
  it('a GPU model can scale on requests per second per pod instead of CPU', () => {
    const perPod = {
      type: 'Pods',
      pods: {
        metric: { name: 'tfserving_requests_per_second' },
        target: { type: 'AverageValue', averageValue: '100' },
      },
    };
    const objects = renderWith(tagger, {
      autoscaling: { targetCPUUtilizationPercentage: 0, extraMetrics: [perPod] },
    });
    const [hpa] = ofKind(objects, 'HorizontalPodAutoscaler');
    expect(hpa!.spec.metrics).toEqual([perPod]);
  });

  it('no metric at all is refused', () => {
    const result = helm([
      'template',
      'pricing',
      pricing,
      '--set',
      'autoscaling.targetCPUUtilizationPercentage=0',
    ]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      'autoscaling.targetCPUUtilizationPercentage is 0 and autoscaling.extraMetrics is empty',
    );
  });
});
