// Every recording rule and every dashboard query, run by a real Prometheus
// (Debian's 2.42, from tools/prometheus) against real series: Prometheus
// scrapes two fake TF Servings (the main and the canary track; TF Serving
// itself cannot run here, so @catwalk/testing's fake writes its metric names,
// labels and buckets) and two real sync sidecars syncing from the embedded
// S3, while the test sends real predict requests. The labels the
// ServiceMonitor would add in a cluster (namespace, pod, service and the
// Services' catwalk.dev/* labels) are set on the scrape targets here. Series
// of cAdvisor, kube-state-metrics and the DCGM exporter, which need a cluster,
// are written by the test (see clusterPage).

import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createS3Client,
  createSyncLogger,
  type ModelLocation,
  push,
  release,
  runSidecar,
} from '@catwalk/registry';
import { type FakeServing, halfPlusTwo as fakeModel, startFakeServing } from '@catwalk/testing';
import { BUCKET, halfPlusTwo, halfPlusTwoTf2, type S3Server, startS3 } from '../../../registry/test/helpers';
import {
  buildDashboard,
  CLUSTER_METRICS,
  MODEL_LABEL,
  RELEASE_ANNOTATION_EXPR,
  TRACK_LABEL,
} from '../../src/monitoring/dashboard';
import { buildPrometheusRule } from '../../src/monitoring/rules';
import { interpolate, metricNames } from '../support/dashboard-promql';
import { exampleModel } from '../support/helm';

// tools/prometheus is plain CommonJS shared with the other suites.
const { startPrometheus } = require('../../../../tools/prometheus/run.cjs') as {
  startPrometheus(options: {
    scrapeConfigs: object[];
    ruleFiles: string[];
    scrapeInterval?: string;
    evaluationInterval?: string;
  }): Promise<{
    url: string;
    query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
    rules(): Promise<
      Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }>
    >;
    waitForTargetsUp(): Promise<unknown>;
    stop(): Promise<void>;
  }>;
};

/** Batching on and a GPU: every row of the dashboard is there. */
const model = exampleModel('image-tagger');
const NAMESPACE = 'ml-serving';
const values = { namespace: NAMESPACE, model: model.name, track: '.*', __rate_interval: '1m' };

/**
 * Queries over series only a cluster has, by panel (query positions in it),
 * with the reason. They must still parse and evaluate here, return nothing,
 * and read a cluster metric; every other query must return data.
 */
const CLUSTER_ONLY: ReadonlyArray<{ panel: string; queries: 'all' | number[]; reason: string }> = [
  {
    panel: 'CPU used against request and limit',
    queries: 'all',
    reason: "cAdvisor (the kubelet's container_*) and kube-state-metrics requests and limits",
  },
  {
    panel: 'Memory used against request and limit',
    queries: 'all',
    reason: "cAdvisor (the kubelet's container_*) and kube-state-metrics requests and limits",
  },
  { panel: 'GPU utilisation', queries: 'all', reason: "NVIDIA's DCGM exporter on GPU nodes" },
  {
    panel: 'GPU memory used and GPUs requested',
    queries: 'all',
    reason: "NVIDIA's DCGM exporter on GPU nodes, kube-state-metrics requests",
  },
  {
    panel: 'Replicas and HPA bounds by track',
    queries: [1, 2, 3, 4],
    reason: "kube-state-metrics' HorizontalPodAutoscaler series (the pods count, query 0, is live)",
  },
  { panel: 'Container restarts (1 h)', queries: 'all', reason: "kube-state-metrics' container restarts" },
];

const dashboard = buildDashboard(model);
const positioned = dashboard.queries.map((q, i) => ({
  ...q,
  index: dashboard.queries.slice(0, i).filter((p) => p.panel === q.panel).length,
}));
const clusterOnly = (q: { panel: string; index: number }) =>
  CLUSTER_ONLY.some((c) => c.panel === q.panel && (c.queries === 'all' || c.queries.includes(q.index)));
const liveQueries = positioned.filter((q) => !clusterOnly(q));
const clusterQueries = positioned.filter(clusterOnly);
const recordingRules = buildPrometheusRule(model).recordingRules;

/** The pod names the targets get, as the ServiceMonitor would label them (Deployment-hash-suffix). */
const podName = (track: 'main' | 'canary') =>
  `${model.name}${track === 'canary' ? '-canary' : ''}-7d9c8b6f5-${track === 'main' ? 'x2k4q' : 'p9m3v'}`;
const hpaName = (track: 'main' | 'canary') => (track === 'canary' ? `${model.name}-canary` : model.name);
/** What the synthetic cluster series say, per track, for the checks of the joins. */
const CLUSTER = {
  main: { cpuRequest: 4, cpuLimit: 8, minReplicas: 2, maxReplicas: 6, restarts: 3 },
  canary: { cpuRequest: 4, cpuLimit: 8, minReplicas: 1, maxReplicas: 2, restarts: 0 },
} as const;

/**
 * Series shaped like cAdvisor's (through the kubelet), kube-state-metrics'
 * and NVIDIA's DCGM exporter's, with the names and labels their docs give,
 * for this test's two pods and HPAs. None of those exporters can run here;
 * the page is empty until a test turns it on, so the cluster-only queries are
 * first seen to return nothing, then to join these series to the model's
 * pods and tracks correctly. Scraped with honor_labels, as kube-prometheus-stack
 * scrapes kube-state-metrics, so namespace and pod name the model's pod.
 */
let clusterSeriesOn = false;
const clusterStart = Date.now();
function clusterPage(): string {
  if (!clusterSeriesOn) return '# no series yet\n';
  const lines: string[] = [];
  const seconds = (Date.now() - clusterStart) / 1000;
  for (const track of ['main', 'canary'] as const) {
    const c = CLUSTER[track];
    const pod = `namespace="${NAMESPACE}",pod="${podName(track)}"`;
    const container = `${pod},container="tfserving"`;
    const hpa = `namespace="${NAMESPACE}",horizontalpodautoscaler="${hpaName(track)}"`;
    lines.push(
      `container_cpu_usage_seconds_total{${container},cpu="total",image="tensorflow/serving:2.19.0-gpu"} ${(seconds * 1.5).toFixed(3)}`,
      `container_memory_working_set_bytes{${container},image="tensorflow/serving:2.19.0-gpu"} 6442450944`,
      `kube_pod_container_resource_requests{${container},node="n1",resource="cpu",unit="core"} ${c.cpuRequest}`,
      `kube_pod_container_resource_limits{${container},node="n1",resource="cpu",unit="core"} ${c.cpuLimit}`,
      `kube_pod_container_resource_requests{${container},node="n1",resource="memory",unit="byte"} 17179869184`,
      `kube_pod_container_resource_limits{${container},node="n1",resource="memory",unit="byte"} 17179869184`,
      `kube_pod_container_resource_requests{${container},node="n1",resource="nvidia_com_gpu",unit="integer"} 1`,
      `kube_pod_container_status_restarts_total{${container}} ${seconds > 5 ? c.restarts : 0}`,
      `kube_pod_container_status_restarts_total{${pod},container="model-sync"} 0`,
      `kube_horizontalpodautoscaler_spec_min_replicas{${hpa}} ${c.minReplicas}`,
      `kube_horizontalpodautoscaler_spec_max_replicas{${hpa}} ${c.maxReplicas}`,
      `kube_horizontalpodautoscaler_status_current_replicas{${hpa}} 1`,
      `kube_horizontalpodautoscaler_status_desired_replicas{${hpa}} 1`,
      `DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-${track}",modelName="NVIDIA A10G",${container}} 40`,
      `DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-${track}",modelName="NVIDIA A10G",${container}} 20000`,
    );
  }
  // Another model's pod in the same namespace: the joins must leave it out.
  lines.push(
    `kube_pod_container_resource_requests{namespace="${NAMESPACE}",pod="other-5c6d7e8f9-abcde",container="tfserving",node="n1",resource="cpu",unit="core"} 99`,
    `kube_horizontalpodautoscaler_spec_max_replicas{namespace="${NAMESPACE}",horizontalpodautoscaler="other"} 99`,
  );
  return `${lines.join('\n')}\n`;
}
let clusterExporter: http.Server;

type Prometheus = Awaited<ReturnType<typeof startPrometheus>>;
// The sidecars' logs are not what this test is about.
const quiet = createSyncLogger({ write: () => true }, 'error');

let s3: S3Server;
let faults: http.Server;
let faultyGets = 0;
let prometheus: Prometheus;
const fakes: FakeServing[] = [];
const sidecars: Array<{ stop: () => Promise<void>; port: number }> = [];
let traffic: { stop: () => Promise<number> } | undefined;
const dirs: string[] = [];

const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-live-prom-'));
  dirs.push(dir);
  return dir;
};

async function waitFor(check: () => Promise<boolean>, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * In front of the embedded S3: answers the first download of a file of
 * version 1 with S3's 503 SlowDown, so the sidecar retries and counts a sync
 * error as it would against a throttling bucket; everything else passes.
 */
async function startThrottlingProxy(upstream: string, prefix: string): Promise<string> {
  const target = new URL(upstream);
  faults = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (faultyGets === 0 && req.method === 'GET' && url.startsWith(`/${BUCKET}/${prefix}/1/`)) {
      faultyGets++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>slow down</Message></Error>',
      );
      return;
    }
    const forward = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => faults.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(faults.address() as AddressInfo).port}`;
}

async function startSidecar(options: Parameters<typeof runSidecar>[0]): Promise<number> {
  const stop = new AbortController();
  let port = 0;
  const running = runSidecar({
    ...options,
    intervalMs: 500,
    host: '127.0.0.1',
    port: 0,
    logger: quiet,
    signal: stop.signal,
    onListening: (p) => {
      port = p;
    },
  });
  running.catch(() => undefined);
  await waitFor(
    async () => port > 0,
    10_000,
    () => 'sidecar not listening',
  );
  sidecars.push({
    port,
    stop: async () => {
      stop.abort();
      await running.catch(() => undefined);
    },
  });
  return port;
}

/** Predict calls to both tracks until stopped, one at a time per track. */
function driveTraffic(): { stop: () => Promise<number> } {
  let stopped = false;
  let sent = 0;
  const loop = async (fake: FakeServing) => {
    while (!stopped) {
      await fetch(`${fake.restUrl}/v1/models/${model.name}:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: [1.0, 2.0, 5.0] }),
      })
        .then((r) => r.arrayBuffer())
        .catch(() => undefined);
      sent++;
      // About 50 calls a second per track: plenty for rates, light on a two-core CI machine.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const loops = fakes.map(loop);
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      return sent;
    },
  };
}

const nonEmpty = (result: Array<{ value: [number, string] }>) =>
  result.some((sample) => Number.isFinite(Number(sample.value[1])));

beforeAll(async () => {
  s3 = await startS3();
  const location: ModelLocation = { bucket: BUCKET, prefix: 'catalog/image-tagger', name: model.name };
  const direct = createS3Client({ endpoint: s3.endpoint, maxAttempts: 3 });
  await push({ client: direct, location, dir: halfPlusTwo });
  await push({ client: direct, location, dir: halfPlusTwoTf2 });
  await release({ client: direct, location, request: { serve: [1, 2], labels: { stable: 1, canary: 2 } } });

  // Main pods serve version 1 (stable), canary pods version 2; the canary fails more often and is slower.
  for (const [track, version] of [
    ['main', 1],
    ['canary', 2],
  ] as const) {
    const fake = await startFakeServing({
      models: [fakeModel({ name: model.name, versions: [version] })],
      grpc: false,
      monitoring: { batching: true, modelBasePath: '/models' },
    });
    fake.setTraffic(model.name, {
      errorRate: track === 'main' ? 0.05 : 0.3,
      latency: track === 'main' ? { medianMs: 2, p99Ms: 20 } : { medianMs: 6, p99Ms: 40 },
      seed: version,
    });
    fakes.push(fake);
  }

  const throttled = await startThrottlingProxy(s3.endpoint, location.prefix);
  const ports: Record<'main' | 'canary', number> = {
    main: await startSidecar({
      client: createS3Client({ endpoint: throttled, maxAttempts: 1 }),
      location,
      dest: tempDir(),
      track: 'stable',
      servingUrl: `${fakes[0]!.restUrl}/v1/models/${model.name}`,
    }),
    canary: await startSidecar({
      client: direct,
      location,
      dest: tempDir(),
      track: 'canary',
      servingUrl: `${fakes[1]!.restUrl}/v1/models/${model.name}`,
    }),
  };

  const target = (track: 'main' | 'canary', address: string, container: string, endpoint: string) => ({
    targets: [address],
    labels: {
      namespace: NAMESPACE,
      pod: podName(track),
      service: hpaName(track),
      container,
      endpoint,
      [MODEL_LABEL]: model.name,
      [TRACK_LABEL]: track,
    },
  });
  const rulesFile = path.join(tempDir(), 'rules.json');
  // Prometheus reads rule files as YAML, and JSON is YAML.
  fs.writeFileSync(rulesFile, JSON.stringify({ groups: buildPrometheusRule(model).groups }));
  clusterExporter = http.createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(clusterPage());
  });
  await new Promise<void>((resolve) => clusterExporter.listen(0, '127.0.0.1', resolve));
  prometheus = await startPrometheus({
    ruleFiles: [rulesFile],
    scrapeConfigs: [
      {
        job_name: 'tfserving',
        metrics_path: model.monitoring.path,
        static_configs: fakes.map((fake, i) =>
          target(i === 0 ? 'main' : 'canary', new URL(fake.restUrl).host, 'tfserving', 'http'),
        ),
      },
      {
        job_name: 'model-sync',
        metrics_path: '/metrics',
        static_configs: (['main', 'canary'] as const).map((track) =>
          target(track, `127.0.0.1:${ports[track]}`, 'model-sync', 'sync-metrics'),
        ),
      },
      {
        job_name: 'cluster-exporters',
        honor_labels: true,
        static_configs: [{ targets: [`127.0.0.1:${(clusterExporter.address() as AddressInfo).port}`] }],
      },
    ],
  });
  await prometheus.waitForTargetsUp();
  traffic = driveTraffic();
  // A release while Prometheus watches (the canary label moves to version 1): the release
  // annotation marks it, and every pod must reach generation 2.
  await waitFor(
    async () => nonEmpty(await prometheus.query(`catwalk_sync_release_generation == 1`)),
    60_000,
    () => 'no sidecar reported generation 1',
  );
  await release({ client: direct, location, request: { labels: { canary: 1 } } });

  // Data arrives scrape by scrape; wait (bounded) until every live query and rule has some.
  const missing = async () => {
    const empty: string[] = [];
    for (const q of liveQueries) {
      if (!nonEmpty(await prometheus.query(interpolate(q.expr, values)))) empty.push(`${q.panel}: ${q.expr}`);
    }
    for (const r of recordingRules) {
      if (!nonEmpty(await prometheus.query(r.record))) empty.push(`rule ${r.record}`);
    }
    return empty;
  };
  let last: string[] = [];
  await waitFor(
    async () => {
      last = await missing();
      return last.length === 0;
    },
    150_000,
    () => `still without data:\n${last.join('\n')}`,
  ).catch(() => undefined); // the tests below name what is missing
}, 240_000);

afterAll(async () => {
  await traffic?.stop();
  await prometheus?.stop();
  for (const car of sidecars) await car.stop();
  for (const fake of fakes) await fake.close();
  faults?.closeAllConnections();
  faults?.close();
  clusterExporter?.closeAllConnections();
  clusterExporter?.close();
  await s3?.stop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a real Prometheus over the fake TF Serving and real sync sidecars', () => {
  it('the sidecar really met a throttled download (the errors panel has something to show)', () => {
    expect(faultyGets).toBe(1);
  });

  it.each(liveQueries.map((q) => [`${q.panel} #${q.index}`, q]))('%s returns data', async (_, q) => {
    const result = await prometheus.query(interpolate(q.expr, values));
    if (!nonEmpty(result)) throw new Error(`no data for ${q.expr}`);
  });

  it.each(recordingRules.map((r) => [r.record, r]))(
    'recording rule %s evaluates, and its expression returns data',
    async (_, rule) => {
      const groups = await prometheus.rules();
      const loaded = groups.flatMap((g) => g.rules).filter((r) => r.name === rule.record);
      expect(loaded.length).toBeGreaterThan(0);
      for (const r of loaded)
        expect({ rule: r.name, health: r.health, error: r.lastError ?? '' }).toEqual({
          rule: rule.record,
          health: 'ok',
          error: '',
        });
      expect(nonEmpty(await prometheus.query(rule.expr))).toBe(true);
      expect(nonEmpty(await prometheus.query(rule.record))).toBe(true);
    },
  );

  // One test, so the two halves cannot run in the other order (or one without the other under -t).
  it('cluster-only queries evaluate to nothing without the cluster’s exporters, then, with series shaped like theirs, join them to this model’s pods and tracks', async () => {
    expect(clusterSeriesOn).toBe(false);
    expect(clusterQueries.length).toBeGreaterThan(0);
    for (const q of clusterQueries) {
      // query() throws on a syntax or evaluation error (Prometheus answers status "error").
      const result = await prometheus.query(interpolate(q.expr, values));
      expect({ query: q.expr, result }).toEqual({ query: q.expr, result: [] });
      const cluster = metricNames(interpolate(q.expr, values)).filter((m) =>
        (CLUSTER_METRICS as readonly string[]).includes(m),
      );
      expect({ query: q.expr, cluster: cluster.length > 0 }).toEqual({ query: q.expr, cluster: true });
    }
    // Every entry of the list names a panel of the dashboard (no stale entries).
    for (const entry of CLUSTER_ONLY) expect(dashboard.queries.map((q) => q.panel)).toContain(entry.panel);
    clusterSeriesOn = true;
    let empty: string[] = [];
    await waitFor(
      async () => {
        empty = [];
        for (const q of clusterQueries) {
          if (!nonEmpty(await prometheus.query(interpolate(q.expr, values))))
            empty.push(`${q.panel}: ${q.expr}`);
        }
        return empty.length === 0;
      },
      60_000,
      () => `still without data:\n${empty.join('\n')}`,
    );
    const run = async (panel: string, index: number) => {
      const q = positioned.find((p) => p.panel === panel && p.index === index)!;
      return prometheus.query(interpolate(q.expr, values));
    };
    const byTrack = (result: Array<{ metric: Record<string, string>; value: [number, string] }>) =>
      Object.fromEntries(result.map((r) => [r.metric[TRACK_LABEL], Number(r.value[1])]));
    // HPA bounds reach the track whose Service is named like the HPA; the other model's HPA stays out.
    expect(byTrack(await run('Replicas and HPA bounds by track', 4))).toEqual({
      main: CLUSTER.main.maxReplicas,
      canary: CLUSTER.canary.maxReplicas,
    });
    expect(byTrack(await run('Replicas and HPA bounds by track', 3))).toEqual({
      main: CLUSTER.main.minReplicas,
      canary: CLUSTER.canary.minReplicas,
    });
    // Request and limit lines: this model's pods only (the other pod requests 99 cores).
    expect((await run('CPU used against request and limit', 1)).map((r) => Number(r.value[1]))).toEqual([4]);
    expect((await run('CPU used against request and limit', 2)).map((r) => Number(r.value[1]))).toEqual([8]);
    // Usage per pod, labelled with its track.
    const cpu = await run('CPU used against request and limit', 0);
    expect(cpu.map((r) => [r.metric[TRACK_LABEL], r.metric.pod]).sort()).toEqual([
      ['canary', podName('canary')],
      ['main', podName('main')],
    ]);
    for (const r of cpu) expect(Number(r.value[1])).toBeGreaterThan(0);
  });

  it('latency panels put main and canary side by side, and the track variable narrows to one', async () => {
    const p99 = positioned.find((q) => q.panel === 'Latency p99 by track')!;
    const both = await prometheus.query(interpolate(p99.expr, values));
    expect(both.map((s) => s.metric[TRACK_LABEL]).sort()).toEqual(['canary', 'main']);
    const canary = await prometheus.query(interpolate(p99.expr, { ...values, track: 'canary' }));
    expect(canary.map((s) => s.metric[TRACK_LABEL])).toEqual(['canary']);
  });

  it('the error ratio panel tells the failing canary from the main track', async () => {
    const ratio = positioned.find((q) => q.panel === 'Error ratio by track')!;
    const result = await prometheus.query(interpolate(ratio.expr, values));
    const byTrack = Object.fromEntries(result.map((s) => [s.metric[TRACK_LABEL], Number(s.value[1])]));
    // The fake fails 5% of the main track's calls and 30% of the canary's.
    expect(byTrack.canary).toBeGreaterThan(byTrack.main!);
    expect(byTrack.main).toBeGreaterThanOrEqual(0);
    expect(byTrack.canary).toBeLessThan(1);
  });

  it('the release generation panel shows each pod at the generation in S3, and the release is marked', async () => {
    const generation = positioned.find((q) => q.panel === 'Release generation by pod')!;
    const result = await prometheus.query(interpolate(generation.expr, values));
    expect(result.map((s) => Number(s.value[1]))).toEqual([2, 2]);
    const marks = await prometheus.query(interpolate(RELEASE_ANNOTATION_EXPR, values));
    expect(marks.map((s) => s.metric[TRACK_LABEL]).sort()).toEqual(['canary', 'main']);
  });
});
