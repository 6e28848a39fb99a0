// @catwalk/client: a typed TensorFlow Serving client over REST and gRPC.
export {
  type CallOptions,
  type CatwalkClient,
  type ClientOptions,
  createClient,
  type ExampleOptions,
  type GrpcClientOptions,
  type Model,
  type ModelOptions,
  type PredictOptions,
  type RestClientOptions,
} from './client.js';
export {
  CancelledError,
  CatwalkError,
  type CatwalkErrorDetails,
  DeadlineExceededError,
  ERROR_CODES,
  type ErrorCode,
  HTTP_STATUS_BY_CODE,
  InvalidInputError,
  ModelNotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  ServerError,
  UnavailableError,
  UnimplementedError,
} from './errors.js';
export { type ExampleInput, type FeatureValue, feature, type TypedFeature } from './examples.js';
export type { CallInfo, Hooks } from './hooks.js';
export {
  checkInputs,
  type ModelMetadata,
  metadataFromProto,
  parseMetadataJson,
  type Signature,
  type TensorSpec,
} from './metadata.js';
export { type PromClientLike, type PrometheusHookOptions, prometheusHooks } from './prometheus.js';
export type { RetryOptions } from './retry.js';
export type {
  InputValue,
  ModelSignature,
  PredictInputs,
  PredictOutputs,
  TensorSignature,
} from './signature-types.js';
export {
  type DataByDType,
  type DType,
  fromBfloat16,
  fromFloat16,
  type Tensor,
  type TensorData,
  tensor,
  toBfloat16,
  toFloat16,
  toNested,
} from './tensor.js';
export type { NestedArray, TensorLike } from './tensor-like.js';
export type {
  ClassLabel,
  InferenceResult,
  InferenceTask,
  ModelState,
  TransportKind,
  VersionStatus,
} from './transport.js';
export * as wire from './wire.js';
