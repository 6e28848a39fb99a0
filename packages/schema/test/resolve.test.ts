import { peakReplicas, resolve, resolveScaling } from '../src/resolve';
import type { ModelSpec } from '../src/spec';
import { validateSpecText, validateSpecValue } from '../src/validate';
import { baseSpec, readExample, withField } from './helpers';

const resolved = (spec: Record<string, any>) => {
  const result = validateSpecValue(spec);
  expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return result.model!;
};

describe('resolve', () => {
  it('fills every default of the smallest spec', () => {
    expect(resolved(baseSpec())).toEqual({
      apiVersion: 'catwalk/v1',
      kind: 'Model',
      name: 'demo',
      team: 'search',
      description: '',
      labels: {},
      source: {
        uri: 's3://catwalk-models/search/demo',
        bucket: 'catwalk-models',
        prefix: 'search/demo',
        region: 'us-east-1',
      },
      serving: {
        image: 'tensorflow/serving:2.19.0',
        versionPolicy: { kind: 'latest', count: 1 },
        versionLabels: {},
        pollSeconds: 10,
        basePath: '/models/demo',
        extraArgs: [],
      },
      resources: {
        requests: { cpu: '1', memory: '2Gi', cpuMillis: 1000, memoryBytes: 2 * 2 ** 30 },
        limits: { cpu: '2', memory: '2Gi', cpuMillis: 2000, memoryBytes: 2 * 2 ** 30 },
        gpu: 0,
      },
      scaling: { minReplicas: 2, maxReplicas: 4, targetCPUUtilization: 70, allowSingleReplica: false },
      endpoint: {
        path: '/v1/models/demo',
        grpc: false,
        ingressClassName: 'alb',
        scheme: 'internal',
        tls: { enabled: false, certificateArns: [], sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06' },
      },
      monitoring: {
        prometheus: true,
        datadog: false,
        path: '/monitoring/prometheus/metrics',
        slo: { availability: 99.9, p99LatencyMs: 500 },
      },
      access: {},
    });
  });

  it('resolves the pricing example as written', () => {
    const model = validateSpecText(readExample('models/pricing.yaml')).model!;
    expect(model.serving.versionPolicy).toEqual({ kind: 'specific', versions: [3, 4] });
    expect(model.serving.versionLabels).toEqual({ canary: 4, stable: 3 });
    expect(model.experiment).toEqual({
      stableVersion: 3,
      canaryVersion: 4,
      canaryWeight: 10,
      stableWeight: 90,
    });
    expect(model.scaling).toEqual({
      minReplicas: 2,
      maxReplicas: 20,
      targetCPUUtilization: 60,
      allowSingleReplica: false,
      peakReplicas: 14,
    });
    expect(model.resources.limits).toMatchObject({ cpu: '4', memory: '4Gi' });
    expect(model.resources.modelSizeBytes).toBe(500 * 2 ** 20);
    expect(model.endpoint).toEqual({
      host: 'models.example.com',
      path: '/v1/models/pricing',
      grpc: true,
      ingressClassName: 'alb',
      scheme: 'internal',
      tls: { enabled: true, certificateArns: [], sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06' },
    });
    expect(model.source.endpoint).toBe('https://s3.example.internal');
  });

  it('normalises quantities, sorts labels and versions, and trims a trailing slash from the source', () => {
    let spec = withField(baseSpec(), 'spec.resources', {
      cpu: 0.5,
      memory: '1536Mi',
      limits: { cpu: '1500m', memory: '3Gi' },
    });
    spec = withField(spec, 'metadata.labels', { zeta: 'z', alpha: 'a' });
    spec = withField(spec, 'spec.serving', {
      versionPolicy: { specific: [9, 2, 5] },
      versionLabels: { b: 5, a: 2 },
    });
    spec = withField(spec, 'spec.source.uri', 's3://catwalk-models/search/demo/');
    const model = resolved(spec);
    expect(model.resources.requests).toEqual({
      cpu: '500m',
      memory: '1536Mi',
      cpuMillis: 500,
      memoryBytes: 1536 * 2 ** 20,
    });
    expect(model.resources.limits).toEqual({
      cpu: '1500m',
      memory: '3Gi',
      cpuMillis: 1500,
      memoryBytes: 3 * 2 ** 30,
    });
    expect(Object.keys(model.labels)).toEqual(['alpha', 'zeta']);
    expect(Object.keys(model.serving.versionLabels)).toEqual(['a', 'b']);
    expect(model.serving.versionPolicy).toEqual({ kind: 'specific', versions: [2, 5, 9] });
    expect(model.source.uri).toBe('s3://catwalk-models/search/demo');
  });

  it('is pure: the input is not changed and equal inputs give equal outputs', () => {
    const spec = validateSpecText(readExample('models/pricing.yaml')).spec!;
    const before = structuredClone(spec);
    const a = resolve(spec);
    const b = resolve(structuredClone(spec) as ModelSpec);
    expect(spec).toEqual(before);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});

describe('replica counts', () => {
  it('peakReplicas is peak / (replicaRps x target), rounded up', () => {
    expect(peakReplicas(800, 100, 60)).toBe(14);
    expect(peakReplicas(600, 100, 60)).toBe(10); // exactly 10, not 11 through float error
    expect(peakReplicas(700, 100, 70)).toBe(10);
    expect(peakReplicas(1, 1000, 70)).toBe(1);
  });

  it.each([
    // [traffic, scaling, min, max]
    [undefined, undefined, 2, 4],
    [{ expectedPeakRps: 800, replicaRps: 100 }, { targetCPUUtilization: 60 }, 4, 14],
    [{ expectedPeakRps: 6000, replicaRps: 450 }, { targetCPUUtilization: 65 }, 6, 21],
    [{ expectedPeakRps: 10, replicaRps: 100 }, undefined, 2, 2],
    [
      { expectedPeakRps: 800, replicaRps: 100 },
      { minReplicas: 3, maxReplicas: 30, targetCPUUtilization: 60 },
      3,
      30,
    ],
    [{ expectedPeakRps: 800, replicaRps: 100 }, { maxReplicas: 40, targetCPUUtilization: 60 }, 10, 40],
    [{ expectedPeakRps: 800, replicaRps: 100 }, { minReplicas: 16, targetCPUUtilization: 60 }, 16, 16],
    [undefined, { minReplicas: 6 }, 6, 6],
    [undefined, { maxReplicas: 10 }, 2, 10],
    [undefined, { minReplicas: 1, maxReplicas: 1, allowSingleReplica: true }, 1, 1],
    [undefined, { maxReplicas: 1, allowSingleReplica: true }, 1, 1],
  ])('traffic %j and scaling %j give %i..%i', (traffic, scaling, min, max) => {
    const result = resolveScaling({
      source: { uri: 's3://b/x' },
      ...(traffic ? { traffic } : {}),
      ...(scaling ? { scaling } : {}),
    });
    expect([result.minReplicas, result.maxReplicas]).toEqual([min, max]);
  });
});
