// One test per rule: a valid base spec, one change, and the exact finding.
import { validateSpecValue } from '../src/validate';
import { baseSpec, withField } from './helpers';

type Change = [path: string, value: unknown];

function findings(...changes: Change[]) {
  let spec = baseSpec();
  for (const [path, value] of changes) spec = withField(spec, path, value);
  return validateSpecValue(spec).diagnostics.map((d) => ({
    code: d.code,
    severity: d.severity,
    path: d.path,
    message: d.message,
  }));
}

const specific = (versions: number[], labels: Record<string, number> = {}): Change => [
  'spec.serving',
  { versionPolicy: { specific: versions }, versionLabels: labels },
];

describe('the base spec', () => {
  it('is valid', () => expect(findings()).toEqual([]));
});

describe('names', () => {
  it.each([
    ['pricing', true],
    ['a', true],
    ['a1-b2', true],
    ['1abc', false],
    ['-abc', false],
    ['abc-', false],
    ['Abc', false],
    ['a_b', false],
    ['a'.repeat(40), true],
    ['a'.repeat(41), false],
  ])('model name %s valid: %s', (name, ok) => {
    expect(findings(['metadata.name', name]).length === 0).toBe(ok);
  });

  it.each([
    ['tier', 'critical', []],
    ['example.com/tier', 'gold', []],
    ['cost center', 'x', ['label-key-invalid']],
    ['/tier', 'x', ['label-key-invalid']],
    ['Example.com/tier', 'x', ['label-key-invalid']],
    [`${'k'.repeat(64)}`, 'x', ['label-key-invalid']],
    ['tier', 'has space', ['label-value-invalid']],
    ['tier', 'v'.repeat(64), ['label-value-invalid']],
    ['tier', '', []],
    ['catwalk.dev/model', 'x', ['label-reserved']],
    ['app.kubernetes.io/version', 'x', ['label-reserved']],
  ])('label %s=%s gives %j', (key, value, codes) => {
    expect(findings(['metadata.labels', { [key]: value }]).map((f) => f.code)).toEqual(codes);
  });

  it('team must be a label value', () => {
    expect(findings(['metadata.team', 'data science'])[0]).toMatchObject({
      code: 'bad-format',
      path: 'metadata.team',
    });
  });
});

describe('source', () => {
  it.each([
    ['s3://catwalk-models/team/model', []],
    ['s3://catwalk-models/team/model/', []],
    ['s3://my.bucket.name/x', []],
    ['s3://catwalk-models', ['s3-uri-bucket-root']],
    ['s3://ab/x', ['s3-uri-invalid']],
    ['s3://Catwalk/x', ['s3-uri-invalid']],
    ['s3://my_bucket/x', ['s3-uri-invalid']],
    ['s3://-bucket/x', ['s3-uri-invalid']],
    ['s3://my..bucket/x', ['s3-uri-invalid']],
    ['s3://192.168.1.1/x', ['s3-uri-invalid']],
    ['s3://xn--bucket/x', ['s3-uri-invalid']],
    ['s3://bucket-s3alias/x', ['s3-uri-invalid']],
    ['s3:///x', ['s3-uri-invalid']],
    ['s3://bucket/a//b', ['s3-uri-invalid']],
    ['s3://bucket/a/../b', ['s3-uri-invalid']],
    ['https://bucket/x', ['bad-format']],
  ])('%s gives %j', (uri, codes) => {
    expect(findings(['spec.source.uri', uri]).map((f) => f.code)).toEqual(codes);
  });

  it('checks the endpoint URL', () => {
    expect(findings(['spec.source.endpoint', 'https://s3.internal:9000'])).toEqual([]);
    expect(findings(['spec.source.endpoint', 'https://s3.internal/path'])[0]!.code).toBe(
      'endpoint-url-invalid',
    );
    expect(findings(['spec.source.endpoint', 'ftp://s3.internal'])[0]!.code).toBe('bad-format');
  });

  it('checks the region format', () => {
    expect(findings(['spec.source.region', 'eu-central-1'])).toEqual([]);
    expect(findings(['spec.source.region', 'Frankfurt'])[0]!.code).toBe('bad-format');
  });
});

describe('image', () => {
  it.each([
    ['tensorflow/serving:2.19.0', []],
    ['registry.example.com:5000/ml/tf-serving:2.19.0', []],
    [`tensorflow/serving@sha256:${'a'.repeat(64)}`, []],
    [`tensorflow/serving:2.19.0@sha256:${'b'.repeat(64)}`, []],
    ['tensorflow/serving', ['image-not-pinned']],
    ['tensorflow/serving:latest', ['image-not-pinned']],
    ['tensorflow/serving@sha256:abc', ['image-not-pinned']],
    ['Tensorflow/Serving:2.19.0', ['image-not-pinned']],
  ])('%s gives %j', (image, codes) => {
    expect(findings(['spec.serving.image', image]).map((f) => f.code)).toEqual(codes);
  });

  it('refuses a GPU request with a CPU build and warns about a GPU build without a GPU request', () => {
    expect(findings(['spec.resources.gpu', 1])).toEqual([
      expect.objectContaining({
        code: 'gpu-image',
        severity: 'error',
        message: expect.stringContaining("image tag '2.19.0' is the CPU build"),
      }),
    ]);
    expect(findings(['spec.serving.image', 'tensorflow/serving:2.19.0-gpu'])[0]).toMatchObject({
      code: 'gpu-image',
      severity: 'warning',
    });
    expect(
      findings(['spec.serving.image', 'tensorflow/serving:2.19.0-gpu'], ['spec.resources.gpu', 2]),
    ).toEqual([]);
  });
});

describe('versions and labels', () => {
  it('accepts labels on served versions', () => {
    expect(findings(specific([3, 4], { stable: 3, canary: 4 }))).toEqual([]);
  });

  it('refuses a label on a version the specific policy never serves', () => {
    expect(findings(specific([3, 4], { stable: 5 }))).toEqual([
      {
        code: 'label-not-served',
        severity: 'error',
        path: 'spec.serving.versionLabels.stable',
        message: "label 'stable' points to version 5, which versionPolicy {specific: [3, 4]} never serves",
      },
    ]);
  });

  it('warns that a label under a latest policy unloads when newer versions arrive', () => {
    const [f] = findings(['spec.serving', { versionPolicy: { latest: 2 }, versionLabels: { stable: 1 } }]);
    expect(f).toMatchObject({ code: 'label-may-unload', severity: 'warning' });
    expect(f!.message).toContain('serves whichever 2 versions are newest');
    expect(findings(['spec.serving', { versionLabels: { stable: 1 } }])[0]!.message).toContain('{latest: 1}');
  });

  it('accepts labels under the all policy', () => {
    expect(
      findings(['spec.serving', { versionPolicy: { all: true }, versionLabels: { stable: 1 } }]),
    ).toEqual([]);
  });

  it.each([
    [{}, 'one-of'],
    [{ latest: 1, specific: [1] }, 'one-of'],
    [{ latest: 0 }, 'out-of-range'],
    [{ specific: [] }, 'too-few-items'],
    [{ specific: [1, 1] }, 'duplicate-items'],
    [{ specific: [-1] }, 'out-of-range'],
    [{ specific: [1.5] }, 'wrong-type'],
    [{ all: false }, 'wrong-value'],
    [{ newest: 1 }, 'unknown-field'],
  ])('version policy %j gives %s', (policy, code) => {
    expect(findings(['spec.serving.versionPolicy', policy]).map((f) => f.code)).toContain(code);
  });

  it('refuses label names TF Serving or URLs cannot carry', () => {
    expect(findings(specific([1], { 'a/b': 1 }))[0]).toMatchObject({ code: 'version-label-invalid' });
    expect(findings(specific([1], { 'blue-green_1': 1 }))).toEqual([]);
  });
});

describe('experiment', () => {
  const experiment = (canaryVersion: number, canaryWeight = 10): Change => [
    'spec.experiment',
    { canaryVersion, canaryWeight },
  ];

  it('accepts a canary that is served and differs from stable', () => {
    expect(findings(specific([3, 4], { stable: 3 }), experiment(4))).toEqual([]);
    expect(findings(specific([3, 4], { stable: 3, canary: 4 }), experiment(4))).toEqual([]);
  });

  it('needs a stable label', () => {
    expect(findings(specific([3, 4]), experiment(4)).map((f) => f.code)).toEqual(['experiment-needs-stable']);
  });

  it('refuses comparing a version with itself', () => {
    expect(findings(specific([3, 4], { stable: 3 }), experiment(3)).map((f) => f.code)).toEqual([
      'experiment-same-version',
    ]);
  });

  it('refuses an unserved canary', () => {
    expect(findings(specific([3, 4], { stable: 3 }), experiment(9))[0]).toMatchObject({
      code: 'canary-not-served',
      path: 'spec.experiment.canaryVersion',
      message: 'canary version 9 is not served: versionPolicy {specific: [3, 4]} does not include it',
    });
  });

  it('refuses a canary label pointing elsewhere', () => {
    expect(findings(specific([3, 4, 5], { stable: 3, canary: 5 }), experiment(4)).map((f) => f.code)).toEqual(
      ['canary-label-mismatch'],
    );
  });

  it.each([0, 100, -1, 50.5])('refuses weight %s', (weight) => {
    const codes = findings(specific([3, 4], { stable: 3 }), experiment(4, weight)).map((f) => f.code);
    expect(codes.some((c) => c === 'out-of-range' || c === 'wrong-type')).toBe(true);
  });

  it.each([1, 99])('accepts weight %s', (weight) => {
    expect(findings(specific([3, 4], { stable: 3 }), experiment(4, weight))).toEqual([]);
  });
});

describe('scaling', () => {
  it('refuses min above max', () => {
    expect(findings(['spec.scaling', { minReplicas: 5, maxReplicas: 3 }])[0]).toMatchObject({
      code: 'replicas-order',
      message: 'minReplicas 5 is more than maxReplicas 3',
    });
  });

  it('refuses a single replica unless allowed explicitly', () => {
    expect(findings(['spec.scaling', { minReplicas: 1 }]).map((f) => f.code)).toEqual(['single-replica']);
    expect(findings(['spec.scaling', { minReplicas: 1, maxReplicas: 1 }]).map((f) => f.code)).toEqual([
      'single-replica',
      'single-replica',
    ]);
    expect(findings(['spec.scaling', { minReplicas: 1, maxReplicas: 1, allowSingleReplica: true }])).toEqual(
      [],
    );
    expect(
      findings(['spec.scaling', { minReplicas: 1, allowSingleReplica: false }]).map((f) => f.code),
    ).toEqual(['single-replica']);
  });

  it('warns when maxReplicas cannot carry the expected peak', () => {
    const [f] = findings(
      ['spec.traffic', { expectedPeakRps: 800, replicaRps: 100 }],
      ['spec.scaling', { maxReplicas: 5, targetCPUUtilization: 60 }],
    );
    expect(f).toMatchObject({
      code: 'capacity-short',
      severity: 'warning',
      message:
        'maxReplicas 5 cannot carry expectedPeakRps 800: at 100 rps per pod and 60% CPU that takes 14 pods',
    });
  });

  it('refuses traffic that would need more pods than a model may run', () => {
    const [f] = findings(['spec.traffic', { expectedPeakRps: 100_000, replicaRps: 1 }]);
    expect(f).toMatchObject({ code: 'replicas-too-many', path: 'spec.traffic' });
    expect(f!.message).toBe(
      'expectedPeakRps 100000 at 1 rps per pod and 70% CPU takes 142858 pods, more than the 1000 one model may run',
    );
    const capped = findings(
      ['spec.traffic', { expectedPeakRps: 100_000, replicaRps: 1 }],
      ['spec.scaling', { maxReplicas: 1000 }],
    );
    expect(capped.map((c) => [c.code, c.severity])).toEqual([['capacity-short', 'warning']]);
  });

  it('refuses non-positive traffic figures', () => {
    expect(findings(['spec.traffic', { expectedPeakRps: 0, replicaRps: 10 }])[0]!.code).toBe('out-of-range');
    expect(findings(['spec.traffic', { expectedPeakRps: 10 }])[0]!.code).toBe('missing-field');
  });
});

describe('resources', () => {
  it.each(['500m', '2', 2, 0.5, '1.5', '2e0'])('accepts CPU %s', (cpu) => {
    expect(findings(['spec.resources.cpu', cpu])).toEqual([]);
  });

  it.each(['2 cores', '1Gb', 'lots', '', '--1'])('refuses CPU %j', (cpu) => {
    expect(findings(['spec.resources.cpu', cpu]).map((f) => f.code)).toEqual(['bad-format']);
  });

  it('refuses zero amounts', () => {
    expect(findings(['spec.resources.cpu', '0']).map((f) => f.code)).toEqual(['quantity-not-positive']);
    expect(findings(['spec.resources.memory', 0]).map((f) => f.code)).toEqual(['quantity-not-positive']);
  });

  it('refuses limits below requests', () => {
    const out = findings([
      'spec.resources',
      { cpu: '2', memory: '4Gi', limits: { cpu: '1', memory: '2Gi' } },
    ]);
    expect(out.map((f) => [f.code, f.path])).toEqual([
      ['limit-below-request', 'spec.resources.limits.cpu'],
      ['limit-below-request', 'spec.resources.limits.memory'],
    ]);
  });

  it('needs memory for two versions of the model side by side', () => {
    expect(findings(['spec.resources', { memory: '1Gi', modelSizeBytes: '512Mi' }])).toEqual([]);
    const [f] = findings(['spec.resources', { memory: '1Gi', modelSizeBytes: '513Mi' }]);
    expect(f).toMatchObject({ code: 'memory-below-model', path: 'spec.resources.memory' });
    const limited = findings([
      'spec.resources',
      { memory: '1Gi', modelSizeBytes: '1Gi', limits: { memory: '1500Mi' } },
    ]);
    expect(limited[0]).toMatchObject({ code: 'memory-below-model', path: 'spec.resources.limits.memory' });
    expect(
      findings(['spec.resources', { memory: '1Gi', modelSizeBytes: '1Gi', limits: { memory: '2Gi' } }]),
    ).toEqual([]);
  });

  it('checks the default memory against the model size', () => {
    expect(findings(['spec.resources', { modelSizeBytes: '1.5Gi' }])[0]!.code).toBe('memory-below-model');
  });
});

describe('batching', () => {
  const batching = (extra: Record<string, unknown> = {}): Change => [
    'spec.serving.batching',
    { maxBatchSize: 32, batchTimeoutMicros: 1000, numBatchThreads: 2, maxEnqueuedBatches: 10, ...extra },
  ];

  it('accepts consistent parameters', () => {
    expect(findings(batching())).toEqual([]);
    expect(findings(batching({ allowedBatchSizes: [8, 16, 32] }))).toEqual([]);
  });

  it('needs increasing allowed sizes ending at maxBatchSize', () => {
    expect(findings(batching({ allowedBatchSizes: [16, 8, 32] })).map((f) => [f.code, f.path])).toEqual([
      ['batching-sizes-order', 'spec.serving.batching.allowedBatchSizes[1]'],
    ]);
    expect(findings(batching({ allowedBatchSizes: [8, 16] })).map((f) => f.code)).toEqual([
      'batching-sizes-last',
    ]);
  });

  it.each(['maxBatchSize', 'numBatchThreads', 'maxEnqueuedBatches'])('refuses %s of 0', (field) => {
    expect(findings(batching({ [field]: 0 })).map((f) => f.code)).toEqual(['out-of-range']);
  });

  it('requires every parameter', () => {
    expect(findings(['spec.serving.batching', { maxBatchSize: 8 }]).map((f) => f.code)).toEqual([
      'missing-field',
      'missing-field',
      'missing-field',
    ]);
  });

  it('warns about many threads on few cores and long timeouts', () => {
    expect(findings(batching({ numBatchThreads: 64 })).map((f) => f.code)).toEqual(['batching-threads']);
    expect(findings(batching({ batchTimeoutMicros: 500_000 })).map((f) => f.code)).toEqual([
      'batching-timeout',
    ]);
  });
});

describe('extra args and monitoring', () => {
  it('accepts flags Catwalk does not manage', () => {
    expect(
      findings(['spec.serving.extraArgs', ['--rest_api_timeout_in_ms=5000', '--enable_model_warmup=false']]),
    ).toEqual([]);
  });

  it('refuses managed, repeated and malformed flags', () => {
    const out = findings([
      'spec.serving.extraArgs',
      ['--port=9000', '--grpc_max_threads=8', '--grpc_max_threads=9', 'verbose'],
    ]);
    expect(out.map((f) => [f.code, f.path])).toEqual([
      ['extra-arg-managed', 'spec.serving.extraArgs[0]'],
      ['extra-arg-repeated', 'spec.serving.extraArgs[2]'],
      ['bad-format', 'spec.serving.extraArgs[3]'],
    ]);
  });

  it('needs a host for gRPC, which the load balancer routes by host name', () => {
    expect(findings(['spec.endpoint', { grpc: true }]).map((f) => [f.code, f.path])).toEqual([
      ['grpc-needs-host', 'spec.endpoint.grpc'],
    ]);
    expect(findings(['spec.endpoint', { grpc: true, host: 'models.example.com' }])).toEqual([]);
  });

  it('keeps the metrics path out of /v1/', () => {
    expect(findings(['spec.monitoring', { path: '/v1/models/metrics' }]).map((f) => f.code)).toEqual([
      'metrics-path-reserved',
    ]);
    expect(findings(['spec.monitoring', { path: '/metrics' }])).toEqual([]);
  });

  it('checks the role ARN', () => {
    expect(findings(['spec.access', { roleArn: 'arn:aws:iam::123456789012:role/x' }])).toEqual([]);
    expect(findings(['spec.access', { roleArn: 'arn:aws:iam::1234:role/x' }])[0]!.code).toBe('bad-format');
  });
});
