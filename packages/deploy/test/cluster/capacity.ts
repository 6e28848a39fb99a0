// What the capacity tests record and check: every change of the model's
// Deployments, HPAs and Ingress while an experiment command moves traffic,
// read from watches (informers) and put in the API server's order, and the
// rule a weight move must keep, checked over that record.

import { type K8s, k8s } from '../../src/kube';
import { experimentWeights } from '../../src/status';
import { cluster } from './support';

type Track = 'main' | 'canary';

interface Change {
  /** The object's resourceVersion after the change. */
  readonly order: bigint;
  readonly kind: 'Deployment' | 'HorizontalPodAutoscaler' | 'Ingress';
  readonly track: Track;
  readonly deleted: boolean;
  readonly object: K8s.KubernetesObject;
  /** When the watch delivered it (ms since the epoch): loopback, so within milliseconds of the write. */
  readonly seen: number;
}

/** The model as it stood after one change. */
export interface Moment {
  readonly after: string;
  /** When the watch delivered the change this moment follows. */
  readonly seen: number;
  readonly weight: number | null;
  readonly deployments: Partial<Record<Track, { readonly replicas: number; readonly ready: number }>>;
  readonly hpas: Partial<Record<Track, { readonly min: number; readonly max: number }>>;
}

export interface Recorder {
  /** The changes seen so far; pass it to moments() as the start of a move. */
  mark(): number;
  /** The model before the change at `from`, then after every change since, in the API server's order. */
  moments(from: number): { readonly before: Moment; readonly during: readonly Moment[] };
  stop(): Promise<void>;
}

const trackOf = (o: K8s.KubernetesObject): Track =>
  o.metadata?.labels?.['catwalk.dev/track'] === 'canary' ? 'canary' : 'main';

function apply(last: Moment, change: Change): Moment {
  const moment = { ...last, seen: change.seen };
  const o = change.object;
  const track = change.track;
  const after = `${change.deleted ? 'delete' : 'set'} ${change.kind}/${o.metadata?.name}`;
  if (change.kind === 'Ingress') {
    const weights = change.deleted ? null : experimentWeights(o as K8s.V1Ingress);
    return { ...moment, after, weight: weights ? (weights['pricing-canary'] ?? 0) : null };
  }
  if (change.kind === 'Deployment') {
    const d = o as K8s.V1Deployment;
    const deployments = { ...moment.deployments };
    if (change.deleted) delete deployments[track];
    else deployments[track] = { replicas: d.spec?.replicas ?? 1, ready: d.status?.readyReplicas ?? 0 };
    return { ...moment, after, deployments };
  }
  const h = o as K8s.V2HorizontalPodAutoscaler;
  const hpas = { ...moment.hpas };
  if (change.deleted) delete hpas[track];
  else hpas[track] = { min: h.spec?.minReplicas ?? 1, max: h.spec?.maxReplicas ?? 1 };
  return { ...moment, after, hpas };
}

/**
 * Watches the model's Deployments, HPAs and the Ingress `pricing` in the
 * namespace. The three watches deliver their events independently, so the
 * changes are ordered by resourceVersion: opaque to clients in general, but
 * on this control plane (one etcd) it is etcd's revision, one counter for
 * every write, which is the order the writes happened in.
 */
export async function recordModel(namespace: string, model = 'pricing'): Promise<Recorder> {
  const lib = await k8s();
  const conn = await cluster(namespace);
  const apps = conn.kc.makeApiClient(lib.AppsV1Api);
  const autoscaling = conn.kc.makeApiClient(lib.AutoscalingV2Api);
  const networking = conn.kc.makeApiClient(lib.NetworkingV1Api);
  const labelSelector = `catwalk.dev/model=${model}`;
  const ns = encodeURIComponent(namespace);
  const changes: Change[] = [];
  const failures: string[] = [];
  const informers: { start(): Promise<void>; stop(): Promise<void> }[] = [];
  const watch = <T extends K8s.KubernetesObject>(
    kind: Change['kind'],
    path: string,
    list: () => Promise<K8s.KubernetesListObject<T>>,
  ) => {
    const informer = lib.makeInformer<T>(conn.kc, path, list, labelSelector);
    const record = (deleted: boolean) => (object: T) => {
      if (kind === 'Ingress' && object.metadata?.name !== model) return;
      changes.push({
        order: BigInt(object.metadata?.resourceVersion ?? '0'),
        kind,
        track: trackOf(object),
        deleted,
        object,
        seen: Date.now(),
      });
    };
    informer.on('add', record(false));
    informer.on('update', record(false));
    informer.on('delete', record(true));
    // A broken watch would leave holes in the record: the check fails with it instead.
    informer.on('error', (error: unknown) => {
      failures.push(`the ${kind} watch of ${namespace} failed: ${String(error)}`);
    });
    informers.push(informer);
  };
  watch<K8s.V1Deployment>('Deployment', `/apis/apps/v1/namespaces/${ns}/deployments`, () =>
    apps.listNamespacedDeployment({ namespace, labelSelector }),
  );
  watch<K8s.V2HorizontalPodAutoscaler>(
    'HorizontalPodAutoscaler',
    `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`,
    () => autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace, labelSelector }),
  );
  watch<K8s.V1Ingress>('Ingress', `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses`, () =>
    networking.listNamespacedIngress({ namespace, labelSelector }),
  );
  await Promise.all(informers.map((i) => i.start()));

  const empty: Moment = { after: 'nothing', seen: 0, weight: null, deployments: {}, hpas: {} };
  return {
    mark: () => changes.length,
    moments(from) {
      if (failures.length) throw new Error(failures.join('; '));
      // A deletion carries the object's last resourceVersion; it comes after every change of it.
      const sorted = (part: readonly Change[]) =>
        [...part].sort((a, b) => (a.order === b.order ? 0 : a.order < b.order ? -1 : 1));
      const before = sorted(changes.slice(0, from)).reduce(apply, empty);
      const during: Moment[] = [];
      let now = before;
      for (const change of sorted(changes.slice(from))) {
        now = apply(now, change);
        during.push(now);
      }
      return { before, during };
    },
    async stop() {
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}

export interface MoveRule {
  /** The canary's weight the command moves to. */
  readonly to: number;
  /** The chart's redundancy floor (2 unless autoscaling.allowSingleReplica). */
  readonly floor: number;
  /** autoscaling.maxReplicas: no track is ever asked for more. */
  readonly maxReplicas: number;
}

/**
 * What a weight move must keep, as broken promises (none when it kept them).
 *
 * Need: the track that receives traffic must have, Ready, its new share of
 * the pods both tracks had Ready before the command ran, rounded up:
 * ceil(total × share / 100), never below the floor nor above maxReplicas,
 * at the change that gives the load balancer the new weight.
 * Hold: the track that gives traffic away keeps its pods until then (its
 * Deployment is not scaled below what it had), and at that change its HPA's
 * minimum still holds them, so nothing scales it down while the load
 * balancer moves the traffic.
 */
export function brokenPromises(
  record: { before: Moment; during: readonly Moment[] },
  rule: MoveRule,
): string[] {
  const { before, during } = record;
  const from = before.weight ?? 0;
  const receiving: Track = rule.to > from ? 'canary' : 'main';
  const giving: Track = receiving === 'canary' ? 'main' : 'canary';
  const total = (before.deployments.main?.ready ?? 0) + (before.deployments.canary?.ready ?? 0);
  const share = receiving === 'canary' ? rule.to : 100 - rule.to;
  const need = Math.max(rule.floor, Math.min(rule.maxReplicas, Math.ceil((total * share) / 100)));
  const held = before.deployments[giving]?.replicas ?? 0;
  const broken: string[] = [];
  for (const moment of during) {
    const givingNow = moment.deployments[giving]?.replicas ?? 0;
    if (moment.weight !== rule.to) {
      if (givingNow < held && !broken.length) {
        broken.push(
          `${giving} scaled from ${held} to ${givingNow} before the weight moved (${moment.after})`,
        );
      }
      continue;
    }
    const ready = moment.deployments[receiving]?.ready ?? 0;
    if (ready < need) {
      broken.push(
        `${receiving} had ${ready} Ready pods when the load balancer got ${100 - rule.to}/${rule.to}; ` +
          `its ${share}% of the ${total} pods Ready before needs ${need}`,
      );
    }
    const hpa = moment.hpas[giving];
    if (held > 0 && (!hpa || hpa.min < held)) {
      broken.push(
        `${giving}'s HPA allowed ${hpa ? `${hpa.min}..${hpa.max}` : 'anything'} pods when the load balancer got ` +
          `${100 - rule.to}/${rule.to}; it had ${held} and must keep them until the traffic has moved`,
      );
    }
    return broken;
  }
  return [...broken, `the load balancer never got ${100 - rule.to}/${rule.to}`];
}

/**
 * How long the track giving traffic away was still held after the load
 * balancer got the canary weight `to`: milliseconds from the Ingress change
 * with the new weight to the first later change that let the giving track's
 * HPA go below the pods it had before the command (its minimum lowered, or
 * the HPA gone); null when the record never shows the new weight, Infinity
 * when the hold outlasted the record.
 */
export function heldAfterSwitch(
  record: { before: Moment; during: readonly Moment[] },
  to: number,
): number | null {
  const { before, during } = record;
  const from = before.weight ?? 0;
  const giving: Track = to > from ? 'main' : 'canary';
  const held = before.deployments[giving]?.replicas ?? 0;
  const switched = during.findIndex((m) => m.weight === to);
  if (switched < 0) return null;
  const released = during
    .slice(switched + 1)
    .find((m) => m.hpas[giving] === undefined || m.hpas[giving]!.min < held);
  return released ? released.seen - during[switched]!.seen : Number.POSITIVE_INFINITY;
}

/**
 * What an abort (without --keep-capacity) must keep, as broken promises.
 * The upgrade that gives the load balancer 100/0 also raises main's HPA
 * minimum to every pod both tracks ran (capped at maxReplicas) and holds the
 * canary's; main is never scaled below what it had; the canary keeps its pods
 * until its Deployment goes, and it goes only once main has those pods Ready
 * and at least `switchMs` after the load balancer got 100/0.
 */
export function brokenAbortPromises(
  record: { before: Moment; during: readonly Moment[] },
  rule: Omit<MoveRule, 'to'> & { readonly switchMs: number },
): string[] {
  const { before, during } = record;
  const main = before.deployments.main?.replicas ?? 0;
  const canary = before.deployments.canary?.replicas ?? 0;
  const need = Math.max(rule.floor, Math.min(rule.maxReplicas, main + canary));
  const switched = during.findIndex((m) => m.weight === 0);
  if (switched < 0) return ['the load balancer never got 100/0'];
  const atSwitch = during[switched]!;
  const broken: string[] = [];
  if ((atSwitch.hpas.main?.min ?? 0) < need) {
    broken.push(
      `main's HPA minimum was ${atSwitch.hpas.main?.min ?? 'unset'} when the load balancer got 100/0; ` +
        `the same upgrade must raise it to the ${need} pods both tracks ran`,
    );
  }
  if ((atSwitch.hpas.canary?.min ?? 0) < canary) {
    broken.push(
      `the canary's HPA minimum was ${atSwitch.hpas.canary?.min ?? 'unset'} when the load balancer got 100/0; it must hold its ${canary} pods`,
    );
  }
  const shrunk = during.find((m) => (m.deployments.main?.replicas ?? 0) < main);
  if (shrunk) broken.push(`main scaled below its ${main} pods (${shrunk.after})`);
  const removed = during.findIndex((m) => m.deployments.canary === undefined);
  if (removed < 0) return [...broken, 'the canary Deployment was never removed'];
  const cut = during.slice(0, removed).find((m) => (m.deployments.canary?.replicas ?? 0) < canary);
  if (cut) broken.push(`the canary scaled below its ${canary} pods before it was removed (${cut.after})`);
  if (removed < switched) broken.push('the canary was removed before the load balancer got 100/0');
  const atRemoval = during[removed]!;
  if ((atRemoval.deployments.main?.ready ?? 0) < need) {
    broken.push(
      `main had ${atRemoval.deployments.main?.ready ?? 0} Ready pods when the canary was removed; it needs the ${need} both tracks ran`,
    );
  }
  if (atRemoval.seen - atSwitch.seen < rule.switchMs) {
    broken.push(
      `the canary was removed ${atRemoval.seen - atSwitch.seen} ms after the load balancer got 100/0; the switch-over is ${rule.switchMs} ms`,
    );
  }
  return broken;
}
