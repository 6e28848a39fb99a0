// TF Serving's JSON rendering of a signature_def map (the `metadata.signature_def`
// of GET /v1/models/<name>/metadata), in both directions, so signatures read
// from a SavedModel can be compared with what a running server reports.
import type { ModelSignatures, SignatureSpec, TensorSpec } from './signatures.js';

export interface ServingTensorInfoJson {
  readonly dtype: string;
  readonly tensor_shape: {
    readonly dim: ReadonlyArray<{ readonly size: string; readonly name: string }>;
    readonly unknown_rank: boolean;
  };
  readonly name: string;
}

export interface ServingSignatureDefJson {
  readonly inputs: Readonly<Record<string, ServingTensorInfoJson>>;
  readonly outputs: Readonly<Record<string, ServingTensorInfoJson>>;
  readonly method_name: string;
  readonly defaults: Readonly<Record<string, unknown>>;
}

/** The signature_def map as TF Serving writes it in JSON (int64 sizes as strings). */
export function toServingSignatureDefJson(
  model: Pick<ModelSignatures, 'signatures'>,
): Record<string, ServingSignatureDefJson> {
  const out: Record<string, ServingSignatureDefJson> = {};
  for (const [name, sig] of Object.entries(model.signatures)) {
    out[name] = {
      inputs: mapTensors(sig.inputs, tensorToJson),
      outputs: mapTensors(sig.outputs, tensorToJson),
      method_name: sig.methodName,
      defaults: {},
    };
  }
  return out;
}

/**
 * Reads TF Serving's JSON signature_def map (or a whole metadata response)
 * into signatures, in name order.
 */
export function signaturesFromServingJson(json: unknown): Record<string, SignatureSpec> {
  const body = json as { metadata?: { signature_def?: { signature_def?: unknown } } };
  const defs = (body?.metadata?.signature_def?.signature_def ?? json) as Record<
    string,
    Partial<ServingSignatureDefJson>
  >;
  if (typeof defs !== 'object' || defs === null) {
    throw new Error('not a TF Serving signature_def map: expected an object of signatures by name');
  }
  const out: Record<string, SignatureSpec> = {};
  for (const name of Object.keys(defs).sort()) {
    const def = defs[name] ?? {};
    out[name] = {
      methodName: def.method_name ?? '',
      inputs: mapTensors(def.inputs ?? {}, tensorFromJson),
      outputs: mapTensors(def.outputs ?? {}, tensorFromJson),
    };
  }
  return out;
}

function tensorToJson(spec: TensorSpec): ServingTensorInfoJson {
  return {
    dtype: spec.dtype,
    tensor_shape: {
      dim: (spec.shape ?? []).map((size) => ({ size: String(size), name: '' })),
      unknown_rank: spec.shape === null,
    },
    name: spec.tensorName,
  };
}

function tensorFromJson(info: Partial<ServingTensorInfoJson>): TensorSpec {
  const shape = info.tensor_shape;
  return {
    dtype: info.dtype ?? 'DT_INVALID',
    shape: shape?.unknown_rank ? null : (shape?.dim ?? []).map((d) => Number(d.size)),
    tensorName: info.name ?? '',
  };
}

function mapTensors<A, B>(record: Readonly<Record<string, A>>, fn: (a: A) => B): Record<string, B> {
  const out: Record<string, B> = {};
  for (const key of Object.keys(record).sort()) out[key] = fn(record[key] as A);
  return out;
}
