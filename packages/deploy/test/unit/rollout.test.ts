import type { ClusterSnapshot } from '../../src/rollout';
import { modelProgress, progressLine } from '../../src/rollout';

// Objects shaped as the API server returns them; the rollout logic is pure, so
// each failure the deploy command explains is pinned here without a cluster.

const labels = (track = 'main') => ({
  'catwalk.dev/model': 'pricing',
  'catwalk.dev/track': track,
  'pod-template-hash': 'abc',
});

function deployment(
  overrides: {
    replicas?: number;
    ready?: number;
    updated?: number;
    total?: number;
    conditions?: object[];
  } = {},
) {
  const replicas = overrides.replicas ?? 2;
  return {
    metadata: {
      name: 'pricing',
      uid: 'd1',
      generation: 3,
      labels: labels(),
      annotations: { 'deployment.kubernetes.io/revision': '2' },
    },
    spec: { replicas },
    status: {
      observedGeneration: 3,
      replicas: overrides.total ?? replicas,
      updatedReplicas: overrides.updated ?? replicas,
      availableReplicas: overrides.ready ?? replicas,
      readyReplicas: overrides.ready ?? replicas,
      conditions: overrides.conditions ?? [],
    },
  };
}

const replicaSet = {
  metadata: {
    name: 'pricing-abc',
    labels: labels(),
    ownerReferences: [{ uid: 'd1' }],
    annotations: { 'deployment.kubernetes.io/revision': '2' },
  },
};

function pod(
  name: string,
  node: string,
  ready: boolean,
  extra: { conditions?: object[]; containerStatuses?: object[] } = {},
) {
  return {
    metadata: { name, labels: labels() },
    spec: { nodeName: node },
    status: {
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }, ...(extra.conditions ?? [])],
      containerStatuses: extra.containerStatuses ?? [],
    },
  };
}

function snapshot(parts: Partial<Record<keyof ClusterSnapshot, unknown>>): ClusterSnapshot {
  return {
    deployments: [],
    replicaSets: [replicaSet],
    pods: [],
    hpas: [],
    events: [],
    zones: new Map([
      ['n1', 'zone-a'],
      ['n2', 'zone-b'],
    ]),
    ...parts,
  } as ClusterSnapshot;
}

describe('modelProgress', () => {
  it('is complete when every replica of the current revision is available, with ready pods per zone', () => {
    const progress = modelProgress(
      'pricing',
      snapshot({ deployments: [deployment()], pods: [pod('p1', 'n1', true), pod('p2', 'n2', true)] }),
    );
    expect(progress.complete).toBe(true);
    expect(progress.tracks).toEqual([
      {
        track: 'main',
        deployment: 'pricing',
        desired: 2,
        updated: 2,
        ready: 2,
        zones: { 'zone-a': 1, 'zone-b': 1 },
      },
    ]);
    expect(progressLine(progress)).toBe('pricing  main 2/2 ready  rolled out');
  });

  it('is not complete while the HPA has not yet raised the Deployment to its minimum', () => {
    const hpa = { spec: { minReplicas: 3, scaleTargetRef: { kind: 'Deployment', name: 'pricing' } } };
    const progress = modelProgress(
      'pricing',
      snapshot({ deployments: [deployment()], hpas: [hpa], pods: [pod('p1', 'n1', true)] }),
    );
    expect(progress.complete).toBe(false);
    expect(progress.tracks[0]!.desired).toBe(3);
  });

  it('is not complete while old-revision pods remain', () => {
    const progress = modelProgress('pricing', snapshot({ deployments: [deployment({ total: 3 })] }));
    expect(progress.complete).toBe(false);
  });

  it("reports an unschedulable pod with the scheduler's message", () => {
    const message = '0/7 nodes are available: 7 Insufficient nvidia.com/gpu.';
    const stuck = pod('p1', '', false, {
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }],
    });
    const progress = modelProgress(
      'pricing',
      snapshot({ deployments: [deployment({ ready: 0 })], pods: [stuck] }),
    );
    expect(progress.complete).toBe(false);
    expect(progress.problems).toEqual([`unschedulable: ${message}`]);
    expect(progressLine(progress)).toContain(`main 0/2 ready  unschedulable: ${message}`);
  });

  it('reports image pull failures with the image and the message', () => {
    const waiting = {
      reason: 'ImagePullBackOff',
      message: 'Back-off pulling image "tensorflow/serving:9.9"',
    };
    const failing = pod('p1', 'n1', false, {
      containerStatuses: [
        { name: 'tfserving', image: 'tensorflow/serving:9.9', restartCount: 0, state: { waiting } },
      ],
    });
    const progress = modelProgress(
      'pricing',
      snapshot({ deployments: [deployment({ ready: 0 })], pods: [failing] }),
    );
    expect(progress.problems).toEqual([
      'image pull failed for container tfserving (tensorflow/serving:9.9): Back-off pulling image "tensorflow/serving:9.9"',
    ]);
  });

  it("reports failing probes from the pods' Warning events", () => {
    const event = {
      type: 'Warning',
      reason: 'Unhealthy',
      message: 'Readiness probe failed: HTTP probe failed with statuscode: 503',
      involvedObject: { name: 'p1' },
    };
    const unrelated = { ...event, involvedObject: { name: 'other-model-pod' } };
    const progress = modelProgress(
      'pricing',
      snapshot({
        deployments: [deployment({ ready: 0 })],
        pods: [pod('p1', 'n1', false)],
        events: [event, unrelated],
      }),
    );
    expect(progress.problems).toEqual([
      'probe failing: Readiness probe failed: HTTP probe failed with statuscode: 503',
    ]);
  });

  it('reports crash loops and replica failures', () => {
    const crashing = pod('p1', 'n1', false, {
      containerStatuses: [
        { name: 'model-sync', restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } } },
      ],
    });
    const quota = {
      type: 'ReplicaFailure',
      status: 'True',
      reason: 'FailedCreate',
      message: 'exceeded quota: compute',
    };
    const progress = modelProgress(
      'pricing',
      snapshot({ deployments: [deployment({ ready: 0, conditions: [quota] })], pods: [crashing] }),
    );
    expect(progress.problems).toEqual([
      'replica failure: exceeded quota: compute',
      'container model-sync keeps crashing (4 restarts) in pod p1',
    ]);
  });

  it('ignores other models and says so while no Deployment exists yet', () => {
    const other = {
      ...deployment(),
      metadata: { ...deployment().metadata, labels: { 'catwalk.dev/model': 'other' } },
    };
    const progress = modelProgress('pricing', snapshot({ deployments: [other] }));
    expect(progress.complete).toBe(false);
    expect(progressLine(progress)).toBe('pricing  waiting for the Deployment  rolling out');
  });
});
