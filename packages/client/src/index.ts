// @catwalk/client: a typed TensorFlow Serving client over REST and gRPC.
// The wire format (protobuf messages, the REST JSON dialect) is at
// @catwalk/client/wire, outside this stable API.
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
  type CatwalkErrorClass,
  type CatwalkErrorDetails,
  DeadlineExceededError,
  type ErrorCode,
  InvalidInputError,
  ModelNotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  ServerError,
  UnavailableError,
  UnimplementedError,
} from './errors.js';
export { type ExampleInput, type FeatureValue, feature, type TypedFeature } from './examples.js';
export type { CallInfo, CallOutcome, CallStart, Hooks } from './hooks.js';
export type { ModelMetadata, Signature, TensorSpec } from './metadata.js';
export {
  type MeterLike,
  type OpenTelemetryApiLike,
  type OpenTelemetryHookOptions,
  openTelemetryHooks,
  type SpanLike,
  type TracerLike,
} from './opentelemetry.js';
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
