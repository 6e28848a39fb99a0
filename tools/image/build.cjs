#!/usr/bin/env node
// Builds the sync sidecar image (ghcr.io/catwalk-dev/model-sync) as an OCI
// image archive, without a container engine and without a base image:
//   layer 1  Debian packages (libc6, libgcc-s1, libstdc++6, ca-certificates,
//            base-files), read with dpkg-deb --fsys-tarfile, plus /etc/passwd & co.
//   layer 2  the official Node binary, from the npm package node-linux-<arch>
//   layer 3  /app/catwalk.cjs: the catwalk CLI bundled by esbuild
// Every input is pinned in inputs.json; mtimes are SOURCE_DATE_EPOCH; the
// same inputs give the same digests (see README.md in this folder).
//
//   node tools/image/build.cjs [--arch amd64] [--arch arm64] [--out FILE]
//                              [--tag TAG] [--source-url URL] [--revision SHA]
//                              [--cache DIR] [--no-layer-cache]
//   node tools/image/build.cjs --refresh-inputs [--node-version 24.x.y]
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const tar = require('tar');
const { bundleCli } = require('./lib/bundle.cjs');
const { writeTar } = require('./lib/deterministic-tar.cjs');
const fetch = require('./lib/fetch.cjs');
const { imageForArch, layoutFiles } = require('./lib/oci.cjs');
const { NONROOT, caBundle, entriesFromDebs, overlay, systemEntries } = require('./lib/rootfs.cjs');

const root = path.resolve(__dirname, '../..');
const inputsFile = path.join(__dirname, 'inputs.json');
const DEBIAN_PACKAGES = ['base-files', 'ca-certificates', 'libc6', 'libgcc-s1', 'libstdc++6'];
const REPOSITORY = 'ghcr.io/catwalk-dev/model-sync';

const log = (line) => process.stderr.write(`image: ${line}\n`);

function defaultCacheDir() {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'catwalk', 'image');
}

function hostArch() {
  return { x64: 'amd64', arm64: 'arm64' }[process.arch] ?? process.arch;
}

/** SOURCE_DATE_EPOCH, else the time of the last commit: the only clock the image sees. */
function sourceDateEpoch() {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!/^\d+$/.test(fromEnv))
      throw new Error(`SOURCE_DATE_EPOCH='${fromEnv}': use whole seconds since 1970`);
    return Number(fromEnv);
  }
  try {
    return Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8' }).trim());
  } catch {
    throw new Error('no SOURCE_DATE_EPOCH and no git history to take it from: set SOURCE_DATE_EPOCH');
  }
}

/** dpkg's record of an unpacked package, where image scanners (Trivy, ECR) look for Debian packages. */
function dpkgStatusEntry(deb) {
  const control = execFileSync('dpkg-deb', ['-f', deb], { encoding: 'utf8' }).trimEnd();
  const name = /^Package:\s*(\S+)/m.exec(control)[1];
  const withStatus = control.replace(/^(Package:.*)$/m, '$1\nStatus: install ok installed');
  return {
    path: `var/lib/dpkg/status.d/${name}`,
    type: 'file',
    mode: 0o644,
    data: Buffer.from(`${withStatus}\n`),
  };
}

async function baseLayer(debs) {
  const packaged = await entriesFromDebs(debs);
  const entries = overlay(packaged, [caBundle(packaged), ...systemEntries(), ...debs.map(dpkgStatusEntry)]);
  const names = debs.map((d) => path.basename(d, '.deb').split('_').slice(0, 2).join('='));
  return { entries, createdBy: `debian packages ${names.join(' ')} and the ${NONROOT.name} user` };
}

async function nodeLayer(tarball, version, work) {
  const dir = path.join(work, 'node');
  fs.mkdirSync(dir, { recursive: true });
  await tar.x({
    file: tarball,
    cwd: dir,
    filter: (p) => p === 'package/bin/node' || p === 'package/LICENSE',
  });
  const binary = path.join(dir, 'package/bin/node');
  if (!fs.existsSync(binary)) throw new Error(`${tarball} holds no package/bin/node`);
  const entries = [
    { path: 'usr/local/bin/node', type: 'file', mode: 0o755, data: fs.readFileSync(binary) },
    {
      path: 'usr/local/share/doc/node/LICENSE',
      type: 'file',
      mode: 0o644,
      data: fs.readFileSync(path.join(dir, 'package/LICENSE')),
    },
  ];
  return { entries, createdBy: `node ${version} (npm ${path.basename(tarball)})` };
}

function appLayer(bundle) {
  return {
    entries: [
      { path: 'app/catwalk.cjs', type: 'file', mode: 0o644, data: bundle.code },
      { path: 'app/THIRD_PARTY_NOTICES.txt', type: 'file', mode: 0o644, data: bundle.notices },
    ],
    createdBy: 'catwalk CLI bundled by esbuild (packages/cli)',
  };
}

function runtimeConfig() {
  return {
    User: `${NONROOT.uid}:${NONROOT.gid}`,
    Env: [
      'PATH=/usr/local/bin:/usr/bin:/bin',
      'NODE_ENV=production',
      // Kubernetes runs the containers as the chart's runAsUser, which has no /etc/passwd entry here: without
      // HOME, os.homedir() throws and the AWS SDK (looking for ~/.aws/config) fails every request.
      `HOME=/${NONROOT.home}`,
      // Used by Node only with --use-openssl-ca (NODE_OPTIONS); Node's own CA list is the default.
      'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt',
    ],
    Entrypoint: ['/usr/local/bin/node', '/app/catwalk.cjs'],
    Cmd: ['sync', '--help'],
    WorkingDir: `/${NONROOT.home}`,
    ExposedPorts: { '9102/tcp': {} },
  };
}

async function build(options) {
  const inputs = JSON.parse(fs.readFileSync(inputsFile, 'utf8'));
  const registryVersion = JSON.parse(
    fs.readFileSync(path.join(root, 'packages/registry/package.json'), 'utf8'),
  ).version;
  const tag = options.tag ?? registryVersion;
  const epoch = sourceDateEpoch();
  const created = new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');
  // Flags, else the environment: CI sets these once for every job that builds, so they all build the same image.
  const sourceUrl = options['source-url'] ?? process.env.CATWALK_IMAGE_SOURCE_URL;
  const revision = options.revision ?? process.env.CATWALK_IMAGE_REVISION;
  const labels = {
    'org.opencontainers.image.title': 'model-sync',
    'org.opencontainers.image.description':
      'Catwalk sync sidecar: keeps a TF Serving model folder in line with its S3 release',
    'org.opencontainers.image.licenses': 'Apache-2.0',
    'org.opencontainers.image.version': tag,
    'org.opencontainers.image.created': created,
    ...(sourceUrl ? { 'org.opencontainers.image.source': sourceUrl } : {}),
    ...(revision ? { 'org.opencontainers.image.revision': revision } : {}),
  };
  const cacheDir = options.cache ?? defaultCacheDir();
  const arches = options.arch?.length ? [...new Set(options.arch)] : [hostArch()];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-image-'));
  try {
    log(`bundling packages/cli for node ${inputs.node.version}`);
    const bundle = await bundleCli(root, Number(inputs.node.version.split('.')[0]));
    if (bundle.optional.length > 0)
      log(`left out of the bundle (optional, loaded in try/catch): ${bundle.optional.join(', ')}`);
    const app = appLayer(bundle);
    const images = [];
    for (const arch of arches) {
      const archWork = path.join(work, arch);
      const debs = fetch.debianPackages({ cacheDir, arch, debian: inputs.debian, log });
      const tarball = fetch.nodeTarball({ cacheDir, arch, node: inputs.node, log });
      const layers = [await baseLayer(debs), await nodeLayer(tarball, inputs.node.version, archWork), app];
      log(`writing ${arch} layers`);
      const written = [];
      for (const layer of layers)
        written.push({ tar: await writeTar(layer.entries, epoch), createdBy: layer.createdBy });
      const layerCache = { dir: path.join(cacheDir, 'layers'), read: !options['no-layer-cache'] };
      images.push({
        arch,
        ...imageForArch({ arch, layers: written, runtime: runtimeConfig(), created, labels, layerCache }),
      });
    }
    const files = layoutFiles(images, tag);
    const archive = await writeTar(files, epoch);
    const out = path.resolve(options.out ?? path.join(root, 'dist', 'image', `model-sync-${tag}.oci.tar`));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(`${out}.partial`, archive);
    fs.renameSync(`${out}.partial`, out);
    const index = JSON.parse(files.find((f) => f.path === 'index.json').data);
    return {
      archive: out,
      reference: `${REPOSITORY}:${tag}`,
      digest: index.manifests[0].digest,
      manifests: Object.fromEntries(images.map((image) => [image.arch, image.manifest.descriptor.digest])),
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function refreshInputs(options) {
  const inputs = JSON.parse(fs.readFileSync(inputsFile, 'utf8'));
  const cacheDir = options.cache ?? defaultCacheDir();
  const version = options['node-version'] ?? inputs.node.version;
  const arches = ['amd64', 'arm64'];
  inputs.node = {
    version,
    integrity: Object.fromEntries(arches.map((a) => [a, fetch.resolveNodeIntegrity(a, version)])),
  };
  inputs.debian.packages = Object.fromEntries(
    arches.map((arch) => [
      arch,
      fetch.resolveDebianPins({ cacheDir, arch, debian: inputs.debian, names: DEBIAN_PACKAGES }),
    ]),
  );
  fs.writeFileSync(inputsFile, `${JSON.stringify(inputs, null, 2)}\n`);
  return { inputs: inputsFile, node: version, debian: inputs.debian.packages };
}

async function main() {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string', multiple: true },
      out: { type: 'string' },
      tag: { type: 'string' },
      cache: { type: 'string' },
      'source-url': { type: 'string' },
      revision: { type: 'string' },
      'refresh-inputs': { type: 'boolean' },
      'no-layer-cache': { type: 'boolean' },
      'node-version': { type: 'string' },
    },
  });
  for (const arch of values.arch ?? []) {
    if (!['amd64', 'arm64'].includes(arch)) throw new Error(`--arch ${arch}: use amd64 or arm64`);
  }
  const result = values['refresh-inputs'] ? refreshInputs(values) : await build(values);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => {
  process.stderr.write(`image: ${error.message}\n`);
  process.exit(1);
});
