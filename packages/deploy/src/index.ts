export type { AnalyseOptions, AnalysisThresholds, Decision, TrackSelector, TrackStats } from './analysis';
export { ALPHA, analyseExperiment, PrometheusQueryError, trackQueries } from './analysis';
export type { ObjectChange } from './changes';
export { changedPaths } from './changes';
export type { DeployOptions, DeployResult, ModelOutcome } from './deploy';
export { checkOwnership, deploy, OwnershipError } from './deploy';
export {
  checkPrometheus,
  type ExperimentCluster,
  type ExperimentOptions,
  type ExperimentOutcome,
  ExperimentRefusedError,
  type ExperimentStatus,
  type ExperimentStore,
  ExperimentStuckError,
  experimentStatus,
  formatExperimentStatus,
  type ObservedCluster,
  runExperiment,
} from './experiment';
export { appliedExperiment, type PodServing, type TrackReport } from './experiment-cluster';
export {
  type Action as ExperimentAction,
  type AuditLine,
  type ClusterView,
  type Command as ExperimentCommand,
  checkSteps,
  type ExperimentRecord,
  type ExperimentValues,
  type PlanInput,
  planNext,
  type RecordChange,
  type ReleaseView,
  stepStarts,
  type TrackView,
  type Verdict,
} from './experiment-plan';
export { resolveHelm } from './helm';
export type { ClusterTarget, Connection } from './kube';
export { connect, KubeconfigError } from './kube';
export type { ClusterSnapshot, ModelProgress, TrackProgress } from './rollout';
export { modelProgress, progressLine } from './rollout';
export type {
  HpaStatus,
  IngressStatus,
  ModelStatus,
  PdbStatus,
  PodReport,
  ReleaseSummary,
  SidecarStatus,
  StatusOptions,
  TrackStatus,
} from './status';
export { deployedModels, formatStatus, modelStatus } from './status';
