// Property-based tests over generated specs: valid ones built to satisfy every
// rule, and invalid ones made by breaking valid ones at random.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { resolve } from '../src/resolve';
import type { ModelSpec } from '../src/spec';
import { parseTextProto, textProtoToPlain } from '../src/textproto';
import { tfServingArgs, tfServingFiles } from '../src/tfserving';
import { validateSpecText, validateSpecValue } from '../src/validate';
import { validSpec } from './arbitraries';

const RUNS = 1000;

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
