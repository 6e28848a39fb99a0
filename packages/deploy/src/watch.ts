// A live view of the objects a rollout is made of, kept current by watches
// (client-node informers) on the namespace.

import { type Connection, type K8s, k8s } from './kube';
import type { ClusterSnapshot } from './rollout';

interface Cache<T> {
  list(): T[];
  start(): Promise<void>;
  stop(): Promise<void>;
  on(verb: 'error', cb: (error: unknown) => void): void;
  on(verb: 'add' | 'update' | 'delete' | 'change', cb: (obj: T) => void): void;
}

export interface RolloutWatch {
  snapshot(): ClusterSnapshot;
  /** Resolves on the next change of any watched object (or after `maxMs`). */
  changed(maxMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Watches Deployments, ReplicaSets, Pods and HPAs of the given models, the namespace's events and the nodes. */
export async function watchRollout(conn: Connection, models: readonly string[]): Promise<RolloutWatch> {
  const lib = await k8s();
  const { kc, namespace } = conn;
  const apps = kc.makeApiClient(lib.AppsV1Api);
  const core = kc.makeApiClient(lib.CoreV1Api);
  const autoscaling = kc.makeApiClient(lib.AutoscalingV2Api);
  const labelSelector = `catwalk.dev/model in (${models.join(',')})`;
  const ns = encodeURIComponent(namespace);

  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const caches: Cache<unknown>[] = [];
  const informer = <T extends K8s.KubernetesObject>(
    path: string,
    list: () => Promise<K8s.KubernetesListObject<T>>,
    selector?: string,
  ): Cache<T> => {
    const cache = lib.makeInformer<T>(kc, path, list, selector) as unknown as Cache<T>;
    for (const verb of ['add', 'update', 'delete'] as const) cache.on(verb, notify);
    // A dropped watch restarts from a fresh list; the deploy's own deadline bounds the whole.
    cache.on('error', () => {
      setTimeout(() => {
        cache.start().catch(() => {});
      }, 1000).unref();
    });
    caches.push(cache as Cache<unknown>);
    return cache;
  };

  const deployments = informer<K8s.V1Deployment>(
    `/apis/apps/v1/namespaces/${ns}/deployments`,
    () => apps.listNamespacedDeployment({ namespace, labelSelector }),
    labelSelector,
  );
  const replicaSets = informer<K8s.V1ReplicaSet>(
    `/apis/apps/v1/namespaces/${ns}/replicasets`,
    () => apps.listNamespacedReplicaSet({ namespace, labelSelector }),
    labelSelector,
  );
  const pods = informer<K8s.V1Pod>(
    `/api/v1/namespaces/${ns}/pods`,
    () => core.listNamespacedPod({ namespace, labelSelector }),
    labelSelector,
  );
  const hpas = informer<K8s.V2HorizontalPodAutoscaler>(
    `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`,
    () => autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace, labelSelector }),
    labelSelector,
  );
  const events = informer<K8s.CoreV1Event>(`/api/v1/namespaces/${ns}/events`, () =>
    core.listNamespacedEvent({ namespace }),
  );
  // Zones come from the nodes; a user without cluster-wide read sees "unknown" zones, nothing worse.
  const zones = new Map<string, string>();
  const refreshZones = async () => {
    try {
      const nodes = await core.listNode();
      for (const node of nodes.items) {
        zones.set(
          node.metadata?.name ?? '',
          node.metadata?.labels?.['topology.kubernetes.io/zone'] ?? 'unknown',
        );
      }
    } catch {}
  };
  await refreshZones();
  await Promise.all(caches.map((c) => c.start()));

  return {
    snapshot: () => {
      const unknown = pods.list().some((p) => p.spec?.nodeName && !zones.has(p.spec.nodeName));
      if (unknown) void refreshZones().then(notify);
      return {
        deployments: deployments.list(),
        replicaSets: replicaSets.list(),
        pods: pods.list(),
        hpas: hpas.list(),
        events: events.list(),
        zones,
      };
    },
    changed: (maxMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, maxMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
    stop: async () => {
      await Promise.all(caches.map((c) => c.stop()));
    },
  };
}
