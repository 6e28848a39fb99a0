// A local Kubernetes control plane on loopback: etcd, kube-apiserver (TLS with
// a generated CA, client-certificate kubeconfig), kube-controller-manager,
// kube-scheduler and kwok simulating the nodes. Every process runs in its own
// process group so that stop() leaves nothing behind.
//
//   const { startCluster } = require('tools/cluster/cluster.cjs');
//   const cluster = await startCluster({ binDir });
//   ... KUBECONFIG=cluster.kubeconfig helm install ...
//   await cluster.stop();
'use strict';

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

/**
 * The simulated nodes: three zones, two general nodes in each, and two GPU
 * nodes with eight GPUs each (tainted and labelled the way the NVIDIA device
 * plugin and GPU operator do), room for a GPU model's canary and surge pods.
 */
const DEFAULT_NODES = [
  ...['a', 'b', 'c'].flatMap((zone) =>
    [1, 2].map((n) => ({ name: `node-${zone}${n}`, zone: `zone-${zone}`, cpu: '64', memory: '256Gi' })),
  ),
  { name: 'gpu-a1', zone: 'zone-a', cpu: '96', memory: '512Gi', gpus: 8 },
  { name: 'gpu-b1', zone: 'zone-b', cpu: '96', memory: '512Gi', gpus: 8 },
];

class ClusterStartError extends Error {
  constructor(component, reason, logTail) {
    super(`${component} did not start: ${reason}${logTail ? `\n--- last lines of ${component}'s log ---\n${logTail}` : ''}`);
    this.name = 'ClusterStartError';
    this.component = component;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** CA, serving certificate for the API server, one client certificate, and the service-account key pair. */
function makeCertificates(dir) {
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=catwalk-local-ca');
  fs.writeFileSync(
    path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n',
  );
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext');
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  // system:masters: one identity for the test user and the components, which is all a throwaway cluster needs.
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'admin.key', '-out', 'admin.csr', '-subj', '/O=system:masters/CN=catwalk-admin');
  ssl('x509', '-req', '-in', 'admin.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'admin.crt', '-days', '2', '-extfile', 'client.ext');
  ssl('genrsa', '-out', 'sa.key', '2048');
  ssl('rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
  const read = (f) => fs.readFileSync(path.join(dir, f));
  return { ca: read('ca.crt'), cert: read('admin.crt'), key: read('admin.key') };
}

function kubeconfigText(server, pki) {
  const b64 = (buf) => buf.toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: catwalk-local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(pki.ca)}`,
    'users:',
    '- name: catwalk-admin',
    '  user:',
    `    client-certificate-data: ${b64(pki.cert)}`,
    `    client-key-data: ${b64(pki.key)}`,
    'contexts:',
    '- name: catwalk-local',
    '  context:',
    '    cluster: catwalk-local',
    '    user: catwalk-admin',
    'current-context: catwalk-local',
    '',
  ].join('\n');
}

/** A tiny HTTPS JSON client for the set-up steps (the tests use the real clients). */
function apiClient(server, pki) {
  const agent = new https.Agent({ ca: pki.ca, cert: pki.cert, key: pki.key, keepAlive: false });
  return (method, urlPath, body) =>
    new Promise((resolve, reject) => {
      const req = https.request(
        new URL(urlPath, server),
        { method, agent, headers: body ? { 'content-type': 'application/json' } : {}, timeout: 10_000 },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode, text }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end(body ? JSON.stringify(body) : undefined);
    });
}

function nodeObject(node) {
  const capacity = { cpu: node.cpu, memory: node.memory, pods: '110', 'ephemeral-storage': '200Gi' };
  if (node.gpus) capacity['nvidia.com/gpu'] = String(node.gpus);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      // kwok manages only nodes carrying this annotation.
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': node.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
        'topology.kubernetes.io/zone': node.zone,
        'topology.kubernetes.io/region': 'local',
        ...(node.gpus ? { 'nvidia.com/gpu.present': 'true' } : {}),
      },
    },
    spec: node.gpus ? { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] } : {},
    status: { capacity, allocatable: capacity },
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The API server's only way out to pods and nodes (its "cluster" egress, the
 * way konnectivity serves real clusters): an HTTP CONNECT proxy on loopback
 * that sends every tunnel to 127.0.0.1 on the requested port. The simulated
 * pods' addresses are never dialled, so nothing leaves the machine, and a
 * process listening on loopback port P answers for any pod's port P (how the
 * tests put a real sync sidecar behind the pod proxy).
 */
function startEgressProxy(tls) {
  // TLS because the API server insists on it for a TCP egress transport.
  const server = https.createServer(tls, (req, res) => {
    res.writeHead(405).end('CONNECT only\n');
  });
  const sockets = new Set();
  server.on('connect', (req, client, head) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const port = Number(/:(\d+)$/.exec(req.url ?? '')?.[1]);
    if (!port) {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head?.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (error) => {
      if (client.writable) client.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\n\r\n${error.message}\n`);
    });
    client.on('error', () => upstream.destroy());
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}

/**
 * Starts the control plane. Resolves once the API server is ready, every node
 * is Ready, the default service account exists and the scheduler is healthy;
 * rejects (after stopping whatever did start) with a ClusterStartError naming
 * the component at fault and the end of its log.
 */
async function startCluster(options = {}) {
  const binDir = options.binDir ?? require('./build.cjs').layout().bin;
  const timeoutMs = options.timeoutMs ?? 180_000;
  const nodes = options.nodes ?? DEFAULT_NODES;
  const log = options.log ?? (() => {});
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-cluster-'));
  const ownsDir = options.dir === undefined;
  fs.mkdirSync(dir, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  const startedAt = Date.now();
  const processes = [];
  let stopping = false;
  let egress;

  const launch = (name, args) => {
    const file = path.join(binDir, name);
    if (!fs.existsSync(file)) throw new ClusterStartError(name, `${file} is missing; run node tools/cluster/build.cjs`);
    const logFile = path.join(dir, `${name}.log`);
    const out = fs.openSync(logFile, 'a');
    // detached: its own process group, so stop() can signal the group and nothing it forks survives.
    const child = spawn(file, args, { cwd: dir, stdio: ['ignore', out, out], detached: true });
    fs.closeSync(out);
    const entry = { name, child, logFile, exited: null };
    entry.exitedPromise = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        entry.exited = { code, signal };
        resolve();
      });
      child.on('error', (error) => {
        entry.exited = { code: null, signal: null, error };
        resolve();
      });
    });
    processes.push(entry);
    return entry;
  };

  const stop = async () => {
    stopping = true;
    // Reverse order: the clients go first, etcd last.
    for (const entry of [...processes].reverse()) {
      if (entry.exited) continue;
      try {
        process.kill(-entry.child.pid, 'SIGTERM');
      } catch {}
      const killed = await Promise.race([entry.exitedPromise.then(() => true), sleep(10_000).then(() => false)]);
      if (!killed) {
        try {
          process.kill(-entry.child.pid, 'SIGKILL');
        } catch {}
        await entry.exitedPromise;
      }
    }
    await egress?.close();
    if (ownsDir && !options.keepDir) fs.rmSync(dir, { recursive: true, force: true });
  };

  const waitFor = async (entry, what, check) => {
    let last = 'not ready yet';
    while (Date.now() < deadline) {
      if (entry.exited) {
        const { code, signal, error } = entry.exited;
        throw new ClusterStartError(entry.name, error ? error.message : `exited with ${signal ?? `code ${code}`} while waiting for ${what}`, tail(entry.logFile));
      }
      try {
        const result = await check();
        if (result === true) return;
        last = result || last;
      } catch (error) {
        last = error.message;
      }
      await sleep(200);
    }
    throw new ClusterStartError(entry.name, `no ${what} within ${Math.round(timeoutMs / 1000)} s (last: ${last})`, tail(entry.logFile));
  };

  try {
    const pki = makeCertificates(dir);
    const [etcdClient, etcdPeer, apiPort, cmPort, schedPort, kwokPort] = await Promise.all(
      Array.from({ length: 6 }, freePort),
    );
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = path.join(dir, 'kubeconfig');
    fs.writeFileSync(kubeconfig, kubeconfigText(server, pki), { mode: 0o600 });
    const api = apiClient(server, pki);
    egress = await startEgressProxy({
      key: fs.readFileSync(path.join(dir, 'server.key')),
      cert: fs.readFileSync(path.join(dir, 'server.crt')),
    });
    fs.writeFileSync(
      path.join(dir, 'egress.yaml'),
      [
        'apiVersion: apiserver.k8s.io/v1beta1',
        'kind: EgressSelectorConfiguration',
        'egressSelections:',
        '- name: cluster',
        '  connection:',
        '    proxyProtocol: HTTPConnect',
        '    transport:',
        '      tcp:',
        `        url: https://127.0.0.1:${egress.port}`,
        '        tlsConfig:',
        `          caBundle: ${path.join(dir, 'ca.crt')}`,
        `          clientKey: ${path.join(dir, 'admin.key')}`,
        `          clientCert: ${path.join(dir, 'admin.crt')}`,
        '',
      ].join('\n'),
    );

    const etcd = launch('etcd', [
      '--name=catwalk',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=catwalk=http://127.0.0.1:${etcdPeer}`,
      // A test cluster: losing its data on a power cut is fine, waiting for fsync is not.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitFor(etcd, 'healthy etcd', async () => {
      const res = await fetch(`http://127.0.0.1:${etcdClient}/health`);
      return res.ok || `health ${res.status}`;
    });
    log(`etcd ready after ${Date.now() - startedAt} ms`);

    const apiserver = launch('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${path.join(dir, 'server.crt')}`,
      `--tls-private-key-file=${path.join(dir, 'server.key')}`,
      `--client-ca-file=${path.join(dir, 'ca.crt')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--allow-privileged=true',
      `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
      '--endpoint-reconciler-type=none',
      `--egress-selector-config-file=${path.join(dir, 'egress.yaml')}`,
      '--v=1',
    ]);
    await waitFor(apiserver, 'ready API server (/readyz)', async () => {
      const res = await api('GET', '/readyz');
      return res.status === 200 || `readyz ${res.status}`;
    });
    log(`kube-apiserver ready after ${Date.now() - startedAt} ms`);

    const componentKubeconfig = kubeconfig;
    const controllerManager = launch('kube-controller-manager', [
      `--kubeconfig=${componentKubeconfig}`,
      `--authentication-kubeconfig=${componentKubeconfig}`,
      `--authorization-kubeconfig=${componentKubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${cmPort}`,
      `--cert-dir=${path.join(dir, 'controller-manager-certs')}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${path.join(dir, 'sa.key')}`,
      `--root-ca-file=${path.join(dir, 'ca.crt')}`,
      '--use-service-account-credentials=false',
      // Quick reaction to pod changes; a test cluster has no load to protect.
      '--concurrent-deployment-syncs=10',
      '--concurrent-replicaset-syncs=10',
      // The HPA raises a new Deployment to its minimum on its next sync: keep that short.
      '--horizontal-pod-autoscaler-sync-period=2s',
      '--v=1',
    ]);
    const scheduler = launch('kube-scheduler', [
      `--kubeconfig=${componentKubeconfig}`,
      `--authentication-kubeconfig=${componentKubeconfig}`,
      `--authorization-kubeconfig=${componentKubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
      `--cert-dir=${path.join(dir, 'scheduler-certs')}`,
      '--leader-elect=false',
      '--v=1',
    ]);
    const kwok = launch('kwok', [
      `--kubeconfig=${componentKubeconfig}`,
      `--config=${path.join(binDir, 'kwok-stages.yaml')}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      `--server-address=127.0.0.1:${kwokPort}`,
      '--node-lease-duration-seconds=40',
    ]);

    for (const node of nodes) {
      const res = await api('POST', '/api/v1/nodes', nodeObject(node));
      if (res.status !== 201) throw new ClusterStartError('kube-apiserver', `creating node ${node.name} failed: ${res.status} ${res.text}`);
    }
    await waitFor(kwok, `all ${nodes.length} nodes Ready`, async () => {
      const res = await api('GET', '/api/v1/nodes');
      const items = JSON.parse(res.text).items ?? [];
      const ready = items.filter((n) => (n.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length >= nodes.length || `${ready.length}/${nodes.length} nodes Ready`;
    });
    log(`nodes ready after ${Date.now() - startedAt} ms`);
    await waitFor(controllerManager, 'default service account (controller-manager)', async () => {
      const res = await api('GET', '/api/v1/namespaces/default/serviceaccounts/default');
      return res.status === 200 || `serviceaccount ${res.status}`;
    });
    await waitFor(scheduler, 'healthy scheduler', async () => {
      const res = await new Promise((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port: schedPort, path: '/healthz', rejectUnauthorized: false, timeout: 5000 }, (r) => {
            r.resume();
            resolve(r.statusCode);
          })
          .on('error', reject);
      });
      return res === 200 || `healthz ${res}`;
    });
    const startSeconds = (Date.now() - startedAt) / 1000;
    log(`control plane ready after ${startSeconds.toFixed(1)} s`);

    for (const entry of processes) {
      entry.child.on('exit', (code, signal) => {
        if (!stopping) process.stderr.write(`cluster: ${entry.name} exited unexpectedly (${signal ?? code}); see ${entry.logFile}\n`);
      });
    }

    return {
      dir,
      kubeconfig,
      server,
      startSeconds,
      nodes: nodes.map((n) => ({ ...n })),
      pids: processes.map((p) => ({ name: p.name, pid: p.child.pid })),
      logs: Object.fromEntries(processes.map((p) => [p.name, p.logFile])),
      api,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

module.exports = { startCluster, ClusterStartError, DEFAULT_NODES };
