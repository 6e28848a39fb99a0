// What predict() accepts for an input, and how it becomes a tensor using the
// signature when it is known.
import { InvalidInputError } from './errors.js';
import { isB64 } from './json.js';
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

type Leaf = number | bigint | boolean | string | Uint8Array | { readonly b64: string };
export type NestedArray = readonly (Leaf | NestedArray)[];

/**
 * A tensor, a flat typed array, or nested JS arrays (shape from the nesting,
 * dtype from the signature). Byte strings may be Uint8Array or {"b64": ...}.
 */
export type TensorLike = Tensor | TypedArray | NestedArray;

export type { Tensor };

export function toTensor(value: TensorLike, spec: TensorSpec | undefined, alias: string): Tensor {
  if (isTensor(value)) return value;
  if (ArrayBuffer.isView(value)) return reshapeFlat(tensor(value as TypedArray), spec);
  const fail = (problem: string) =>
    new InvalidInputError(`input "${alias}": ${problem}`, { code: 'INVALID_ARGUMENT' });
  if (!Array.isArray(value)) throw fail('expected a tensor, a typed array or nested arrays');
  return reshapeFlat(nestedToTensor(value, { dtype: spec?.dtype, numbers: 'float32', fail }), spec);
}

export interface NestedOptions {
  /** The signature's dtype; without one it follows the first value (numbers: see `numbers`). */
  readonly dtype: DType | undefined;
  /** The dtype of plain numbers when no dtype is given. */
  readonly numbers: 'float32' | 'float64';
  /** DT_STRING values as bytes (Uint8Array[]); they are anyway when any value is bytes or {"b64": ...}. */
  readonly bytes?: boolean;
  /** Builds the error for a problem with the value (an input's or an output's). */
  readonly fail: (problem: string) => Error;
}

/**
 * Nested arrays (an input as callers write it, or a tensor in TF Serving's
 * JSON) to a tensor: the shape from the nesting, which must be rectangular.
 */
export function nestedToTensor(value: unknown, options: NestedOptions): Tensor {
  const { fail } = options;
  const shape: number[] = [];
  let probe = value;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const leaves: unknown[] = [];
  collectLeaves(value, 0, shape, leaves, fail);
  const dtype = options.dtype ?? inferDtype(leaves[0], options.numbers);
  return { dtype, shape, data: fill(dtype, leaves, options) } as Tensor;
}

/** Row-major leaves of a nested array; every level must have the probed length. */
function collectLeaves(
  v: unknown,
  axis: number,
  shape: readonly number[],
  leaves: unknown[],
  fail: (problem: string) => Error,
): void {
  if (axis === shape.length) {
    if (Array.isArray(v)) throw fail(RAGGED);
    leaves.push(v);
    return;
  }
  if (!Array.isArray(v) || v.length !== shape[axis]) throw fail(RAGGED);
  if (axis === shape.length - 1) {
    for (let i = 0; i < v.length; i++) {
      if (Array.isArray(v[i])) throw fail(RAGGED);
      leaves.push(v[i]);
    }
    return;
  }
  for (let i = 0; i < v.length; i++) collectLeaves(v[i], axis + 1, shape, leaves, fail);
}

const RAGGED = 'nested arrays must be rectangular (not a rectangular nested list)';

function inferDtype(leaf: unknown, numbers: 'float32' | 'float64'): DType {
  if (typeof leaf === 'boolean') return 'bool';
  if (typeof leaf === 'string' || leaf instanceof Uint8Array || isB64(leaf)) return 'string';
  if (typeof leaf === 'bigint') return 'int64';
  return numbers;
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return String(v);
  return v instanceof Uint8Array ? 'bytes' : (JSON.stringify(v) ?? String(v));
}

const INT_RANGE: Partial<Record<DType, readonly [bigint, bigint]>> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

function fill(dtype: DType, leaves: unknown[], options: NestedOptions): Tensor['data'] {
  const { fail } = options;
  if (dtype === 'bool') {
    return leaves.map((v) => {
      if (typeof v !== 'boolean') throw fail(`bool needs booleans, got ${show(v)}`);
      return v;
    });
  }
  if (dtype === 'string') {
    const bytes = options.bytes === true || leaves.some((v) => v instanceof Uint8Array || isB64(v));
    return leaves.map((v) => {
      if (isB64(v)) {
        const raw = Buffer.from(v.b64, 'base64');
        return bytes ? new Uint8Array(raw) : raw.toString('utf8');
      }
      if (typeof v === 'string') return bytes ? new Uint8Array(Buffer.from(v, 'utf8')) : v;
      if (v instanceof Uint8Array) return v;
      throw fail(`string needs strings or bytes, got ${show(v)}`);
    }) as string[] | Uint8Array[];
  }
  const Ctor = ARRAY_TYPE[dtype as NumericDType];
  const out = new Ctor(leaves.length);
  const range = INT_RANGE[dtype];
  const integral = dtype !== 'float32' && dtype !== 'float64';
  for (let i = 0; i < leaves.length; i++) {
    const v = leaves[i];
    if (typeof v !== 'number' && typeof v !== 'bigint') throw fail(`${dtype} needs numbers, got ${show(v)}`);
    if (integral && typeof v === 'number' && !Number.isInteger(v)) {
      throw fail(`${dtype} needs integers, got ${show(v)}`);
    }
    if (range) {
      const big = BigInt(v);
      if (big < range[0] || big > range[1]) throw fail(`${dtype} cannot hold ${big}`);
      (out as BigInt64Array | BigUint64Array)[i] = big;
    } else {
      (out as Float64Array)[i] = Number(v);
    }
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
