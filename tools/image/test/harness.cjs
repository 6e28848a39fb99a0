// What the image tests share: building the image with the project script,
// turning the archive into a root filesystem with the standard OCI tools
// (skopeo copies and checks every blob, umoci unpacks the layers), and
// running the image's entrypoint the way a container runtime would: in its
// own mount namespace, root filesystem read-only, /tmp a tmpfs, volumes
// bind-mounted, as the image's user, with the image's environment.
'use strict';

const { execFile, execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { promisify } = require('node:util');

const root = path.resolve(__dirname, '../../..');
const run = promisify(execFile);

/**
 * One SOURCE_DATE_EPOCH for every build of a test run (the build's default,
 * the last commit's time, would move if a commit landed between two builds).
 */
function lastCommitTime() {
  try {
    return execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    throw new Error('no git history to take the image time from: set SOURCE_DATE_EPOCH');
  }
}
const sourceDateEpoch = process.env.SOURCE_DATE_EPOCH || lastCommitTime();

/** Builds with tools/image/build.cjs and returns its JSON summary (archive, digest, manifests). */
async function buildImage(out, args = []) {
  const { stdout } = await run(
    process.execPath,
    [path.join(root, 'tools/image/build.cjs'), '--out', out, ...args],
    {
      cwd: root,
      env: { ...process.env, SOURCE_DATE_EPOCH: sourceDateEpoch },
      maxBuffer: 1 << 24,
    },
  );
  return JSON.parse(stdout.trim().split('\n').pop());
}

/** `skopeo inspect` of the archive: the raw manifest or index, an image config, else skopeo's summary. */
function inspect(archive, { config = false, raw = false, arch } = {}) {
  const args = [
    // With an index, --raw still shows the index; --config picks this architecture's image.
    ...(arch ? ['--override-arch', arch] : []),
    'inspect',
    ...(config ? ['--config'] : []),
    ...(raw ? ['--raw'] : []),
    `oci-archive:${archive}`,
  ];
  return JSON.parse(execFileSync('skopeo', args, { encoding: 'utf8' }));
}

/** skopeo copy (checks every digest) into an OCI layout, then umoci unpack; returns the root filesystem's path. */
function unpack(archive, tag, work) {
  const layout = path.join(work, 'layout');
  const bundle = path.join(work, 'bundle');
  fs.mkdirSync(work, { recursive: true });
  execFileSync('skopeo', ['copy', '--quiet', `oci-archive:${archive}`, `oci:${layout}:${tag}`]);
  execFileSync('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle], { stdio: 'ignore' });
  return path.join(bundle, 'rootfs');
}

const shellQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/**
 * Starts the image's entrypoint with `args` (a pod's `args:`) in `rootfs`.
 * mounts: [{ host, target, readOnly }]; env: extra variables (a pod's `env:`);
 * entrypoint: a pod's `command:` (default: the image's); user: "uid:gid", a
 * pod's runAsUser/runAsGroup (default: the image's USER).
 * The process ends up as that user, with the same pid as the returned
 * child (exec all the way down), so signals reach it directly.
 */
function startContainer(
  rootfs,
  image,
  { args, env = {}, mounts = [], entrypoint = image.config.Entrypoint, user = image.config.User },
) {
  for (const dir of ['proc', 'dev', ...mounts.map((m) => m.target.replace(/^\//, ''))]) {
    fs.mkdirSync(path.join(rootfs, dir), { recursive: true });
  }
  const r = shellQuote(rootfs);
  const lines = [
    'set -e',
    `mount --bind ${r} ${r}`,
    `mount -o remount,bind,ro ${r}`,
    `mount -t proc proc ${r}/proc`,
    `mount --bind /dev ${r}/dev`,
    `mount -t tmpfs -o mode=1777,size=64m tmpfs ${r}/tmp`,
    ...mounts.flatMap((m) => {
      const target = `${r}${shellQuote(m.target)}`;
      return [
        `mount --bind ${shellQuote(m.host)} ${target}`,
        ...(m.readOnly ? [`mount -o remount,bind,ro ${target}`] : []),
      ];
    }),
  ];
  const environment = [...image.config.Env, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  const command = [...entrypoint, ...args];
  // env -i and chroot are the host's: look chroot up before the environment becomes the image's.
  lines.push(
    'chroot_bin=$(command -v chroot)',
    `exec env -i ${environment.map(shellQuote).join(' ')} "$chroot_bin" --userspec=${shellQuote(user)} ${r} ${command.map(shellQuote).join(' ')}`,
  );
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', lines.join('\n')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, output })),
  );
  return { child, exited, output: () => output };
}

/** Runs the container to completion; rejects after `timeoutMs` with its output so far. */
async function runContainer(rootfs, image, options, timeoutMs = 60_000) {
  const container = startContainer(rootfs, image, options);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      container.child.kill('SIGKILL');
      reject(new Error(`container did not exit within ${timeoutMs} ms:\n${container.output()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([container.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The embedded S3 (packages/registry/tools/embedded-s3.cjs) on a free loopback port. */
function startS3(dir, bucket) {
  const child = spawn(
    process.execPath,
    [path.join(root, 'packages/registry/tools/embedded-s3.cjs'), '--dir', dir, '--bucket', bucket],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve({ child, endpoint: JSON.parse(out.split('\n')[0]).endpoint });
    });
    child.once('exit', (code) => reject(new Error(`embedded S3 exited with ${code}`)));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
async function waitFor(what, check, timeoutMs = 30_000, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** A SavedModel-shaped export (what the registry checks; TF Serving never loads it here). */
function writeExport(dir, seed) {
  const files = {
    'saved_model.pb': `image test export ${seed}\n`,
    'variables/variables.index': `index ${seed}\n`,
    'variables/variables.data-00000-of-00001': `weights ${seed} `.repeat(64),
  };
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
}

module.exports = {
  root,
  buildImage,
  inspect,
  unpack,
  startContainer,
  runContainer,
  startS3,
  freePort,
  waitFor,
  writeExport,
};
