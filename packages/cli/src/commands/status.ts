import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  connect,
  deployedModels,
  formatStatus,
  KubeconfigError,
  modelStatus,
  type ReleaseSummary,
} from '@catwalk/deploy';
import { listVersions, readRelease } from '@catwalk/registry';
import { exitCodes, type Io, UserError } from '../io';
import { resolveTarget, type S3Flags } from '../registry-target';
import { loadModels } from './load';

export interface StatusFlags extends S3Flags {
  context?: string;
  namespace?: string;
  kubeconfig?: string;
  json?: boolean;
}

const isSpecPath = async (arg: string, cwd: string) =>
  /\.(ya?ml|json)$/.test(arg) ||
  (await fs.stat(path.resolve(cwd, arg)).then(
    (s) => s.isDirectory(),
    () => false,
  ));

/**
 * A network failure on the way to the API server, as one line that names the
 * server and the kubeconfig it came from; anything else is passed on.
 */
function unreachable(error: unknown, conn: Awaited<ReturnType<typeof connect>>, flags: StatusFlags): unknown {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return error;
  const server = conn.kc.getCurrentCluster()?.server ?? 'the current cluster';
  const source = flags.kubeconfig ?? (process.env.KUBECONFIG || '~/.kube/config');
  return new UserError(
    `cannot reach the Kubernetes API server at ${server} (${code}: ${(error as Error).message}); ` +
      `check that the cluster is up and that the kubeconfig ${source} (context ${conn.context}) points at it`,
    exitCodes.invalid,
  );
}

/** One screen per model: cluster state, the registry's release and each pod's sidecar and TF Serving. */
export async function statusCommand(args: readonly string[], flags: StatusFlags, io: Io): Promise<number> {
  let conn: Awaited<ReturnType<typeof connect>>;
  try {
    conn = await connect(flags);
  } catch (error) {
    if (error instanceof KubeconfigError) throw new UserError(error.message, exitCodes.invalid);
    throw error;
  }
  // Spec files give the registry location too; bare names give the cluster side only.
  const specFiles = new Map<string, string>();
  const names: string[] = [];
  const specArgs: string[] = [];
  for (const arg of args) {
    if (await isSpecPath(arg, io.cwd)) specArgs.push(arg);
    else names.push(arg);
  }
  if (specArgs.length) {
    for (const loaded of await loadModels(specArgs, io)) {
      names.push(loaded.model.name);
      specFiles.set(loaded.model.name, loaded.file);
    }
  }
  if (!args.length) {
    names.push(
      ...(await deployedModels(conn).catch((error: unknown) => {
        throw unreachable(error, conn, flags);
      })),
    );
    if (!names.length) {
      io.stdout.write(`no Catwalk models in namespace ${conn.namespace}\n`);
      return exitCodes.ok;
    }
  }
  const readReleaseOf = async (model: string): Promise<ReleaseSummary | undefined> => {
    const file = specFiles.get(model);
    if (!file) return undefined;
    const target = await resolveTarget(file, flags, io);
    const versions = await listVersions(target.client, target.location);
    const current = await readRelease(target.client, target.location, target.initial, versions);
    return {
      generation: current.generation,
      servedVersions: current.state.serve,
      labels: current.state.labels,
    };
  };
  const statuses = await modelStatus(conn, [...new Set(names)], { readRelease: readReleaseOf }).catch(
    (error: unknown) => {
      throw unreachable(error, conn, flags);
    },
  );
  if (flags.json) io.stdout.write(`${JSON.stringify(statuses, null, 2)}\n`);
  else io.stdout.write(statuses.map(formatStatus).join('\n'));
  return statuses.every((s) => s.found) ? exitCodes.ok : exitCodes.invalid;
}
