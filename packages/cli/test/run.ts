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
