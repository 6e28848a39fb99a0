// The Prometheus HTTP API client against a loopback HTTP server that answers
// as Prometheus's /api/v1/query does (its success and error envelopes); the
// real Prometheus is in the cluster suite (test/cluster/analysis.test.ts).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaults } from '@catwalk/schema';
import {
  analyseExperiment,
  PrometheusQueryError,
  promDuration,
  queryInstant,
  trackQueries,
} from '../../src/analysis';

let server: Server;
let url: string;
let answer: (query: string) => { status: number; body: string };
const received: string[] = [];
let answerAt: (query: string, time: string | null) => { status: number; body: string };

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const query = params.get('query') ?? '';
      received.push(`${req.method} ${req.url} ${query}`);
      const { status, body } = answerAt ? answerAt(query, params.get('time')) : answer(query);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('a vector answer becomes samples; "+Inf" and "NaN" values survive', async () => {
  answer = () => ({
    status: 200,
    body: JSON.stringify({
      status: 'success',
      data: {
        resultType: 'vector',
        result: [
          { metric: { status: 'OK' }, value: [1700000000, '120.5'] },
          { metric: { le: '+Inf' }, value: [1700000000, '+Inf'] },
          { metric: {}, value: [1700000000, 'NaN'] },
        ],
      },
    }),
  });
  const samples = await queryInstant({ url: `${url}/` }, 'sum by (status) (x)', new Date(1_700_000_000_000));
  expect(samples[0]).toEqual({ metric: { status: 'OK' }, value: 120.5 });
  expect(samples[1]!.value).toBe(Infinity);
  expect(samples[2]!.value).toBeNaN();
  expect(received.at(-1)).toBe('POST /api/v1/query sum by (status) (x)');
});

test("Prometheus's own error names the server, the query and the reason", async () => {
  answer = () => ({
    status: 400,
    body: JSON.stringify({
      status: 'error',
      errorType: 'bad_data',
      error: 'invalid parameter "query": 1:5: parse error',
    }),
  });
  const run = queryInstant({ url }, 'rate(x[');
  await expect(run).rejects.toThrow(PrometheusQueryError);
  await expect(run).rejects.toThrow(
    `Prometheus at ${url} could not answer rate(x[: HTTP 400, bad_data: invalid parameter "query": 1:5: parse error`,
  );
});

test('a server that is not Prometheus is named as such', async () => {
  answer = () => ({ status: 502, body: '<html>Bad gateway</html>' });
  await expect(queryInstant({ url }, 'up')).rejects.toThrow(
    /HTTP 502 with a body that is not the Prometheus API's JSON/,
  );
});

test('nothing listening: the URL and the query are in the message', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await expect(queryInstant({ url: `http://127.0.0.1:${port}` }, 'up')).rejects.toThrow(
    `Prometheus at http://127.0.0.1:${port} could not answer up: request failed (ECONNREFUSED)`,
  );
});

test('a URL that is not one says how to give it', async () => {
  await expect(queryInstant({ url: 'prometheus:9090 ' }, 'up')).rejects.toThrow(
    /--analysis prometheus=http:/,
  );
});

describe('queries', () => {
  test('per track, over TF Serving metrics, with the namespace and the track label', () => {
    const q = trackQueries({
      model: 'pricing',
      namespace: 'ml',
      window: '600s',
      selector: 'track',
      track: 'canary',
    });
    const scope = 'model_name="pricing", namespace="ml", track="canary"';
    expect(q.requestsByStatus).toBe(
      `sum by (status) (increase({__name__=":tensorflow:serving:request_count", ${scope}}[600s]))`,
    );
    expect(q.p99).toBe(
      `histogram_quantile(0.99, sum by (le) (rate({__name__=":tensorflow:serving:request_latency_bucket", ${scope}}[600s])))`,
    );
  });

  test('only the queries the verdict reads', () => {
    const q = trackQueries({ model: 'm', window: '5m', selector: 'track', track: 'stable' });
    expect(Object.keys(q).sort()).toEqual(['latencyBuckets', 'p50', 'p99', 'requestsByStatus']);
  });

  test('custom matchers per track; a bad one names the field', () => {
    const q = trackQueries({
      model: 'm"x',
      window: '5m',
      selector: { stable: 'version="3"', canary: 'version="4", pod=~"m-canary.*"' },
      track: 'canary',
    });
    expect(q.latencyBuckets).toContain('model_name="m\\"x", version="4", pod=~"m-canary.*"');
    expect(() =>
      trackQueries({
        model: 'm',
        window: '5m',
        selector: { stable: 'version=3', canary: 'x="y"' },
        track: 'stable',
      }),
    ).toThrow(/trackSelector.stable must be PromQL label matchers/);
    expect(() => trackQueries({ model: 'm', window: '5m', selector: 'my-track', track: 'stable' })).toThrow(
      /not a Prometheus label name/,
    );
  });

  test('windows: seconds or Prometheus durations of at least a second', () => {
    expect(promDuration(90.2)).toEqual({ text: '91s', seconds: 91 });
    expect(promDuration('1h30m')).toEqual({ text: '1h30m', seconds: 5400 });
    expect(() => promDuration('10 minutes')).toThrow(/not a Prometheus duration/);
    expect(() => promDuration(0)).toThrow(/at least 1 second/);
  });
});

describe('analyseExperiment over step windows', () => {
  afterEach(() => {
    answerAt = undefined as unknown as typeof answerAt;
  });

  test('each step is asked for over its own window at its own end, and a drift across steps is no regression', async () => {
    const t0 = 1_700_000_000;
    // Both versions fail 1% of requests in the first step (5% canary) and 3%
    // in the second (50%): pooled, the canary would look 1.1 points worse.
    const traffic: Record<string, { stable: [number, number]; canary: [number, number] }> = {
      [`${t0 + 600}.000`]: { stable: [95_000, 0.01], canary: [5_000, 0.01] },
      [`${t0 + 900}.000`]: { stable: [50_000, 0.03], canary: [50_000, 0.03] },
    };
    answerAt = (query, time) => {
      const step = traffic[time ?? ''];
      const track = query.includes('track="canary"') ? 'canary' : 'stable';
      const [requests, rate] = step![track];
      const vector = (result: unknown[]) => ({
        status: 200,
        body: JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }),
      });
      const ok = requests * (1 - rate);
      if (query.startsWith('sum by (status)')) {
        return vector([
          { metric: { status: 'OK' }, value: [0, String(ok)] },
          { metric: { status: 'UNAVAILABLE' }, value: [0, String(requests * rate)] },
        ]);
      }
      if (query.startsWith('sum by (le)')) {
        return vector([
          { metric: { le: '10000' }, value: [0, String(ok / 2)] },
          { metric: { le: '20000' }, value: [0, String(ok)] },
          { metric: { le: '+Inf' }, value: [0, String(ok)] },
        ]);
      }
      return vector([]);
    };
    const before = received.length;
    const decision = await analyseExperiment({
      prometheusUrl: url,
      model: 'pricing',
      window: '900s',
      stepStarts: [new Date(t0 * 1000), new Date((t0 + 600) * 1000)],
      at: new Date((t0 + 900) * 1000),
      thresholds: defaults.experimentAnalysis,
    });
    const queries = received.slice(before);
    expect(queries.filter((q) => q.includes('[600s]'))).toHaveLength(8);
    expect(queries.filter((q) => q.includes('[300s]'))).toHaveLength(8);
    expect(queries.some((q) => q.includes('[900s]'))).toBe(false);
    expect(decision.tracks.canary.requests).toBeCloseTo(55_000);
    expect(decision.tracks.canary.errorRate - decision.tracks.stable.errorRate).toBeGreaterThan(0.01);
    expect(decision.verdict).toBe('pass');
  });
});
