import { InvalidInputError } from './errors.js';

/** The element types the SDK can send and receive. */
export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'bool'
  | 'string';

/** The data of a tensor of each dtype, row-major. float16/bfloat16 hold raw 16-bit patterns. */
export interface DataByDType {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
  bool: boolean[];
  /** Text (string[]) or raw bytes (Uint8Array[]): TF's DT_STRING holds bytes. */
  string: string[] | Uint8Array[];
}

export type TensorData = DataByDType[DType];
export type NumericDType = Exclude<DType, 'bool' | 'string'>;

export interface Tensor<D extends DType = DType> {
  readonly dtype: D;
  /** Dimensions, outermost first; [] for a scalar. */
  readonly shape: readonly number[];
  readonly data: DataByDType[D];
}

/** TF's DataType enum numbers for each dtype. */
export const DATA_TYPE_NUMBER: Readonly<Record<DType, number>> = {
  float32: 1,
  float64: 2,
  int32: 3,
  uint8: 4,
  int16: 5,
  int8: 6,
  string: 7,
  int64: 9,
  bool: 10,
  bfloat16: 14,
  uint16: 17,
  float16: 19,
  uint32: 22,
  uint64: 23,
};

/** TF's DataType enum names for each dtype, as REST metadata spells them. */
export const TF_DTYPE_NAME: Readonly<Record<DType, string>> = {
  float32: 'DT_FLOAT',
  float64: 'DT_DOUBLE',
  int32: 'DT_INT32',
  uint8: 'DT_UINT8',
  int16: 'DT_INT16',
  int8: 'DT_INT8',
  string: 'DT_STRING',
  int64: 'DT_INT64',
  bool: 'DT_BOOL',
  bfloat16: 'DT_BFLOAT16',
  uint16: 'DT_UINT16',
  float16: 'DT_HALF',
  uint32: 'DT_UINT32',
  uint64: 'DT_UINT64',
};

const DTYPE_BY_NUMBER = new Map<number, DType>(
  Object.entries(DATA_TYPE_NUMBER).map(([dtype, n]) => [n, dtype as DType]),
);
const DTYPE_BY_TF_NAME = new Map<string, DType>(
  Object.entries(TF_DTYPE_NAME).map(([dtype, name]) => [name, dtype as DType]),
);

export function dtypeFromNumber(n: number): DType | undefined {
  return DTYPE_BY_NUMBER.get(n);
}

export function dtypeFromTfName(name: string): DType | undefined {
  return DTYPE_BY_TF_NAME.get(name);
}

type TypedArrayConstructor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int8ArrayConstructor
  | Int16ArrayConstructor
  | Int32ArrayConstructor
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

export const ARRAY_TYPE: Readonly<Record<NumericDType, TypedArrayConstructor>> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
};

export type TypedArray = InstanceType<TypedArrayConstructor>;

/** Number of elements a shape holds (1 for a scalar). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function dtypeOfData(data: unknown): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof BigUint64Array) return 'uint64';
  if (Array.isArray(data)) {
    const first = data[0];
    if (typeof first === 'boolean') return 'bool';
    if (typeof first === 'string' || first instanceof Uint8Array) return 'string';
    if (data.length === 0) return 'float32';
  }
  throw new InvalidInputError(
    'tensor data must be a TypedArray, boolean[], string[] or Uint8Array[]; use nested number arrays through predict() instead',
    { code: 'INVALID_ARGUMENT' },
  );
}

/**
 * Makes a tensor from flat data and a shape (default: 1-D). The dtype follows
 * the data (Float32Array is float32, ...); pass it to pick float16/bfloat16 for a
 * Uint16Array of bit patterns.
 */
export function tensor<D extends DType>(
  data: DataByDType[D],
  shape?: readonly number[],
  dtype?: D,
): Tensor<D> {
  const kind = dtypeOfData(data);
  const resolved = (dtype ?? kind) as D;
  const compatible =
    resolved === kind || (kind === 'uint16' && (resolved === 'float16' || resolved === 'bfloat16'));
  if (!compatible) {
    throw new InvalidInputError(`tensor data holds ${kind} values, not ${resolved}`, {
      code: 'INVALID_ARGUMENT',
    });
  }
  const dims = shape ?? [data.length];
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) {
      throw new InvalidInputError(`tensor shape [${dims.join(', ')}] must hold non-negative integers`, {
        code: 'INVALID_ARGUMENT',
      });
    }
  }
  if (sizeOf(dims) !== data.length) {
    throw new InvalidInputError(
      `tensor shape [${dims.join(', ')}] holds ${sizeOf(dims)} values but the data has ${data.length}`,
      { code: 'INVALID_ARGUMENT' },
    );
  }
  return { dtype: resolved, shape: [...dims], data };
}

export function isTensor(value: unknown): value is Tensor {
  return (
    typeof value === 'object' &&
    value !== null &&
    'dtype' in value &&
    'shape' in value &&
    'data' in value &&
    Array.isArray((value as Tensor).shape)
  );
}

/** Returns the tensor's values as nested JS arrays (numbers, bigints, booleans, strings or bytes). */
export function toNested(t: Tensor): unknown {
  const data = t.data as ArrayLike<unknown>;
  if (t.shape.length === 0) return data[0];
  let offset = 0;
  const build = (axis: number): unknown[] => {
    const n = t.shape[axis]!;
    const out = new Array<unknown>(n);
    if (axis === t.shape.length - 1) {
      for (let i = 0; i < n; i++) out[i] = data[offset++];
    } else {
      for (let i = 0; i < n; i++) out[i] = build(axis + 1);
    }
    return out;
  };
  return build(0);
}

// float16 / bfloat16 helpers: TF carries both as 16-bit patterns.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds float32 values to bfloat16 bit patterns (round to nearest even). */
export function toBfloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i]!;
    const bits = u32[0]!;
    if (Number.isNaN(values[i])) {
      out[i] = 0x7fc0;
      continue;
    }
    out[i] = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
  }
  return out;
}

export function fromBfloat16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const view = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) view[i] = bits[i]! << 16;
  return out;
}

/** Converts float values to IEEE half-precision bit patterns (round to nearest even). */
export function toFloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i]!;
    const x = u32[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let half = mant >>> shift;
      const rest = mant & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      if (rest > mid || (rest === mid && half & 1)) half++;
      out[i] = sign | half;
      continue;
    }
    let half = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
    out[i] = sign | half;
  }
  return out;
}

export function fromFloat16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) out[i] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) out[i] = mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else out[i] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return out;
}
