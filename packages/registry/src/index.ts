export { listVersions, type VersionInfo, type VersionState, verifyVersion } from './catalog';
export {
  ChecksumMismatchError,
  ConditionalWritesUnsupportedError,
  ConflictError,
  ExportChangedError,
  type Fault,
  IdenticalExportError,
  InvalidExportError,
  InvalidRecordError,
  NotFoundError,
  RegistryError,
  UsageError,
  VersionExistsError,
} from './errors';
export { type ExampleExportOptions, writeExampleExport } from './example-export';
export { whoAmI } from './identity';
export {
  CLAIM_FILE,
  checkVersionNumber,
  formatUri,
  MANIFEST_FILE,
  MAX_VERSION,
  type ModelLocation,
  parseModelUri,
  RELEASE_FILE,
} from './location';
export {
  createLogger,
  defaultLogFormat,
  LOG_FORMATS,
  type LogFormat,
  type LoggerOptions,
  podName,
} from './log';
export { type ConfigSource, initialFromConfig, renderModelsConfig } from './models-config';
export { type PushOptions, type PushProgress, type PushResult, push } from './push';
export type {
  AuditEntry,
  Claim,
  ExperimentPhase,
  ExperimentState,
  ExperimentVerdict,
  Manifest,
  ManifestFile,
  Release,
  ReleaseEntry,
  ReleaseState,
} from './records';
export { parseManifest, parseRelease, unsafePathProblem } from './records';
export {
  type CurrentRelease,
  changeExperiment,
  checkLabelName,
  defaultInitialRelease,
  describeExperiment,
  describeState,
  type ExperimentChange,
  type ExperimentRecordView,
  experimentStore,
  type InitialRelease,
  initialState,
  type PruneResult,
  planPrune,
  planRelease,
  planRollback,
  prune,
  type ReleaseOptions,
  type ReleaseRequest,
  type ReleaseResult,
  readRelease,
  release,
  rollback,
} from './release';
export { describeError } from './retry';
export { createS3Client, type S3InputConfig } from './s3';
export { checkExport, type FoundExport, findExports, savedModelProblems } from './savedmodel';
export { createSyncLogger, runSidecar, type SidecarOptions, SyncFailedError } from './sidecar';
export {
  BreakingSignatureError,
  type CheckReleaseSignaturesOptions,
  checkReleaseSignatures,
  InvalidWarmupError,
  type RecordedSignatures,
  readExportSignatures,
  recordedSignatures,
  type SignatureCheckResult,
  type SignatureComparison,
  type SignedManifest,
  signaturesFromBytes,
  type VersionSignatures,
  versionSignatures,
  type WarmupRequests,
  warmupFileBytes,
} from './signature-check';
export { type SyncOptions, type SyncReport, syncOnce } from './sync';
export { planSync, type SyncPlan, type Track } from './sync-plan';
