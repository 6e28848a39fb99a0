// tf.train.Example features for classify and regress. A JS number is a float
// feature (TF's parse specs nearly always want floats), a bigint an int64, a
// string or Uint8Array bytes; feature.int64()/float()/bytes() say it outright.
import { InvalidInputError } from './errors.js';
import { formatFloat, isPlainObject } from './json.js';

/** A feature with its kind stated. */
export type TypedFeature =
  | { readonly kind: 'float'; readonly values: readonly number[] }
  | { readonly kind: 'int64'; readonly values: readonly bigint[] }
  | { readonly kind: 'bytes'; readonly values: readonly (string | Uint8Array)[] };

type Scalar = number | bigint | boolean | string | Uint8Array;
export type FeatureValue = Scalar | readonly Scalar[] | TypedFeature;
export type ExampleInput = Readonly<Record<string, FeatureValue>>;

export const feature = {
  float: (...values: number[]): TypedFeature => ({ kind: 'float', values }),
  int64: (...values: Array<number | bigint>): TypedFeature => ({
    kind: 'int64',
    values: values.map((v) => BigInt(v)),
  }),
  bytes: (...values: Array<string | Uint8Array>): TypedFeature => ({ kind: 'bytes', values }),
};

function isTyped(value: FeatureValue): value is TypedFeature {
  return isPlainObject(value);
}

/** Normalises a feature value to its kind and values. */
export function typedFeature(name: string, value: FeatureValue): TypedFeature {
  if (isTyped(value)) return value;
  const values = (Array.isArray(value) ? value : [value]) as readonly Scalar[];
  const kinds = new Set(values.map(kindOf));
  if (kinds.size > 1) {
    throw new InvalidInputError(
      `feature "${name}" mixes ${[...kinds].join(' and ')} values; a feature holds one kind`,
      {
        code: 'INVALID_ARGUMENT',
      },
    );
  }
  const kind = kinds.values().next().value ?? 'float';
  if (kind === 'float') return { kind, values: values as number[] };
  if (kind === 'int64')
    return {
      kind,
      values: values.map((v) => (typeof v === 'boolean' ? (v ? 1n : 0n) : BigInt(v as bigint))),
    };
  return { kind, values: values as Array<string | Uint8Array> };
}

function kindOf(value: Scalar): TypedFeature['kind'] {
  if (typeof value === 'number') return 'float';
  if (typeof value === 'bigint' || typeof value === 'boolean') return 'int64';
  if (typeof value === 'string' || value instanceof Uint8Array) return 'bytes';
  throw new InvalidInputError(
    `feature values must be numbers, bigints, booleans, strings or bytes, got ${typeof value}`,
    {
      code: 'INVALID_ARGUMENT',
    },
  );
}

/**
 * One example as TF Serving's REST JSON. Floats always carry a decimal point:
 * the server reads `2` as an int64 feature and `2.0` as a float one.
 */
export function exampleToJson(example: ExampleInput): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(example)) {
    const f = typedFeature(name, value);
    let items: string[];
    if (f.kind === 'float') items = f.values.map(formatFloat);
    else if (f.kind === 'int64') items = f.values.map((v) => v.toString());
    else
      items = f.values.map((v) =>
        typeof v === 'string' ? JSON.stringify(v) : `{"b64":"${Buffer.from(v).toString('base64')}"}`,
      );
    parts.push(`${JSON.stringify(name)}:${items.length === 1 ? items[0] : `[${items.join(',')}]`}`);
  }
  return `{${parts.join(',')}}`;
}
