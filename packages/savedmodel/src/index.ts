// @catwalk/savedmodel: a SavedModel's interface without TensorFlow.

export {
  baseDtype,
  type ChangeKind,
  type CompareOptions,
  type CompatibilityReport,
  compareSignatures,
  formatShape,
  type SignatureChange,
  shapeCovers,
} from './compat.js';
export {
  type ServingSignatureDefJson,
  type ServingTensorInfoJson,
  signaturesFromServingJson,
  toServingSignatureDefJson,
} from './serving-json.js';
export {
  dtypeName,
  type ModelSignatures,
  type ReadSignaturesOptions,
  readSignatures,
  readSignaturesFromText,
  SavedModelError,
  type SignatureSpec,
  type TensorSpec,
} from './signatures.js';
export {
  generatedDeclarations,
  generateTypeScriptModule,
  sdkDtype,
  signatureFingerprint,
  type TypeScriptModuleInput,
} from './typescript.js';
export {
  buildPredictionLogs,
  buildWarmupFile,
  crc32c,
  frameRecord,
  MAX_WARMUP_RECORDS,
  maskCrc,
  readTfRecords,
  readWarmupFile,
  WARMUP_FILE,
  WarmupError,
  type WarmupInput,
  writeTfRecords,
} from './warmup.js';
