// Warm-up records: TFRecord framing checked with an independent CRC32C
// (@aws-crypto/crc32c), and the PredictionLog bytes read back with
// @catwalk/client's own TF Serving protos and tensor codec.
import * as path from 'node:path';
import { Crc32c } from '@aws-crypto/crc32c';
import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { decodeTensor, PredictRequestSchema } from '@catwalk/client/wire';
import {
  buildWarmupFile,
  crc32c,
  frameRecord,
  readSignatures,
  readTfRecords,
  readWarmupFile,
  type SignatureSpec,
  WarmupError,
  writeTfRecords,
} from '@catwalk/savedmodel';
import * as fc from 'fast-check';
import { readPb, tfserving } from './helpers';

const independentCrc = (bytes: Uint8Array) => new Crc32c().update(bytes).digest() >>> 0;
// TFRecord's mask, as TensorFlow's crc32c.h documents it.
const mask = (crc: number) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;

/** An independent TFRecord reader: length, masked CRC of the length, data, masked CRC of the data. */
function parseFraming(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const length = Number(view.getBigUint64(at, true));
    expect(view.getUint32(at + 8, true)).toBe(mask(independentCrc(bytes.subarray(at, at + 8))));
    const data = bytes.subarray(at + 12, at + 12 + length);
    expect(view.getUint32(at + 12 + length, true)).toBe(mask(independentCrc(data)));
    out.push(data);
    at += 16 + length;
  }
  expect(at).toBe(bytes.length);
  return out;
}

/** Field 6 (predict_log) of a PredictionLog, then its field 1 (request), read off the wire by number. */
function requestBytes(record: Uint8Array): Uint8Array {
  const field = (bytes: Uint8Array, number: number): Uint8Array => {
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [no, type] = reader.tag();
      if (no === number && type === WireType.LengthDelimited) return reader.bytes();
      reader.skip(type);
    }
    throw new Error(`no field ${number}`);
  };
  return field(field(record, 6), 1);
}

const halfPlusTwo = readSignatures(readPb(path.join(tfserving, 'saved_model_half_plus_two_cpu/00000123')));
const servingDefault = halfPlusTwo.signatures.serving_default as SignatureSpec;

describe('CRC32C and TFRecord framing', () => {
  test('crc32c equals an independent implementation, and the iSCSI check value', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => crc32c(bytes) === independentCrc(bytes)),
    );
  });

  test('records frame and read back, checked by an independent reader', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), (records) => {
        const file = writeTfRecords(records);
        expect(parseFraming(file).map((r) => Array.from(r))).toEqual(records.map((r) => Array.from(r)));
        expect(readTfRecords(file).map((r) => Array.from(r))).toEqual(records.map((r) => Array.from(r)));
      }),
    );
  });

  test('a flipped bit or a cut file is reported with the record number', () => {
    const file = writeTfRecords([new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6])]);
    const flipped = Uint8Array.from(file);
    flipped[19 + 13] = (flipped[19 + 13] as number) ^ 1; // the second record's data
    expect(() => readTfRecords(flipped)).toThrow('record 1 is corrupt (its data CRC does not match)');
    expect(() => readTfRecords(file.subarray(0, file.length - 2))).toThrow('record 1 is truncated');
    expect(frameRecord(new Uint8Array(0))).toHaveLength(16);
  });
});

describe('warm-up file for a predict signature', () => {
  test('PredictionLog records decode with TF Serving protos to the requests given', () => {
    const file = buildWarmupFile({
      model: 'half_plus_two',
      signature: servingDefault,
      requests: [{ x: [[1], [2], [5]] }, { x: [[0.5]] }],
    });
    const records = parseFraming(file);
    expect(records).toHaveLength(2);
    const requests = records.map((r) => fromBinary(PredictRequestSchema, requestBytes(r)));
    expect(requests[0]?.modelSpec).toMatchObject({ name: 'half_plus_two', signatureName: 'serving_default' });
    const x = decodeTensor(requests[0]!.inputs.x!);
    expect({ dtype: x.dtype, shape: x.shape, data: Array.from(x.data as Float32Array) }).toEqual({
      dtype: 'float32',
      shape: [3, 1],
      data: [1, 2, 5],
    });
    expect(Array.from(decodeTensor(requests[1]!.inputs.x!).data as Float32Array)).toEqual([0.5]);
    // Our own reader agrees.
    expect(readWarmupFile(file).map((log) => log.logType.case)).toEqual(['predictLog', 'predictLog']);
  });

  test('a flat list takes the shape of a signature with one unknown dimension, as predict sends it', () => {
    const file = buildWarmupFile({
      model: 'half_plus_two',
      signature: servingDefault,
      requests: [{ x: [1.0, 2.0] }],
    });
    const request = fromBinary(PredictRequestSchema, requestBytes(parseFraming(file)[0]!));
    const x = decodeTensor(request.inputs.x!);
    expect({ shape: x.shape, data: Array.from(x.data as Float32Array) }).toEqual({
      shape: [2, 1],
      data: [1, 2],
    });
    // A signature of known dimensions only, or of more than one unknown one, keeps the list as given.
    const fixed = (shape: number[]): SignatureSpec => ({
      methodName: 'tensorflow/serving/predict',
      inputs: { x: { dtype: 'DT_FLOAT', shape, tensorName: 'x:0' } },
      outputs: {},
    });
    expect(() =>
      buildWarmupFile({ model: 'm', signature: fixed([-1, -1]), requests: [{ x: [1, 2] }] }),
    ).toThrow("request 0: input x: shape [2] does not fit the signature's [?, ?]");
    expect(() =>
      buildWarmupFile({ model: 'm', signature: fixed([-1, 3]), requests: [{ x: [1, 2] }] }),
    ).toThrow("request 0: input x: shape [2] does not fit the signature's [?, 3]");
    const six = fromBinary(
      PredictRequestSchema,
      requestBytes(
        parseFraming(
          buildWarmupFile({ model: 'm', signature: fixed([-1, 3]), requests: [{ x: [1, 2, 3, 4, 5, 6] }] }),
        )[0]!,
      ),
    );
    expect(decodeTensor(six.inputs.x!).shape).toEqual([2, 3]);
  });

  test('int64, string and bytes inputs keep their values', () => {
    const signature: SignatureSpec = {
      methodName: 'tensorflow/serving/predict',
      inputs: {
        ids: { dtype: 'DT_INT64', shape: [-1], tensorName: 'ids:0' },
        text: { dtype: 'DT_STRING', shape: [-1], tensorName: 'text:0' },
      },
      outputs: {},
    };
    const file = buildWarmupFile({
      model: 'm',
      signature,
      requests: [{ ids: [1, '9007199254740993'], text: ['héllo', { b64: 'AAEC' }] }],
    });
    const request = fromBinary(PredictRequestSchema, requestBytes(parseFraming(file)[0]!));
    expect(request.inputs.ids?.int64Val).toEqual([1n, 9007199254740993n]);
    expect(request.inputs.text?.stringVal.map((b) => Array.from(b))).toEqual([
      Array.from(new TextEncoder().encode('héllo')),
      [0, 1, 2],
    ]);
  });

  test('each request is checked against the signature, and the message names the request and input', () => {
    const build = (requests: unknown[]) => () =>
      buildWarmupFile({ model: 'half_plus_two', signature: servingDefault, requests });
    expect(build([{ x: [[1]] }, { features: [[1]] }])).toThrow(
      'request 1: serving_default has no input features; its inputs are x',
    );
    expect(build([{}])).toThrow('request 0: input x is missing');
    // A name every plain object has is an input like any other, never silently dropped.
    expect(build([JSON.parse('{"x": [[1]], "constructor": [[1]]}')])).toThrow(
      'request 0: serving_default has no input constructor; its inputs are x',
    );
    expect(build([JSON.parse('{"x": [[1]], "toString": [[1]]}')])).toThrow(
      'request 0: serving_default has no input toString; its inputs are x',
    );
    expect(build([{ x: [[1, 2]] }])).toThrow(
      "request 0: input x: shape [1, 2] does not fit the signature's [?, 1]",
    );
    expect(build([{ x: [['a']] }])).toThrow('request 0: input x: value 0 ("a") is not a number (DT_FLOAT)');
    expect(build([{ x: [[1], [2, 3]] }])).toThrow('request 0: input x: ragged nesting at [1]');
    expect(build([])).toThrow(WarmupError);
    expect(build(Array.from({ length: 1001 }, () => ({ x: [[1]] })))).toThrow(
      'TF Serving replays at most 1000',
    );
    const classify = halfPlusTwo.signatures.classify_x_to_y as SignatureSpec;
    expect(() => buildWarmupFile({ model: 'm', signature: classify, requests: [{}] })).toThrow(
      'warm-up records are written for predict signatures',
    );
  });
});
