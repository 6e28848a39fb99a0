// What the cluster tests share: helm against the local control plane, a fresh
// namespace per test, charts generated from specs at test time (so the tests
// follow whatever the chart templates are today), and waits bounded by time.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateChart } from '@catwalk/chart-gen';
import { type ResolvedModel, validateSpecValue } from '@catwalk/schema';
import { type Connection, connect } from '../../src/kube';

export const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
export const helmBin = path.join(repoRoot, 'tools', 'bin', 'helm');

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function helm(args: readonly string[], namespace: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      helmBin,
      [...args, '--namespace', namespace],
      {
        env: {
          ...process.env,
          HELM_CACHE_HOME: path.join(os.tmpdir(), 'catwalk-helm-cache'),
          HELM_CONFIG_HOME: path.join(os.tmpdir(), 'catwalk-helm-config'),
          HELM_DATA_HOME: path.join(os.tmpdir(), 'catwalk-helm-data'),
          ...env,
        },
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** helm, failing the test with helm's own words when it fails. */
export async function helmOk(args: readonly string[], namespace: string): Promise<string> {
  const run = await helm(args, namespace);
  if (run.code !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${run.stderr || run.stdout}`);
  return run.stdout;
}

let connection: Promise<Connection> | undefined;
export function cluster(namespace = 'default'): Promise<Connection> {
  connection ??= connect({});
  return connection.then((c) => ({ ...c, namespace }));
}

let counter = 0;
/** A new namespace, unique in the run. */
export async function freshNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${process.pid}-${++counter}`.slice(0, 63);
  const conn = await cluster();
  const lib = await import('@kubernetes/client-node');
  await conn.kc.makeApiClient(lib.CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

/** Polls `check` until it returns a value (not undefined) or the time is up; the error names what was awaited. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A spec object → the resolved model, failing on any validation error. */
export function resolveSpec(spec: object): ResolvedModel {
  const result = validateSpecValue(spec, 'test-spec');
  if (!result.model) {
    throw new Error(
      `invalid test spec: ${result.diagnostics.map((d) => `${d.path ?? ''} ${d.message}`).join('; ')}`,
    );
  }
  return result.model;
}

/** Writes the model's generated chart into a temporary folder and returns it. */
export function chartDir(model: ResolvedModel): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `catwalk-chart-${model.name}-`));
  for (const file of generateChart(model)) {
    const target = path.join(dir, model.name, file.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, file.contents);
  }
  return path.join(dir, model.name);
}

export interface SpecInput {
  name: string;
  team?: string;
  labels?: Record<string, string>;
  versionPolicy?: object;
  versionLabels?: Record<string, number>;
  batching?: object | null;
  gpu?: number;
  cpu?: string;
  memory?: string;
  traffic?: { expectedPeakRps: number; replicaRps: number } | null;
  scaling?: object;
  grpc?: boolean;
  host?: string | null;
  experiment?: { canaryVersion: number; canaryWeight: number } | null;
  prometheus?: boolean;
}

/** A valid spec from a few knobs: the corpus and the property test vary these. */
export function specOf(input: SpecInput): object {
  const spec: Record<string, unknown> = {
    source: { uri: `s3://catwalk-models/${input.team ?? 'team'}/${input.name}`, region: 'us-east-1' },
    serving: {
      image: input.gpu ? 'tensorflow/serving:2.19.0-gpu' : 'tensorflow/serving:2.19.0',
      versionPolicy: input.versionPolicy ?? { latest: 1 },
      ...(input.versionLabels ? { versionLabels: input.versionLabels } : {}),
      ...(input.batching ? { batching: input.batching } : {}),
    },
    resources: {
      cpu: input.cpu ?? '500m',
      memory: input.memory ?? '1Gi',
      ...(input.gpu ? { gpu: input.gpu } : {}),
      modelSizeBytes: '100Mi',
    },
    ...(input.traffic ? { traffic: input.traffic } : {}),
    ...(input.scaling ? { scaling: input.scaling } : {}),
    endpoint: {
      ...(input.host === null ? {} : { host: input.host ?? 'models.example.com' }),
      grpc: input.grpc ?? false,
    },
    ...(input.experiment ? { experiment: input.experiment } : {}),
    monitoring: { prometheus: input.prometheus ?? true },
  };
  return {
    apiVersion: 'catwalk/v1',
    kind: 'Model',
    metadata: {
      name: input.name,
      team: input.team ?? 'team',
      ...(input.labels ? { labels: input.labels } : {}),
    },
    spec,
  };
}

// The CLI as a user runs it, loaded untyped: its sources belong to another
// package, whose own checks type them.
const cli = require('../../../cli/src/main') as {
  run: (argv: readonly string[], io: unknown) => Promise<number>;
};

/** Runs `catwalk argv` in this process and returns its exit code and what it printed. */
export async function runCatwalk(
  argv: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (t: string) => void) => ({
    write: (t: string) => {
      append(t);
      return true;
    },
  });
  const io = {
    stdout: sink((t) => (stdout += t)),
    stderr: sink((t) => (stderr += t)),
    cwd: process.cwd(),
    color: false,
  };
  const code = await cli.run(argv, io);
  return { code, stdout, stderr };
}
