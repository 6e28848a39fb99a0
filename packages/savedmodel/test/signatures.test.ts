import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  readSignatures,
  readSignaturesFromText,
  SavedModelError,
  signaturesFromServingJson,
  toServingSignatureDefJson,
} from '@catwalk/savedmodel';
import * as fc from 'fast-check';
import { readPb, savedModelDirs, tfserving } from './helpers';

const metadata = (file: string) => JSON.parse(fs.readFileSync(path.join(tfserving, file), 'utf8'));

describe('signatures of the SavedModels in TF Serving test data', () => {
  test('every SavedModel there is found and read', () => {
    const dirs = savedModelDirs().map((d) => path.relative(tfserving, d));
    expect(dirs).toEqual([
      'matrix_half_plus_two/1',
      'saved_model_counter/00000123',
      'saved_model_half_plus_two_2_versions/00000123',
      'saved_model_half_plus_two_2_versions/00000124',
      'saved_model_half_plus_two_cpu/00000123',
      'saved_model_half_plus_two_tf2_cpu/00000123',
    ]);
    for (const dir of savedModelDirs()) {
      const read = readSignatures(readPb(dir));
      expect(read.tags).toEqual(['serve']);
      expect(Object.keys(read.signatures).length).toBeGreaterThan(0);
    }
  });

  test('half_plus_two equals the GetModelMetadata answer TF Serving recorded for it, field by field', () => {
    const read = readSignatures(readPb(path.join(tfserving, 'saved_model_half_plus_two_cpu/00000123')));
    const served = metadata('half_plus_two_model_metadata.json').metadata.signature_def.signature_def;
    expect(toServingSignatureDefJson(read)).toEqual(served);
    expect(read.signatures.classify_x_to_y?.inputs.inputs).toEqual({
      dtype: 'DT_STRING',
      shape: null,
      tensorName: 'tf_example:0',
    });
    expect(read.signatures.serving_default).toEqual({
      methodName: 'tensorflow/serving/predict',
      inputs: { x: { dtype: 'DT_FLOAT', shape: [-1, 1], tensorName: 'x:0' } },
      outputs: { y: { dtype: 'DT_FLOAT', shape: [-1, 1], tensorName: 'y:0' } },
    });
  });

  test('both versions of saved_model_half_plus_two_2_versions equal their recorded metadata', () => {
    const served = metadata('saved_model_half_plus_two_2_versions_metadata.json');
    for (const version of ['00000123', '00000124']) {
      const read = readSignatures(
        readPb(path.join(tfserving, 'saved_model_half_plus_two_2_versions', version)),
      );
      expect(toServingSignatureDefJson(read)).toEqual(served.metadata.signature_def.signature_def);
      expect(read.signatures).toEqual(signaturesFromServingJson(served));
    }
  });

  test('saved_model_counter: four predict signatures, none serving_default, three without inputs', () => {
    const read = readSignatures(readPb(path.join(tfserving, 'saved_model_counter/00000123')));
    expect(Object.keys(read.signatures)).toEqual([
      'get_counter',
      'incr_counter',
      'incr_counter_by',
      'reset_counter',
    ]);
    for (const name of ['get_counter', 'incr_counter', 'reset_counter']) {
      expect(read.signatures[name]?.inputs).toEqual({});
      expect(read.signatures[name]?.methodName).toBe('tensorflow/serving/predict');
      expect(Object.keys(read.signatures[name]?.outputs ?? {})).toEqual(['output']);
    }
    expect(Object.keys(read.signatures.incr_counter_by?.inputs ?? {})).toEqual(['delta']);
    expect(read.signatures.incr_counter_by?.inputs.delta).toEqual({
      dtype: 'DT_FLOAT',
      shape: null,
      tensorName: 'delta:0',
    });
    // The counter variable itself: a reference dtype, as the graph declares it.
    expect(read.signatures.get_counter?.outputs.output).toEqual({
      dtype: 'DT_FLOAT_REF',
      shape: [],
      tensorName: 'counter:0',
    });
  });

  test('matrix_half_plus_two (no variables folder) has serving_default x -> y over a matrix', () => {
    const read = readSignatures(readPb(path.join(tfserving, 'matrix_half_plus_two/1')));
    const sig = read.signatures.serving_default;
    expect(sig?.methodName).toBe('tensorflow/serving/predict');
    expect(Object.keys(sig?.inputs ?? {})).toEqual(['x']);
    expect(Object.keys(sig?.outputs ?? {})).toEqual(['y']);
    expect(sig?.inputs.x).toEqual({ dtype: 'DT_FLOAT', shape: [-1, 3, 3], tensorName: 'x:0' });
    expect(sig?.outputs.y).toEqual({ dtype: 'DT_FLOAT', shape: [-1, 3, 3], tensorName: 'y:0' });
  });

  test('the TF2 export reports its TensorFlow version and keeps its serving_default', () => {
    const read = readSignatures(readPb(path.join(tfserving, 'saved_model_half_plus_two_tf2_cpu/00000123')));
    expect(read.tensorflowVersion).toBe('2.14.0');
    expect(read.signatures.serving_default).toEqual({
      methodName: 'tensorflow/serving/predict',
      inputs: { x: { dtype: 'DT_FLOAT', shape: [1], tensorName: 'serving_default_x:0' } },
      outputs: { y: { dtype: 'DT_FLOAT', shape: [1], tensorName: 'StatefulPartitionedCall_5:0' } },
    });
    // TF2 exports carry their init op as a signature, as TF Serving's metadata shows it.
    expect(read.signatures.__saved_model_init_op?.outputs.__saved_model_init_op?.dtype).toBe('DT_INVALID');
  });

  test('a tag set the model lacks is named, with the tag sets it has', () => {
    const bytes = readPb(path.join(tfserving, 'saved_model_half_plus_two_cpu/00000123'));
    expect(() => readSignatures(bytes, { tags: ['serve', 'gpu'] })).toThrow(
      'saved_model.pb: no MetaGraph tagged {gpu, serve} (found {serve})',
    );
  });
});

describe('malformed saved_model.pb', () => {
  const good = readPb(path.join(tfserving, 'saved_model_half_plus_two_cpu/00000123'));

  test('the old checkpoint export is refused: it has no saved_model.pb, and its export.meta holds no MetaGraph list', () => {
    const meta = fs.readFileSync(path.join(tfserving, 'bad_half_plus_two/00000123/export.meta'));
    expect(() => readSignatures(meta, { source: 'export.meta' })).toThrow(SavedModelError);
    expect(() => readSignatures(meta, { source: 'export.meta' })).toThrow(/^export\.meta: /);
  });

  test('every truncation gives a SavedModelError naming the file, never another error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: good.length - 1 }), (cut) => {
        try {
          readSignatures(good.subarray(0, cut), { source: 'm/1/saved_model.pb' });
        } catch (error) {
          expect(error).toBeInstanceOf(SavedModelError);
          expect((error as Error).message).toMatch(/^m\/1\/saved_model\.pb: /);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('random bytes and flipped bytes give a SavedModelError or a reading, never a crash', () => {
    const mutated = fc
      .array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 8,
      })
      .map((edits) => {
        const copy = Uint8Array.from(good);
        for (const [at, value] of edits) copy[at] = value;
        return copy;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 4096 }), mutated), (bytes) => {
        try {
          const read = readSignatures(bytes);
          expect(typeof read.signatures).toBe('object');
        } catch (error) {
          expect(error).toBeInstanceOf(SavedModelError);
        }
      }),
      { numRuns: 400 },
    );
  });

  test('an empty file says it holds no MetaGraph', () => {
    expect(() => readSignatures(new Uint8Array(0))).toThrow(
      'saved_model.pb: not a SavedModel: it holds no MetaGraph (is this a checkpoint or a frozen graph?)',
    );
  });
});

describe('saved_model.pbtxt', () => {
  const text = `
saved_model_schema_version: 1
meta_graphs {
  meta_info_def {
    tags: "serve"
    tensorflow_version: "2.15.0"
  }
  graph_def { node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } } }
  signature_def {
    key: "serving_default"
    value {
      inputs {
        key: "x"
        value { name: "x:0" dtype: DT_FLOAT tensor_shape { dim { size: -1 } dim { size: 1 } } }
      }
      inputs {
        key: "examples"
        value { name: "tf_example:0" dtype: DT_STRING tensor_shape { unknown_rank: true } }
      }
      outputs {
        key: "y"
        value { name: "y:0" dtype: DT_FLOAT tensor_shape { dim { size: -1 } dim { size: 1 } } }
      }
      method_name: "tensorflow/serving/predict"
    }
  }
}
meta_graphs { meta_info_def { tags: "train" } }
`;

  test('reads the same structure as the binary reader', () => {
    const read = readSignaturesFromText(text);
    expect(read).toEqual({
      tags: ['serve'],
      tensorflowVersion: '2.15.0',
      signatures: {
        serving_default: {
          methodName: 'tensorflow/serving/predict',
          inputs: {
            examples: { dtype: 'DT_STRING', shape: null, tensorName: 'tf_example:0' },
            x: { dtype: 'DT_FLOAT', shape: [-1, 1], tensorName: 'x:0' },
          },
          outputs: { y: { dtype: 'DT_FLOAT', shape: [-1, 1], tensorName: 'y:0' } },
        },
      },
    });
  });

  test('a syntax error names the file, line and column', () => {
    expect(() => readSignaturesFromText('meta_graphs { tags: ', { source: 'm/saved_model.pbtxt' })).toThrow(
      /^m\/saved_model\.pbtxt: not a SavedModel in text format \(m\/saved_model\.pbtxt: line 1, column/,
    );
  });
});

describe('hostile nesting and text', () => {
  const varint = (value: number): number[] => {
    const out: number[] = [];
    let n = value;
    do {
      out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
      n = Math.floor(n / 128);
    } while (n > 0);
    return out;
  };
  /** A length-delimited field: tag, varint length, payload. */
  const field = (no: number, payload: Uint8Array): Uint8Array => {
    const out = new Uint8Array(1 + varint(payload.length).length + payload.length);
    out.set([(no << 3) | 2, ...varint(payload.length)]);
    out.set(payload, out.length - payload.length);
    return out;
  };

  test('composite tensors nested 50,000 deep give a SavedModelError, not a stack overflow', () => {
    // TensorInfo.composite_tensor (5) -> components (2) -> TensorInfo -> ..., 50,000 levels deep. Every
    // level holds only the next one, so the bytes are all the headers, outermost first.
    const headers: Uint8Array[] = [];
    let inner = 0;
    for (let i = 0; i < 50_000; i++) {
      const componentsLength = varint(inner); // CompositeTensor.components holds the inner TensorInfo
      const compositeLength = 1 + componentsLength.length + inner;
      const compositeHeader = varint(compositeLength);
      headers.push(Uint8Array.from([(5 << 3) | 2, ...compositeHeader, (2 << 3) | 2, ...componentsLength]));
      inner = 1 + compositeHeader.length + compositeLength;
    }
    const info = new Uint8Array(inner);
    let at = 0;
    for (let i = headers.length - 1; i >= 0; i--) {
      info.set(headers[i] as Uint8Array, at);
      at += (headers[i] as Uint8Array).length;
    }
    const entry = Uint8Array.from([...field(1, new TextEncoder().encode('x')), ...field(2, info)]);
    const signature = field(1, entry); // SignatureDef.inputs
    const sigEntry = Uint8Array.from([
      ...field(1, new TextEncoder().encode('serving_default')),
      ...field(2, signature),
    ]);
    const metaGraph = Uint8Array.from([
      ...field(1, field(4, new TextEncoder().encode('serve'))),
      ...field(5, sigEntry),
    ]);
    expect(() => readSignatures(field(2, metaGraph))).toThrow(
      /^saved_model\.pb: not a SavedModel: the protobuf is truncated or corrupt \(.*maximum recursion depth of 100 reached\)/,
    );
  });

  test('random text is a SavedModelError or a reading, never another error', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.constantFrom(
            'meta_graphs {',
            'meta_graphs { meta_info_def { tags: "serve" } signature_def { key: 1 } }',
          ),
        ),
        (text) => {
          try {
            readSignaturesFromText(text);
          } catch (error) {
            expect(error).toBeInstanceOf(SavedModelError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
