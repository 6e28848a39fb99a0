import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../src/main';

export const repoRoot = path.resolve(__dirname, '../../..');

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process, as a user would from `cwd`. */
export async function catwalk(
  args: string[],
  options: { cwd?: string; color?: boolean } = {},
): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    cwd: options.cwd ?? repoRoot,
    color: options.color ?? false,
  });
  return { code, stdout, stderr };
}

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-cli-'));
}

export interface LocalS3 {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * The embedded S3 in its own process, as `catwalk dev s3` runs it, with a
 * `models` bucket and its data in `dir`; resolves once it listens.
 */
export async function startLocalS3(dir: string): Promise<LocalS3> {
  const child = spawn(
    process.execPath,
    [path.join(repoRoot, 'packages/registry/tools/embedded-s3.cjs'), '--dir', dir, '--bucket', 'models'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!).endpoint);
    });
    child.once('exit', (code) => reject(new Error(`embedded S3 exited with ${code}`)));
  });
  return {
    endpoint,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
