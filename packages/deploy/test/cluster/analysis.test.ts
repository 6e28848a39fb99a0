// The experiment analysis against a real Prometheus (Debian's package, from
// tools/prometheus) scraping two instances of @catwalk/testing's fake TF
// Serving, one per track, each scrape labelled with its track. The fake
// stands in for TF Serving (which cannot run here); it serves TF Serving's
// metric names, labels and buckets, and the error shares and latencies each
// scenario sets. Requests are real HTTP calls to the fakes; each step waits
// until Prometheus has scraped what was sent, then asks for a verdict.
import { defaults } from '@catwalk/schema';
import { type FakeServing, halfPlusTwo, startFakeServing, type TrafficBehaviour } from '@catwalk/testing';
import { analyseExperiment, type Decision, PrometheusQueryError } from '../../src/analysis';

const { startPrometheus } = require('../../../../tools/prometheus/run.cjs') as {
  startPrometheus(options: { scrapeConfigs: unknown[]; scrapeInterval?: string }): Promise<{
    url: string;
    stop(): Promise<void>;
    waitForTargetsUp(): Promise<unknown>;
    query(expr: string): Promise<Array<{ value: [number, string] }>>;
  }>;
};

const NAMESPACE = 'models';
const MODELS = ['healthy', 'clean', 'errors3x', 'slow2x', 'quiet'] as const;
const thresholds = defaults.experimentAnalysis;

let stable: FakeServing;
let canary: FakeServing;
let prometheus: Awaited<ReturnType<typeof startPrometheus>>;

beforeAll(async () => {
  const models = MODELS.map((name) => halfPlusTwo({ name }));
  stable = await startFakeServing({ models, grpc: false, monitoring: true });
  canary = await startFakeServing({ models, grpc: false, monitoring: true });
  const target = (fake: FakeServing) => new URL(fake.restUrl).host;
  prometheus = await startPrometheus({
    scrapeInterval: '1s',
    scrapeConfigs: [
      {
        job_name: 'tfserving',
        metrics_path: '/monitoring/prometheus/metrics',
        static_configs: [
          { targets: [target(stable)], labels: { track: 'stable', namespace: NAMESPACE } },
          { targets: [target(canary)], labels: { track: 'canary', namespace: NAMESPACE } },
        ],
      },
    ],
  });
  await prometheus.waitForTargetsUp();
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await stable?.close();
  await canary?.close();
});

async function send(fake: FakeServing, model: string, count: number): Promise<void> {
  const one = async () => {
    const res = await fetch(`${fake.restUrl}/v1/models/${model}:predict`, {
      method: 'POST',
      body: '{"instances": [1.0]}',
    });
    await res.arrayBuffer();
  };
  // 16 calls in flight at a time: quick, and gentle on a two-core machine.
  for (let sent = 0; sent < count; sent += 16) {
    await Promise.all(Array.from({ length: Math.min(16, count - sent) }, one));
  }
}

/** Waits until Prometheus's last scrape of each track has every request sent so far. */
async function waitForScrape(model: string, sent: { stable: number; canary: number }): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const counts = await Promise.all(
      (['stable', 'canary'] as const).map(async (track) => {
        const result = await prometheus.query(
          `sum({__name__=":tensorflow:serving:request_count", model_name="${model}", track="${track}"})`,
        );
        return Number(result[0]?.value[1] ?? 0);
      }),
    );
    if (counts[0] === sent.stable && counts[1] === sent.canary) return;
    if (Date.now() > deadline) {
      throw new Error(
        `Prometheus shows ${counts.join('/')} requests for ${model}, ${sent.stable}/${sent.canary} were sent`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface Scenario {
  readonly model: (typeof MODELS)[number];
  readonly stable: TrafficBehaviour;
  readonly canary: TrafficBehaviour;
  /** Requests per track in each step. */
  readonly perStep: number;
  readonly steps: number;
}

/** Runs the steps, asking for a verdict after each, and stops at the first failure as the experiment would. */
async function runSteps(s: Scenario): Promise<Decision[]> {
  // TF Serving creates a series at its first increment, and increase() cannot
  // see what happened before Prometheus's first sample of it. In production
  // that is at most one scrape interval of traffic; a test step is a burst
  // shorter than that. So one failed and one good call per track first, and
  // a scrape of them, before the experiment starts.
  const sent = { stable: 2, canary: 2 };
  for (const fake of [stable, canary]) {
    fake.setTraffic(s.model, { errorRate: 1 });
    await send(fake, s.model, 1);
    fake.setTraffic(s.model, {});
    await send(fake, s.model, 1);
  }
  await waitForScrape(s.model, sent);
  stable.setTraffic(s.model, s.stable);
  canary.setTraffic(s.model, s.canary);
  const started = Date.now();
  const decisions: Decision[] = [];
  for (let step = 0; step < s.steps; step++) {
    await Promise.all([send(stable, s.model, s.perStep), send(canary, s.model, s.perStep)]);
    sent.stable += s.perStep;
    sent.canary += s.perStep;
    await waitForScrape(s.model, sent);
    const decision = await analyseExperiment({
      prometheusUrl: prometheus.url,
      model: s.model,
      namespace: NAMESPACE,
      // Everything since the experiment started, and the scrape just before it.
      window: Math.ceil((Date.now() - started) / 1000) + 3,
      thresholds,
    });
    decisions.push(decision);
    if (decision.verdict === 'fail') break;
  }
  return decisions;
}

const latency = { medianMs: 10, p99Ms: 20 };

test('a healthy canary at 1% errors is not passed on 1,200 requests: it is inconclusive and says how many more it needs', async () => {
  const decisions = await runSteps({
    model: 'healthy',
    stable: { errorRate: 0.01, latency, seed: 11 },
    canary: { errorRate: 0.01, latency, seed: 12 },
    perStep: 300,
    steps: 4,
  });
  expect(decisions.map((d) => d.verdict)).toEqual([
    'inconclusive',
    'inconclusive',
    'inconclusive',
    'inconclusive',
  ]);
  expect(decisions[0]!.reason).toMatch(/^too few requests/);
  const last = decisions.at(-1)!;
  expect(last.reason).toMatch(/^not yet shown within the thresholds \(error rate/);
  expect(last.reason).toMatch(/about [\d,]+ more canary requests/);
  // increase() extrapolates a little: the counts are close to, not exactly, what was sent.
  expect(last.tracks.canary.requests).toBeGreaterThan(1100);
  expect(last.tracks.canary.requests).toBeLessThan(1400);
  expect(last.tracks.stable.errorRate).toBeGreaterThan(0.002);
  expect(last.tracks.stable.errorRate).toBeLessThan(0.03);
  expect(last.tracks.canary.p50Ms).toBeGreaterThan(8);
  expect(last.tracks.canary.p99Ms).toBeGreaterThan(last.tracks.canary.p50Ms!);
});

test('a canary as good as stable passes once the traffic shows it within the thresholds', async () => {
  const decisions = await runSteps({
    model: 'clean',
    stable: { latency, seed: 51 },
    canary: { latency, seed: 52 },
    perStep: 1000,
    steps: 4,
  });
  expect(decisions.map((d) => d.verdict)).not.toContain('fail');
  const last = decisions.at(-1)!;
  expect(last.verdict).toBe('pass');
  expect(last.reason).toMatch(
    /^no regression after [\d,]+ canary requests: error rate: canary 0\.00% vs stable 0\.00%, upper bound/,
  );
});

test('a canary with 3x the errors (2% vs 6%) fails on its error rate within 4 steps of 300 requests per track', async () => {
  const decisions = await runSteps({
    model: 'errors3x',
    stable: { errorRate: 0.02, latency, seed: 21 },
    canary: { errorRate: 0.06, latency, seed: 22 },
    perStep: 300,
    steps: 6,
  });
  const last = decisions.at(-1)!;
  expect(last.verdict).toBe('fail');
  expect(last.reason).toMatch(/^error rate: canary \d+\.\d+% vs stable \d+\.\d+%/);
  expect(decisions.length).toBeLessThanOrEqual(4);
  // No verdict before both tracks had minRequests.
  expect(decisions[0]!.verdict).toBe('inconclusive');
});

test('a canary with 2x the latency (p99 40 ms vs 20 ms) fails on latency at its first verdict', async () => {
  const decisions = await runSteps({
    model: 'slow2x',
    stable: { latency, seed: 31 },
    canary: { latency: { medianMs: 20, p99Ms: 40 }, seed: 32 },
    perStep: 300,
    steps: 4,
  });
  const last = decisions.at(-1)!;
  expect(last.verdict).toBe('fail');
  expect(last.reason).toMatch(/^latency: .* of canary requests took longer than/);
  expect(decisions.map((d) => d.verdict)).toEqual(['inconclusive', 'fail']);
  expect(last.tracks.canary.p99Ms!).toBeGreaterThan(last.tracks.stable.p99Ms!);
});

test('too little traffic gives no verdict and says how many requests are missing', async () => {
  const decisions = await runSteps({
    model: 'quiet',
    stable: { errorRate: 0.5, seed: 41 },
    canary: { errorRate: 0.9, seed: 42 },
    perStep: 60,
    steps: 2,
  });
  expect(decisions.map((d) => d.verdict)).toEqual(['inconclusive', 'inconclusive']);
  expect(decisions[1]!.reason).toMatch(
    /each track needs 500 in the window; canary has \d+ \(\d+ more needed\)/,
  );
});

test('a query Prometheus refuses is reported with the server and the query', async () => {
  const run = analyseExperiment({
    prometheusUrl: prometheus.url,
    model: 'healthy',
    window: '30s',
    thresholds,
    // A matcher on a label name Prometheus accepts but a regex it does not.
    trackSelector: { stable: 'track=~"("', canary: 'track="canary"' },
  });
  await expect(run).rejects.toThrow(PrometheusQueryError);
  await expect(run).rejects.toThrow(`Prometheus at ${prometheus.url} could not answer`);
  await expect(run).rejects.toThrow(/bad_data/);
});
