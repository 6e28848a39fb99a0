// The fake's Prometheus page: TF Serving's metric names, labels and bucket
// limits (servables/tensorflow/util.cc, util/prometheus_exporter.cc), read
// back after real REST and gRPC calls. Every page goes through a Prometheus
// text-format parser (parse-prometheus-text-format, which throws on a line
// Prometheus would refuse); that parser merges a histogram's label sets, so
// histogram points are read from their sample lines here. The cluster suite
// has a real Prometheus scrape the page (test/cluster/analysis.test.ts in
// @catwalk/deploy).
import { createClient } from '@catwalk/client';
import {
  DEFAULT_MONITORING_PATH,
  type FakeServing,
  halfPlusTwo,
  LATENCY_BUCKETS_MICROS,
  startFakeServing,
} from '@catwalk/testing';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

interface ParsedMetric {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
interface ParsedFamily {
  name: string;
  type: string;
  metrics: ParsedMetric[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\} (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Histogram points from the page's sample lines: one per label set, buckets keyed by le. */
function histogramPoints(text: string, name: string): ParsedMetric[] {
  const points = new Map<string, Required<Pick<ParsedMetric, 'labels' | 'buckets'>> & ParsedMetric>();
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (!m || !m[1]!.startsWith(name)) continue;
    const suffix = m[1]!.slice(name.length);
    if (suffix !== '_bucket' && suffix !== '_sum' && suffix !== '_count') continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(LABEL)].map((l) => [l[1]!, l[2]!]));
    const le = labels.le;
    delete labels.le;
    const key = JSON.stringify(labels);
    const point = points.get(key) ?? { labels, buckets: {} };
    points.set(key, point);
    if (suffix === '_bucket') point.buckets[le!] = m[3]!;
    if (suffix === '_sum') point.sum = m[3]!;
    if (suffix === '_count') point.count = m[3]!;
  }
  return [...points.values()];
}

async function scrape(fake: FakeServing): Promise<ParsedFamily[]> {
  const res = await fetch(fake.metricsUrl);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain');
  const text = await res.text();
  // Throws on any line a Prometheus scrape would refuse.
  const families = parsePrometheusTextFormat(text) as ParsedFamily[];
  return families.map((f) => (f.type === 'HISTOGRAM' ? { ...f, metrics: histogramPoints(text, f.name) } : f));
}

function family(families: ParsedFamily[], name: string): ParsedFamily {
  const found = families.find((f) => f.name === name);
  if (!found) throw new Error(`no ${name} in ${families.map((f) => f.name).join(', ')}`);
  return found;
}

function counterValue(families: ParsedFamily[], name: string, labels: Record<string, string>): number {
  const point = family(families, name).metrics.find((m) =>
    Object.entries(labels).every(([k, v]) => m.labels?.[k] === v),
  );
  return point ? Number(point.value) : 0;
}

async function predictRest(fake: FakeServing, model: string): Promise<number> {
  const res = await fetch(`${fake.restUrl}/v1/models/${model}:predict`, {
    method: 'POST',
    body: '{"instances": [1.0, 2.0]}',
  });
  await res.text();
  return res.status;
}

describe('monitoring page', () => {
  let fake: FakeServing;
  beforeAll(async () => {
    fake = await startFakeServing({
      monitoring: true,
      models: [halfPlusTwo(), halfPlusTwo({ name: 'two', versions: [1, 2], policy: { all: true } })],
    });
  });
  afterAll(() => fake.close());

  test('is served on TF Serving default path with TYPE lines for every metric, even without points', async () => {
    expect(fake.metricsUrl).toBe(`${fake.restUrl}${DEFAULT_MONITORING_PATH}`);
    const text = await (await fetch(fake.metricsUrl)).text();
    expect(text).toContain('# TYPE :tensorflow:serving:request_count counter\n');
    expect(text).toContain('# TYPE :tensorflow:serving:request_latency histogram\n');
    expect(text).toContain('# TYPE :tensorflow:serving:model_warmup_latency histogram\n');
    expect(text).toContain('# TYPE :tensorflow:cc:saved_model:load_latency counter\n');
    // Batching metrics only exist when batching is on.
    expect(text).not.toContain('batching_session');
    expect(text.endsWith('\n')).toBe(true);
  });

  test('load and warm-up metrics name each loaded version by its path', async () => {
    const families = await scrape(fake);
    expect(
      counterValue(families, ':tensorflow:cc:saved_model:load_attempt_count', {
        model_path: '/models/two/2',
        status: 'success',
      }),
    ).toBe(1);
    expect(
      counterValue(families, ':tensorflow:cc:saved_model:load_latency', { model_path: '/models/two/1' }),
    ).toBe(250_000);
    const warmup = family(families, ':tensorflow:serving:model_warmup_latency').metrics;
    expect(warmup.map((m) => m.labels)).toEqual([
      { model_path: '/models/half_plus_two/123', status: 'OK' },
      { model_path: '/models/two/1', status: 'OK' },
      { model_path: '/models/two/2', status: 'OK' },
    ]);
  });

  test('a version that becomes available later is counted as a load', async () => {
    fake.addModel(halfPlusTwo({ name: 'late', versions: [1, 2], policy: { specific: [1] } }));
    fake.setVersionState('late', 2, 'AVAILABLE');
    const families = await scrape(fake);
    expect(
      counterValue(families, ':tensorflow:cc:saved_model:load_attempt_count', {
        model_path: '/models/late/2',
      }),
    ).toBe(1);
  });

  test("request_latency has TF Serving's 34 buckets: 10 µs × 1.8^i, six significant digits, then +Inf", async () => {
    expect(await predictRest(fake, 'half_plus_two')).toBe(200);
    const families = await scrape(fake);
    const point = family(families, ':tensorflow:serving:request_latency').metrics.find(
      (m) => m.labels?.model_name === 'half_plus_two',
    )!;
    expect(point.labels).toEqual({ model_name: 'half_plus_two', API: 'Predict', entrypoint: 'REST' });
    // Integer-like keys come first in a JS object: sort the limits by value.
    const value = (le: string) => (le === '+Inf' ? Infinity : Number(le));
    const les = Object.keys(point.buckets!).sort((a, b) => value(a) - value(b));
    expect(les).toHaveLength(34);
    expect(les.slice(0, 6)).toEqual(['10', '18', '32.4', '58.32', '104.976', '188.957']);
    expect(les[les.length - 1]).toBe('+Inf');
    // Large limits switch to exponent notation as %g does (10 × 1.8^32 ≈ 1.47e9 µs).
    expect(les[32]).toBe('1.47476e+09');
    les.slice(0, 33).forEach((le, i) => {
      expect(Math.abs(Number(le) / LATENCY_BUCKETS_MICROS[i]! - 1)).toBeLessThan(1e-5);
    });
    expect(Number(point.count)).toBe(1);
    expect(Number(point.buckets!['+Inf'])).toBe(1);
  });

  test('monitoring off: the path is not served (libevent 404 outside /v1)', async () => {
    const plain = await startFakeServing({ models: [halfPlusTwo()], grpc: false });
    try {
      expect(plain.metricsUrl).toBe('');
      const res = await fetch(`${plain.restUrl}${DEFAULT_MONITORING_PATH}`);
      expect(res.status).toBe(404);
      expect(await res.text()).toBe('');
    } finally {
      await plain.close();
    }
  });

  test('a monitoring path inside /v1 is refused with the field named', async () => {
    await expect(
      startFakeServing({ models: [halfPlusTwo()], monitoring: { path: '/v1/metrics' } }),
    ).rejects.toThrow(/monitoring\.path .* outside \/v1/);
  });
});

describe('requests move the series', () => {
  let fake: FakeServing;
  beforeEach(async () => {
    fake = await startFakeServing({
      monitoring: { batching: true, warmupMs: null },
      models: [halfPlusTwo(), halfPlusTwo({ name: 'other' })],
    });
  });
  afterEach(() => fake.close());

  test('an error share set by the test shows in request_count by status; latency counts successes only', async () => {
    fake.setTraffic('half_plus_two', { errorRate: 0.25, errorCode: 'UNAVAILABLE', seed: 7 });
    const statuses: number[] = [];
    for (let i = 0; i < 400; i++) statuses.push(await predictRest(fake, 'half_plus_two'));
    const failed = statuses.filter((s) => s === 503).length;
    expect(failed + statuses.filter((s) => s === 200).length).toBe(400);
    // 400 draws at 25%: a binomial standard deviation is about 8.7.
    expect(failed).toBeGreaterThan(60);
    expect(failed).toBeLessThan(140);

    const families = await scrape(fake);
    const count = (status: string) =>
      counterValue(families, ':tensorflow:serving:request_count', { model_name: 'half_plus_two', status });
    expect(count('UNAVAILABLE')).toBe(failed);
    expect(count('OK')).toBe(400 - failed);
    const latency = family(families, ':tensorflow:serving:request_latency').metrics.find(
      (m) => m.labels?.model_name === 'half_plus_two',
    )!;
    expect(Number(latency.count)).toBe(400 - failed);
    // The other model is untouched.
    expect(counterValue(families, ':tensorflow:serving:request_count', { model_name: 'other' })).toBe(0);
  });

  test('a latency distribution set by the test shows in the histogram', async () => {
    // Log-normal, median 20 ms, p99 40 ms: 3% of draws under 11.6 ms, 98.6% under 37.5 ms.
    fake.setTraffic('half_plus_two', { latency: { medianMs: 20, p99Ms: 40 }, seed: 3 });
    for (let round = 0; round < 10; round++) {
      await Promise.all(Array.from({ length: 20 }, () => predictRest(fake, 'half_plus_two')));
    }
    const families = await scrape(fake);
    const point = family(families, ':tensorflow:serving:request_latency').metrics.find(
      (m) => m.labels?.model_name === 'half_plus_two',
    )!;
    const below = (le: string) => Number(point.buckets![le]) / Number(point.count);
    expect(Number(point.count)).toBe(200);
    // A call never answers before its drawn wait, so this bound holds under any load.
    expect(below('11568.3')).toBeLessThan(0.1);
    // Load can only add time; most calls still land under 37.5 ms.
    expect(below('37481.3')).toBeGreaterThan(0.6);
    // The sum is in microseconds: the mean of this distribution is about 21 ms.
    expect(Number(point.sum) / 200).toBeGreaterThan(18_000);

    // Batching on: the simulated wait is reported as time in the batching queue.
    const queuing = family(families, ':tensorflow:serving:batching_session:queuing_latency').metrics[0]!;
    expect(Number(queuing.count)).toBe(200);
    expect(counterValue(families, ':tensorflow:serving:batching_session:wrapped_run_count', {})).toBe(200);
  });

  test('gRPC calls are labelled entrypoint GRPC; failNext failures and unknown models count by their code', async () => {
    const client = createClient({
      baseUrl: fake.restUrl,
      grpcAddress: fake.grpcAddress,
      transport: 'grpc',
      retry: false,
    });
    try {
      await client.model('half_plus_two').predict({ x: [1, 2] });
      fake.failNext(2, { code: 'RESOURCE_EXHAUSTED' });
      await expect(client.model('half_plus_two').predict({ x: [1] })).rejects.toThrow();
      await expect(client.model('half_plus_two').predict({ x: [1] })).rejects.toThrow();
    } finally {
      await client.close();
    }
    // A model the server does not have is counted under its name too.
    expect(await predictRest(fake, 'missing')).toBe(404);
    const families = await scrape(fake);
    const count = (model: string, status: string) =>
      counterValue(families, ':tensorflow:serving:request_count', { model_name: model, status });
    expect(count('half_plus_two', 'OK')).toBe(1);
    expect(count('half_plus_two', 'RESOURCE_EXHAUSTED')).toBe(2);
    expect(count('missing', 'NOT_FOUND')).toBe(1);
    const latency = family(families, ':tensorflow:serving:request_latency').metrics;
    expect(latency.map((m) => m.labels)).toEqual([
      { model_name: 'half_plus_two', API: 'Predict', entrypoint: 'GRPC' },
    ]);
  });

  test('setTraffic refuses impossible settings with the field named', () => {
    expect(() => fake.setTraffic('half_plus_two', { errorRate: 3 })).toThrow(/errorRate must be a share/);
    expect(() => fake.setTraffic('half_plus_two', { latency: { medianMs: 20, p99Ms: 10 } })).toThrow(
      /p99Ms ≥ medianMs/,
    );
  });
});
