// Property-based tests over generated specs: valid ones built to satisfy every
// rule, and invalid ones made by breaking valid ones at random.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { resolve } from '../src/resolve';
import type { ModelSpec } from '../src/spec';
import { parseTextProto, textProtoToPlain } from '../src/textproto';
import { tfServingArgs, tfServingFiles } from '../src/tfserving';
import { validateSpecText, validateSpecValue } from '../src/validate';

const RUNS = 1000;

const dnsName = fc.stringMatching(/^[a-z][a-z0-9-]{0,38}[a-z0-9]$/);
const labelValue = fc.stringMatching(/^[a-z0-9]([a-z0-9._-]{0,20}[a-z0-9])?$/);
// S3 reserves some bucket prefixes and suffixes; a valid spec avoids them.
const bucket = fc
  .stringMatching(/^[a-z0-9][a-z0-9-]{2,20}[a-z0-9]$/)
  .filter((b) => !/^(xn--|sthree-|amzn-s3-demo-)/.test(b) && !/(-s3alias|--ol-s3|--x-s3|--table-s3)$/.test(b));
const version = fc.integer({ min: 0, max: 100_000 });
const cpuQuantity = fc.oneof(
  fc.integer({ min: 1, max: 64 }).map(String),
  fc.integer({ min: 1, max: 64_000 }).map((m) => `${m}m`),
  fc.integer({ min: 1, max: 32 }),
);
const gibibytes = fc.integer({ min: 1, max: 64 });

/** A spec that satisfies every rule by construction. */
const validSpec: fc.Arbitrary<Record<string, any>> = fc
  .record({
    name: dnsName,
    team: labelValue,
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
      fc.record({
        expectedPeakRps: fc.integer({ min: 1, max: 100_000 }),
        replicaRps: fc.integer({ min: 1, max: 5_000 }),
      }),
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
      metadata: { name: g.name, team: g.team, ...(Object.keys(g.labels).length ? { labels: g.labels } : {}) },
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
        endpoint: { ...(g.host ? { host: g.host } : {}), grpc: g.grpc },
        ...(g.withExperiment ? { experiment: { canaryVersion: canary, canaryWeight: g.weight } } : {}),
        monitoring: g.monitoring,
      },
    };
  });

/** Paths of every node in a JSON value, for mutation. */
function nodePaths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => nodePaths(v, [...prefix, k]))];
}

function mutate(spec: Record<string, any>, pick: number, kind: number, replacement: unknown): unknown {
  const copy = structuredClone(spec);
  const paths = nodePaths(copy).filter((p) => p.length > 0);
  const target = paths[pick % paths.length]!;
  const parent = target.slice(0, -1).reduce<any>((node, key) => node[key], copy);
  const key = target[target.length - 1]!;
  if (kind === 0) delete parent[key];
  else if (kind === 1) parent[key] = replacement;
  else if (kind === 2 && parent && typeof parent === 'object' && !Array.isArray(parent))
    parent[`${String(key)}x`] = replacement;
  else parent[key] = replacement;
  return copy;
}

describe('generated valid specs', () => {
  it('validate without errors, resolve deterministically, and derive configs that parse', () => {
    fc.assert(
      fc.property(validSpec, (spec) => {
        const result = validateSpecValue(spec);
        const errors = result.diagnostics.filter((d) => d.severity === 'error');
        if (errors.length) throw new Error(`unexpected errors: ${JSON.stringify(errors)}`);
        const model = result.model!;
        expect(resolve(structuredClone(spec) as ModelSpec)).toEqual(model);
        expect(model.scaling.minReplicas).toBeGreaterThanOrEqual(2);
        expect(model.scaling.minReplicas).toBeLessThanOrEqual(model.scaling.maxReplicas);
        for (const file of tfServingFiles(model)) {
          const parsed = textProtoToPlain(parseTextProto(file.contents, file.name));
          expect(Object.keys(parsed).length).toBeGreaterThan(0);
        }
        const config = textProtoToPlain(parseTextProto(tfServingFiles(model)[0]!.contents)) as any;
        expect(config.model_config_list[0].config[0].name).toEqual([model.name]);
        expect(tfServingArgs(model).every((a) => a.startsWith('--'))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('give the same result from YAML text as from the value', () => {
    fc.assert(
      fc.property(validSpec, (spec) => {
        const fromText = validateSpecText({ file: 'gen.yaml', text: stringify(spec) });
        expect(fromText.model).toEqual(validateSpecValue(spec).model);
      }),
      { numRuns: 200 },
    );
  });
});

describe('generated invalid specs', () => {
  it('never make validation throw; every diagnostic names a file, a message and a code', () => {
    fc.assert(
      fc.property(
        validSpec,
        fc.nat(),
        fc.integer({ min: 0, max: 3 }),
        fc.oneof(fc.anything(), fc.string(), fc.integer(), fc.constant(null), fc.constant(-1)),
        (spec, pick, kind, replacement) => {
          const broken = mutate(spec, pick, kind, replacement);
          const result = validateSpecValue(broken, 'broken.yaml');
          for (const d of result.diagnostics) {
            expect(d.file).toBe('broken.yaml');
            expect(d.message.length).toBeGreaterThan(0);
            expect(d.code).not.toBe('internal-error');
          }
          if (result.model) expect(resolve(result.spec!)).toEqual(result.model);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('never make validation of arbitrary text throw', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.anything().map((v) => stringify(v) ?? ''),
        ),
        (text) => {
          const result = validateSpecText({ file: 'x.yaml', text });
          expect(result.model).toBeUndefined();
          expect(result.diagnostics.some((d) => d.severity === 'error')).toBe(true);
          expect(result.diagnostics.map((d) => d.code)).not.toContain('internal-error');
        },
      ),
      { numRuns: 500 },
    );
  });
});
