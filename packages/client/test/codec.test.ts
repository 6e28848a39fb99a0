import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  type DType,
  fromBfloat16,
  fromFloat16,
  type Tensor,
  tensor,
  toBfloat16,
  toFloat16,
} from '@catwalk/client';
import * as wire from '@catwalk/client/wire';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const encode = (t: Tensor) => toBinary(wire.TensorProtoSchema, wire.encodeTensor(t));
const decode = (h: string, alias?: string) =>
  wire.decodeTensor(fromBinary(wire.TensorProtoSchema, bytes(h)), alias === undefined ? {} : { alias });

// Expected bytes are written out by hand from the protobuf wire format:
// tag = field << 3 | wire type; TensorProto dtype = 1, tensor_shape = 2
// (Dim = 2 { size = 1 }), tensor_content = 4, float_val = 5, int_val = 7,
// string_val = 8, int64_val = 10, bool_val = 11, half_val = 13, uint64_val = 17.
describe('encodeTensor golden bytes', () => {
  test('float32 [2] goes out as little-endian tensor_content', () => {
    expect(hex(encode(tensor(new Float32Array([1, 2]))))).toBe(
      ['0801', '1204 1202 0802', '2208 0000803f 00000040'].join('').replace(/\s/g, ''),
    );
  });

  test('int64 [2,1] as 8-byte little-endian words', () => {
    const t = tensor(new BigInt64Array([1n, -2n]), [2, 1]);
    expect(hex(encode(t))).toBe(
      ['0809', '1208 1202 0802 1202 0801', '2210 0100000000000000 feffffffffffffff']
        .join('')
        .replace(/\s/g, ''),
    );
  });

  test('strings as string_val, booleans as packed bool_val, a scalar with an empty shape', () => {
    expect(hex(encode(tensor(['ab', 'c'])))).toBe('0807 1204 1202 0802 4202 6162 4201 63'.replace(/\s/g, ''));
    expect(hex(encode(tensor([true, false])))).toBe('080a 1204 1202 0802 5a02 0100'.replace(/\s/g, ''));
    expect(hex(encode(tensor(new Int32Array([7]), [])))).toBe('0803 1200 2204 07000000'.replace(/\s/g, ''));
  });

  test('encoding does not copy the float data', () => {
    const data = new Float32Array([1, 2, 3]);
    const proto = wire.encodeTensor(tensor(data));
    expect(proto.tensorContent.buffer).toBe(data.buffer);
  });

  test('PredictRequest: ModelSpec name = 1, version = 2 (Int64Value), signature_name = 3; inputs map = 2', () => {
    const request = create(wire.PredictRequestSchema, {
      modelSpec: { name: 'm', versionChoice: { case: 'version', value: { value: 3n } }, signatureName: 's' },
      inputs: { x: wire.encodeTensor(tensor(new Float32Array([1]))) },
    });
    // model_spec: 0a 0a | 0a 01 'm' | 12 02 08 03 | 1a 01 's'
    // inputs entry: 12 13 | key 0a 01 'x' | value 12 0e | tensor 08 01 12 04 12 02 08 01 22 04 0000803f
    expect(hex(toBinary(wire.PredictRequestSchema, request))).toBe(
      '0a0a 0a016d 12020803 1a0173 1213 0a0178 120e 0801 1204 1202 0801 2204 0000803f'.replace(/\s/g, ''),
    );
  });

  test('ModelSpec version_label = 4', () => {
    const spec = create(wire.ModelSpecSchema, {
      name: 'm',
      versionChoice: { case: 'versionLabel', value: 'stable' },
    });
    expect(hex(toBinary(wire.ModelSpecSchema, spec))).toBe('0a016d 2206 737461626c65'.replace(/\s/g, ''));
  });
});

describe('decodeTensor', () => {
  test('tensor_content, also at an odd offset in the message', () => {
    const t = decode('0801 1204 1202 0802 2208 0000803f 00000040');
    expect(t).toEqual({ dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) });
  });

  test("packed float_val (field 5), TF Serving's default output form", () => {
    expect(decode('0801 1204 1202 0803 2a0c 0000803f 00000040 00004040').data).toEqual(
      new Float32Array([1, 2, 3]),
    );
  });

  test('one *_val value fills the whole shape', () => {
    const t = decode('0801 1208 1202 0802 1202 0802 2a04 0000803f');
    expect(t.shape).toEqual([2, 2]);
    expect(t.data).toEqual(new Float32Array([1, 1, 1, 1]));
    expect(decode('080a 1204 1202 0803 5a01 01').data).toEqual([true, true, true]);
  });

  test('no values at all means zeros', () => {
    expect(decode('0803 1204 1202 0802').data).toEqual(new Int32Array([0, 0]));
  });

  test('int_val carries int8/uint8/int16/uint16; int64_val and uint64_val bigints; half_val 16-bit patterns', () => {
    // int_val [-1, 2] as packed varints: -1 is ten bytes.
    expect(decode('0806 1204 1202 0802 3a0b ffffffffffffffffff01 02').data).toEqual(new Int8Array([-1, 2]));
    expect(decode('0804 1204 1202 0801 3a02 ff01').data).toEqual(new Uint8Array([255]));
    expect(decode('0809 1204 1202 0801 5202 ac02').data).toEqual(new BigInt64Array([300n]));
    expect(decode('0817 1204 1202 0801 8a0101 05').data).toEqual(new BigUint64Array([5n]));
    expect(decode('0813 1204 1202 0801 6a03 80f803').data).toEqual(new Uint16Array([0xfc00]));
  });

  test('DT_STRING: text by default, bytes for aliases ending in _bytes', () => {
    expect(decode('0807 1204 1202 0801 4202 6869', 'y').data).toEqual(['hi']);
    expect(decode('0807 1204 1202 0801 4202 6869', 'y_bytes').data).toEqual([new Uint8Array([0x68, 0x69])]);
  });

  test('a tensor_content of the wrong size is reported, not misread', () => {
    expect(() => decode('0801 1204 1202 0802 2204 0000803f')).toThrow(
      /tensor_content has 4 bytes, shape \[2\] needs 8/,
    );
  });
});

describe('round trip through protobuf bytes, every dtype', () => {
  const cases: Array<[DType, Tensor]> = [
    ['float32', tensor(new Float32Array([1.5, -2, Number.NaN, Number.POSITIVE_INFINITY]), [2, 2])],
    ['float64', tensor(new Float64Array([Math.PI, -0.1]))],
    ['int8', tensor(new Int8Array([-128, 127]))],
    ['int16', tensor(new Int16Array([-32768, 32767]))],
    ['int32', tensor(new Int32Array([-(2 ** 31), 2 ** 31 - 1]))],
    ['int64', tensor(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]))],
    ['uint8', tensor(new Uint8Array([0, 255]))],
    ['uint16', tensor(new Uint16Array([0, 65535]))],
    ['uint32', tensor(new Uint32Array([0, 2 ** 32 - 1]))],
    ['uint64', tensor(new BigUint64Array([0n, 2n ** 64n - 1n]))],
    ['float16', tensor(toFloat16([1, -2.5, 65504]), [3], 'float16')],
    ['bfloat16', tensor(toBfloat16([1, -2.5, 3.0e38]), [3], 'bfloat16')],
    ['bool', tensor([true, false, true])],
    ['string', tensor(['héllo', ''])],
  ];
  test.each(cases)('%s', (_dtype, t) => {
    const back = wire.decodeTensor(fromBinary(wire.TensorProtoSchema, encode(t)));
    expect(back).toEqual(t);
  });
});

describe('float16 and bfloat16 helpers', () => {
  test('round to nearest and back', () => {
    expect(Array.from(fromFloat16(toFloat16([1, -2.5, 65504, 1e-8, 70000])))).toEqual([
      1,
      -2.5,
      65504,
      0,
      Infinity,
    ]);
    expect(Array.from(toFloat16([1]))).toEqual([0x3c00]);
    expect(Array.from(fromBfloat16(toBfloat16([1, -2.5])))).toEqual([1, -2.5]);
    expect(Array.from(toBfloat16([1]))).toEqual([0x3f80]);
  });
});

test('tensor() checks the shape against the data', () => {
  expect(() => tensor(new Float32Array(3), [2, 2])).toThrow(
    'tensor shape [2, 2] holds 4 values but the data has 3',
  );
  expect(() => tensor(new Float32Array(1) as never, [1], 'int32')).toThrow(
    'tensor data holds float32 values, not int32',
  );
});

describe('encodePredictRequest (straight from tensors)', () => {
  const reference = (
    spec: { model: string; version?: number; label?: string; signature?: string },
    inputs: Record<string, Tensor>,
    outputFilter: string[] = [],
  ) => {
    const request = create(wire.PredictRequestSchema, {
      modelSpec: {
        name: spec.model,
        signatureName: spec.signature ?? '',
        versionChoice:
          spec.version !== undefined
            ? { case: 'version', value: { value: BigInt(spec.version) } }
            : spec.label !== undefined
              ? { case: 'versionLabel', value: spec.label }
              : { case: undefined },
      },
      inputs: Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, wire.encodeTensor(t)])),
      outputFilter,
    });
    return hex(toBinary(wire.PredictRequestSchema, request));
  };
  const everyDtype: Record<string, Tensor> = {
    f32: tensor(new Float32Array([1.5, -2]), [2, 1]),
    f64: tensor(new Float64Array([Math.PI])),
    i8: tensor(new Int8Array([-1, 2])),
    i64: tensor(new BigInt64Array([-(2n ** 63n), 300n])),
    u16: tensor(new Uint16Array([65535])),
    u64: tensor(new BigUint64Array([2n ** 64n - 1n])),
    half: tensor(toFloat16([1]), [1], 'float16'),
    flags: tensor([true, false, true]),
    words: tensor(['héllo', '', 'ü'.repeat(200)]),
    bytes: tensor([new Uint8Array([0, 255]), new Uint8Array(0)]),
    scalar: tensor(new Int32Array([7]), []),
    empty: tensor(new Float32Array(0), [0]),
    emptyRows: tensor(new Float32Array(0), [2, 0]),
    large: tensor(new Float32Array(300), [150, 2]),
  };
  test.each([
    [{ model: 'half_plus_two' }, []],
    [{ model: 'm', version: 0, signature: 'serving_default' }, []],
    [{ model: 'm', version: 2 ** 40 }, ['y', 'z']],
    [{ model: 'm/ü', label: 'canary' }, ['y']],
  ])('%p writes the bytes protobuf-es writes', (spec, filter) => {
    expect(hex(wire.encodePredictRequest(spec, everyDtype, filter))).toBe(
      reference(spec, everyDtype, filter),
    );
  });

  test('a 1 MB tensor is written as the same bytes too', () => {
    const big = { x: tensor(Float32Array.from({ length: 1 << 18 }, (_, i) => i)) };
    expect(
      Buffer.from(wire.encodePredictRequest({ model: 'm' }, big)).equals(
        Buffer.from(reference({ model: 'm' }, big), 'hex'),
      ),
    ).toBe(true);
  });
});
