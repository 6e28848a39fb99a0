// The CLI as a user gets it: @catwalk/cli and the Catwalk packages it depends
// on are packed (npm pack, as a registry would serve them) and installed into
// an empty folder outside the repository; third-party dependencies come from
// the npm registry (usually npm's cache). The installed `catwalk` then runs
// from a folder below that project, where relative paths must resolve.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './run';

const exec = promisify(execFile);

/** @catwalk/cli and every Catwalk package it needs, transitively. */
function catwalkClosure(): string[] {
  const dirs = new Map<string, string>();
  for (const dir of fs.readdirSync(path.join(repoRoot, 'packages'))) {
    const file = path.join(repoRoot, 'packages', dir, 'package.json');
    if (fs.existsSync(file)) dirs.set(JSON.parse(fs.readFileSync(file, 'utf8')).name, dir);
  }
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const manifest = JSON.parse(
      fs.readFileSync(path.join(repoRoot, 'packages', dirs.get(name)!, 'package.json'), 'utf8'),
    );
    for (const dep of Object.keys(manifest.dependencies ?? {})) if (dep.startsWith('@catwalk/')) visit(dep);
  };
  visit('@catwalk/cli');
  return [...seen].map((name) => `packages/${dirs.get(name)}`);
}

let work: string;
let project: string;
let cwd: string;
let bin: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-packed-cli-'));
  const { stdout } = await exec(
    'npm',
    ['pack', '--json', '--pack-destination', work, ...catwalkClosure().flatMap((p) => ['-w', p])],
    { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 },
  );
  const tarballs = (JSON.parse(stdout) as Array<{ filename: string }>).map((e) =>
    path.join(work, e.filename),
  );
  project = path.join(work, 'app');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock', ...tarballs];
  // Third-party packages may come from the registry: one more try after a network hiccup.
  for (let attempt = 1; ; attempt++) {
    try {
      await exec('npm', args, { cwd: project, maxBuffer: 64 * 1024 * 1024 });
      break;
    } catch (error) {
      if (attempt === 2)
        throw new Error(
          `npm install failed twice: ${String((error as { stderr?: string }).stderr).slice(-2000)}`,
        );
    }
  }
  bin = path.join(project, 'node_modules', '.bin', 'catwalk');
  cwd = path.join(project, 'work', 'specs');
  fs.mkdirSync(cwd, { recursive: true });
}, 240_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const catwalk = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  // A clean environment: nothing from the repository's npm scripts or this test run leaks in.
  const base = { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
  try {
    const { stdout, stderr } = await exec(bin, args, { cwd, env: base });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

test('the installed catwalk writes, validates and explains a spec in the caller’s folder', async () => {
  const init = await catwalk(['init', 'pricing', '--team', 'marketplace']);
  expect(init).toMatchObject({ code: 0, stderr: '' });
  expect(fs.existsSync(path.join(cwd, 'pricing.yaml'))).toBe(true);

  const validate = await catwalk(['validate', 'pricing.yaml']);
  expect(validate.stdout).toContain('✓ pricing.yaml (pricing)');
  expect(validate.code).toBe(0);

  // A relative path that climbs out of the working folder resolves against it too.
  fs.mkdirSync(path.join(cwd, 'nested'));
  const explain = await catwalk(['explain', '../specs/pricing.yaml']);
  expect(explain.code).toBe(0);
  expect(explain.stdout).toContain('name: pricing');
});

test('registry commands print no AWS SDK notice about the Node version, and name a missing bucket', async () => {
  // The real embedded S3, without the spec's bucket: the command fails fast after creating its S3 client.
  const { startEmbeddedS3 } = require(path.join(repoRoot, 'packages/registry/tools/embedded-s3.cjs'));
  const s3 = await startEmbeddedS3({ dir: path.join(work, 'empty-s3') });
  try {
    expect((await catwalk(['init', 'ranking', '--team', 'search'])).code).toBe(0);
    const r = await catwalk(['versions', 'ranking.yaml', '--endpoint', s3.endpoint], {
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bucket 'catwalk-models' does not exist.*create it or fix/);
    expect(r.stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript/);
  } finally {
    await s3.close();
  }
}, 60_000);

test('the installed catwalk starts a local S3 with dev s3 and stops on SIGTERM', async () => {
  const child = spawn(bin, ['dev', 's3', '--port', '0', '--dir', 's3-data'], { cwd, stdio: 'pipe' });
  try {
    const endpoint = await endpointOf(child);
    const res = await fetch(`${endpoint}/catwalk-models?list-type=2`);
    expect(res.status).toBe(200);
    expect(fs.existsSync(path.join(cwd, 's3-data'))).toBe(true);
  } finally {
    child.kill('SIGTERM');
  }
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  expect(code).toBe(0);
}, 60_000);

/** The endpoint `catwalk dev s3` prints in its export line. */
function endpointOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /export AWS_ENDPOINT_URL_S3=(\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.stderr!.on('data', (chunk) => {
      err += chunk;
    });
    child.on('exit', (code) => reject(new Error(`dev s3 exited ${code}: ${out}${err}`)));
  });
}
