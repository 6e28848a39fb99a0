// The SDK packages as a registry would serve them: each is packed, then
// installed into an empty project together with the tarballs of its Catwalk
// dependencies only (third-party dependencies come from the npm registry,
// usually from npm's cache), and imported from CommonJS and from an ES module.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../../..');
const PACKAGES = ['client', 'testing'] as const;

interface Packed {
  readonly name: string;
  readonly version: string;
  readonly tarball: string;
  readonly files: readonly string[];
  readonly manifest: {
    readonly dependencies?: Record<string, string>;
    readonly engines?: { node?: string };
  };
}

let work: string;
const packed = new Map<string, Packed>();
/** Projects being installed, started together once the packages are packed. */
const projects = new Map<string, Promise<string>>();

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-pack-'));
  const { stdout } = await run(
    'npm',
    ['pack', '--json', '--pack-destination', work, ...PACKAGES.flatMap((p) => ['-w', `packages/${p}`])],
    { cwd: root, maxBuffer: 64 * 1024 * 1024 },
  );
  for (const entry of JSON.parse(stdout) as Array<{
    name: string;
    version: string;
    filename: string;
    files: Array<{ path: string }>;
  }>) {
    const tarball = path.join(work, entry.filename);
    const { stdout: manifest } = await run('tar', ['-xOzf', tarball, 'package/package.json']);
    packed.set(entry.name, {
      name: entry.name,
      version: entry.version,
      tarball,
      files: entry.files.map((f) => f.path),
      manifest: JSON.parse(manifest),
    });
  }
  for (const short of PACKAGES) {
    const project = install(short);
    project.catch(() => undefined); // reported by the test that awaits it
    projects.set(short, project);
  }
}, 120_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const catwalkDeps = (p: Packed) =>
  Object.entries(p.manifest.dependencies ?? {}).filter(([name]) => name.startsWith('@catwalk/'));

test.each(PACKAGES)('@catwalk/%s names an exact, packed version of each Catwalk dependency', (short) => {
  const p = packed.get(`@catwalk/${short}`)!;
  for (const [name, range] of catwalkDeps(p)) {
    expect({ name, range }).toEqual({ name, range: packed.get(name)?.version });
  }
});

test('every workspace package names the exact version of each Catwalk package it depends on', () => {
  // npm pack copies package.json as it is, so this is what each packed manifest says.
  const manifests = fs
    .readdirSync(path.join(root, 'packages'))
    .map((dir) => path.join(root, 'packages', dir, 'package.json'))
    .filter((file) => fs.existsSync(file))
    .map((file) => JSON.parse(fs.readFileSync(file, 'utf8')));
  const versions = new Map(manifests.map((m) => [m.name, m.version]));
  const wrong: string[] = [];
  for (const m of manifests) {
    for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const [name, range] of Object.entries<string>(m[field] ?? {})) {
        if (name.startsWith('@catwalk/') && range !== versions.get(name))
          wrong.push(`${m.name} ${field}: ${name} "${range}", not "${versions.get(name)}"`);
      }
    }
  }
  expect(wrong).toEqual([]);
});

test.each(PACKAGES)('@catwalk/%s ships every file its source maps point at', async (short) => {
  const p = packed.get(`@catwalk/${short}`)!;
  const unpacked = path.join(work, `unpacked-${short}`);
  fs.mkdirSync(unpacked);
  await run('tar', ['-xzf', p.tarball, '-C', unpacked]);
  const shipped = new Set(p.files);
  const missing: string[] = [];
  for (const file of p.files.filter((f) => f.endsWith('.map'))) {
    const map = JSON.parse(fs.readFileSync(path.join(unpacked, 'package', file), 'utf8')) as {
      sources: string[];
    };
    for (const source of map.sources) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), source));
      if (!shipped.has(target)) missing.push(`${file} -> ${target}`);
    }
  }
  expect(missing.slice(0, 5)).toEqual([]);
});

/** The lowest Node version a `>=x.y.z` engines range allows (the only form these packages use). */
function minimumNode(range: string | undefined, what: string): number[] {
  const match = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range?.trim() ?? '');
  if (!match) throw new Error(`${what}: engines.node "${range}" is not of the form >=x.y.z`);
  return [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)];
}

const atLeast = (a: number[], b: number[]) =>
  a[0]! !== b[0]! ? a[0]! > b[0]! : a[1]! !== b[1]! ? a[1]! > b[1]! : a[2]! >= b[2]!;

test.each(PACKAGES)(
  '@catwalk/%s asks for a Node version its dependencies accept',
  async (short) => {
    const p = packed.get(`@catwalk/${short}`)!;
    const ours = minimumNode(p.manifest.engines?.node, p.name);
    const project = await projects.get(short)!;
    const tooLow: string[] = [];
    for (const name of Object.keys(p.manifest.dependencies ?? {})) {
      const dep = JSON.parse(
        fs.readFileSync(path.join(project, 'node_modules', name, 'package.json'), 'utf8'),
      );
      if (dep.engines?.node === undefined) continue;
      if (!atLeast(ours, minimumNode(dep.engines.node, name)))
        tooLow.push(
          `${p.name} says node ${p.manifest.engines?.node}; ${name}@${dep.version} needs ${dep.engines.node}`,
        );
    }
    expect(tooLow).toEqual([]);
  },
  180_000,
);

/** Installs a package's tarball with its Catwalk dependencies' tarballs into an empty project. */
async function install(short: string): Promise<string> {
  const p = packed.get(`@catwalk/${short}`)!;
  const project = path.join(work, `app-${short}`);
  fs.mkdirSync(project);
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: `app-${short}`, private: true }),
  );
  const tarballs = [p.tarball, ...catwalkDeps(p).map(([name]) => packed.get(name)!.tarball)];
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock', ...tarballs];
  // Third-party dependencies may come from the registry: one more try after a network hiccup.
  for (let attempt = 1; ; attempt++) {
    try {
      await run('npm', args, { cwd: project, maxBuffer: 64 * 1024 * 1024 });
      break;
    } catch (error) {
      if (attempt === 2) {
        const stderr = (error as { stderr?: string }).stderr ?? '';
        throw new Error(`npm install of ${p.name} failed twice: ${stderr.slice(-2000)}`);
      }
    }
  }
  return project;
}

// The installed SDK against the installed fake, from both module systems.
const PROGRAM = `
  const fake = await startFakeServing({ models: [halfPlusTwo()] });
  try {
    const out = [];
    for (const transport of ['rest', 'grpc']) {
      const client = createClient({ transport, baseUrl: fake.restUrl, grpcAddress: fake.grpcAddress });
      const { y } = await client.model('half_plus_two').predict({ x: [[1], [2]] });
      out.push(transport + ':' + Array.from(y.data).join(','));
      await client.close();
    }
    const wire = WIRE;
    out.push(typeof wire.encodeTensor);
    console.log(out.join(' '));
  } finally {
    await fake.close();
  }`;

test('@catwalk/testing and @catwalk/client install from their tarballs and work from CommonJS and ESM', async () => {
  const project = await projects.get('testing')!;
  const cjs = `
    const { createClient } = require('@catwalk/client');
    const { startFakeServing, halfPlusTwo } = require('@catwalk/testing');
    (async () => { ${PROGRAM.replace('WIRE', "require('@catwalk/client/wire')")} })().catch((e) => { console.error(e); process.exit(1); });`;
  const esm = `
    import { createClient } from '@catwalk/client';
    import { startFakeServing, halfPlusTwo } from '@catwalk/testing';
    ${PROGRAM.replace('WIRE', "await import('@catwalk/client/wire')")}`;
  const expected = 'rest:2.5,3 grpc:2.5,3 function';
  const fromCjs = await run(process.execPath, ['-e', cjs], { cwd: project });
  expect(fromCjs.stdout.trim()).toBe(expected);
  const fromEsm = await run(process.execPath, ['--input-type=module', '-e', esm], { cwd: project });
  expect(fromEsm.stdout.trim()).toBe(expected);
}, 180_000);

test('@catwalk/client installs alone and loads from CommonJS and ESM', async () => {
  const project = await projects.get('client')!;
  const probe = "typeof m.createClient + ' ' + typeof m.tensor";
  const cjs = await run(
    process.execPath,
    ['-e', `const m = require('@catwalk/client'); console.log(${probe})`],
    {
      cwd: project,
    },
  );
  const esm = await run(
    process.execPath,
    ['--input-type=module', '-e', `const m = await import('@catwalk/client'); console.log(${probe})`],
    { cwd: project },
  );
  expect([cjs.stdout.trim(), esm.stdout.trim()]).toEqual(['function function', 'function function']);
}, 180_000);
