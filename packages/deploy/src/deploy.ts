// `catwalk deploy`: generate each model's chart, install or upgrade it with
// helm (rolled back on failure), and follow the rollout until every model is
// Ready, or say why it is not.

import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ChartOptions, generateChart } from '@catwalk/chart-gen';
import type { ResolvedModel } from '@catwalk/schema';
import { type ObjectChange, planChanges } from './changes';
import { appliedExperiment, experimentValuesDocument } from './experiment-cluster';
import type { ExperimentValues } from './experiment-plan';
import { helmError, runHelm } from './helm';
import { type ClusterTarget, type Connection, connect, k8s } from './kube';
import { type ModelProgress, modelProgress } from './rollout';
import { watchRollout } from './watch';

export interface DeployOptions extends ClusterTarget {
  readonly models: readonly ResolvedModel[];
  /** A chart folder to install instead of the generated one (one model only). */
  readonly chart?: string;
  /** Extra values files, passed to helm in order. */
  readonly values?: readonly string[];
  /** Limit for the whole deploy, rollout included. @default 300 */
  readonly timeoutSeconds?: number;
  /** Ask the API server what would change (server-side dry run) and change nothing. */
  readonly dryRun?: boolean;
  /** helm binary. @default tools/bin/helm, $CATWALK_HELM, then helm on PATH */
  readonly helm?: string;
  /** Models installed at once. @default 4 */
  readonly concurrency?: number;
  readonly chartOptions?: ChartOptions;
  /** Called whenever a watched object changes, with every model's progress. */
  readonly onProgress?: (progress: readonly ModelProgress[]) => void;
  /**
   * The A/B values to install (the experiment commands set them; null removes
   * the experiment). When absent, a model keeps the values its running
   * experiment last got, so a spec change in the middle of a test never
   * resets its weights or removes its canary.
   */
  readonly experiment?: ExperimentValues | null;
}

export interface ModelOutcome {
  readonly model: string;
  readonly ok: boolean;
  /** Why the model is not rolled out (failure only). */
  readonly reason?: string;
  readonly progress?: ModelProgress;
  /** Seconds from the start of the deploy until the model was rolled out or failed. */
  readonly seconds: number;
  /** Dry run only: what would change, object by object. */
  readonly changes?: readonly ObjectChange[];
}

export interface DeployResult {
  readonly ok: boolean;
  readonly namespace: string;
  readonly context: string;
  readonly models: readonly ModelOutcome[];
}

/** A model whose name another team's release already uses in the namespace. */
export class OwnershipError extends Error {
  override readonly name = 'OwnershipError';
}

const RELEASE_TEAM_LABEL = 'catwalk.dev/team';

/** Refuses models whose name another team (or another release) already uses in the namespace. */
export async function checkOwnership(conn: Connection, models: readonly ResolvedModel[]): Promise<void> {
  const lib = await k8s();
  const apps = conn.kc.makeApiClient(lib.AppsV1Api);
  const names = models.map((m) => m.name);
  const existing = await apps.listNamespacedDeployment({
    namespace: conn.namespace,
    labelSelector: `catwalk.dev/model in (${names.join(',')})`,
  });
  const problems: string[] = [];
  for (const model of models) {
    for (const deployment of existing.items) {
      const labels = deployment.metadata?.labels ?? {};
      if (labels['catwalk.dev/model'] !== model.name) continue;
      const team = labels[RELEASE_TEAM_LABEL];
      const release = labels['app.kubernetes.io/instance'];
      if (team !== model.team) {
        problems.push(
          `model name "${model.name}" is already used in namespace "${conn.namespace}" by team "${team}" (release ${release}); rename the model (metadata.name) or deploy to another namespace`,
        );
        break;
      }
      if (release !== model.name) {
        problems.push(
          `model name "${model.name}" is already served in namespace "${conn.namespace}" by release "${release}"; uninstall it or deploy to another namespace`,
        );
        break;
      }
    }
  }
  if (problems.length) throw new OwnershipError(problems.join('\n'));
}

async function writeChart(model: ResolvedModel, root: string, options?: ChartOptions): Promise<string> {
  const dir = path.join(root, model.name);
  for (const file of generateChart(model, options)) {
    const target = path.join(dir, file.path);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, file.contents);
  }
  return dir;
}

async function inPool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  });
  await Promise.all(runners);
  return results;
}

/** Deploys the models; resolves with each model's outcome (never throws for a failed rollout). */
export async function deploy(options: DeployOptions): Promise<DeployResult> {
  if (options.chart && options.models.length !== 1) {
    throw new Error(`--chart installs one model's chart; ${options.models.length} specs were given`);
  }
  const started = Date.now();
  const timeoutSeconds = options.timeoutSeconds ?? 300;
  const deadline = started + timeoutSeconds * 1000;
  const conn = await connect(options);
  const target = {
    helm: options.helm,
    kubeconfig: options.kubeconfig,
    context: options.context,
    namespace: conn.namespace,
  };
  await checkOwnership(conn, options.models);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'catwalk-deploy-'));
  try {
    const charts = new Map<string, string>();
    for (const model of options.models) {
      charts.set(
        model.name,
        options.chart ? path.resolve(options.chart) : await writeChart(model, root, options.chartOptions),
      );
    }
    const userValues = (options.values ?? []).flatMap((file) => ['--values', path.resolve(file)]);
    // The experiment's values come last, over the spec's and the user's.
    const valuesByModel = new Map<string, string[]>();
    await inPool(options.models, options.concurrency ?? 4, async (model) => {
      const experiment =
        options.experiment !== undefined ? options.experiment : await appliedExperiment(target, model.name);
      if (!experiment) {
        valuesByModel.set(model.name, userValues);
        return;
      }
      const file = path.join(root, `${model.name}.experiment.json`);
      await fs.writeFile(file, JSON.stringify(experimentValuesDocument(experiment)));
      valuesByModel.set(model.name, [...userValues, '--values', file]);
    });

    if (options.dryRun) {
      const models = await inPool(options.models, options.concurrency ?? 4, async (model) => {
        try {
          const changes = await planChanges(
            conn,
            target,
            model.name,
            charts.get(model.name)!,
            valuesByModel.get(model.name)!,
          );
          return { model: model.name, ok: true, changes, seconds: (Date.now() - started) / 1000 };
        } catch (error) {
          return {
            model: model.name,
            ok: false,
            reason: (error as Error).message,
            seconds: (Date.now() - started) / 1000,
          };
        }
      });
      return { ok: models.every((m) => m.ok), namespace: conn.namespace, context: conn.context, models };
    }

    const names = options.models.map((m) => m.name);
    const watch = await watchRollout(conn, names);
    let stopped = false;
    // The last problems seen per model: a failed install is rolled back, and its pods go with it.
    const lastProblems = new Map<string, readonly string[]>();
    const report = () => {
      const progress = names.map((n) => modelProgress(n, watch.snapshot()));
      for (const p of progress) if (p.problems.length) lastProblems.set(p.model, p.problems);
      options.onProgress?.(progress);
    };
    const reporter = (async () => {
      while (!stopped) {
        report();
        await watch.changed(1000);
      }
    })();
    try {
      const models = await inPool(
        options.models,
        options.concurrency ?? 4,
        async (model): Promise<ModelOutcome> => {
          const remaining = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
          const helm = await runHelm(
            [
              'upgrade',
              '--install',
              model.name,
              charts.get(model.name)!,
              // A failed install or upgrade is undone, so the release is never left half-applied.
              '--rollback-on-failure',
              '--wait=watcher',
              '--timeout',
              `${remaining}s`,
              ...valuesByModel.get(model.name)!,
            ],
            target,
          );
          const seconds = () => (Date.now() - started) / 1000;
          if (helm.code !== 0) {
            const progress = modelProgress(model.name, watch.snapshot());
            const problems = progress.problems.length
              ? progress.problems
              : (lastProblems.get(model.name) ?? []);
            const why = problems.length ? problems.join('; ') : helmError(helm);
            const timedOut = /context deadline exceeded|timed out|timeout/i.test(helm.stderr);
            const reason = timedOut && !problems.length ? `timed out after ${timeoutSeconds} s: ${why}` : why;
            return { model: model.name, ok: false, reason, progress, seconds: seconds() };
          }
          // helm saw the Deployments available; the rollout is complete once the HPA's minimum is Ready too.
          for (;;) {
            const progress = modelProgress(model.name, watch.snapshot());
            if (progress.complete) return { model: model.name, ok: true, progress, seconds: seconds() };
            if (Date.now() >= deadline) {
              const why = progress.problems[0] ?? 'pods not Ready';
              return {
                model: model.name,
                ok: false,
                reason: `timed out after ${timeoutSeconds} s: ${why}`,
                progress,
                seconds: seconds(),
              };
            }
            await watch.changed(500);
          }
        },
      );
      return { ok: models.every((m) => m.ok), namespace: conn.namespace, context: conn.context, models };
    } finally {
      stopped = true;
      await reporter;
      report();
      await watch.stop();
    }
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}
