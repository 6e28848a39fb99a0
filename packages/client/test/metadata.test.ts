import fs from 'node:fs';
import path from 'node:path';
import { InvalidInputError, tensor } from '@catwalk/client';
import { parseMetadataJson } from '@catwalk/client/wire';
import { checkInputs } from '../src/metadata';
import { tfServingTestdata } from './helpers';

const read = (file: string) => JSON.parse(fs.readFileSync(path.join(tfServingTestdata, file), 'utf8'));

describe("TF Serving's recorded metadata responses", () => {
  test('half_plus_two_model_metadata.json becomes typed signatures', () => {
    const metadata = parseMetadataJson(read('half_plus_two_model_metadata.json'));
    expect(metadata.model).toBe('default');
    expect(metadata.version).toBe(123);
    expect(Object.keys(metadata.signatures).sort()).toEqual([
      'classify_x_to_y',
      'regress_x2_to_y3',
      'regress_x_to_y',
      'regress_x_to_y2',
      'serving_default',
    ]);
    expect(metadata.signatures.serving_default).toEqual({
      name: 'serving_default',
      methodName: 'tensorflow/serving/predict',
      inputs: { x: { dtype: 'float32', tfDtype: 'DT_FLOAT', shape: [-1, 1], tensorName: 'x:0' } },
      outputs: { y: { dtype: 'float32', tfDtype: 'DT_FLOAT', shape: [-1, 1], tensorName: 'y:0' } },
    });
    // Serialized tf.Examples go in as DT_STRING of unknown rank.
    expect(metadata.signatures.classify_x_to_y!.inputs.inputs).toEqual({
      dtype: 'string',
      tfDtype: 'DT_STRING',
      shape: undefined,
      tensorName: 'tf_example:0',
    });
  });

  test('the two-version model has the extra classify_x2_to_y3 signature', () => {
    const metadata = parseMetadataJson(read('saved_model_half_plus_two_2_versions_metadata.json'));
    expect(metadata.model).toBe('saved_model_half_plus_two_2_versions');
    expect(metadata.signatures.classify_x2_to_y3?.methodName).toBe('tensorflow/serving/classify');
    expect(Object.keys(metadata.signatures)).toHaveLength(6);
  });

  test('a body that is not metadata is refused with a clear message', () => {
    expect(() => parseMetadataJson({ error: 'x' })).toThrow(/does not have TF Serving's shape/);
  });
});

describe('checkInputs', () => {
  const signature = parseMetadataJson(read('half_plus_two_model_metadata.json')).signatures.serving_default!;
  const ctx = { model: 'half_plus_two' };

  test('accepts a batch of any size where the signature says -1', () => {
    expect(() => checkInputs(signature, { x: tensor(new Float32Array(5), [5, 1]) }, ctx)).not.toThrow();
  });

  test.each([
    [{ x: tensor(new Int32Array(2), [2, 1]) }, 'input "x" must be float32 (DT_FLOAT), got int32 (DT_INT32)'],
    [{ x: tensor(new Float32Array(4), [2, 2]) }, 'input "x" must have shape [?, 1], got [2, 2]'],
    [{ x: tensor(new Float32Array(2)) }, 'input "x" must have shape [?, 1], got [2]'],
    [{ z: tensor(new Float32Array(1), [1, 1]) }, 'unknown input "z"; the signature takes "x"'],
    // Names that are properties of every plain object are inputs like any other name.
    [
      { x: tensor(new Float32Array(1), [1, 1]), constructor: tensor(new Float32Array(1), [1, 1]) },
      'unknown input "constructor"; the signature takes "x"',
    ],
    [
      { x: tensor(new Float32Array(1), [1, 1]), toString: tensor(new Float32Array(1), [1, 1]) },
      'unknown input "toString"; the signature takes "x"',
    ],
    [{}, 'missing input "x"; the signature takes "x"'],
  ])('refuses %p', (inputs, message) => {
    let error: unknown;
    try {
      checkInputs(signature, inputs, ctx);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toBe(`model "half_plus_two" signature "serving_default": ${message}`);
  });
});
