// What the cluster says about a model's experiment: the A/B values the chart
// carries (helm's record of the values the experiment commands applied) and,
// per track, whether every pod serves a version: each pod's sync sidecar is
// asked through the API server's pod proxy, as `catwalk status` does, for
// /status (what it synced) and /ready/serving (the versions TF Serving
// reports, with their states).

import type { ExperimentValues, TrackView } from './experiment-plan';
import { type HelmTarget, helmError, runHelm } from './helm';
import { apiGet, type Connection, type K8s, k8s } from './kube';

/**
 * The chart values that carry an experiment (what `--values` gets from the
 * experiment commands). experiment.minReplicas is written only while a move
 * holds pods: charts generated before it existed forbid unknown keys under
 * `experiment`, and their absence reads as no hold (appliedExperiment).
 */
export function experimentValuesDocument(values: ExperimentValues): object {
  const hold = values.minReplicas;
  return {
    experiment: {
      enabled: true,
      stableVersion: values.stableVersion,
      canaryVersion: values.canaryVersion,
      weights: { stable: 100 - values.canaryWeight, canary: values.canaryWeight },
      ...(hold && (hold.stable > 0 || hold.canary > 0) ? { minReplicas: hold } : {}),
    },
  };
}

/**
 * The values the model's helm release was last given by its user (helm's
 * user-supplied values) without the experiment block: what an experiment
 * command keeps when it upgrades the chart with new weights and was not given
 * --values itself, so changing a weight never drops a user's override.
 */
export async function keptUserValues(target: HelmTarget, model: string): Promise<Record<string, unknown>> {
  const run = await runHelm(['get', 'values', model, '--output', 'json'], target);
  if (run.code !== 0) throw new Error(`helm get values ${model}: ${helmError(run)}`);
  const { experiment: _e, ...rest } = (JSON.parse(run.stdout || 'null') ?? {}) as Record<string, unknown>;
  return rest;
}

/**
 * The experiment values the model's helm release was last given (helm's
 * user-supplied values), or null when it carries none; undefined when the
 * model has no release in the namespace.
 */
export async function appliedExperiment(
  target: HelmTarget,
  model: string,
): Promise<ExperimentValues | null | undefined> {
  const run = await runHelm(['get', 'values', model, '--output', 'json'], target);
  if (run.code !== 0) {
    if (/not found/i.test(run.stderr)) return undefined;
    throw new Error(`helm get values ${model}: ${helmError(run)}`);
  }
  const values = JSON.parse(run.stdout || 'null') as {
    experiment?: {
      enabled?: boolean;
      stableVersion?: number;
      canaryVersion?: number;
      weights?: { canary?: number };
      minReplicas?: { stable?: number; canary?: number };
    };
  } | null;
  const e = values?.experiment;
  if (!e?.enabled) return null;
  const hold = { stable: Number(e.minReplicas?.stable ?? 0), canary: Number(e.minReplicas?.canary ?? 0) };
  return {
    stableVersion: Number(e.stableVersion),
    canaryVersion: Number(e.canaryVersion),
    canaryWeight: Number(e.weights?.canary ?? 0),
    ...(hold.stable > 0 || hold.canary > 0 ? { minReplicas: hold } : {}),
  };
}

/** One pod as its sidecar describes it. */
export interface PodServing {
  readonly name: string;
  readonly ready: boolean;
  /** The release generation the sidecar last synced. */
  readonly generation: number | null;
  /** TF Serving's versions and states, as the sidecar's /ready/serving reports them. */
  readonly versions: readonly { readonly version: number; readonly state: string }[];
  /** Why the pod could not be asked, or what it said was wrong. */
  readonly problem: string | null;
}

export interface TrackReport extends TrackView {
  readonly deployment: string | null;
  readonly desired: number;
  readonly readyReplicas: number;
  readonly podReports: readonly PodServing[];
}

const isReady = (pod: K8s.V1Pod) =>
  (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

async function proxyJson<T>(conn: Connection, pod: string, port: number, path: string, timeoutMs: number) {
  const res = await apiGet(
    conn.kc,
    `/api/v1/namespaces/${encodeURIComponent(conn.namespace)}/pods/${encodeURIComponent(pod)}:${port}/proxy/${path}`,
    timeoutMs,
  );
  try {
    return { status: res.status, body: JSON.parse(res.body) as T };
  } catch {
    throw new Error(`${path}: HTTP ${res.status}: ${res.body.trim().slice(0, 200)}`);
  }
}

async function podServing(conn: Connection, pod: K8s.V1Pod, timeoutMs: number): Promise<PodServing> {
  const name = pod.metadata?.name ?? '?';
  const ready = isReady(pod);
  const port = pod.spec?.containers
    .find((c) => c.name === 'model-sync')
    ?.ports?.find((p) => p.name === 'sync-metrics')?.containerPort;
  const base = { name, ready, generation: null, versions: [] };
  if (!pod.status?.podIP) return { ...base, problem: 'pod has no IP yet' };
  if (port === undefined) return { ...base, problem: 'no sync sidecar port in the pod spec' };
  try {
    const [status, serving] = await Promise.all([
      proxyJson<{ generation?: number | null }>(conn, name, port, 'status', timeoutMs),
      proxyJson<{ versions?: { version: number; state: string }[]; error?: string }>(
        conn,
        name,
        port,
        'ready/serving',
        timeoutMs,
      ),
    ]);
    const versions = (serving.body.versions ?? []).map((v) => ({
      version: Number(v.version),
      state: String(v.state),
    }));
    return {
      name,
      ready,
      generation: status.body.generation ?? null,
      versions,
      problem: serving.status === 200 ? null : (serving.body.error ?? `ready/serving HTTP ${serving.status}`),
    };
  } catch (error) {
    return { ...base, problem: error instanceof Error ? error.message : String(error) };
  }
}

/** A track's Deployment and pods, each pod asked through the pod proxy; null when the track has no Deployment. */
export async function trackReport(
  conn: Connection,
  model: string,
  track: 'main' | 'canary',
  timeoutMs = 5000,
): Promise<TrackReport | null> {
  const lib = await k8s();
  const apps = conn.kc.makeApiClient(lib.AppsV1Api);
  const core = conn.kc.makeApiClient(lib.CoreV1Api);
  const autoscaling = conn.kc.makeApiClient(lib.AutoscalingV2Api);
  const labelSelector = `catwalk.dev/model=${model},catwalk.dev/track=${track}`;
  const [deployments, pods, hpas] = await Promise.all([
    apps.listNamespacedDeployment({ namespace: conn.namespace, labelSelector }),
    core.listNamespacedPod({ namespace: conn.namespace, labelSelector }),
    autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: conn.namespace, labelSelector }),
  ]);
  const deployment = deployments.items.find((d) => !d.metadata?.deletionTimestamp);
  if (!deployment) return null;
  const hpa = hpas.items.find(
    (h) =>
      h.spec?.scaleTargetRef?.kind === 'Deployment' &&
      h.spec.scaleTargetRef.name === deployment.metadata?.name,
  );
  const live = pods.items.filter((p) => !p.metadata?.deletionTimestamp);
  const reports = await Promise.all(live.map((p) => podServing(conn, p, timeoutMs)));
  const desired = deployment.spec?.replicas ?? 1;
  const readyReplicas = deployment.status?.readyReplicas ?? 0;
  const counts = new Map<number, number>();
  for (const r of reports) {
    for (const v of r.versions)
      if (v.state === 'AVAILABLE') counts.set(v.version, (counts.get(v.version) ?? 0) + 1);
  }
  return {
    deployment: deployment.metadata?.name ?? null,
    desired,
    replicas: desired,
    minReplicas: hpa?.spec?.minReplicas ?? desired,
    readyReplicas,
    pods: reports.length,
    ready: readyReplicas >= desired && reports.length > 0 && reports.every((r) => r.ready),
    availableOnAll: [...counts]
      .filter(([, n]) => n === reports.length)
      .map(([v]) => v)
      .sort((a, b) => a - b),
    podReports: reports,
  };
}

/** One line per pod that does not serve `version` yet: what a timed-out wait reports. */
export function notServing(report: TrackReport | null, version: number, pods = 0): string[] {
  if (!report) return ['the Deployment does not exist'];
  const lines = report.podReports
    .filter((p) => !p.ready || !p.versions.some((v) => v.version === version && v.state === 'AVAILABLE'))
    .map((p) => {
      const states = p.versions.map((v) => `${v.version} ${v.state}`).join(', ') || 'no versions';
      return `${p.name}: ${p.ready ? 'Ready' : 'not Ready'}, TF Serving reports ${states}${p.problem ? ` (${p.problem})` : ''}`;
    });
  const wanted = Math.max(report.desired, report.minReplicas);
  if (report.readyReplicas < wanted) {
    lines.unshift(`${report.deployment}: ${report.readyReplicas}/${wanted} replicas ready`);
  }
  if (pods > report.minReplicas) {
    // The chart capped the hold at autoscaling.maxReplicas.
    lines.push(
      `${report.deployment}: its HPA allows at most ${report.minReplicas} of the ${pods} pods the move needs`,
    );
  }
  return lines;
}
