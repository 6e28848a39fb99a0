import { create } from '@bufbuild/protobuf';
import { ServerError, UnimplementedError } from './errors.js';
import {
  type TensorProto,
  TensorProtoSchema,
} from './generated/proto/tensorflow/core/framework/tensor_pb.js';
import { TensorShapeProtoSchema } from './generated/proto/tensorflow/core/framework/tensor_shape_pb.js';
import {
  ARRAY_TYPE,
  DATA_TYPE_NUMBER,
  dtypeFromNumber,
  type NumericDType,
  sizeOf,
  type Tensor,
  type TypedArray,
} from './tensor.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

function shapeProto(shape: readonly number[]) {
  return create(TensorShapeProtoSchema, { dim: shape.map((size) => ({ size: BigInt(size) })) });
}

/** Little-endian bytes of a typed array: a view of the same memory on little-endian hosts. */
export function littleEndianBytes(data: TypedArray): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return bytes;
  const swapped = new Uint8Array(bytes.length);
  const width = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += width) {
    for (let j = 0; j < width; j++) swapped[i + j] = bytes[i + width - 1 - j]!;
  }
  return swapped;
}

/**
 * Tensor -> TensorProto. Numeric tensors travel as tensor_content (no copy on
 * little-endian hosts); booleans as bool_val and strings as string_val, since
 * TF has no tensor_content form for strings.
 */
export function encodeTensor(t: Tensor): TensorProto {
  const proto = create(TensorProtoSchema, {
    dtype: DATA_TYPE_NUMBER[t.dtype],
    tensorShape: shapeProto(t.shape),
  });
  if (t.dtype === 'bool') {
    proto.boolVal = t.data as boolean[];
  } else if (t.dtype === 'string') {
    proto.stringVal = (t.data as Array<string | Uint8Array>).map((v) =>
      typeof v === 'string' ? utf8.encode(v) : v,
    );
  } else {
    proto.tensorContent = littleEndianBytes(t.data as TypedArray);
  }
  return proto;
}

export interface DecodeOptions {
  /** Decode DT_STRING as raw bytes (Uint8Array[]) instead of UTF-8 text; default: the alias ends in "_bytes". */
  readonly bytes?: boolean;
  /** Used in error messages. */
  readonly alias?: string;
}

/**
 * TensorProto -> Tensor. Accepts tensor_content and the typed *_val fields,
 * including TF's broadcast form where one value fills the whole shape.
 */
export function decodeTensor(proto: TensorProto, options: DecodeOptions = {}): Tensor {
  const what = options.alias === undefined ? 'tensor' : `output "${options.alias}"`;
  const dtype = dtypeFromNumber(proto.dtype);
  if (dtype === undefined) {
    throw new UnimplementedError(`${what} has dtype ${proto.dtype}, which the SDK cannot decode`, {
      code: 'UNIMPLEMENTED',
    });
  }
  const shape = (proto.tensorShape?.dim ?? []).map((d) => Number(d.size));
  const n = sizeOf(shape);

  if (dtype === 'string') {
    const values = broadcast(proto.stringVal, n, new Uint8Array(0), what);
    const asBytes = options.bytes ?? options.alias?.endsWith('_bytes') ?? false;
    return { dtype, shape, data: asBytes ? values : values.map((v) => utf8Decoder.decode(v)) };
  }
  if (dtype === 'bool') {
    if (proto.tensorContent.length > 0) {
      return { dtype, shape, data: Array.from(proto.tensorContent, (b) => b !== 0) };
    }
    return { dtype, shape, data: broadcast(proto.boolVal, n, false, what) };
  }

  const Ctor = ARRAY_TYPE[dtype as NumericDType];
  if (proto.tensorContent.length > 0) {
    const expected = n * Ctor.BYTES_PER_ELEMENT;
    if (proto.tensorContent.length !== expected) {
      throw new ServerError(
        `${what}: tensor_content has ${proto.tensorContent.length} bytes, shape [${shape.join(', ')}] needs ${expected}`,
        { code: 'DATA_LOSS' },
      );
    }
    return { dtype, shape, data: fromLittleEndian(proto.tensorContent, Ctor) } as Tensor;
  }
  const values = valuesFor(proto, dtype as NumericDType);
  const out = new Ctor(n);
  if (values.length === 1 && n > 1) {
    (out as { fill(v: unknown): unknown }).fill(values[0]);
  } else if (values.length === n) {
    (out as { set(v: ArrayLike<unknown>): void }).set(values as ArrayLike<never>);
  } else if (values.length !== 0) {
    throw new ServerError(`${what}: ${values.length} values for shape [${shape.join(', ')}]`, {
      code: 'DATA_LOSS',
    });
  }
  return { dtype, shape, data: out } as Tensor;
}

function broadcast<T>(values: T[], n: number, zero: T, what: string): T[] {
  if (values.length === n) return values;
  if (values.length === 1) return new Array<T>(n).fill(values[0]!);
  if (values.length === 0) return new Array<T>(n).fill(zero);
  throw new ServerError(`${what}: ${values.length} values for ${n} elements`, { code: 'DATA_LOSS' });
}

function valuesFor(proto: TensorProto, dtype: NumericDType): ArrayLike<number | bigint> {
  switch (dtype) {
    case 'float32':
      return proto.floatVal;
    case 'float64':
      return proto.doubleVal;
    case 'float16':
    case 'bfloat16':
      return proto.halfVal;
    case 'int64':
      return proto.int64Val;
    case 'uint32':
      return proto.uint32Val;
    case 'uint64':
      return proto.uint64Val;
    default:
      return proto.intVal;
  }
}

function fromLittleEndian(bytes: Uint8Array, Ctor: (typeof ARRAY_TYPE)[NumericDType]): TypedArray {
  const width = Ctor.BYTES_PER_ELEMENT;
  // A typed array view needs an aligned offset; protobuf hands out views into
  // the message buffer at any offset, so copy unless it happens to fit.
  const aligned =
    bytes.byteOffset % width === 0
      ? bytes
      : new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  if (!LITTLE_ENDIAN && width > 1) {
    const swapped = new Uint8Array(aligned.length);
    for (let i = 0; i < aligned.length; i += width) {
      for (let j = 0; j < width; j++) swapped[i + j] = aligned[i + width - 1 - j]!;
    }
    return new Ctor(swapped.buffer as ArrayBuffer, 0, swapped.length / width);
  }
  return new Ctor(aligned.buffer as ArrayBuffer, aligned.byteOffset, aligned.length / width);
}
