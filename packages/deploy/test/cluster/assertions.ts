// Checks of what a chart installed, against the real API server: every object
// of the manifest exists, each track's pods are Ready up to the HPA's minimum
// and spread over zones, the PDB reports status, nothing is left after uninstall.

import { parseAllDocuments } from 'yaml';
import { k8s as lib } from '../../src/kube';
import { cluster, helmOk, waitFor } from './support';

export interface TrackState {
  readonly deployment: string;
  readonly desired: number;
  readonly ready: number;
  readonly zones: Record<string, number>;
  readonly nodes: string[];
}

/** Every object in the release's manifest, read back from the API server. */
export async function assertManifestObjectsExist(release: string, namespace: string): Promise<string[]> {
  const manifest = await helmOk(['get', 'manifest', release], namespace);
  const objects = parseAllDocuments(manifest)
    .map((d) => d.toJS() as { apiVersion: string; kind: string; metadata: { name: string } } | null)
    .filter((o): o is { apiVersion: string; kind: string; metadata: { name: string } } => !!o?.kind);
  const conn = await cluster(namespace);
  const api = (await lib()).KubernetesObjectApi.makeApiClient(conn.kc);
  for (const o of objects) {
    await api.read({
      apiVersion: o.apiVersion,
      kind: o.kind,
      metadata: { name: o.metadata.name, namespace },
    });
  }
  return objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
}

/** Waits until every Deployment of the release has its desired replicas Ready, then reports where they run. */
export async function waitForTracks(
  release: string,
  namespace: string,
  timeoutMs = 150_000,
): Promise<Record<string, TrackState>> {
  const k = await lib();
  const conn = await cluster(namespace);
  const apps = conn.kc.makeApiClient(k.AppsV1Api);
  const core = conn.kc.makeApiClient(k.CoreV1Api);
  const autoscaling = conn.kc.makeApiClient(k.AutoscalingV2Api);
  const zones = new Map<string, string>();
  for (const node of (await core.listNode()).items) {
    zones.set(node.metadata!.name!, node.metadata!.labels!['topology.kubernetes.io/zone']!);
  }
  const selector = `app.kubernetes.io/instance=${release}`;
  return waitFor(
    `Deployments of ${release} Ready`,
    async () => {
      const deployments = (await apps.listNamespacedDeployment({ namespace, labelSelector: selector })).items;
      const hpas = (
        await autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace, labelSelector: selector })
      ).items;
      const pods = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items;
      if (!deployments.length) return undefined;
      const result: Record<string, TrackState> = {};
      for (const d of deployments) {
        const track = d.metadata!.labels!['catwalk.dev/track']!;
        const hpa = hpas.find((h) => h.spec?.scaleTargetRef.name === d.metadata!.name);
        const desired = Math.max(d.spec?.replicas ?? 1, hpa?.spec?.minReplicas ?? 0);
        const mine = pods.filter(
          (p) =>
            p.metadata?.labels?.['catwalk.dev/track'] === track &&
            !p.metadata?.deletionTimestamp &&
            (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        const upToDate =
          (d.status?.updatedReplicas ?? 0) === (d.spec?.replicas ?? 1) &&
          (d.status?.replicas ?? 0) === (d.spec?.replicas ?? 1);
        if ((d.spec?.replicas ?? 1) < desired || mine.length !== desired || !upToDate) return undefined;
        const perZone: Record<string, number> = {};
        for (const p of mine) {
          const zone = zones.get(p.spec!.nodeName!)!;
          perZone[zone] = (perZone[zone] ?? 0) + 1;
        }
        result[track] = {
          deployment: d.metadata!.name!,
          desired,
          ready: mine.length,
          zones: perZone,
          nodes: mine.map((p) => p.spec!.nodeName!),
        };
      }
      return result;
    },
    timeoutMs,
  );
}

/** The spread the chart asks for: zones used as evenly as the pod count allows (skew at most 1). */
export function expectZoneSpread(state: TrackState, zoneCount: number): void {
  const counts = Object.values(state.zones);
  expect(counts.reduce((a, b) => a + b, 0)).toBe(state.ready);
  expect(counts.length).toBe(Math.min(state.ready, zoneCount));
  expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
}

/** The PDB of each track, once the disruption controller has written its status. */
export async function waitForPdbStatus(release: string, namespace: string) {
  const k = await lib();
  const conn = await cluster(namespace);
  const policy = conn.kc.makeApiClient(k.PolicyV1Api);
  return waitFor(`PDB status of ${release}`, async () => {
    const pdbs = (
      await policy.listNamespacedPodDisruptionBudget({
        namespace,
        labelSelector: `app.kubernetes.io/instance=${release}`,
      })
    ).items;
    if (!pdbs.length) return undefined;
    const settled = pdbs.every(
      (p) =>
        (p.status?.observedGeneration ?? 0) >= (p.metadata?.generation ?? 1) &&
        (p.status?.expectedPods ?? 0) > 0,
    );
    return settled ? pdbs : undefined;
  });
}

/** Namespaced objects still labelled with the release (Pods included): none should remain after uninstall. */
export async function leftovers(release: string, namespace: string): Promise<string[]> {
  const k = await lib();
  const conn = await cluster(namespace);
  const labelSelector = `app.kubernetes.io/instance=${release}`;
  const apps = conn.kc.makeApiClient(k.AppsV1Api);
  const core = conn.kc.makeApiClient(k.CoreV1Api);
  const lists = await Promise.all([
    apps.listNamespacedDeployment({ namespace, labelSelector }),
    apps.listNamespacedReplicaSet({ namespace, labelSelector }),
    core.listNamespacedPod({ namespace, labelSelector }),
    core.listNamespacedService({ namespace, labelSelector }),
    core.listNamespacedConfigMap({ namespace, labelSelector }),
    core.listNamespacedServiceAccount({ namespace, labelSelector }),
    conn.kc.makeApiClient(k.PolicyV1Api).listNamespacedPodDisruptionBudget({ namespace, labelSelector }),
    conn.kc
      .makeApiClient(k.AutoscalingV2Api)
      .listNamespacedHorizontalPodAutoscaler({ namespace, labelSelector }),
    conn.kc.makeApiClient(k.NetworkingV1Api).listNamespacedIngress({ namespace, labelSelector }),
    conn.kc.makeApiClient(k.NetworkingV1Api).listNamespacedNetworkPolicy({ namespace, labelSelector }),
    core.listNamespacedSecret({ namespace, labelSelector: `owner=helm,name=${release}` }),
  ]);
  return lists.flatMap((l) => l.items.map((o) => `${o.kind ?? 'object'}/${o.metadata?.name}`));
}

/** Waits until uninstall has taken everything away (pods terminate asynchronously). */
export async function expectNothingLeft(release: string, namespace: string): Promise<void> {
  await waitFor(
    `nothing left of ${release}`,
    async () => ((await leftovers(release, namespace)).length === 0 ? true : undefined),
    90_000,
  ).catch(async (error) => {
    throw new Error(`${(error as Error).message}: ${(await leftovers(release, namespace)).join(', ')}`);
  });
}
