#!/usr/bin/env node
// Runs the local control plane until Ctrl-C: builds the binaries if they are
// missing (cached, see build.cjs), starts etcd, the API server, the
// controller-manager, the scheduler and kwok's simulated nodes, and prints the
// kubeconfig to use.
//
//   node tools/cluster/start.cjs [--dir <folder>] [--timeout <seconds>]
'use strict';

const { build } = require('./build.cjs');
const { startCluster } = require('./cluster.cjs');

function flag(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main() {
  const binDir = build();
  const dir = flag('--dir');
  const timeout = Number(flag('--timeout') ?? 180);
  const cluster = await startCluster({
    binDir,
    dir,
    keepDir: dir !== undefined,
    timeoutMs: timeout * 1000,
    log: (line) => console.error(line),
  });
  console.log(`control plane ready in ${cluster.startSeconds.toFixed(1)} s (${cluster.nodes.length} kwok nodes)`);
  console.log(`  export KUBECONFIG=${cluster.kubeconfig}`);
  console.log(`  logs: ${cluster.dir}/*.log`);
  console.log('Ctrl-C stops it and removes everything it started.');
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await cluster.stop();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((error) => {
  console.error(`cluster: ${error.message}`);
  process.exit(1);
});
