// What the experiment cluster tests need besides the control plane: the
// registry (embedded S3) holding two versions, and someone to answer for the
// pods. kwok's pods run no containers, so, as in status-proxy.test.ts, the
// sidecars run in this process behind the real pod proxy: the control plane's
// egress proxy sends every tunnel for pod port P to 127.0.0.1:P, where a small
// router reads which pod the API server meant (its X-Forwarded-Uri header
// names /api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/...) and hands the
// request to that pod's own real @catwalk/registry sync sidecar (main pods
// follow the stable label, canary pods the canary label), each syncing from
// the embedded S3 into its own folder. TF Serving cannot run
// here: each pod has @catwalk/testing's fake, whose version states follow
// its sidecar's folder the way TF Serving's file-system poll loads and
// unloads what appears there.

import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ModelLocation, push, release, runSidecar } from '@catwalk/registry';
import { halfPlusTwo as fakeModel, startFakeServing } from '@catwalk/testing';
import pino from 'pino';
import { k8s } from '../../src/kube';
import { cluster, freshNamespace, runCatwalk, specOf } from './support';

const { BUCKET, client, startS3 } = require('../../../registry/test/helpers') as {
  BUCKET: string;
  client: (endpoint: string) => Parameters<typeof push>[0]['client'];
  startS3: () => Promise<{ endpoint: string; stop(): Promise<void> }>;
};
const { lookalikeExport } = require('../../../registry/test/push-support') as {
  lookalikeExport: (seed: number) => string;
};

export { BUCKET, client, startS3 };

/** `catwalk` in this process, with the experiment commands' test defaults (text lines, a 1 s switch time). */
export async function catwalk(argv: string[]) {
  // The lifecycle commands' lines as a person reads them, unless a test asks for JSON.
  if (argv[0] === 'experiment' && argv[1] !== 'status' && !argv.includes('--log-format')) {
    argv = [...argv, '--log-format', 'text'];
  }
  // A 1 s switch-over after each weight move unless a test sets one: no load balancer follows the Ingress here.
  if (argv[0] === 'experiment' && argv[1] !== 'status' && !argv.includes('--switch-seconds')) {
    argv = [...argv, '--switch-seconds', '1'];
  }
  return runCatwalk(argv);
}

/** How long the TF Serving stand-in takes to load a version. */
const LOAD_MS = 1000;

/** Pushes two different exports as versions 1 and 2 and releases 1 as stable. */
export async function twoVersions(endpoint: string, location: ModelLocation, seed: number): Promise<void> {
  const c = client(endpoint);
  for (const s of [seed, seed + 1]) await push({ client: c, location, dir: lookalikeExport(s) });
  await release({ client: c, location, request: { serve: [1], labels: { stable: 1 } }, updatedBy: 'setup' });
}

export interface PodAgents {
  /** The port every pod's sync sidecar listens on (the chart's sync.port). */
  readonly port: number;
  /** Pods answered for so far, by track. */
  readonly pods: Record<'main' | 'canary', Set<string>>;
  stop(): Promise<void>;
}

/**
 * A sync sidecar and a TF Serving stand-in for every pod of one model in one
 * namespace, each started when the API server first proxies a request to
 * that pod (about when a real pod's containers would start), so a new canary
 * pod begins with an empty folder and loads its version while the command
 * watches, as a real one does.
 */
export async function startPodAgents(options: {
  readonly s3Endpoint: string;
  readonly location: ModelLocation;
  readonly namespace: string;
}): Promise<PodAgents> {
  const { location } = options;
  const stop = new AbortController();
  const running: Promise<unknown>[] = [];
  const timers: NodeJS.Timeout[] = [];
  const servings: Awaited<ReturnType<typeof startFakeServing>>[] = [];

  const agent = async (pod: string, track: 'stable' | 'canary'): Promise<number> => {
    const serving = await startFakeServing({
      models: [fakeModel({ name: location.name, versions: [] })],
      grpc: false,
    });
    servings.push(serving);
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), `catwalk-exp-${pod}-`));
    let port = 0;
    running.push(
      runSidecar({
        client: client(options.s3Endpoint),
        location,
        dest,
        track,
        intervalMs: 300,
        port: 0,
        host: '127.0.0.1',
        logger: pino({ level: 'silent' }),
        signal: stop.signal,
        servingUrl: `${serving.restUrl}/v1/models/${location.name}`,
        onListening: (p) => {
          port = p;
        },
      }),
    );
    // TF Serving's file-system poll: a version folder that appears is loaded (LOADING for a
    // second, as a real model takes a while), one that goes is unloaded.
    const known = new Map<number, number>();
    timers.push(
      setInterval(() => {
        let present: number[] = [];
        try {
          present = fs
            .readdirSync(dest)
            .filter((n) => /^\d+$/.test(n))
            .map(Number);
        } catch {
          return;
        }
        for (const v of present) {
          const seen = known.get(v);
          if (seen === undefined) {
            serving.setVersionState(location.name, v, 'LOADING');
            known.set(v, Date.now());
          } else if (Date.now() - seen >= LOAD_MS) {
            serving.setVersionState(location.name, v, 'AVAILABLE');
          }
        }
        for (const v of [...known.keys()]) {
          if (!present.includes(v)) {
            serving.setVersionState(location.name, v, 'END');
            known.delete(v);
          }
        }
      }, 200),
    );
    for (let i = 0; i < 200 && port === 0; i++) await new Promise((r) => setTimeout(r, 25));
    if (!port) throw new Error(`the sidecar of ${pod} did not start listening`);
    return port;
  };

  const conn = await cluster(options.namespace);
  const lib = await k8s();
  const core = conn.kc.makeApiClient(lib.CoreV1Api);
  const agents = new Map<string, Promise<number>>();
  const pods = { main: new Set<string>(), canary: new Set<string>() };

  const agentFor = (pod: string): Promise<number> => {
    let found = agents.get(pod);
    if (!found) {
      found = (async () => {
        const object = await core.readNamespacedPod({ name: pod, namespace: options.namespace });
        const track = object.metadata?.labels?.['catwalk.dev/track'] === 'canary' ? 'canary' : 'main';
        pods[track].add(pod);
        return agent(pod, track === 'canary' ? 'canary' : 'stable');
      })();
      agents.set(pod, found);
    }
    return found;
  };

  const router = http.createServer(async (req, res) => {
    const forwarded = String(req.headers['x-forwarded-uri'] ?? '');
    const pod = /\/pods\/([^/:]+)(?::\d+)?\/proxy/.exec(forwarded)?.[1];
    if (!pod) {
      res.writeHead(500).end(`no pod named in X-Forwarded-Uri (${forwarded || 'absent'})\n`);
      return;
    }
    let port: number;
    try {
      port = await agentFor(pod);
    } catch (error) {
      res.writeHead(502).end(`${(error as Error).message}\n`);
      return;
    }
    const upstream = http.request(
      { host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (error) => res.writeHead(502).end(`${error.message}\n`));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => router.listen(0, '127.0.0.1', () => resolve()));

  return {
    port: (router.address() as AddressInfo).port,
    pods,
    async stop() {
      for (const t of timers) clearInterval(t);
      stop.abort();
      await Promise.allSettled(running);
      router.closeAllConnections();
      await new Promise<void>((resolve) => router.close(() => resolve()));
      await Promise.all(servings.map((s) => s.close()));
    },
  };
}

export interface Setup {
  readonly namespace: string;
  readonly location: ModelLocation;
  readonly agents: PodAgents;
  readonly specFile: string;
  readonly spec: Record<string, unknown>;
  readonly values: string;
  readonly flags: string[];
}

/**
 * A model with versions 1 (stable) and 2 in the registry, deployed with
 * `catwalk deploy` (its main pods at the HPA's minimum) whose sidecars answer.
 */
export async function deployModel(options: {
  readonly s3Endpoint: string;
  readonly tag: string;
  readonly seed: number;
  /** The spec's scaling block. @default { minReplicas: 2, maxReplicas: 4 } */
  readonly scaling?: { readonly minReplicas: number; readonly maxReplicas: number };
}): Promise<Setup> {
  const namespace = await freshNamespace(`exp-${options.tag}`);
  const location = { bucket: BUCKET, prefix: `exp/${namespace}/pricing`, name: 'pricing' };
  await twoVersions(options.s3Endpoint, location, options.seed);
  const agents = await startPodAgents({ s3Endpoint: options.s3Endpoint, location, namespace });
  const spec = specOf({
    name: 'pricing',
    team: 'marketplace',
    versionPolicy: { specific: [1] },
    versionLabels: { stable: 1 },
    scaling: options.scaling ?? { minReplicas: 2, maxReplicas: 4 },
    // No Prometheus Operator objects: this cluster has the ServiceMonitor CRD only.
    prometheus: false,
  }) as { spec: { source: object } } & Record<string, unknown>;
  spec.spec.source = {
    uri: `s3://${BUCKET}/${location.prefix}`,
    region: 'us-east-1',
    endpoint: options.s3Endpoint,
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-exp-spec-'));
  const specFile = path.join(dir, 'pricing.json');
  fs.writeFileSync(specFile, JSON.stringify(spec));
  // The pods' sidecar port is the router's, so the pod proxy reaches the sidecars above.
  const values = path.join(dir, 'values.json');
  fs.writeFileSync(values, JSON.stringify({ sync: { port: agents.port } }));
  const deploy = await catwalk([
    'deploy',
    specFile,
    '--namespace',
    namespace,
    '--values',
    values,
    '--timeout',
    '3m',
  ]);
  if (deploy.code !== 0) {
    await agents.stop();
    throw new Error(`deploy failed: ${deploy.stderr}`);
  }
  return {
    namespace,
    location,
    agents,
    specFile,
    spec,
    values,
    flags: ['--namespace', namespace, '--timeout', '3m'],
  };
}
