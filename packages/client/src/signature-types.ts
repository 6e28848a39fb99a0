// Types that describe a model's signature to tsc, so a typed handle
// (`client.model<Sig>(name)`) checks input names, dtypes and ranks and gives
// outputs their dtypes. Code generated from a SavedModel is only such a
// declaration:
//
//   interface PricingSignature {
//     inputs: { features: { dtype: 'float32'; rank: 2 } };
//     outputs: { price: { dtype: 'float32'; rank: 2 } };
//   }
import type { DataByDType, DType, NumericDType, Tensor } from './tensor.js';

/** One input or output: its dtype and, when known, its rank (number of dimensions). */
export interface TensorSignature {
  readonly dtype: DType;
  readonly rank?: number;
}

/** A signature's inputs and outputs by alias. */
export interface ModelSignature {
  readonly inputs: { readonly [alias: string]: TensorSignature };
  readonly outputs: { readonly [alias: string]: TensorSignature };
}

/** What one element of a nested-array input may be for a dtype. */
export type ElementOf<D extends DType> = D extends 'bool'
  ? boolean
  : D extends 'string'
    ? string | Uint8Array
    : D extends 'int64' | 'uint64'
      ? bigint | number
      : number;

type AnyNesting<T> = T | readonly AnyNesting<T>[];

/** Nested arrays of exactly `R` levels (any depth when the rank is unknown). */
export type Nested<T, R extends number | undefined, Depth extends unknown[] = []> = R extends number
  ? number extends R
    ? AnyNesting<T>
    : Depth['length'] extends R
      ? T
      : readonly Nested<T, R, [...Depth, unknown]>[]
  : AnyNesting<T>;

/** The typed array that holds a numeric dtype (none for bool and string). */
export type TypedArrayOf<D extends DType> = D extends NumericDType ? DataByDType[D] : never;

/** A value predict() accepts for one input: a tensor, a typed array or nested arrays. */
export type InputValue<S extends TensorSignature> =
  | Tensor<S['dtype']>
  | TypedArrayOf<S['dtype']>
  | Nested<ElementOf<S['dtype']>, S['rank']>;

/** The inputs of a predict call: every alias of the signature, nothing else. */
export type PredictInputs<S extends ModelSignature> = {
  readonly [K in keyof S['inputs']]: InputValue<S['inputs'][K]>;
};

/** The outputs of a predict call, typed by dtype. */
export type PredictOutputs<S extends ModelSignature> = {
  [K in keyof S['outputs']]: Tensor<S['outputs'][K]['dtype']>;
};

/** Output aliases of a signature. */
export type OutputName<S extends ModelSignature> = keyof S['outputs'] & string;
