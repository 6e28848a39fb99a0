#!/usr/bin/env node
// Puts Prometheus and promtool into a cache outside the repository for the
// cluster tests (rule checks, rule unit tests, a live Prometheus scraping the
// fake TF Serving). Nothing is installed system-wide and no root is needed:
// Debian's own `prometheus` package is fetched with `apt-get download` and
// unpacked with `dpkg-deb -x` into
//
//   ~/.cache/catwalk/prometheus/<debian version>/usr/bin/{prometheus,promtool}
//
// and reused from there on every later run (no apt call at all when the
// candidate version is already unpacked, or when apt is unavailable and one
// version is). CATWALK_PROMETHEUS_CACHE moves the cache.
//
//   node tools/prometheus/install.cjs     unpack if missing, print the paths
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** Debian 12 ships 2.42; the generated rules and tests are checked against it. */
const EXPECTED_MAJOR_MINOR = '2.42';

function cacheRoot() {
  return process.env.CATWALK_PROMETHEUS_CACHE || path.join(os.homedir(), '.cache', 'catwalk', 'prometheus');
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  });
  if (result.error) return { ok: false, out: '', err: result.error.message };
  return { ok: result.status === 0, out: result.stdout, err: result.stderr };
}

/** The version apt would download, or undefined when apt does not know the package (or is missing). */
function candidateVersion() {
  const policy = run('apt-cache', ['policy', 'prometheus']);
  if (!policy.ok) return undefined;
  const match = /Candidate:\s*(\S+)/.exec(policy.out);
  return match && match[1] !== '(none)' ? match[1] : undefined;
}

function binariesIn(dir) {
  const bin = path.join(dir, 'usr', 'bin');
  return { prometheus: path.join(bin, 'prometheus'), promtool: path.join(bin, 'promtool') };
}

function isUnpacked(dir) {
  const { prometheus, promtool } = binariesIn(dir);
  return (
    fs.existsSync(path.join(dir, 'unpacked.json')) && fs.existsSync(prometheus) && fs.existsSync(promtool)
  );
}

/** Versions already unpacked in the cache, newest first by name. */
function cachedVersions(root) {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .filter((name) => isUnpacked(path.join(root, name)))
    .sort()
    .reverse();
}

/** The package index is empty on a fresh image: refresh it when we may, else say what to run. */
function refreshIndex(log) {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(
      "apt does not know the package 'prometheus' (empty package index). Run `sudo apt-get update` once, then run this again.",
    );
  }
  log('apt package index is empty: running apt-get update');
  const update = run('apt-get', ['update', '-qq'], { timeout: 300_000 });
  if (!update.ok) throw new Error(`apt-get update failed: ${lastLines(update.err)}`);
}

function lastLines(text, n = 5) {
  return String(text).trim().split('\n').slice(-n).join('\n');
}

function downloadAndUnpack(root, version, log) {
  const target = path.join(root, version);
  const work = fs.mkdtempSync(path.join(root, `.download-${process.pid}-`));
  try {
    log(`downloading Debian package prometheus=${version} with apt-get download`);
    // As root apt drops to the _apt user for downloads, which cannot write into
    // a private temp dir; the sandbox adds nothing for a file we only unpack.
    const download = run('apt-get', ['download', '-o', 'APT::Sandbox::User=root', `prometheus=${version}`], {
      cwd: work,
      timeout: 600_000,
    });
    const deb = fs.readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!download.ok || !deb)
      throw new Error(`apt-get download prometheus=${version} failed: ${lastLines(download.err)}`);
    const unpackDir = path.join(work, 'root');
    const unpack = run('dpkg-deb', ['-x', path.join(work, deb), unpackDir]);
    if (!unpack.ok) throw new Error(`dpkg-deb -x ${deb} failed: ${lastLines(unpack.err)}`);
    const bins = binariesIn(unpackDir);
    for (const bin of Object.values(bins)) {
      if (!fs.existsSync(bin)) throw new Error(`${deb} holds no ${path.relative(unpackDir, bin)}`);
    }
    fs.writeFileSync(
      path.join(unpackDir, 'unpacked.json'),
      `${JSON.stringify({ package: 'prometheus', version, deb }, null, 2)}\n`,
    );
    // Rename into place last: a run killed half-way leaves only a .download-* dir.
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(unpackDir, target);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return target;
}

function checkRuns(bins) {
  const out = run(bins.promtool, ['--version']);
  if (!out.ok) throw new Error(`${bins.promtool} does not run: ${lastLines(out.err || out.out)}`);
  const match = /version (\d+\.\d+\.\d+)/.exec(`${out.out}${out.err}`);
  return match ? match[1] : 'unknown';
}

/**
 * Prometheus and promtool from the cache, unpacking Debian's package first
 * when the cache lacks it. Returns absolute paths and the package version.
 */
function ensurePrometheus({ log = () => {} } = {}) {
  const root = cacheRoot();
  fs.mkdirSync(root, { recursive: true });
  let version = candidateVersion();
  if (version && isUnpacked(path.join(root, version))) return result(root, version);
  if (!version) {
    const cached = cachedVersions(root);
    if (cached.length > 0) return result(root, cached[0]);
    if (run('apt-get', ['--version']).ok) {
      refreshIndex(log);
      version = candidateVersion();
    }
    if (!version) {
      throw new Error(
        `no Prometheus in ${root} and apt cannot provide Debian's 'prometheus' package here. ` +
          'On Debian 12, run `apt-get update` and try again; elsewhere put an unpacked package into that folder.',
      );
    }
  }
  const upstream = version.replace(/^\d+:/, '');
  if (!upstream.startsWith(`${EXPECTED_MAJOR_MINOR}.`)) {
    log(`warning: apt offers prometheus ${version}; the rules are checked against ${EXPECTED_MAJOR_MINOR}`);
  }
  downloadAndUnpack(root, version, log);
  return result(root, version);
}

function result(root, version) {
  const bins = binariesIn(path.join(root, version));
  checkRuns(bins);
  return { ...bins, version };
}

module.exports = { ensurePrometheus };

if (require.main === module) {
  try {
    const found = ensurePrometheus({ log: (line) => console.error(`prometheus: ${line}`) });
    console.log(JSON.stringify(found, null, 2));
  } catch (error) {
    console.error(`prometheus: ${error.message}`);
    process.exitCode = 1;
  }
}
