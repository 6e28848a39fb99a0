// `deploy --dry-run`: what an install or upgrade would change, object by
// object, as the API server itself computes it (server-side apply, dry run).

import { parseAllDocuments } from 'yaml';
import { type HelmTarget, helmError, runHelm } from './helm';
import { type Connection, type K8s, k8s } from './kube';

export interface ObjectChange {
  readonly kind: string;
  readonly name: string;
  readonly action: 'create' | 'update' | 'unchanged' | 'delete';
  /** Changed field paths (update only), e.g. `spec.template.spec.containers[0].image`. */
  readonly fields?: readonly string[];
}

type Obj = Record<string, unknown>;

function manifestObjects(text: string): K8s.KubernetesObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as K8s.KubernetesObject | null)
    .filter((o): o is K8s.KubernetesObject => !!o && typeof o === 'object' && !!o.kind);
}

/** Fields the server fills in or keeps for itself: they are not changes a user makes. */
const SERVER_OWNED = new Set([
  'status',
  'metadata.managedFields',
  'metadata.resourceVersion',
  'metadata.generation',
  'metadata.uid',
  'metadata.creationTimestamp',
]);

/** Paths where two JSON values differ, shallowest first. */
export function changedPaths(before: unknown, after: unknown, at = ''): string[] {
  if (SERVER_OWNED.has(at)) return [];
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((b, i) => changedPaths(b, after[i], `${at}[${i}]`));
  }
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => changedPaths(before[k], after[k], at ? `${at}.${k}` : k));
  }
  return [at || '.'];
}

const key = (o: K8s.KubernetesObject) => `${o.kind}/${o.metadata?.name}`;

/** Asks helm for the objects an upgrade would apply and the API server what each would become. */
export async function planChanges(
  conn: Connection,
  target: HelmTarget,
  release: string,
  chart: string,
  valuesArgs: readonly string[],
): Promise<ObjectChange[]> {
  const rendered = await runHelm(
    ['upgrade', '--install', release, chart, '--dry-run=server', '-o', 'json', ...valuesArgs],
    target,
  );
  if (rendered.code !== 0) throw new Error(`helm could not render ${release}: ${helmError(rendered)}`);
  const desired = manifestObjects((JSON.parse(rendered.stdout) as { manifest?: string }).manifest ?? '');
  const current = await runHelm(['get', 'manifest', release], target);
  const deployed = current.code === 0 ? manifestObjects(current.stdout) : [];

  const lib = await k8s();
  const objects = lib.KubernetesObjectApi.makeApiClient(conn.kc);
  const changes: ObjectChange[] = [];
  for (const object of desired) {
    object.metadata = {
      ...object.metadata,
      namespace: object.metadata?.namespace ?? conn.namespace,
      // What helm adds to every object it applies; without them the dry run would "remove" them.
      annotations: {
        ...object.metadata?.annotations,
        'meta.helm.sh/release-name': release,
        'meta.helm.sh/release-namespace': object.metadata?.namespace ?? conn.namespace,
      },
    };
    let live: K8s.KubernetesObject | undefined;
    try {
      live = await objects.read({
        apiVersion: object.apiVersion!,
        kind: object.kind!,
        metadata: { name: object.metadata.name!, namespace: object.metadata.namespace! },
      });
    } catch (error) {
      if ((error as { code?: number }).code !== 404)
        throw new Error(`reading ${key(object)}: ${(error as Error).message}`);
    }
    if (!live) {
      // The server validates the object without creating it, so a rejected field shows here.
      await objects
        .create(object, undefined, 'All', 'catwalk')
        .catch((error: { body?: unknown; message: string }) => {
          throw new Error(`${key(object)} would be rejected: ${describeApiError(error)}`);
        });
      changes.push({ kind: object.kind!, name: object.metadata.name!, action: 'create' });
      continue;
    }
    const after = await objects
      .patch(object, undefined, 'All', 'helm', true, lib.PatchStrategy.ServerSideApply)
      .catch((error: { body?: unknown; message: string }) => {
        throw new Error(`${key(object)} would be rejected: ${describeApiError(error)}`);
      });
    const fields = changedPaths(live, after);
    changes.push({
      kind: object.kind!,
      name: object.metadata.name!,
      action: fields.length ? 'update' : 'unchanged',
      ...(fields.length ? { fields } : {}),
    });
  }
  const kept = new Set(desired.map(key));
  for (const object of deployed) {
    if (!kept.has(key(object)))
      changes.push({ kind: object.kind!, name: object.metadata!.name!, action: 'delete' });
  }
  return changes;
}

/** The API server's message (its Status object) rather than the client's wrapper text. */
export function describeApiError(error: { body?: unknown; message: string }): string {
  const body = typeof error.body === 'string' ? safeJson(error.body) : error.body;
  const message = (body as { message?: string } | undefined)?.message;
  return message ?? error.message;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
