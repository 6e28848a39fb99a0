// The README's "From an exported model to a served one", run as written: the
// ```sh blocks of that section are read from README.md and each command runs
// in bash, in an empty folder, with `catwalk` on PATH (this repository's bin)
// and nothing from this test's environment but PATH and HOME.
//
// Real: the CLI, the local S3 of `catwalk dev s3` (port 4568, or a free one),
// push, release, sync and rollback against it, TF Serving's SavedModels from
// its own test data as the exports. Simulated: TF Serving itself, which cannot
// run here. The block that starts it in Docker is replaced by @catwalk/testing's
// fake TF Serving on the README's port 8501, which the test (re)loads from the
// synced folder after every sync, as TF Serving re-reads models.config. So the
// two versions can be told apart, the fake answers version 2 as y = 0.5x + 3.
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { type FakeServing, halfPlusThree, halfPlusTwo, startFakeServing } from '@catwalk/testing';
import { repoRoot, tempDir } from './run';

const HEADING = '## From an exported model to a served one';
const testdata = path.resolve(repoRoot, '../shared/testdata/tfserving');

/** The section's ```sh blocks, each as its commands (continuation lines joined, comments dropped). */
function readmeBlocks(): string[][] {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n${HEADING}\n`);
  if (start < 0) throw new Error(`README.md has no section "${HEADING}"`);
  const end = readme.indexOf('\n## ', start + HEADING.length + 2);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) =>
    m[1]!
      .replace(/\\\n\s*/g, '')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#')),
  );
}

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

interface Ran {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

function bash(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ command, code, stdout, stderr }));
  });
}

/** Starts a long-running command; resolves once its output matches `ready`. */
function background(command: string, cwd: string, env: NodeJS.ProcessEnv, ready: RegExp) {
  const child = spawn('bash', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const started = new Promise<string>((resolve, reject) => {
    const check = (chunk: Buffer) => {
      output += chunk;
      if (ready.test(output)) resolve(output);
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.on('exit', (code) =>
      reject(new Error(`'${command}' exited ${code} before it was ready:\n${output}`)),
    );
  });
  return { child, started, output: () => output };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code)),
  );

/** What TF Serving would serve from the synced folder: versions on disk, policy and labels from models.config. */
function servedFrom(dir: string) {
  const config = fs.readFileSync(path.join(dir, 'models', 'models.config'), 'utf8');
  const specific = [...config.matchAll(/versions: (\d+)/g)].map((m) => Number(m[1]));
  const labels = Object.fromEntries(
    [...config.matchAll(/key: "([^"]+)"\s*value: (\d+)/g)].map((m) => [m[1]!, Number(m[2])]),
  );
  const onDisk = fs
    .readdirSync(path.join(dir, 'models', 'pricing'))
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
  const versions = onDisk.filter((v) => specific.includes(v)).sort((a, b) => a - b);
  return { versions, labels };
}

let fake: FakeServing | undefined;
let s3: ChildProcess | undefined;

afterAll(async () => {
  await fake?.close();
  if (s3 && s3.exitCode === null) {
    s3.kill('SIGTERM');
    await exited(s3);
  }
});

test('the README quick start runs as written', async () => {
  // The README's predict commands name TF Serving's port; the test cannot pick another.
  expect({ port: 8501, free: await portFree(8501) }).toEqual({ port: 8501, free: true });
  const blocks = readmeBlocks();
  expect(blocks.length).toBeGreaterThanOrEqual(5);

  const dir = tempDir();
  fs.cpSync(path.join(testdata, 'saved_model_half_plus_two_cpu', '00000123'), path.join(dir, 'export'), {
    recursive: true,
  });
  // The retrained model: the same interface (release refuses one that would break stable's callers),
  // other weights.
  fs.cpSync(path.join(testdata, 'saved_model_half_plus_two_cpu', '00000123'), path.join(dir, 'export-v2'), {
    recursive: true,
  });
  const weights = path.join(dir, 'export-v2', 'variables', 'variables.data-00000-of-00001');
  fs.chmodSync(weights, 0o644);
  fs.writeFileSync(
    weights,
    fs.readFileSync(weights).map((b) => b ^ 0x01),
  );
  const bin = tempDir();
  fs.symlinkSync(path.join(repoRoot, 'packages', 'cli', 'bin', 'catwalk.js'), path.join(bin, 'catwalk'));
  const env: NodeJS.ProcessEnv = {
    PATH: [bin, path.dirname(process.execPath), process.env.PATH].join(path.delimiter),
    HOME: process.env.HOME,
  };

  const ran: Ran[] = [];
  // `source` lines of the README apply to every later command, as in one terminal.
  const sourced: string[] = [];
  let printedExports: string[] = [];
  const reloadServing = async () => {
    const { versions, labels } = servedFrom(dir);
    await fake?.close();
    fake = await startFakeServing({
      restPort: 8501,
      grpc: false,
      models: [
        {
          ...halfPlusTwo({ name: 'pricing', versions, labels }),
          signaturesByVersion: { 2: halfPlusThree().signatures },
        },
      ],
    });
  };

  for (const block of blocks) {
    if (block.length === 1 && block[0] === 'catwalk dev s3') {
      const server = background(block[0], dir, env, /Stop it with Ctrl-C/);
      s3 = server.child;
      const out = await server.started;
      printedExports = [...out.matchAll(/^\s*(export \S+=\S+)$/gm)].map((m) => m[1]!);
      expect(printedExports).toHaveLength(4);
      // The README shows those lines (in a text block) as printed on the default port.
      const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
      for (const line of printedExports) {
        expect(readme).toContain(line.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:4568'));
      }
      continue;
    }
    if (block.every((line) => line.startsWith('source '))) {
      for (const line of block) {
        const file = path.join(dir, line.slice('source '.length));
        // What dev s3 wrote is what it printed.
        expect(fs.readFileSync(file, 'utf8').trim().split('\n')).toEqual(printedExports);
      }
      sourced.push(...block);
      continue;
    }
    if (block[0]!.startsWith('docker run')) {
      // TF Serving in Docker: the fake stands in, serving what that command would.
      expect(block[0]).toContain('-p 8501:8501');
      expect(block[0]).toContain('"$PWD/models:/models"');
      expect(block[0]).toContain('--model_config_file=/models/models.config');
      await reloadServing();
      continue;
    }
    for (const command of block) {
      const r = await bash([...sourced, command].join('\n'), dir, env);
      r.command = command;
      ran.push(r);
      expect({ command, code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({
        command,
        code: 0,
        stderr: '',
      });
      if (/^catwalk sync .*--once/.test(command) && fake) await reloadServing();
    }
  }

  // Ctrl-C stops the local S3.
  s3!.kill('SIGINT');
  expect(await exited(s3!)).toBe(0);

  const predictions = ran.filter((r) => r.command.startsWith('catwalk predict'));
  expect(
    predictions.map((r) => /│ y\s+│ float32 │ \[2, 1\] │ ([\d. ]+) │/.exec(r.stdout)?.[1]?.trim()),
  ).toEqual([
    '2.5 3', // version 1
    '3.5 4', // version 2, once stable points to it
    '2.5 3', // version 1 again, after the rollback
  ]);
  expect(fake!.requests.at(-1)).toMatchObject({ transport: 'rest', method: 'predict', model: 'pricing' });

  const versions = ran.find((r) => r.command.startsWith('catwalk versions'))!;
  expect(versions.stdout).toMatch(/│ 1\s+│ complete │.*│ yes\s+│ stable │/);
  expect(versions.stdout).toMatch(/│ 2\s+│ complete │.*│\s+│\s+│/);
  // The synced folder holds what the release serves: version 1 only.
  expect(servedFrom(dir)).toEqual({ versions: [1], labels: { stable: 1 } });
  // No notice from the AWS SDK about the Node version reaches the user.
  for (const r of ran) expect(r.stderr).not.toContain('NodeVersionSupportWarning');
}, 240_000);
