// fast-check generators of model specs, shared by the property tests of the
// packages built on the spec.
import fc from 'fast-check';

const dnsName = fc.stringMatching(/^[a-z][a-z0-9-]{0,38}[a-z0-9]$/);
const labelValue = fc.stringMatching(/^[a-z0-9]([a-z0-9._-]{0,20}[a-z0-9])?$/);
// S3 reserves some bucket prefixes and suffixes; a valid spec avoids them.
const bucket = fc
  .stringMatching(/^[a-z0-9][a-z0-9-]{2,20}[a-z0-9]$/)
  .filter(
    (b) => !/^(xn--|sthree-|amzn-s3-demo-)/.test(b) && !/(-s3alias|--ol-s3|--x-s3|--table-s3)$/.test(b),
  );
const version = fc.integer({ min: 0, max: 100_000 });
const cpuQuantity = fc.oneof(
  fc.integer({ min: 1, max: 64 }).map(String),
  fc.integer({ min: 1, max: 64_000 }).map((m) => `${m}m`),
  fc.integer({ min: 1, max: 32 }),
);
const gibibytes = fc.integer({ min: 1, max: 64 });

/** A spec that satisfies every rule by construction. */
export const validSpec: fc.Arbitrary<Record<string, any>> = fc
  .record({
    name: dnsName,
    team: labelValue,
    // Free text: any grapheme, or the characters YAML, Helm and handlebars treat specially.
    description: fc.option(
      fc.oneof(
        fc.string({ maxLength: 60, unit: 'grapheme' }),
        // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the point
        fc.stringMatching(/^[\u0000-\u00ff\u2028\u2029{}#:'"*&!%@`|>-]{0,40}$/),
      ),
      { nil: undefined },
    ),
    labels: fc.dictionary(fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/), labelValue, { maxKeys: 3 }),
    bucket,
    prefix: fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,10}$/), { maxLength: 3 }),
    versions: fc.uniqueArray(version, { minLength: 2, maxLength: 5 }),
    policyKind: fc.constantFrom('specific', 'latest', 'all', 'none'),
    latest: fc.integer({ min: 1, max: 5 }),
    withLabels: fc.boolean(),
    withExperiment: fc.boolean(),
    weight: fc.integer({ min: 1, max: 99 }),
    batching: fc.option(
      fc.record({
        maxBatchSize: fc.integer({ min: 1, max: 512 }),
        batchTimeoutMicros: fc.integer({ min: 0, max: 100_000 }),
        numBatchThreads: fc.integer({ min: 1, max: 4 }),
        maxEnqueuedBatches: fc.integer({ min: 1, max: 10_000 }),
      }),
      { nil: undefined },
    ),
    cpu: cpuQuantity,
    memoryGi: gibibytes,
    modelShare: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
    gpu: fc.integer({ min: 0, max: 2 }),
    traffic: fc.option(
      fc
        .record({
          expectedPeakRps: fc.integer({ min: 1, max: 100_000 }),
          replicaRps: fc.integer({ min: 1, max: 5_000 }),
        })
        // At most 1000 pods even at a 10% CPU target: the most a spec may imply.
        .filter((t) => t.expectedPeakRps / (t.replicaRps * 0.1) <= 1000),
      { nil: undefined },
    ),
    minReplicas: fc.option(fc.integer({ min: 2, max: 20 }), { nil: undefined }),
    extraMax: fc.option(fc.integer({ min: 0, max: 900 }), { nil: undefined }),
    target: fc.option(fc.integer({ min: 10, max: 95 }), { nil: undefined }),
    host: fc.option(fc.constantFrom('models.example.com', 'ml.internal', '*.models.example.org'), {
      nil: undefined,
    }),
    grpc: fc.boolean(),
    monitoring: fc.record({ prometheus: fc.boolean(), datadog: fc.boolean() }),
    poll: fc.integer({ min: 1, max: 3600 }),
  })
  .map((g) => {
    const [stable, canary] = g.versions as [number, number];
    const policy =
      g.policyKind === 'specific' || g.withExperiment || g.withLabels
        ? { specific: g.versions }
        : g.policyKind === 'latest'
          ? { latest: g.latest }
          : g.policyKind === 'all'
            ? { all: true as const }
            : undefined;
    const memory = `${g.memoryGi}Gi`;
    const modelSize = g.modelShare
      ? `${Math.max(1, Math.floor((g.memoryGi * 1024 * g.modelShare) / 100))}Mi`
      : undefined;
    const max =
      g.extraMax !== undefined && g.traffic === undefined ? (g.minReplicas ?? 2) + g.extraMax : undefined;
    return {
      apiVersion: 'catwalk/v1',
      kind: 'Model',
      metadata: {
        name: g.name,
        team: g.team,
        ...(g.description !== undefined ? { description: g.description } : {}),
        ...(Object.keys(g.labels).length ? { labels: g.labels } : {}),
      },
      spec: {
        source: { uri: `s3://${g.bucket}/${[...g.prefix, g.name].join('/')}` },
        serving: {
          image: g.gpu > 0 ? 'tensorflow/serving:2.19.0-gpu' : 'tensorflow/serving:2.19.0',
          ...(policy ? { versionPolicy: policy } : {}),
          ...(g.withLabels || g.withExperiment ? { versionLabels: { stable } } : {}),
          ...(g.batching ? { batching: g.batching } : {}),
          pollSeconds: g.poll,
        },
        resources: { cpu: g.cpu, memory, gpu: g.gpu, ...(modelSize ? { modelSizeBytes: modelSize } : {}) },
        ...(g.traffic ? { traffic: g.traffic } : {}),
        scaling: {
          ...(g.minReplicas !== undefined ? { minReplicas: g.minReplicas } : {}),
          ...(max !== undefined ? { maxReplicas: max } : {}),
          ...(g.target !== undefined ? { targetCPUUtilization: g.target } : {}),
        },
        endpoint: { ...(g.host ? { host: g.host } : {}), grpc: g.grpc && g.host !== undefined },
        ...(g.withExperiment ? { experiment: { canaryVersion: canary, canaryWeight: g.weight } } : {}),
        monitoring: g.monitoring,
      },
    };
  });
