import { InvalidInputError, ServerError } from './errors.js';
import type { components } from './generated/openapi.js';
import { type DType, dtypeFromTfName, type Tensor, TF_DTYPE_NAME } from './tensor.js';

export interface TensorSpec {
  /** The SDK's dtype, or undefined when TF's dtype has no SDK equivalent. */
  readonly dtype: DType | undefined;
  /** TF's name for the dtype, e.g. "DT_FLOAT". */
  readonly tfDtype: string;
  /** Dimensions with -1 for unknown sizes; undefined when even the rank is unknown. */
  readonly shape: readonly number[] | undefined;
  /** The graph tensor behind the alias, e.g. "x:0". */
  readonly tensorName: string;
}

export interface Signature {
  readonly name: string;
  /** e.g. "tensorflow/serving/predict". */
  readonly methodName: string;
  readonly inputs: Readonly<Record<string, TensorSpec>>;
  readonly outputs: Readonly<Record<string, TensorSpec>>;
}

export interface ModelMetadata {
  readonly model: string;
  readonly version: number;
  readonly signatures: Readonly<Record<string, Signature>>;
}

type MetadataJson = components['schemas']['GetModelMetadataResponse'];
type TensorInfoJson = components['schemas']['TensorInfo'];

/** Reads TF Serving's REST metadata response (GET /v1/models/{name}/metadata). */
export function parseMetadataJson(json: unknown): ModelMetadata {
  const body = json as MetadataJson;
  const defs = body?.metadata?.signature_def?.signature_def;
  if (typeof body?.model_spec?.name !== 'string' || typeof defs !== 'object' || defs === null) {
    throw new ServerError(
      "the metadata response does not have TF Serving's shape (model_spec, metadata.signature_def)",
      {
        code: 'DATA_LOSS',
      },
    );
  }
  const signatures: Record<string, Signature> = {};
  for (const [name, def] of Object.entries(defs)) {
    signatures[name] = {
      name,
      methodName: def.method_name,
      inputs: mapValues(def.inputs ?? {}, specFromJson),
      outputs: mapValues(def.outputs ?? {}, specFromJson),
    };
  }
  return { model: body.model_spec.name, version: Number(body.model_spec.version ?? 0), signatures };
}

function specFromJson(info: TensorInfoJson): TensorSpec {
  const shape = info.tensor_shape;
  return {
    dtype: dtypeFromTfName(info.dtype),
    tfDtype: info.dtype,
    shape: shape?.unknown_rank ? undefined : (shape?.dim ?? []).map((d) => Number(d.size)),
    tensorName: info.name ?? '',
  };
}

export function mapValues<A, B>(record: Readonly<Record<string, A>>, fn: (a: A) => B): Record<string, B> {
  const out: Record<string, B> = {};
  for (const [k, v] of Object.entries(record)) out[k] = fn(v);
  return out;
}

/**
 * Checks inputs against a signature before anything is sent: every alias
 * known and present, dtypes equal, shapes compatible (-1 matches any size).
 */
export function checkInputs(
  signature: Signature,
  inputs: Readonly<Record<string, Tensor>>,
  context: { model: string; version?: number | undefined; label?: string | undefined },
): void {
  const fail = (message: string) =>
    new InvalidInputError(`model "${context.model}" signature "${signature.name}": ${message}`, {
      code: 'INVALID_ARGUMENT',
      model: context.model,
      version: context.version,
      label: context.label,
    });
  const expected = Object.keys(signature.inputs);
  for (const alias of Object.keys(inputs)) {
    if (!Object.hasOwn(signature.inputs, alias)) {
      throw fail(`unknown input "${alias}"; the signature takes ${list(expected)}`);
    }
  }
  for (const [alias, spec] of Object.entries(signature.inputs)) {
    const t = inputs[alias];
    if (!t) throw fail(`missing input "${alias}"; the signature takes ${list(expected)}`);
    if (spec.dtype !== undefined && spec.dtype !== t.dtype) {
      throw fail(
        `input "${alias}" must be ${spec.dtype} (${spec.tfDtype}), got ${t.dtype} (${TF_DTYPE_NAME[t.dtype]})`,
      );
    }
    if (spec.shape === undefined) continue;
    const fits =
      spec.shape.length === t.shape.length && spec.shape.every((d, i) => d === -1 || d === t.shape[i]);
    if (!fits) {
      throw fail(`input "${alias}" must have shape ${formatShape(spec.shape)}, got ${formatShape(t.shape)}`);
    }
  }
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.map((d) => (d === -1 ? '?' : String(d))).join(', ')}]`;
}

function list(names: string[]): string {
  return names.length === 0 ? 'no inputs' : names.map((n) => `"${n}"`).join(', ');
}
