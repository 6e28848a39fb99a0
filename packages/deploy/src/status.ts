// `catwalk status`: one model's state from the cluster (Deployments per track
// and zone, HPA, PDB, Ingress), from the registry (the release in S3) and from
// each pod: its sync sidecar's GET /status and TF Serving's model status, both
// read through the API server's pod proxy, so no port-forward or network
// route to the pods is needed.

import { apiGet, type Connection, type K8s, k8s } from './kube';

/** What the sync sidecar reports on GET /status. */
export interface SidecarStatus {
  readonly model: string;
  readonly track: string;
  readonly generation: number | null;
  readonly servedVersions: readonly number[];
  readonly labels: Readonly<Record<string, number>>;
  readonly onDisk: readonly { readonly version: number; readonly identity: string }[];
  readonly lastGoodSyncAt: string | null;
  readonly lastGoodSyncAgeSeconds: number | null;
  readonly lastError: string | null;
  readonly fallback: string | null;
}

export interface ServingVersion {
  readonly version: string;
  readonly state: string;
}

export interface PodReport {
  readonly name: string;
  readonly track: string;
  readonly node: string | null;
  readonly zone: string | null;
  readonly ready: boolean;
  readonly sidecar: SidecarStatus | null;
  readonly sidecarError: string | null;
  readonly serving: readonly ServingVersion[] | null;
  readonly servingError: string | null;
}

export interface TrackStatus {
  readonly track: string;
  readonly deployment: string;
  readonly ready: number;
  readonly desired: number;
  readonly zones: Readonly<Record<string, number>>;
}

export interface HpaStatus {
  readonly name: string;
  readonly current: number;
  readonly desired: number;
  readonly min: number;
  readonly max: number;
  readonly targetCpuPercent: number | null;
  readonly currentCpuPercent: number | null;
}

export interface PdbStatus {
  readonly name: string;
  readonly minAvailable: string | null;
  readonly maxUnavailable: string | null;
  readonly currentHealthy: number;
  readonly desiredHealthy: number;
  readonly disruptionsAllowed: number;
}

export interface IngressStatus {
  readonly name: string;
  readonly addresses: readonly string[];
  readonly urls: readonly string[];
  /** Service name → weight, from the ALB's weighted forward action (experiments). */
  readonly weights: Readonly<Record<string, number>> | null;
}

/** The release in the registry (release.json), as the CLI reads it. */
export interface ReleaseSummary {
  readonly generation: number;
  readonly servedVersions: readonly number[];
  readonly labels: Readonly<Record<string, number>>;
}

export interface ModelStatus {
  readonly model: string;
  readonly namespace: string;
  readonly found: boolean;
  readonly tracks: readonly TrackStatus[];
  readonly hpas: readonly HpaStatus[];
  readonly pdbs: readonly PdbStatus[];
  readonly ingresses: readonly IngressStatus[];
  readonly release: ReleaseSummary | null;
  readonly releaseError: string | null;
  readonly pods: readonly PodReport[];
  /** Pods whose sidecar is behind the registry's release, one sentence each. */
  readonly behind: readonly string[];
}

export interface StatusOptions {
  /** Reads the model's release from the registry; absent when the registry is not reachable from here. */
  readonly readRelease?: (model: string) => Promise<ReleaseSummary | undefined>;
  /** Per-request limit for the pod proxy. @default 5000 */
  readonly podTimeoutMs?: number;
}

const isReady = (pod: K8s.V1Pod) =>
  (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

function containerPort(pod: K8s.V1Pod, container: string, portName: string): number | undefined {
  return pod.spec?.containers.find((c) => c.name === container)?.ports?.find((p) => p.name === portName)
    ?.containerPort;
}

async function viaPodProxy<T>(
  conn: Connection,
  pod: string,
  port: number,
  path: string,
  timeoutMs: number,
): Promise<T> {
  const res = await apiGet(
    conn.kc,
    `/api/v1/namespaces/${encodeURIComponent(conn.namespace)}/pods/${encodeURIComponent(pod)}:${port}/proxy/${path}`,
    timeoutMs,
  );
  if (res.status !== 200) {
    let message = res.body.trim().slice(0, 300);
    try {
      message = (JSON.parse(res.body) as { message?: string }).message ?? message;
    } catch {}
    throw new Error(`HTTP ${res.status}: ${message}`);
  }
  return JSON.parse(res.body) as T;
}

/**
 * The A/B split of a model's Ingress: the weights of the action that carries
 * unaddressed requests (the chart's `actions.unaddressed`). The other actions
 * route requests that name a track; a single target group is no split.
 */
export function experimentWeights(ingress: K8s.V1Ingress): Record<string, number> | null {
  const text = ingress.metadata?.annotations?.['alb.ingress.kubernetes.io/actions.unaddressed'];
  if (!text) return null;
  try {
    const action = JSON.parse(text) as {
      forwardConfig?: { targetGroups?: { serviceName?: string; weight?: number }[] };
    };
    const groups = action.forwardConfig?.targetGroups ?? [];
    return groups.length > 1
      ? Object.fromEntries(groups.map((g) => [g.serviceName ?? '?', g.weight ?? 0]))
      : null;
  } catch {
    return null;
  }
}

/** Whether clients reach the host over HTTPS: a TLS section, or an ALB listening on HTTPS. */
function secure(ingress: K8s.V1Ingress, host: string | undefined): boolean {
  if ((ingress.spec?.tls ?? []).some((t) => (t.hosts ?? []).includes(host ?? ''))) return true;
  const annotations = ingress.metadata?.annotations ?? {};
  return (
    !!annotations['alb.ingress.kubernetes.io/certificate-arn'] ||
    /HTTPS/.test(annotations['alb.ingress.kubernetes.io/listen-ports'] ?? '')
  );
}

interface TfModelStatus {
  readonly model_version_status?: readonly { readonly version: string | number; readonly state: string }[];
}

async function settle<T>(promise: Promise<T>): Promise<{ value: T | null; error: string | null }> {
  try {
    return { value: await promise, error: null };
  } catch (error) {
    return { value: null, error: errorText(error) };
  }
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The status of each named model in the connection's namespace. */
export async function modelStatus(
  conn: Connection,
  models: readonly string[],
  options: StatusOptions = {},
): Promise<ModelStatus[]> {
  const lib = await k8s();
  const { kc, namespace } = conn;
  const apps = kc.makeApiClient(lib.AppsV1Api);
  const core = kc.makeApiClient(lib.CoreV1Api);
  const autoscaling = kc.makeApiClient(lib.AutoscalingV2Api);
  const policy = kc.makeApiClient(lib.PolicyV1Api);
  const networking = kc.makeApiClient(lib.NetworkingV1Api);
  const timeoutMs = options.podTimeoutMs ?? 5000;
  const zones = new Map<string, string>();
  try {
    for (const node of (await core.listNode()).items) {
      zones.set(
        node.metadata?.name ?? '',
        node.metadata?.labels?.['topology.kubernetes.io/zone'] ?? 'unknown',
      );
    }
  } catch {}

  return Promise.all(
    models.map(async (model): Promise<ModelStatus> => {
      const labelSelector = `catwalk.dev/model=${model}`;
      const [deployments, pods, hpas, pdbs, ingresses] = await Promise.all([
        apps.listNamespacedDeployment({ namespace, labelSelector }),
        core.listNamespacedPod({ namespace, labelSelector }),
        autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace, labelSelector }),
        policy.listNamespacedPodDisruptionBudget({ namespace, labelSelector }),
        networking.listNamespacedIngress({ namespace, labelSelector }),
      ]);
      const livePods = pods.items.filter((p) => !p.metadata?.deletionTimestamp);
      const tracks = deployments.items.map((d): TrackStatus => {
        const track = d.metadata?.labels?.['catwalk.dev/track'] ?? 'main';
        const perZone: Record<string, number> = {};
        for (const pod of livePods.filter(
          (p) => p.metadata?.labels?.['catwalk.dev/track'] === track && isReady(p),
        )) {
          const zone = zones.get(pod.spec?.nodeName ?? '') ?? 'unknown';
          perZone[zone] = (perZone[zone] ?? 0) + 1;
        }
        return {
          track,
          deployment: d.metadata?.name ?? '?',
          ready: d.status?.readyReplicas ?? 0,
          desired: d.spec?.replicas ?? 1,
          zones: perZone,
        };
      });
      let release: ReleaseSummary | null = null;
      let releaseError: string | null = null;
      if (options.readRelease) {
        try {
          release = (await options.readRelease(model)) ?? null;
        } catch (error) {
          releaseError = errorText(error);
        }
      }
      const podReports = await Promise.all(
        livePods.map(async (pod): Promise<PodReport> => {
          const name = pod.metadata?.name ?? '?';
          const syncPort = containerPort(pod, 'model-sync', 'sync-metrics');
          const httpPort = containerPort(pod, 'tfserving', 'http');
          const noIp = !pod.status?.podIP;
          const [sync, tf] = await Promise.all([
            noIp || syncPort === undefined
              ? { value: null, error: noIp ? 'pod has no IP yet' : 'no sync sidecar port in the pod spec' }
              : settle(viaPodProxy<SidecarStatus>(conn, name, syncPort, 'status', timeoutMs)),
            noIp || httpPort === undefined
              ? { value: null, error: noIp ? 'pod has no IP yet' : 'no TF Serving http port in the pod spec' }
              : settle(viaPodProxy<TfModelStatus>(conn, name, httpPort, `v1/models/${model}`, timeoutMs)),
          ]);
          const sidecar = sync.value;
          const sidecarError = sync.error;
          const serving = tf.value
            ? (tf.value.model_version_status ?? []).map((v) => ({
                version: String(v.version),
                state: v.state,
              }))
            : null;
          const servingError = tf.error;
          const node = pod.spec?.nodeName ?? null;
          return {
            name,
            track: pod.metadata?.labels?.['catwalk.dev/track'] ?? 'main',
            node,
            zone: node ? (zones.get(node) ?? null) : null,
            ready: isReady(pod),
            sidecar,
            sidecarError,
            serving,
            servingError,
          };
        }),
      );
      const behind: string[] = [];
      for (const pod of podReports) {
        const generation = pod.sidecar?.generation;
        if (release && generation !== null && generation !== undefined && generation < release.generation) {
          behind.push(
            `${pod.name} is on release generation ${generation}; the registry is at ${release.generation}`,
          );
        }
      }
      return {
        model,
        namespace,
        found: deployments.items.length > 0 || livePods.length > 0,
        tracks: tracks.sort((a, b) => (a.track === 'main' ? -1 : b.track === 'main' ? 1 : 0)),
        hpas: hpas.items.map((h) => {
          const target =
            h.spec?.metrics?.find((m) => m.resource?.name === 'cpu')?.resource?.target?.averageUtilization ??
            null;
          const current =
            h.status?.currentMetrics?.find((m) => m.resource?.name === 'cpu')?.resource?.current
              ?.averageUtilization ?? null;
          return {
            name: h.metadata?.name ?? '?',
            current: h.status?.currentReplicas ?? 0,
            desired: h.status?.desiredReplicas ?? 0,
            min: h.spec?.minReplicas ?? 1,
            max: h.spec?.maxReplicas ?? 0,
            targetCpuPercent: target,
            currentCpuPercent: current,
          };
        }),
        pdbs: pdbs.items.map((p) => ({
          name: p.metadata?.name ?? '?',
          minAvailable: p.spec?.minAvailable === undefined ? null : String(p.spec.minAvailable),
          maxUnavailable: p.spec?.maxUnavailable === undefined ? null : String(p.spec.maxUnavailable),
          currentHealthy: p.status?.currentHealthy ?? 0,
          desiredHealthy: p.status?.desiredHealthy ?? 0,
          disruptionsAllowed: p.status?.disruptionsAllowed ?? 0,
        })),
        ingresses: ingresses.items.map((i) => {
          return {
            name: i.metadata?.name ?? '?',
            addresses: (i.status?.loadBalancer?.ingress ?? [])
              .map((a) => a.hostname ?? a.ip ?? '')
              .filter(Boolean),
            urls: (i.spec?.rules ?? []).flatMap((r) =>
              (r.http?.paths ?? []).map(
                (p) => `${secure(i, r.host) ? 'https' : 'http'}://${r.host ?? '*'}${p.path ?? '/'}`,
              ),
            ),
            weights: experimentWeights(i),
          };
        }),
        release,
        releaseError,
        pods: podReports,
        behind,
      };
    }),
  );
}

/** A screen per model for a terminal. */
export function formatStatus(status: ModelStatus): string {
  const lines: string[] = [];
  lines.push(`${status.model} (namespace ${status.namespace})`);
  if (!status.found) {
    lines.push(`  not deployed here: no Deployment or pod carries catwalk.dev/model=${status.model}`);
    return `${lines.join('\n')}\n`;
  }
  for (const t of status.tracks) {
    const zones = Object.entries(t.zones)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([z, n]) => `${z} ${n}`)
      .join(', ');
    lines.push(
      `  ${t.track.padEnd(7)} ${t.deployment}: ${t.ready}/${t.desired} ready${zones ? ` (${zones})` : ''}`,
    );
  }
  for (const h of status.hpas) {
    const cpu =
      h.targetCpuPercent === null
        ? ''
        : `, cpu ${h.currentCpuPercent ?? '?'}% of ${h.targetCpuPercent}% target`;
    lines.push(`  hpa     ${h.name}: ${h.current} replicas (min ${h.min}, max ${h.max}${cpu})`);
  }
  for (const p of status.pdbs) {
    const rule =
      p.minAvailable !== null ? `minAvailable ${p.minAvailable}` : `maxUnavailable ${p.maxUnavailable}`;
    lines.push(
      `  pdb     ${p.name}: ${rule}; ${p.currentHealthy}/${p.desiredHealthy} healthy, ${p.disruptionsAllowed} disruptions allowed`,
    );
  }
  for (const i of status.ingresses) {
    lines.push(`  ingress ${i.name}: ${i.addresses.length ? i.addresses.join(', ') : 'no address yet'}`);
    for (const url of i.urls) lines.push(`          ${url}`);
    if (i.weights) {
      lines.push(
        `          weights: ${Object.entries(i.weights)
          .map(([s, w]) => `${s} ${w}`)
          .join(', ')}`,
      );
    }
  }
  if (status.release) {
    const labels = Object.entries(status.release.labels)
      .map(([l, v]) => `${l}=${v}`)
      .join(' ');
    lines.push(
      `  registry generation ${status.release.generation}: serving ${status.release.servedVersions.join(', ') || 'nothing'}${labels ? `; ${labels}` : ''}`,
    );
  } else if (status.releaseError) {
    lines.push(`  registry: ${status.releaseError}`);
  }
  for (const pod of status.pods) {
    lines.push(
      `  pod ${pod.name} [${pod.track}] ${pod.ready ? 'Ready' : 'not Ready'}${pod.zone ? ` in ${pod.zone}` : ''}`,
    );
    if (pod.sidecar) {
      const disk = pod.sidecar.onDisk.map((d) => d.version).join(', ') || 'nothing';
      const age =
        pod.sidecar.lastGoodSyncAgeSeconds === null
          ? 'never synced'
          : `synced ${Math.round(pod.sidecar.lastGoodSyncAgeSeconds)} s ago`;
      lines.push(
        `      sync: generation ${pod.sidecar.generation ?? '-'}, on disk ${disk}, ${age}${pod.sidecar.lastError ? `; last error: ${pod.sidecar.lastError}` : ''}`,
      );
      if (pod.sidecar.fallback) lines.push(`      fallback: ${pod.sidecar.fallback}`);
    } else {
      lines.push(`      sync: unreachable (${pod.sidecarError})`);
    }
    if (pod.serving)
      lines.push(
        `      tf serving: ${pod.serving.map((v) => `${v.version} ${v.state}`).join(', ') || 'no versions'}`,
      );
    else lines.push(`      tf serving: unreachable (${pod.servingError})`);
  }
  for (const line of status.behind) lines.push(`  ! ${line}`);
  return `${lines.join('\n')}\n`;
}

/** Names of the Catwalk models deployed in the connection's namespace. */
export async function deployedModels(conn: Connection): Promise<string[]> {
  const lib = await k8s();
  const apps = conn.kc.makeApiClient(lib.AppsV1Api);
  const list = await apps.listNamespacedDeployment({
    namespace: conn.namespace,
    labelSelector: 'catwalk.dev/model',
  });
  return [
    ...new Set(list.items.map((d) => d.metadata?.labels?.['catwalk.dev/model'] ?? '').filter(Boolean)),
  ].sort();
}
