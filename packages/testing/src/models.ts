import { type Tensor, tensor } from '@catwalk/client';

/** One feature of a tf.Example as the fake hands it to a model. */
export type FeatureValues =
  | { readonly kind: 'float'; readonly values: readonly number[] }
  | { readonly kind: 'int64'; readonly values: readonly bigint[] }
  | { readonly kind: 'bytes'; readonly values: readonly Uint8Array[] };
export type Features = Readonly<Record<string, FeatureValues>>;

export interface TensorSpecInit {
  /** TF's dtype name, e.g. "DT_FLOAT". */
  readonly dtype: string;
  /** Dimensions with -1 for unknown; omit for unknown rank. */
  readonly shape?: readonly number[];
  /** Graph tensor name, e.g. "x:0". */
  readonly tensorName: string;
}

export type SignatureMethod =
  | 'tensorflow/serving/predict'
  | 'tensorflow/serving/classify'
  | 'tensorflow/serving/regress';

export interface FakeSignature {
  readonly methodName: SignatureMethod;
  readonly inputs: Readonly<Record<string, TensorSpecInit>>;
  readonly outputs: Readonly<Record<string, TensorSpecInit>>;
  /** Predict signatures: output tensors by alias from input tensors by alias. */
  readonly predict?: (inputs: Readonly<Record<string, Tensor>>) => Record<string, Tensor>;
  /** Classify signatures: per example, [label, score] pairs. */
  readonly classify?: (examples: readonly Features[]) => Array<Array<[string, number]>>;
  /** Regress signatures: one value per example. */
  readonly regress?: (examples: readonly Features[]) => number[];
}

/** Which of a model's versions the fake serves (TF Serving's model_version_policy). */
export type VersionPolicy =
  | { readonly latest: number }
  | { readonly all: true }
  | { readonly specific: readonly number[] };

export interface FakeModel {
  readonly name: string;
  /** Versions on "disk"; the policy picks which ones are served. */
  readonly versions: readonly number[];
  /** @default { latest: 1 } */
  readonly policy?: VersionPolicy;
  /** Version labels, e.g. { stable: 1, canary: 2 }. */
  readonly labels?: Readonly<Record<string, number>>;
  /** Signatures by name, in the order the metadata lists them. */
  readonly signatures: Readonly<Record<string, FakeSignature>>;
  /** Versions whose signatures differ from `signatures` (a retrained model with a renamed input, say). */
  readonly signaturesByVersion?: Readonly<Record<number, Readonly<Record<string, FakeSignature>>>>;
}

const FLOAT_BATCH: TensorSpecInit['shape'] = [-1, 1];

/** Reads a float feature the way TF's parse spec would, with TF's error texts. */
export function floatFeature(example: Features, name: string, defaultValue?: number): number {
  const f = example[name];
  if (!f) {
    if (defaultValue !== undefined) return defaultValue;
    throw new FeatureError(`Feature: ${name} (data type: float) is required but could not be found.`);
  }
  if (f.kind !== 'float') {
    throw new FeatureError(
      `Name: <unknown>, Key: ${name}, Index: 0.  Data types don't match. Data type: ${f.kind} but expected type: float`,
    );
  }
  if (f.values.length !== 1) {
    throw new FeatureError(
      `Name: <unknown>, Key: ${name}, Index: 0.  Number of float values != expected.  Values size: ${f.values.length} but output shape: [1]`,
    );
  }
  return f.values[0]!;
}

/** A model-side failure that TF reports as INVALID_ARGUMENT. */
export class FeatureError extends Error {}

function affine(a: number, b: number) {
  return (inputs: Readonly<Record<string, Tensor>>, inputAlias: string, outputAlias: string) => {
    const x = inputs[inputAlias]!;
    const src = x.data as Float32Array;
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = a * src[i]! + b;
    return { [outputAlias]: tensor(out, x.shape, 'float32') };
  };
}

function halfPlusSignatures(b: number, withClassifyX2: boolean): Record<string, FakeSignature> {
  const predict = affine(0.5, b);
  const exampleInput = { inputs: { dtype: 'DT_STRING', tensorName: 'tf_example:0' } };
  const floatOut = (alias: string, tensorName: string) => ({
    [alias]: { dtype: 'DT_FLOAT', shape: FLOAT_BATCH, tensorName },
  });
  const x2Input = { inputs: { dtype: 'DT_FLOAT', shape: FLOAT_BATCH, tensorName: 'x2:0' } };
  const y = (e: Features) => 0.5 * floatFeature(e, 'x') + b;
  const y2 = (e: Features) => 0.5 * floatFeature(e, 'x') + 3;
  const y3 = (e: Features) => 0.5 * floatFeature(e, 'x2', 0) + 3;
  const signatures: Record<string, FakeSignature> = {
    regress_x2_to_y3: {
      methodName: 'tensorflow/serving/regress',
      inputs: x2Input,
      outputs: floatOut('outputs', 'y3:0'),
      regress: (examples) => examples.map(y3),
    },
    serving_default: {
      methodName: 'tensorflow/serving/predict',
      inputs: { x: { dtype: 'DT_FLOAT', shape: FLOAT_BATCH, tensorName: 'x:0' } },
      outputs: floatOut('y', 'y:0'),
      predict: (inputs) => predict(inputs, 'x', 'y'),
    },
    classify_x_to_y: {
      methodName: 'tensorflow/serving/classify',
      inputs: exampleInput,
      outputs: floatOut('scores', 'y:0'),
      classify: (examples) => examples.map((e) => [['', y(e)]]),
    },
  };
  if (withClassifyX2) {
    signatures.classify_x2_to_y3 = {
      methodName: 'tensorflow/serving/classify',
      inputs: x2Input,
      outputs: floatOut('scores', 'y3:0'),
      classify: (examples) => examples.map((e) => [['', y3(e)]]),
    };
  }
  signatures.regress_x_to_y2 = {
    methodName: 'tensorflow/serving/regress',
    inputs: exampleInput,
    outputs: floatOut('outputs', 'y2:0'),
    regress: (examples) => examples.map(y2),
  };
  signatures.regress_x_to_y = {
    methodName: 'tensorflow/serving/regress',
    inputs: exampleInput,
    outputs: floatOut('outputs', 'y:0'),
    regress: (examples) => examples.map(y),
  };
  return signatures;
}

export interface ExampleModelOptions {
  /** @default "half_plus_two" / "half_plus_three" */
  readonly name?: string;
  /** @default [123], as in TF Serving's test data */
  readonly versions?: readonly number[];
  readonly policy?: VersionPolicy;
  readonly labels?: Readonly<Record<string, number>>;
}

/**
 * TF Serving's saved_model_half_plus_two_cpu: y = 0.5x + 2, with the same five
 * signatures (serving_default, classify_x_to_y, regress_x_to_y,
 * regress_x_to_y2, regress_x2_to_y3). With more than one version it also
 * has classify_x2_to_y3, like saved_model_half_plus_two_2_versions.
 */
export function halfPlusTwo(options: ExampleModelOptions = {}): FakeModel {
  const versions = options.versions ?? [123];
  return {
    name: options.name ?? 'half_plus_two',
    versions,
    policy: options.policy,
    labels: options.labels,
    signatures: halfPlusSignatures(2, versions.length > 1),
  };
}

/** TF Serving's saved_model_half_plus_three (api_rest.md's example): y = 0.5x + 3. */
export function halfPlusThree(options: ExampleModelOptions = {}): FakeModel {
  return {
    name: options.name ?? 'half_plus_three',
    versions: options.versions ?? [123],
    policy: options.policy,
    labels: options.labels,
    signatures: halfPlusSignatures(3, false),
  };
}
