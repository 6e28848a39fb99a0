// What predict() accepts for an input, and how it becomes a tensor using the
// signature when it is known.
import { InvalidInputError } from './errors.js';
import type { TensorSpec } from './metadata.js';
import {
  ARRAY_TYPE,
  type DType,
  isTensor,
  type NumericDType,
  sizeOf,
  type Tensor,
  type TypedArray,
  tensor,
} from './tensor.js';

type Leaf = number | bigint | boolean | string | Uint8Array;
export type NestedArray = readonly (Leaf | NestedArray)[];

/** A tensor, a flat typed array, or nested JS arrays (shape from the nesting, dtype from the signature). */
export type TensorLike = Tensor | TypedArray | NestedArray;

export type { Tensor };

function fail(alias: string, message: string): InvalidInputError {
  return new InvalidInputError(`input "${alias}": ${message}`, { code: 'INVALID_ARGUMENT' });
}

export function toTensor(value: TensorLike, spec: TensorSpec | undefined, alias: string): Tensor {
  if (isTensor(value)) return value;
  if (ArrayBuffer.isView(value)) return reshapeFlat(tensor(value as TypedArray), spec);
  if (!Array.isArray(value)) {
    throw fail(alias, 'expected a tensor, a typed array or nested arrays');
  }
  const shape: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const leaves: Leaf[] = [];
  const collect = (v: unknown, axis: number): void => {
    if (axis === shape.length) {
      if (Array.isArray(v)) throw fail(alias, 'nested arrays must be rectangular');
      leaves.push(v as Leaf);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[axis]) throw fail(alias, 'nested arrays must be rectangular');
    for (const item of v) collect(item, axis + 1);
  };
  collect(value, 0);
  const dtype: DType = spec?.dtype ?? inferDtype(leaves[0]);
  return reshapeFlat({ dtype, shape, data: fill(dtype, leaves, alias) } as Tensor, spec);
}

function inferDtype(leaf: Leaf | undefined): DType {
  if (typeof leaf === 'boolean') return 'bool';
  if (typeof leaf === 'string' || leaf instanceof Uint8Array) return 'string';
  if (typeof leaf === 'bigint') return 'int64';
  return 'float32';
}

function fill(dtype: DType, leaves: Leaf[], alias: string): Tensor['data'] {
  if (dtype === 'bool') {
    return leaves.map((v) => {
      if (typeof v !== 'boolean') throw fail(alias, `expected booleans, got ${typeof v}`);
      return v;
    });
  }
  if (dtype === 'string') {
    const bytes = leaves.some((v) => v instanceof Uint8Array);
    return leaves.map((v) => {
      if (typeof v !== 'string' && !(v instanceof Uint8Array))
        throw fail(alias, `expected strings, got ${typeof v}`);
      return bytes && typeof v === 'string' ? new TextEncoder().encode(v) : v;
    }) as string[] | Uint8Array[];
  }
  const Ctor = ARRAY_TYPE[dtype as NumericDType];
  const out = new Ctor(leaves.length);
  const big = dtype === 'int64' || dtype === 'uint64';
  for (let i = 0; i < leaves.length; i++) {
    const v = leaves[i];
    if (typeof v !== 'number' && typeof v !== 'bigint')
      throw fail(alias, `expected numbers for ${dtype}, got ${typeof v}`);
    if (!big && typeof v === 'number' && dtype !== 'float32' && dtype !== 'float64' && !Number.isInteger(v)) {
      throw fail(alias, `${dtype} needs integers, got ${v}`);
    }
    (out as unknown as Array<number | bigint>)[i] = big ? BigInt(v) : Number(v);
  }
  return out;
}

/**
 * A flat list for a signature of higher rank with one unknown dimension
 * (half_plus_two's x is [-1, 1]) takes the signature's shape.
 */
function reshapeFlat(t: Tensor, spec: TensorSpec | undefined): Tensor {
  const target = spec?.shape;
  if (!target || t.shape.length !== 1 || target.length <= 1) return t;
  const unknown = target.filter((d) => d === -1).length;
  const known = sizeOf(target.filter((d) => d !== -1));
  if (unknown !== 1 || known === 0 || t.data.length % known !== 0) return t;
  return { ...t, shape: target.map((d) => (d === -1 ? t.data.length / known : d)) };
}
