// Starts one local control plane for the whole cluster test run (binaries are
// built into the cache first if missing) and hands its kubeconfig to the tests.
const fs = require('node:fs');
const path = require('node:path');

const repo = path.resolve(__dirname, '..', '..', '..', '..');
const { build } = require(path.join(repo, 'tools', 'cluster', 'build.cjs'));
const { startCluster } = require(path.join(repo, 'tools', 'cluster', 'cluster.cjs'));

module.exports = async () => {
  const binDir = build();
  const cluster = await startCluster({ binDir, log: (line) => process.stderr.write(`cluster: ${line}\n`) });
  globalThis.__catwalkCluster = cluster;
  // Like a production cluster with the Prometheus Operator: the charts create
  // ServiceMonitors and PrometheusRules. A test that needs a cluster without
  // them starts a control plane of its own.
  for (const [kind, file, plural] of [
    ['ServiceMonitor', './servicemonitor-crd.json', 'servicemonitors'],
    ['PrometheusRule', './prometheusrule-crd.json', 'prometheusrules'],
  ]) {
    const crd = require(file);
    const created = await cluster.api('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
    if (created.status !== 201) throw new Error(`creating the ${kind} CRD failed: ${created.text}`);
    for (let i = 0; ; i++) {
      const res = await cluster.api('GET', `/apis/monitoring.coreos.com/v1/${plural}`);
      if (res.status === 200) break;
      if (i > 300) throw new Error(`the ${kind} CRD was not served within 60 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  process.env.KUBECONFIG = cluster.kubeconfig;
  process.env.CATWALK_CLUSTER_BIN = binDir;
  const reports = path.join(repo, 'reports', 'cluster');
  fs.mkdirSync(reports, { recursive: true });
  fs.writeFileSync(
    path.join(reports, 'start.json'),
    `${JSON.stringify({ startSeconds: cluster.startSeconds }, null, 2)}\n`,
  );
};
