// Where a model's rollout stands, from the objects the cluster reports: pure,
// so every failure the deploy command explains is tested without a cluster.

import type { K8s } from './kube';

export interface TrackProgress {
  readonly track: string;
  readonly deployment: string;
  /** Replicas the rollout must reach: the Deployment's, raised to the HPA's minimum. */
  readonly desired: number;
  readonly updated: number;
  readonly ready: number;
  /** Ready pods of the current revision per zone (from the nodes' topology.kubernetes.io/zone). */
  readonly zones: Readonly<Record<string, number>>;
}

export interface ModelProgress {
  readonly model: string;
  readonly tracks: readonly TrackProgress[];
  readonly complete: boolean;
  /** Why the rollout cannot finish, one sentence each, most telling first. */
  readonly problems: readonly string[];
}

export interface ClusterSnapshot {
  readonly deployments: readonly K8s.V1Deployment[];
  readonly replicaSets: readonly K8s.V1ReplicaSet[];
  readonly pods: readonly K8s.V1Pod[];
  readonly hpas: readonly K8s.V2HorizontalPodAutoscaler[];
  readonly events: readonly K8s.CoreV1Event[];
  /** Node name → zone. */
  readonly zones: ReadonlyMap<string, string>;
}

const MODEL_LABEL = 'catwalk.dev/model';
const TRACK_LABEL = 'catwalk.dev/track';

const ofModel = (model: string) => (o: { metadata?: K8s.V1ObjectMeta }) =>
  o.metadata?.labels?.[MODEL_LABEL] === model;

function isReady(pod: K8s.V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The ReplicaSet of the Deployment's current revision, if the controller has made it yet. */
function currentReplicaSet(deployment: K8s.V1Deployment, replicaSets: readonly K8s.V1ReplicaSet[]) {
  const revision = deployment.metadata?.annotations?.['deployment.kubernetes.io/revision'];
  return replicaSets.find(
    (rs) =>
      rs.metadata?.ownerReferences?.some((o) => o.uid === deployment.metadata?.uid) &&
      rs.metadata?.annotations?.['deployment.kubernetes.io/revision'] === revision,
  );
}

function podProblems(pods: readonly K8s.V1Pod[], events: readonly K8s.CoreV1Event[]): string[] {
  const problems = new Set<string>();
  for (const pod of pods) {
    const name = pod.metadata?.name ?? '?';
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      problems.add(`unschedulable: ${scheduled.message ?? 'no node fits the pod'}`);
    }
    for (const status of [
      ...(pod.status?.initContainerStatuses ?? []),
      ...(pod.status?.containerStatuses ?? []),
    ]) {
      const waiting = status.state?.waiting;
      if (
        waiting &&
        ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName'].includes(waiting.reason ?? '')
      ) {
        problems.add(
          `image pull failed for container ${status.name} (${status.image}): ${waiting.message ?? waiting.reason}`,
        );
      } else if (waiting?.reason === 'CrashLoopBackOff') {
        problems.add(
          `container ${status.name} keeps crashing (${status.restartCount} restarts) in pod ${name}`,
        );
      } else if (
        waiting &&
        ['CreateContainerConfigError', 'CreateContainerError'].includes(waiting.reason ?? '')
      ) {
        problems.add(`container ${status.name} cannot be created: ${waiting.message ?? waiting.reason}`);
      }
    }
  }
  const podNames = new Set(pods.map((p) => p.metadata?.name));
  for (const event of events) {
    if (event.type !== 'Warning' || !podNames.has(event.involvedObject?.name)) continue;
    if (event.reason === 'Unhealthy') problems.add(`probe failing: ${event.message ?? 'unhealthy'}`);
    if (event.reason === 'FailedScheduling' && event.message) problems.add(`unschedulable: ${event.message}`);
  }
  return [...problems];
}

function deploymentProblems(deployment: K8s.V1Deployment): string[] {
  const problems: string[] = [];
  for (const condition of deployment.status?.conditions ?? []) {
    if (condition.type === 'ReplicaFailure' && condition.status === 'True') {
      problems.push(`replica failure: ${condition.message ?? condition.reason}`);
    }
    if (condition.type === 'Progressing' && condition.reason === 'ProgressDeadlineExceeded') {
      problems.push(`progress deadline exceeded: ${condition.message ?? ''}`.trim());
    }
  }
  return problems;
}

/** The progress of one model's rollout in a snapshot of its namespace. */
export function modelProgress(model: string, snapshot: ClusterSnapshot): ModelProgress {
  const deployments = snapshot.deployments.filter(ofModel(model));
  const pods = snapshot.pods.filter(ofModel(model)).filter((p) => !p.metadata?.deletionTimestamp);
  const tracks: TrackProgress[] = [];
  const problems: string[] = [];
  let complete = deployments.length > 0;
  for (const deployment of deployments) {
    const name = deployment.metadata?.name ?? '?';
    const hpa = snapshot.hpas.find(
      (h) => h.spec?.scaleTargetRef?.kind === 'Deployment' && h.spec.scaleTargetRef.name === name,
    );
    const specReplicas = deployment.spec?.replicas ?? 1;
    const desired = Math.max(specReplicas, hpa?.spec?.minReplicas ?? 0);
    const status = deployment.status ?? {};
    const rs = currentReplicaSet(deployment, snapshot.replicaSets);
    const hash = rs?.metadata?.labels?.['pod-template-hash'];
    const current = pods.filter(
      (p) => hash !== undefined && p.metadata?.labels?.['pod-template-hash'] === hash,
    );
    const zones: Record<string, number> = {};
    for (const pod of current.filter(isReady)) {
      const zone = snapshot.zones.get(pod.spec?.nodeName ?? '') ?? 'unknown';
      zones[zone] = (zones[zone] ?? 0) + 1;
    }
    const observed = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 1);
    const done =
      observed &&
      specReplicas >= desired &&
      (status.updatedReplicas ?? 0) === specReplicas &&
      (status.replicas ?? 0) === specReplicas &&
      (status.availableReplicas ?? 0) >= specReplicas;
    if (!done) complete = false;
    tracks.push({
      track: deployment.metadata?.labels?.[TRACK_LABEL] ?? 'main',
      deployment: name,
      desired,
      updated: status.updatedReplicas ?? 0,
      ready: current.filter(isReady).length,
      zones,
    });
    problems.push(...deploymentProblems(deployment));
  }
  const events = snapshot.events;
  problems.push(...podProblems(pods, events));
  tracks.sort((a, b) => (a.track === b.track ? 0 : a.track === 'main' ? -1 : 1));
  return { model, tracks, complete, problems: [...new Set(problems)] };
}

/** One line per model: `pricing  main 2/3 ready  canary 1/1 ready`. */
export function progressLine(progress: ModelProgress): string {
  const tracks = progress.tracks.length
    ? progress.tracks.map((t) => `${t.track} ${Math.min(t.ready, t.desired)}/${t.desired} ready`).join('  ')
    : 'waiting for the Deployment';
  const state = progress.complete ? 'rolled out' : (progress.problems[0] ?? 'rolling out');
  return `${progress.model}  ${tracks}  ${state}`;
}
