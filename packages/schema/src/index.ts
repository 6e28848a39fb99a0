export type { Diagnostic, Severity, SpecPath } from './diagnostics';
export { formatDiagnostic, formatPath, hasErrors, sortDiagnostics } from './diagnostics';
export type { ImageReference, S3Location } from './names';
export {
  imageProblem,
  labelKeyProblem,
  labelValueProblem,
  parseImageReference,
  parseS3Uri,
  s3BucketProblem,
} from './names';
export { describeBytes, formatBytes, formatCpu, parseQuantity } from './quantity';
export type {
  ResolvedAnalysisThresholds,
  ResolvedBatching,
  ResolvedModel,
  ResolvedQuantities,
  ResolvedVersionPolicy,
} from './resolve';
export {
  analysisThresholds,
  defaults,
  describeVersionPolicy,
  peakReplicas,
  podPaths,
  ports,
  resolve,
} from './resolve';
export { MANAGED_FLAGS } from './semantic';
export type { BatchingSpec, ExperimentAnalysisSpec, ModelSpec, VersionPolicySpec } from './spec';
export { API_VERSION, KIND, ModelSpecSchema, modelJsonSchema, patterns, SCHEMA_ID } from './spec';
export type {
  PlainMessage,
  PlainValue,
  TextProtoEnum,
  TextProtoField,
  TextProtoMessage,
  TextProtoScalar,
} from './textproto';
export {
  formatTextProto,
  message,
  parseTextProto,
  TextProtoSyntaxError,
  textProtoToPlain,
} from './textproto';
export type { ArgsOptions, DerivedFile, ServedVersions } from './tfserving';
export {
  batchingConfig,
  configFiles,
  metricsEnabled,
  modelConfigMessage,
  modelsConfig,
  monitoringConfig,
  tfServingArgs,
  tfServingFiles,
} from './tfserving';
export type { SpecSource, ValidatedSpec, ValidationReport } from './validate';
export { validateSpecs, validateSpecText, validateSpecValue } from './validate';
