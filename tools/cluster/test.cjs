#!/usr/bin/env node
// `npm run test:cluster`: the tests that need components from outside npm.
// Puts Prometheus and promtool into their cache (tools/prometheus) and exports
// CATWALK_PROMETHEUS / CATWALK_PROMTOOL, builds the control plane if the cache
// lacks it, runs the deploy suite against it (packages/deploy/test/cluster,
// one cluster for the run), then every other package's jest.cluster.config.cjs,
// and ends with one plain "N passed, N failed" line summed over all of their
// jest JSON reports (reports/cluster/<package>.json).
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { build } = require('./build.cjs');
const { ensurePrometheus } = require('../prometheus/install.cjs');

const repo = path.resolve(__dirname, '..', '..');
const reports = path.join(repo, 'reports', 'cluster');

/** Packages with a cluster suite, deploy first (it starts the control plane). */
function clusterSuites() {
  const names = fs
    .readdirSync(path.join(repo, 'packages'))
    .filter((name) => fs.existsSync(path.join(repo, 'packages', name, 'jest.cluster.config.cjs')))
    .sort();
  return ['deploy', ...names.filter((name) => name !== 'deploy')].filter((name) => names.includes(name));
}

/** Runs one package's cluster suite; returns its counts from jest's JSON report. */
function runSuite(name, env) {
  const report = path.join(reports, `${name}.json`);
  fs.rmSync(report, { force: true });
  const jest = spawnSync(
    process.execPath,
    [
      require.resolve('jest/bin/jest', { paths: [repo] }),
      '-c',
      'jest.cluster.config.cjs',
      '--runInBand',
      '--passWithNoTests',
      // The suites start servers, sidecars and watches; one left open must not keep CI waiting
      // after the report is written and the cluster is torn down.
      '--forceExit',
      '--json',
      `--outputFile=${report}`,
      ...process.argv.slice(2),
    ],
    { cwd: path.join(repo, 'packages', name), stdio: 'inherit', env },
  );
  if (!fs.existsSync(report)) {
    console.log(`${name} (cluster): no test report`);
    return { passed: 0, failed: 1 };
  }
  const result = JSON.parse(fs.readFileSync(report, 'utf8'));
  // A suite that fails to load has no failed tests but must still count.
  const broken = result.testResults.filter(
    (s) => s.status === 'failed' && s.assertionResults.length === 0,
  ).length;
  const failed =
    result.numFailedTests + broken + (jest.status !== 0 && result.numFailedTests + broken === 0 ? 1 : 0);
  console.log(`${name} (cluster): ${result.numPassedTests} passed, ${failed} failed`);
  return { passed: result.numPassedTests, failed };
}

function main() {
  const started = Date.now();
  let passed = 0;
  let failed = 0;
  const env = { ...process.env, NX_DAEMON: 'false' };
  fs.mkdirSync(reports, { recursive: true });

  try {
    const prometheus = ensurePrometheus({ log: (line) => console.log(`prometheus: ${line}`) });
    env.CATWALK_PROMETHEUS = prometheus.prometheus;
    env.CATWALK_PROMTOOL = prometheus.promtool;
    console.log(`prometheus: ${prometheus.version} ready`);
  } catch (error) {
    // The suites that need it fail with their own message; the others still run.
    console.error(`prometheus: ${error.message}`);
    failed += 1;
  }

  let clusterBuilt = true;
  try {
    build({ log: (line) => console.log(`cluster: ${line}`) });
    console.log(`cluster: binaries ready after ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (error) {
    console.error(`cluster: ${error.message}`);
    clusterBuilt = false;
    failed += 1;
  }

  for (const name of clusterSuites()) {
    if (name === 'deploy' && !clusterBuilt) continue;
    const counts = runSuite(name, env);
    passed += counts.passed;
    failed += counts.failed;
  }
  console.log(`cluster tests took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = main();
