// Conversions between what the fake's transports carry and what its models see.
import type { Tensor } from '@catwalk/client';
import * as wire from '@catwalk/client/wire';
import { TfError } from './core.js';
import type { FakeSignature, Features, FeatureValues, TensorSpecInit } from './models.js';

const TF_TYPE_WORD: Record<string, string> = {
  DT_FLOAT: 'float',
  DT_DOUBLE: 'double',
  DT_INT32: 'int32',
  DT_INT16: 'int16',
  DT_INT8: 'int8',
  DT_UINT8: 'uint8',
  DT_INT64: 'int64',
  DT_UINT32: 'uint32',
  DT_UINT64: 'uint64',
  DT_BOOL: 'bool',
  DT_STRING: 'string',
  DT_HALF: 'half',
  DT_BFLOAT16: 'bfloat16',
};

const SDK_DTYPE: Record<string, Tensor['dtype']> = {
  DT_FLOAT: 'float32',
  DT_DOUBLE: 'float64',
  DT_INT32: 'int32',
  DT_INT16: 'int16',
  DT_INT8: 'int8',
  DT_UINT8: 'uint8',
  DT_UINT16: 'uint16',
  DT_INT64: 'int64',
  DT_UINT32: 'uint32',
  DT_UINT64: 'uint64',
  DT_BOOL: 'bool',
  DT_STRING: 'string',
  DT_HALF: 'float16',
  DT_BFLOAT16: 'bfloat16',
};

export function sdkDtype(tfName: string): Tensor['dtype'] | undefined {
  return SDK_DTYPE[tfName];
}

export function typeWord(tfName: string): string {
  return TF_TYPE_WORD[tfName] ?? tfName.replace(/^DT_/, '').toLowerCase();
}

/** A JSON input value -> tensor, typed by the signature as json_tensor.cc does. */
export function jsonInputToTensor(value: unknown, spec: TensorSpecInit): Tensor {
  const word = typeWord(spec.dtype);
  const dtype = sdkDtype(spec.dtype);
  if (dtype === undefined || dtype === 'float16' || dtype === 'bfloat16' || dtype === 'uint16') {
    throw new TfError('UNIMPLEMENTED', `Conversion of JSON Value: ${JSON.stringify(value)} to type: ${word}`);
  }
  const check = (leaf: unknown): void => {
    const ok =
      dtype === 'string'
        ? typeof leaf === 'string' || wire.isB64(leaf)
        : dtype === 'bool'
          ? typeof leaf === 'boolean'
          : dtype === 'float32' || dtype === 'float64'
            ? typeof leaf === 'number' || typeof leaf === 'bigint'
            : typeof leaf === 'bigint' || (typeof leaf === 'number' && Number.isInteger(leaf));
    if (!ok)
      throw new TfError(
        'INVALID_ARGUMENT',
        `JSON Value: ${JSON.stringify(leaf)} not of expected type: ${word}`,
      );
  };
  const walk = (v: unknown, depth: number): number => {
    if (Array.isArray(v)) {
      if (v.length === 0) return depth + 1;
      let d: number | undefined;
      for (const item of v) {
        const got = walk(item, depth + 1);
        if (d !== undefined && got !== d)
          throw new TfError('INVALID_ARGUMENT', 'Encountered list at unexpected level');
        d = got;
      }
      return d!;
    }
    check(v);
    return depth;
  };
  walk(value, 0);
  try {
    return wire.jsonToTensor(value, dtype, '');
  } catch {
    throw new TfError('INVALID_ARGUMENT', 'Encountered list at unexpected size');
  }
}

/** Tensor -> JSON for an output alias: strings under a "_bytes" alias go out as {"b64": ...}. */
export function outputToJson(t: Tensor, alias: string, row?: number): string {
  let out = t;
  if (t.dtype === 'string') {
    const bytes = alias.endsWith('_bytes');
    const data = (t.data as Array<string | Uint8Array>).map((v) =>
      bytes
        ? typeof v === 'string'
          ? new TextEncoder().encode(v)
          : v
        : typeof v === 'string'
          ? v
          : new TextDecoder().decode(v),
    );
    out = { ...t, data: data as string[] | Uint8Array[] };
  }
  return row === undefined ? wire.tensorToJson(out, alias) : wire.tensorRowToJson(out, alias, row);
}

/** One JSON example (already parsed with number kinds kept) -> features, as FillClassifyRegressRequestFromJson. */
export function jsonExampleToFeatures(example: unknown): Features {
  if (!wire.isPlainObject(example)) {
    throw new TfError('INVALID_ARGUMENT', 'Example must be JSON object');
  }
  const out: Record<string, FeatureValues> = {};
  for (const [name, raw] of Object.entries(example)) {
    const values = Array.isArray(raw) ? raw : [raw];
    let kind: FeatureValues['kind'] | undefined;
    const floats: number[] = [];
    const ints: bigint[] = [];
    const bytes: Uint8Array[] = [];
    for (const v of values) {
      let k: FeatureValues['kind'];
      if (typeof v === 'string') {
        k = 'bytes';
        bytes.push(new TextEncoder().encode(v));
      } else if (wire.isB64(v)) {
        k = 'bytes';
        bytes.push(new Uint8Array(Buffer.from(v.b64, 'base64')));
      } else if (typeof v === 'number') {
        k = 'float';
        floats.push(v);
      } else if (typeof v === 'bigint') {
        if (v > 9223372036854775807n) {
          throw new TfError('INVALID_ARGUMENT', `Only int64 is supported in JSON, got: ${v}`);
        }
        k = 'int64';
        ints.push(v);
      } else if (typeof v === 'boolean') {
        k = 'int64';
        ints.push(v ? 1n : 0n);
      } else {
        throw new TfError('INVALID_ARGUMENT', `Unexpected JSON value type for feature: ${name}`);
      }
      if (kind !== undefined && kind !== k) {
        throw new TfError('INVALID_ARGUMENT', `Unexpected element type in feature: ${name}`);
      }
      kind = k;
    }
    if (kind === 'float') out[name] = { kind, values: floats };
    else if (kind === 'int64') out[name] = { kind, values: ints };
    else out[name] = { kind: 'bytes', values: bytes };
  }
  return out;
}

/** tf.Example proto -> features. */
export function protoExampleToFeatures(example: wire.Example | undefined): Features {
  const out: Record<string, FeatureValues> = {};
  for (const [name, feature] of Object.entries(example?.features?.feature ?? {})) {
    const kind = feature.kind;
    if (kind.case === 'floatList') out[name] = { kind: 'float', values: kind.value.value };
    else if (kind.case === 'int64List') out[name] = { kind: 'int64', values: kind.value.value };
    else if (kind.case === 'bytesList') out[name] = { kind: 'bytes', values: kind.value.value };
  }
  return out;
}

/** TensorInfo-style spec for metadata, in proto form. */
export function signatureDefProto(signature: FakeSignature) {
  const info = (spec: TensorSpecInit) => ({
    encoding: { case: 'name' as const, value: spec.tensorName },
    dtype: wire.DataType[spec.dtype as keyof typeof wire.DataType] as wire.DataType,
    tensorShape:
      spec.shape === undefined
        ? { unknownRank: true }
        : { dim: spec.shape.map((size) => ({ size: BigInt(size), name: '' })), unknownRank: false },
  });
  const map = (specs: Readonly<Record<string, TensorSpecInit>>) =>
    Object.fromEntries(Object.entries(specs).map(([alias, spec]) => [alias, info(spec)]));
  return { inputs: map(signature.inputs), outputs: map(signature.outputs), methodName: signature.methodName };
}

/** SignatureDef in TF Serving's REST metadata JSON (proto field names, int64 as strings). */
export function signatureDefJson(signature: FakeSignature) {
  const info = (spec: TensorSpecInit) => ({
    dtype: spec.dtype,
    tensor_shape:
      spec.shape === undefined
        ? { dim: [], unknown_rank: true }
        : { dim: spec.shape.map((size) => ({ size: String(size), name: '' })), unknown_rank: false },
    name: spec.tensorName,
  });
  const map = (specs: Readonly<Record<string, TensorSpecInit>>) =>
    Object.fromEntries(Object.entries(specs).map(([alias, spec]) => [alias, info(spec)]));
  return {
    inputs: map(signature.inputs),
    outputs: map(signature.outputs),
    method_name: signature.methodName,
    defaults: {},
  };
}

/**
 * Tensor -> TensorProto the way TF Serving fills responses by default
 * (AsProtoField: the typed *_val fields), or as tensor_content when the
 * server runs with --enable_serialization_as_tensor_content.
 */
export function outputToProto(t: Tensor, tensorContent: boolean): wire.TensorProto {
  if (tensorContent || t.dtype === 'string' || t.dtype === 'bool') return wire.encodeTensor(t);
  const proto = wire.encodeTensor({ ...t, data: new Uint8Array(0) } as unknown as Tensor);
  proto.tensorContent = new Uint8Array(0);
  const values = Array.from(t.data as ArrayLike<number | bigint>);
  switch (t.dtype) {
    case 'float32':
      proto.floatVal = values as number[];
      break;
    case 'float64':
      proto.doubleVal = values as number[];
      break;
    case 'float16':
    case 'bfloat16':
      proto.halfVal = values as number[];
      break;
    case 'int64':
      proto.int64Val = values as bigint[];
      break;
    case 'uint64':
      proto.uint64Val = values as bigint[];
      break;
    case 'uint32':
      proto.uint32Val = values as number[];
      break;
    default:
      proto.intVal = values as number[];
  }
  return proto;
}

/** Checks a gRPC input tensor's dtype against the signature (TF's session would refuse it). */
export function checkTensorDtype(t: Tensor, spec: TensorSpecInit, index: number): void {
  const expected = sdkDtype(spec.dtype);
  if (expected !== undefined && expected !== t.dtype) {
    const got = Object.entries(SDK_DTYPE).find(([, v]) => v === t.dtype)?.[0] ?? t.dtype;
    throw new TfError(
      'INVALID_ARGUMENT',
      `Expects arg[${index}] to be ${typeWord(spec.dtype)} but ${typeWord(got)} is provided`,
    );
  }
}
