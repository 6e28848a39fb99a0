export type { ObjectChange } from './changes';
export { changedPaths } from './changes';
export type { DeployOptions, DeployResult, ModelOutcome } from './deploy';
export { checkOwnership, deploy, OwnershipError } from './deploy';
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
