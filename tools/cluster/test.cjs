#!/usr/bin/env node
// `npm run test:cluster`: builds the control plane if the cache lacks it, runs
// the tests against it (packages/deploy/test/cluster, one cluster for the run),
// and ends with one plain "N passed, N failed" line from jest's JSON report.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { build } = require('./build.cjs');

const repo = path.resolve(__dirname, '..', '..');
const report = path.join(repo, 'reports', 'cluster', 'deploy.json');

function main() {
  const started = Date.now();
  try {
    build({ log: (line) => console.log(`cluster: ${line}`) });
  } catch (error) {
    console.error(`cluster: ${error.message}`);
    console.log('0 passed, 1 failed');
    return 1;
  }
  console.log(`cluster: binaries ready after ${((Date.now() - started) / 1000).toFixed(0)} s`);
  fs.rmSync(report, { force: true });
  fs.mkdirSync(path.dirname(report), { recursive: true });
  const jest = spawnSync(
    process.execPath,
    [require.resolve('jest/bin/jest', { paths: [repo] }), '-c', 'jest.cluster.config.cjs', '--runInBand', '--json', `--outputFile=${report}`, ...process.argv.slice(2)],
    { cwd: path.join(repo, 'packages', 'deploy'), stdio: 'inherit', env: { ...process.env, NX_DAEMON: 'false' } },
  );
  if (!fs.existsSync(report)) {
    console.log('0 passed, 1 failed');
    return 1;
  }
  const result = JSON.parse(fs.readFileSync(report, 'utf8'));
  // A suite that fails to load has no failed tests but must still count.
  const broken = result.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0).length;
  const failed = result.numFailedTests + broken;
  console.log(`cluster tests took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(`${result.numPassedTests} passed, ${failed} failed`);
  return jest.status === 0 && failed === 0 ? 0 : 1;
}

process.exitCode = main();
