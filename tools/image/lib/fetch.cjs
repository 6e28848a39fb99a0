// Downloads the image's inputs, pinned by version and hash in inputs.json,
// into a cache outside the repository: Debian packages through apt (with a
// private state folder per architecture, so the machine's own apt setup and
// architecture list stay untouched) and the Node runtime through `npm pack`.
'use strict';

const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

function sha256File(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function sriFile(file, algorithm = 'sha512') {
  return `${algorithm}-${crypto.createHash(algorithm).update(fs.readFileSync(file)).digest('base64')}`;
}

/** apt-get/apt-cache options that keep every bit of state under `dir` and fetch for `arch`. */
function aptOptions(dir, arch, debian) {
  fs.mkdirSync(path.join(dir, 'lists', 'partial'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'cache', 'archives', 'partial'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'etc', 'apt.conf.d'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'etc', 'preferences.d'), { recursive: true });
  if (!fs.existsSync(KEYRING)) {
    throw new Error(
      `${KEYRING} is missing: install Debian's archive keys (apt-get install debian-archive-keyring)`,
    );
  }
  const mirror = process.env.CATWALK_DEBIAN_MIRROR || debian.mirror;
  const securityMirror = process.env.CATWALK_DEBIAN_SECURITY_MIRROR || debian.securityMirror;
  const lines = [
    ...debian.suites.map((suite) => `deb [signed-by=${KEYRING}] ${mirror} ${suite} main`),
    `deb [signed-by=${KEYRING}] ${securityMirror} ${debian.securitySuite} main`,
  ];
  fs.writeFileSync(path.join(dir, 'etc', 'sources.list'), `${lines.join('\n')}\n`);
  const options = {
    'APT::Architecture': arch,
    'APT::Architectures::': arch,
    'APT::Sandbox::User': 'root',
    'Dir::State': dir,
    'Dir::State::Lists': path.join(dir, 'lists'),
    'Dir::State::status': '/dev/null',
    'Dir::Cache': path.join(dir, 'cache'),
    'Dir::Etc::SourceList': path.join(dir, 'etc', 'sources.list'),
    'Dir::Etc::SourceParts': path.join(dir, 'etc', 'sources.list.d'),
    'Dir::Etc::Parts': path.join(dir, 'etc', 'apt.conf.d'),
    'Dir::Etc::PreferencesParts': path.join(dir, 'etc', 'preferences.d'),
    'Debug::NoLocking': '1',
  };
  return Object.entries(options).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
}

function run(command, args, options = {}) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
  } catch (error) {
    const detail = String(error.stderr || error.message)
      .trim()
      .split('\n')
      .slice(-5)
      .join('\n');
    throw new Error(
      `${command} ${args.filter((a) => !a.startsWith('-o') && !a.includes('::')).join(' ')} failed:\n${detail}`,
    );
  }
}

/**
 * The pinned .deb files of one architecture, downloaded once into the cache
 * and checked against their SHA-256. Returns their paths in inputs order.
 */
function debianPackages({ cacheDir, arch, debian, log }) {
  const pins = debian.packages[arch];
  if (!pins)
    throw new Error(`inputs.json has no Debian packages for '${arch}'; run build.cjs --refresh-inputs`);
  const debDir = path.join(cacheDir, 'debs', arch);
  fs.mkdirSync(debDir, { recursive: true });
  const fileOf = (p) =>
    path.join(debDir, `${p.name}_${p.version.replace(/:/g, '%3a')}_${p.arch ?? arch}.deb`);
  const missing = pins.filter((p) => !(fs.existsSync(fileOf(p)) && sha256File(fileOf(p)) === p.sha256));
  if (missing.length > 0) {
    const aptDir = path.join(cacheDir, 'apt', arch);
    const options = aptOptions(aptDir, arch, debian);
    log(`apt: fetching ${missing.map((p) => `${p.name}=${p.version}`).join(' ')} (${arch})`);
    run('apt-get', [...options, '-qq', 'update']);
    for (const pin of missing) {
      try {
        run('apt-get', [...options, '-qq', 'download', `${pin.name}:${arch}=${pin.version}`], {
          cwd: debDir,
        });
      } catch (error) {
        throw new Error(
          `${pin.name} ${pin.version} (${arch}) is no longer in the Debian archive (a newer security update replaced it): ` +
            `run 'node tools/image/build.cjs --refresh-inputs' and commit inputs.json.\n${error.message}`,
        );
      }
    }
  }
  for (const pin of pins) {
    const actual = sha256File(fileOf(pin));
    if (actual !== pin.sha256) {
      throw new Error(
        `${fileOf(pin)}: SHA-256 ${actual}, inputs.json pins ${pin.sha256}; refusing a package that changed`,
      );
    }
  }
  return pins.map(fileOf);
}

/** The current candidate (version, SHA-256) of every named package for `arch`, from the archive's index. */
function resolveDebianPins({ cacheDir, arch, debian, names }) {
  const options = aptOptions(path.join(cacheDir, 'apt', arch), arch, debian);
  run('apt-get', [...options, '-qq', 'update']);
  return names.map((name) => {
    const policy = run('apt-cache', [...options, 'policy', `${name}:${arch}`]);
    const version = /Candidate:\s*(\S+)/.exec(policy)?.[1];
    if (!version || version === '(none)') throw new Error(`Debian has no package '${name}' for ${arch}`);
    const records = run('apt-cache', [...options, 'show', `${name}:${arch}=${version}`]).split(/\n\n+/);
    const record = records.find((r) => r.trim());
    const sha256 = /^SHA256:\s*(\S+)/m.exec(record)?.[1];
    const packageArch = /^Architecture:\s*(\S+)/m.exec(record)?.[1];
    if (!sha256) throw new Error(`apt-cache show ${name}=${version}: no SHA256 field`);
    return { name, version, ...(packageArch === 'all' ? { arch: 'all' } : {}), sha256 };
  });
}

/** The npm package holding the official Node binary for an OCI architecture name. */
function nodePackageName(arch) {
  const npmArch = { amd64: 'x64', arm64: 'arm64' }[arch];
  if (!npmArch) throw new Error(`architecture '${arch}': use amd64 or arm64`);
  return `node-linux-${npmArch}`;
}

/** The pinned node-linux-<arch> tarball from the npm registry, checked against inputs.json's integrity. */
function nodeTarball({ cacheDir, arch, node, log }) {
  const name = nodePackageName(arch);
  const expected = node.integrity[arch];
  if (!expected)
    throw new Error(`inputs.json has no integrity for ${name}@${node.version}; run --refresh-inputs`);
  const dir = path.join(cacheDir, 'node');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${node.version}.tgz`);
  if (!(fs.existsSync(file) && sriFile(file) === expected)) {
    log(`npm: packing ${name}@${node.version}`);
    run('npm', ['pack', `${name}@${node.version}`, '--pack-destination', dir, '--silent'], { cwd: dir });
  }
  const actual = sriFile(file);
  if (actual !== expected) throw new Error(`${file}: integrity ${actual}, inputs.json pins ${expected}`);
  return file;
}

/** The registry's integrity of node-linux-<arch>@version. */
function resolveNodeIntegrity(arch, version) {
  const name = nodePackageName(arch);
  const integrity = run('npm', ['view', `${name}@${version}`, 'dist.integrity']).trim();
  if (!integrity.startsWith('sha512-')) throw new Error(`npm view ${name}@${version}: no sha512 integrity`);
  return integrity;
}

module.exports = {
  debianPackages,
  resolveDebianPins,
  nodeTarball,
  resolveNodeIntegrity,
  nodePackageName,
  sha256File,
};
