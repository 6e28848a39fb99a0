// TF Serving's warm-up file, assets.extra/tf_serving_warmup_requests: a
// TFRecord file of PredictionLog messages that TF Serving replays when it
// loads a version, so the first real requests do not pay for lazy
// initialisation. Framing per record, as TensorFlow's RecordWriter writes it:
//   uint64 length (little-endian) | uint32 masked CRC32C of those 8 bytes |
//   data | uint32 masked CRC32C of the data
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { DataType, PredictRequestSchema, type TensorProto, TensorProtoSchema } from '@catwalk/client/wire';
import { formatShape, shapeCovers } from './compat.js';
import {
  type PredictionLog,
  PredictionLogSchema,
  PredictLogSchema,
} from './generated/proto/tensorflow_serving/apis/prediction_log_pb.js';
import type { SignatureSpec, TensorSpec } from './signatures.js';

/** Where TF Serving looks for the file, relative to the version folder. */
export const WARMUP_FILE = 'assets.extra/tf_serving_warmup_requests';
/** TF Serving replays at most this many records. */
export const MAX_WARMUP_RECORDS = 1000;

// ---------------------------------------------------------------------------
// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses it.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++)
    crc = (CRC_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masking: rotate right by 15 bits and add a constant, so CRCs of CRCs stay strong. */
export function maskCrc(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** One record in TFRecord framing. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskCrc(crc32c(out.subarray(0, 8))), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskCrc(crc32c(data)), true);
  return out;
}

/** Records in TFRecord framing, one after the other. */
export function writeTfRecords(records: readonly Uint8Array[]): Uint8Array {
  const framed = records.map(frameRecord);
  const out = new Uint8Array(framed.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of framed) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

/** Reads TFRecord framing back, checking both CRCs of every record. */
export function readTfRecords(bytes: Uint8Array, source = WARMUP_FILE): Uint8Array[] {
  const records: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    const index = records.length;
    if (bytes.length - at < 12)
      throw new WarmupError(`${source}: record ${index} is truncated in its header`);
    const length = view.getBigUint64(at, true);
    if (view.getUint32(at + 8, true) !== maskCrc(crc32c(bytes.subarray(at, at + 8)))) {
      throw new WarmupError(`${source}: record ${index} has a corrupt length (its CRC does not match)`);
    }
    if (length > BigInt(bytes.length - at - 16))
      throw new WarmupError(`${source}: record ${index} is truncated`);
    const data = bytes.subarray(at + 12, at + 12 + Number(length));
    if (view.getUint32(at + 12 + data.length, true) !== maskCrc(crc32c(data))) {
      throw new WarmupError(`${source}: record ${index} is corrupt (its data CRC does not match)`);
    }
    records.push(data);
    at += 16 + data.length;
  }
  return records;
}

// ---------------------------------------------------------------------------
// PredictionLog records from requests in `catwalk predict`'s JSON form.

export class WarmupError extends Error {
  override readonly name = 'WarmupError';
}

export interface WarmupInput {
  /** The model's name, written into each request's model_spec. */
  readonly model: string;
  /** @default 'serving_default' */
  readonly signatureName?: string;
  /** The signature the requests are checked against and encoded for. */
  readonly signature: SignatureSpec;
  /** Each request: inputs by alias, as nested JSON arrays (strings for DT_STRING, {"b64": ...} for bytes). */
  readonly requests: readonly unknown[];
}

/** The bytes of tf_serving_warmup_requests for these requests, each checked against the signature. */
export function buildWarmupFile(input: WarmupInput): Uint8Array {
  return writeTfRecords(buildPredictionLogs(input).map((log) => toBinary(PredictionLogSchema, log)));
}

export function buildPredictionLogs(input: WarmupInput): PredictionLog[] {
  if (input.requests.length === 0) throw new WarmupError('no warm-up requests: give at least one');
  if (input.requests.length > MAX_WARMUP_RECORDS) {
    throw new WarmupError(
      `${input.requests.length} warm-up requests: TF Serving replays at most ${MAX_WARMUP_RECORDS}; keep a representative few`,
    );
  }
  const signatureName = input.signatureName ?? 'serving_default';
  if (input.signature.methodName !== 'tensorflow/serving/predict') {
    throw new WarmupError(
      `signature ${signatureName} is a ${input.signature.methodName || 'method-less'} signature; warm-up records are written for predict signatures`,
    );
  }
  return input.requests.map((request, index) => {
    const where = `request ${index}`;
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      throw new WarmupError(`${where}: expected an object of inputs by name, e.g. {"x": [[1.0]]}`);
    }
    const given = request as Record<string, unknown>;
    const aliases = Object.keys(input.signature.inputs).sort();
    for (const name of Object.keys(given)) {
      if (!Object.hasOwn(input.signature.inputs, name)) {
        throw new WarmupError(
          `${where}: ${signatureName} has no input ${name}; its inputs are ${aliases.join(', ') || '(none)'}`,
        );
      }
    }
    const inputs: Record<string, TensorProto> = {};
    for (const alias of aliases) {
      if (!Object.hasOwn(given, alias)) throw new WarmupError(`${where}: input ${alias} is missing`);
      inputs[alias] = encodeTensor(
        given[alias],
        input.signature.inputs[alias] as TensorSpec,
        `${where}: input ${alias}`,
      );
    }
    return create(PredictionLogSchema, {
      logType: {
        case: 'predictLog',
        value: create(PredictLogSchema, {
          request: create(PredictRequestSchema, {
            modelSpec: { name: input.model, signatureName },
            inputs,
          }),
        }),
      },
    });
  });
}

/** Reads the PredictionLog records of a warm-up file (to verify one, or to show it). */
export function readWarmupFile(bytes: Uint8Array, source = WARMUP_FILE): PredictionLog[] {
  return readTfRecords(bytes, source).map((record, index) => {
    try {
      return fromBinary(PredictionLogSchema, record);
    } catch (error) {
      throw new WarmupError(
        `${source}: record ${index} is not a PredictionLog (${(error as Error).message})`,
      );
    }
  });
}

function encodeTensor(value: unknown, spec: TensorSpec, where: string): TensorProto {
  const dtype = spec.dtype.replace(/_REF$/, '');
  const flat = flatten(value, where);
  const { leaves } = flat;
  const shape = fitFlatList(flat.shape, spec.shape);
  if (!shapeCovers(spec.shape, shape)) {
    throw new WarmupError(
      `${where}: shape ${formatShape(shape)} does not fit the signature's ${formatShape(spec.shape)}`,
    );
  }
  const tensor = create(TensorProtoSchema, {
    dtype: DataType[dtype as keyof typeof DataType] ?? DataType.DT_INVALID,
    tensorShape: { dim: shape.map((size) => ({ size: BigInt(size) })) },
  });
  const numbers = (check: (n: number) => boolean, kind: string) =>
    leaves.map((v, i) => {
      if (typeof v !== 'number' || !check(v))
        throw new WarmupError(`${where}: value ${i} (${JSON.stringify(v)}) is not ${kind}`);
      return v;
    });
  const integer = (min: number, max: number) => (n: number) => Number.isInteger(n) && n >= min && n <= max;
  switch (dtype) {
    case 'DT_FLOAT':
      tensor.floatVal = numbers(() => true, `a number (${spec.dtype})`);
      break;
    case 'DT_DOUBLE':
      tensor.doubleVal = numbers(() => true, `a number (${spec.dtype})`);
      break;
    case 'DT_INT8':
      tensor.intVal = numbers(integer(-128, 127), 'an int8');
      break;
    case 'DT_INT16':
      tensor.intVal = numbers(integer(-32768, 32767), 'an int16');
      break;
    case 'DT_INT32':
      tensor.intVal = numbers(integer(-(2 ** 31), 2 ** 31 - 1), 'an int32');
      break;
    case 'DT_UINT8':
      tensor.intVal = numbers(integer(0, 255), 'a uint8');
      break;
    case 'DT_UINT16':
      tensor.intVal = numbers(integer(0, 65535), 'a uint16');
      break;
    case 'DT_UINT32':
      tensor.uint32Val = numbers(integer(0, 2 ** 32 - 1), 'a uint32');
      break;
    case 'DT_INT64':
      tensor.int64Val = leaves.map((v, i) => bigIntOf(v, i, where, -(2n ** 63n), 2n ** 63n - 1n, 'an int64'));
      break;
    case 'DT_UINT64':
      tensor.uint64Val = leaves.map((v, i) => bigIntOf(v, i, where, 0n, 2n ** 64n - 1n, 'a uint64'));
      break;
    case 'DT_BOOL':
      tensor.boolVal = leaves.map((v, i) => {
        if (typeof v !== 'boolean')
          throw new WarmupError(`${where}: value ${i} (${JSON.stringify(v)}) is not true or false`);
        return v;
      });
      break;
    case 'DT_STRING':
      tensor.stringVal = leaves.map((v, i) => {
        if (typeof v === 'string') return new TextEncoder().encode(v);
        const b64 = (v as { b64?: unknown } | null)?.b64;
        if (typeof b64 === 'string') return Uint8Array.from(Buffer.from(b64, 'base64'));
        throw new WarmupError(`${where}: value ${i} (${JSON.stringify(v)}) is not a string or {"b64": ...}`);
      });
      break;
    default:
      throw new WarmupError(`${where}: ${spec.dtype} inputs cannot be written to warm-up records`);
  }
  return tensor;
}

/**
 * The rule @catwalk/client applies to predict's inputs, so a warm-up request
 * is written as `catwalk predict` would send it: a flat list for a signature
 * of higher rank with exactly one unknown dimension (half_plus_two's x is
 * [?, 1]) takes the signature's shape when its length divides evenly.
 */
function fitFlatList(shape: readonly number[], target: readonly number[] | null): number[] {
  if (target === null || shape.length !== 1 || target.length <= 1) return [...shape];
  const unknown = target.filter((d) => d === -1).length;
  const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const length = shape[0]!;
  if (unknown !== 1 || known === 0 || length % known !== 0) return [...shape];
  return target.map((d) => (d === -1 ? length / known : d));
}

function bigIntOf(v: unknown, i: number, where: string, min: bigint, max: bigint, kind: string): bigint {
  let n: bigint | undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^-?\d+$/.test(v)) n = BigInt(v);
  if (n === undefined || n < min || n > max) {
    throw new WarmupError(
      `${where}: value ${i} (${JSON.stringify(v)}) is not ${kind} (write large ones as strings)`,
    );
  }
  return n;
}

/** A nested array's shape and its leaves in row-major order; ragged arrays are refused. */
function flatten(value: unknown, where: string): { shape: number[]; leaves: unknown[] } {
  const shape: number[] = [];
  for (let v = value; Array.isArray(v); v = v[0]) shape.push(v.length);
  const leaves: unknown[] = [];
  const walk = (v: unknown, depth: number, at: string) => {
    if (depth === shape.length) {
      if (Array.isArray(v))
        throw new WarmupError(`${where}: ragged nesting at ${at}: deeper than the first element`);
      leaves.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new WarmupError(
        `${where}: ragged nesting at ${at}: expected ${shape[depth]} elements like the first one, found ${Array.isArray(v) ? v.length : 'a value'}`,
      );
    }
    for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, `${at}[${i}]`);
  };
  walk(value, 0, '');
  return { shape, leaves };
}
