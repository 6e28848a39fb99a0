// The helm binary: the project's own (tools/bin/helm, installed by npm's
// postinstall) unless $CATWALK_HELM or an explicit path says otherwise.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export function resolveHelm(explicit?: string): string {
  if (explicit) return explicit;
  if (process.env.CATWALK_HELM) return process.env.CATWALK_HELM;
  // src/ or dist/ of packages/deploy, three levels below the repository root.
  const bundled = path.resolve(__dirname, '..', '..', '..', 'tools', 'bin', 'helm');
  return fs.existsSync(bundled) ? bundled : 'helm';
}

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface HelmTarget {
  readonly helm?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace: string;
}

/** Runs helm with the target's kubeconfig, context and namespace; never throws for a non-zero exit. */
export function runHelm(
  args: readonly string[],
  target: HelmTarget,
  signal?: AbortSignal,
): Promise<HelmResult> {
  const full = [...args, '--namespace', target.namespace];
  if (target.kubeconfig) full.push('--kubeconfig', target.kubeconfig);
  if (target.context) full.push('--kube-context', target.context);
  return new Promise((resolve, reject) => {
    const child = spawn(resolveHelm(target.helm), full, { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT')
        reject(
          new Error(`helm not found (${resolveHelm(target.helm)}); run npm install or set CATWALK_HELM`),
        );
      else reject(error);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** helm's error text without its "Error: " prefix and trailing noise. */
export function helmError(result: HelmResult): string {
  const text = result.stderr.trim() || result.stdout.trim();
  return text
    .split('\n')
    .filter((line) => !/^WARNING: /.test(line))
    .join('\n')
    .replace(/^Error: /, '');
}
