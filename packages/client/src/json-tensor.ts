// Tensors in TF Serving's REST JSON: nested lists in row-major order, bytes as
// {"b64": ...}, floats with a decimal point, non-finite floats as bare tokens.
import { ServerError, UnimplementedError } from './errors.js';
import { formatFloat } from './json.js';
import type { DType, Tensor } from './tensor.js';
import { nestedToTensor } from './tensor-like.js';

type Formatter = (value: never) => string;

const formatInt = (v: number) => String(v);
const formatBigint = (v: bigint) => v.toString();
const formatBool = (v: boolean) => (v ? 'true' : 'false');
const formatString = (v: string | Uint8Array) =>
  typeof v === 'string'
    ? JSON.stringify(v)
    : `{"b64":"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}"}`;

function formatterFor(t: Tensor, alias: string): Formatter {
  switch (t.dtype) {
    case 'float32':
    case 'float64':
      return formatFloat as Formatter;
    case 'int64':
    case 'uint64':
      return formatBigint as Formatter;
    case 'bool':
      return formatBool as Formatter;
    case 'string':
      return formatString as Formatter;
    case 'float16':
    case 'bfloat16':
    case 'uint16':
      throw new UnimplementedError(
        `input "${alias}" is ${t.dtype}, which TF Serving's REST API cannot carry (it answers 501); use the gRPC transport`,
        { code: 'UNIMPLEMENTED' },
      );
    default:
      return formatInt as Formatter;
  }
}

/**
 * How floats are written: "tf" as TF Serving writes them (3 is "3.0"), or
 * "compact" as JSON.stringify does (3 is "3"), which is about 2.5x faster and
 * all a predict request needs: the server converts each value to the dtype
 * the signature gives. Non-finite values are bare NaN/Infinity either way.
 */
export type FloatStyle = 'tf' | 'compact';

/** Writes a whole tensor as a JSON value (a scalar for shape []). */
export function tensorToJson(t: Tensor, alias: string, style: FloatStyle = 'tf'): string {
  return writeRange(t, formatterFor(t, alias), 0, 0, style);
}

/** Writes row `row` of a tensor (its sub-tensor along dimension 0). */
export function tensorRowToJson(t: Tensor, alias: string, row: number, style: FloatStyle = 'tf'): string {
  const rowSize = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return writeRange(t, formatterFor(t, alias), 1, row * rowSize, style);
}

/**
 * From this many values on, JSON.stringify of the whole flat array (then
 * re-nested) beats writing each row in JS; below, the re-nesting costs more
 * than it saves (3 to 5x slower for a request of a few dozen values).
 */
const STRINGIFY_MIN = 16_384;

function allFinite(data: Float32Array | Float64Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (data[i]! - data[i]! !== 0) return false;
  return true;
}

function writeRange(
  t: Tensor,
  format: Formatter,
  firstAxis: number,
  start: number,
  style: FloatStyle,
): string {
  const data = t.data as unknown as ArrayLike<never>;
  const shape = t.shape;
  if (firstAxis >= shape.length) return format(data[start]!);
  const count = shape.slice(firstAxis).reduce((a, b) => a * b, 1);
  if (style === 'compact' && (t.dtype === 'float32' || t.dtype === 'float64') && count >= STRINGIFY_MIN) {
    const floats = t.data as Float32Array | Float64Array;
    if (allFinite(floats, start, start + count)) {
      // V8's JSON.stringify writes numbers in C++; numbers hold no commas,
      // so splitting its output gives the elements back in order.
      const flat = JSON.stringify(Array.from(floats.subarray(start, start + count)));
      if (firstAxis === shape.length - 1) return flat;
      return nest(flat.slice(1, -1).split(','), shape, firstAxis);
    }
  }
  const innermost = shape[shape.length - 1]!;
  const floats = t.dtype === 'float32' || t.dtype === 'float64';
  const tfStyle = style === 'tf';
  let offset = start;
  // One string per innermost row, built by concatenation (V8 ropes), is far
  // cheaper than an array entry per element.
  const row = (): string => {
    let s = '[';
    for (let i = 0; i < innermost; i++) {
      const v = data[offset++]! as number;
      if (i > 0) s += ',';
      // Fast path for finite floats: in TF's style integers get ".0" so they stay floats.
      if (floats && v - v === 0) s += tfStyle && v % 1 === 0 && Math.abs(v) < 1e21 ? `${v}.0` : `${v}`;
      else s += format(v as never);
    }
    return `${s}]`;
  };
  const write = (axis: number): string => {
    if (axis === shape.length - 1) return row();
    const n = shape[axis]!;
    const parts = new Array<string>(n);
    for (let i = 0; i < n; i++) parts[i] = write(axis + 1);
    return `[${parts.join(',')}]`;
  };
  return write(firstAxis);
}

/** Rebuilds nested lists from row-major element texts. */
function nest(items: string[], shape: readonly number[], firstAxis: number): string {
  let offset = 0;
  const innermost = shape[shape.length - 1]!;
  const write = (axis: number): string => {
    if (axis === shape.length - 1) {
      const row = innermost === 1 ? items[offset]! : items.slice(offset, offset + innermost).join(',');
      offset += innermost;
      return `[${row}]`;
    }
    const n = shape[axis]!;
    const parts = new Array<string>(n);
    for (let i = 0; i < n; i++) parts[i] = write(axis + 1);
    return `[${parts.join(',')}]`;
  };
  return write(firstAxis);
}

/**
 * Reads a JSON value as a tensor. The dtype comes from the signature when it
 * is known; otherwise from the values (numbers become float64).
 */
export function jsonToTensor(value: unknown, dtype: DType | undefined, alias: string): Tensor {
  return nestedToTensor(value, {
    dtype,
    numbers: 'float64',
    bytes: alias.endsWith('_bytes'),
    fail: (problem) => new ServerError(`output "${alias}": ${problem}`, { code: 'DATA_LOSS' }),
  });
}
