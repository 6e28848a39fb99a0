import * as path from 'node:path';
import { compareSignatures, readSignatures, type SignatureSpec, type TensorSpec } from '@catwalk/savedmodel';
import * as fc from 'fast-check';
import { readPb, savedModelDirs, tfserving } from './helpers';

const t = (dtype: string, shape: number[] | null, tensorName = 'n:0'): TensorSpec => ({
  dtype,
  shape,
  tensorName,
});
const predict = (inputs: Record<string, TensorSpec>, outputs: Record<string, TensorSpec>): SignatureSpec => ({
  methodName: 'tensorflow/serving/predict',
  inputs,
  outputs,
});
const base = { serving_default: predict({ x: t('DT_FLOAT', [-1, 3]) }, { y: t('DT_FLOAT', [-1, 1]) }) };

describe('compareSignatures', () => {
  test('every test SavedModel is compatible with itself', () => {
    for (const dir of savedModelDirs()) {
      const sigs = readSignatures(readPb(dir)).signatures;
      const report = compareSignatures(sigs, sigs);
      expect(report).toMatchObject({ compatible: true, breaking: [], compatibleChanges: [] });
    }
  });

  test('a renamed input is breaking, named as a rename, and shown in the diff', () => {
    const after = {
      serving_default: predict({ features: t('DT_FLOAT', [-1, 3]) }, { y: t('DT_FLOAT', [-1, 1]) }),
    };
    const report = compareSignatures(base, after);
    expect(report.compatible).toBe(false);
    expect(report.breaking.map((c) => c.message)).toEqual([
      'serving_default: input x was removed (renamed to features?)',
      'serving_default: input features was added, and callers that do not send it will be refused',
    ]);
    expect(report.diff).toBe(
      [
        '  serving_default (tensorflow/serving/predict)',
        '    inputs:',
        '+     features: DT_FLOAT [?, 3]',
        '-     x: DT_FLOAT [?, 3]',
        '    outputs:',
        '      y: DT_FLOAT [?, 1]',
      ].join('\n'),
    );
  });

  test('a removed output and a dtype change are breaking; an added output and signature are not', () => {
    const after = {
      serving_default: predict({ x: t('DT_DOUBLE', [-1, 3]) }, { score: t('DT_FLOAT', [-1]) }),
      explain: predict({ x: t('DT_FLOAT', [-1, 3]) }, { why: t('DT_STRING', [-1]) }),
    };
    const report = compareSignatures(
      {
        serving_default: predict(
          { x: t('DT_FLOAT', [-1, 3]) },
          { y: t('DT_FLOAT', [-1, 1]), score: t('DT_FLOAT', [-1]) },
        ),
      },
      after,
    );
    expect(report.breaking.map((c) => c.kind)).toEqual(['dtype-changed', 'output-removed']);
    expect(report.breaking[0]?.message).toBe(
      'serving_default: input x changed dtype from DT_FLOAT to DT_DOUBLE',
    );
    expect(report.compatibleChanges.map((c) => c.message)).toEqual(['signature explain was added']);
  });

  test('an added output alone is compatible', () => {
    const after = {
      serving_default: predict(
        { x: t('DT_FLOAT', [-1, 3]) },
        { y: t('DT_FLOAT', [-1, 1]), p: t('DT_FLOAT', [-1]) },
      ),
    };
    const report = compareSignatures(base, after);
    expect(report.compatible).toBe(true);
    expect(report.compatibleChanges.map((c) => c.kind)).toEqual(['output-added']);
  });

  test('input shapes may widen but not narrow; output shapes the other way round', () => {
    const shapes = (x: number[] | null, y: number[] | null) => ({
      serving_default: predict({ x: t('DT_FLOAT', x) }, { y: t('DT_FLOAT', y) }),
    });
    const verdict = (a: ReturnType<typeof shapes>, b: ReturnType<typeof shapes>) =>
      compareSignatures(a, b).breaking.map((c) => `${c.side} ${c.kind}`);
    expect(verdict(shapes([-1, 3], [-1, 1]), shapes([-1, -1], [-1, 1]))).toEqual([]); // input widened
    expect(verdict(shapes([-1, 3], [-1, 1]), shapes(null, [-1, 1]))).toEqual([]); // input any rank
    expect(verdict(shapes([-1, 3], [-1, 1]), shapes([-1, 4], [-1, 1]))).toEqual(['input shape-changed']);
    expect(verdict(shapes([-1, 3], [-1, 1]), shapes([-1, 3, 1], [-1, 1]))).toEqual(['input shape-changed']);
    expect(verdict(shapes([-1, -1], [-1, 1]), shapes([-1, 3], [-1, 1]))).toEqual(['input shape-changed']);
    expect(verdict(shapes([-1, 3], [-1, -1]), shapes([-1, 3], [-1, 2]))).toEqual([]); // output narrowed
    expect(verdict(shapes([-1, 3], [-1, 1]), shapes([-1, 3], [-1, -1]))).toEqual(['output shape-changed']);
    expect(verdict(shapes([-1, 3], [-1, 1]), shapes([-1, 3], null))).toEqual(['output shape-changed']);
  });

  test('the TF1 and TF2 exports of half_plus_two: serving_default went from [?, 1] to [1], which is breaking', () => {
    const tf1 = readSignatures(
      readPb(path.join(tfserving, 'saved_model_half_plus_two_cpu/00000123')),
    ).signatures;
    const tf2 = readSignatures(
      readPb(path.join(tfserving, 'saved_model_half_plus_two_tf2_cpu/00000123')),
    ).signatures;
    const report = compareSignatures(tf1, tf2);
    expect(report.breaking.map((c) => c.message)).toEqual([
      'serving_default: input x changed shape from [?, 1] to [1] (it no longer accepts every shape it did)',
      'serving_default: output y changed shape from [?, 1] to [1] (callers may get shapes they do not expect)',
    ]);
    // classify_x2_to_y3 is new in the TF2 export: compatible.
    expect(report.compatibleChanges.map((c) => c.message)).toEqual(['signature classify_x2_to_y3 was added']);
    // Other signatures are checked when listed: TF2 exported classify_x_to_y as a predict signature.
    const listed = compareSignatures(tf1, tf2, { signatures: ['serving_default', 'classify_x_to_y'] });
    expect(listed.breaking.map((c) => c.message)).toContain(
      'signature classify_x_to_y changed its method from tensorflow/serving/classify to tensorflow/serving/predict',
    );
  });

  test('without serving_default every signature binds callers (saved_model_counter)', () => {
    const counter = readSignatures(readPb(path.join(tfserving, 'saved_model_counter/00000123'))).signatures;
    const { incr_counter_by: _dropped, ...rest } = counter;
    const report = compareSignatures(counter, rest);
    expect(report.breaking.map((c) => c.message)).toEqual(['signature incr_counter_by was removed']);
    expect(report.diff).toContain('- incr_counter_by (tensorflow/serving/predict)');
  });

  test('property: a signature set is always compatible with itself and the diff has no -/+ lines', () => {
    const dtype = fc.constantFrom('DT_FLOAT', 'DT_INT64', 'DT_STRING');
    const shape = fc.option(fc.array(fc.integer({ min: -1, max: 4 }), { maxLength: 3 }), { nil: null });
    const tensors = fc.dictionary(
      fc.stringMatching(/^[a-z]{1,6}$/),
      fc.record({ dtype, shape, tensorName: fc.constant('t:0') }),
    );
    const sigs = fc.dictionary(
      fc.constantFrom('serving_default', 'a', 'b'),
      fc.record({ methodName: fc.constant('tensorflow/serving/predict'), inputs: tensors, outputs: tensors }),
    );
    fc.assert(
      fc.property(sigs, (s) => {
        const report = compareSignatures(s, s);
        expect(report.compatible).toBe(true);
        expect(report.diff).not.toMatch(/^[-+]/m);
      }),
    );
  });
  test('a listed signature named like an Object property is a signature like any other', () => {
    // "constructor" and "toString" are on every plain object: the comparison must not find them there.
    const listed = { signatures: ['serving_default', 'constructor', 'toString'] };
    expect(compareSignatures(base, base, listed)).toMatchObject({ compatible: true, breaking: [] });
    const withCtor = { ...base, constructor: base.serving_default } as Record<string, SignatureSpec>;
    expect(compareSignatures(withCtor, base, listed).breaking.map((c) => c.message)).toEqual([
      'signature constructor was removed',
    ]);
  });
});
