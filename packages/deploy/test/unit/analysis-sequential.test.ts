// The experiment analysis' statistics: sound under repeated looks (the
// false-alarm rate over a whole experiment, looked at after every step,
// stays at most alpha) and able to catch a bad canary within a bounded
// number of requests. Simulated traffic only: no Prometheus here (the
// cluster suite runs the same decisions against a real one).
import { defaults } from '@catwalk/schema';
import fc from 'fast-check';
import {
  ALPHA,
  countAbove,
  decide,
  decideOverSteps,
  errorRateTest,
  errorRateUpperBound,
  errorRateWithinTest,
  exceedanceTest,
  exceedanceWithinTest,
  histogramQuantile,
} from '../../src/analysis';
import { type ExperimentPlan, runExperiment, TF_BUCKETS, type TrackModel } from './analysis-simulate';

const thresholds = defaults.experimentAnalysis;
const perTest = ALPHA / 2;

/** Figures for docs/benchmarks.md, printed only when asked for. */
function report(line: string): void {
  if (process.env.CATWALK_ANALYSIS_REPORT) process.stdout.write(`${line}\n`);
}

/** Share of experiments that end in a (false) failure, with a 3-sigma allowance for the simulation's own noise. */
function falseAlarmBound(experiments: number, alpha: number): number {
  return alpha + 3 * Math.sqrt((alpha * (1 - alpha)) / experiments);
}

describe('building blocks', () => {
  const buckets = [
    { le: 1, count: 10 },
    { le: 2, count: 20 },
    { le: Infinity, count: 20 },
  ];

  test('histogramQuantile interpolates as Prometheus does', () => {
    expect(histogramQuantile(0.5, buckets)).toBe(1);
    expect(histogramQuantile(0.75, buckets)).toBe(1.5);
    expect(histogramQuantile(0.25, buckets)).toBe(0.5);
    // A rank in the +Inf bucket gives the last finite bound.
    expect(histogramQuantile(0.99, [...buckets.slice(0, 2), { le: Infinity, count: 30 }])).toBe(2);
    expect(histogramQuantile(0.5, [{ le: Infinity, count: 0 }])).toBeNaN();
  });

  test('countAbove is the share above a quantile: 1 - q', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 0.95, noNaN: true }), (q) => {
        const threshold = histogramQuantile(q, buckets);
        expect(countAbove(threshold, buckets) / 20).toBeCloseTo(1 - q, 9);
      }),
    );
    expect(countAbove(0.5, buckets)).toBe(15);
    expect(countAbove(5, buckets)).toBe(0);
  });

  test('no data is never evidence', () => {
    expect(errorRateTest({ requests: 0, errors: 0 }, { requests: 0, errors: 0 }, 0.005, perTest).reject).toBe(
      false,
    );
    expect(exceedanceTest(0, 0, 0.01, perTest).reject).toBe(false);
  });

  test('a canary no worse than stable gives no evidence, however much data there is', () => {
    const r = errorRateTest({ requests: 1e6, errors: 1e4 }, { requests: 1e6, errors: 1e4 }, 0.005, perTest);
    expect(r.reject).toBe(false);
    expect(r.pValue).toBe(1);
  });

  test('the evidence grows with the data at a fixed 3x error rate', () => {
    const at = (n: number) =>
      errorRateTest({ requests: n, errors: n * 0.01 }, { requests: n, errors: n * 0.03 }, 0.005, perTest);
    expect(at(500).statistic).toBeLessThan(at(2000).statistic);
    expect(at(500).reject).toBe(false);
    expect(at(5000).reject).toBe(true);
  });

  test('the latency mixture rejects only shares well above p0', () => {
    expect(exceedanceTest(1000, 10, 0.01, perTest).reject).toBe(false);
    expect(exceedanceTest(1000, 40, 0.01, perTest).reject).toBe(true);
  });
});

describe('verdicts', () => {
  const track = (requests: number, errors: number) => ({
    requests,
    errors,
    windowSeconds: 100,
    latencyBuckets: [
      { le: 10_000, count: (requests - errors) * 0.5 },
      { le: 20_000, count: (requests - errors) * 0.995 },
      { le: Infinity, count: requests - errors },
    ],
  });

  test('too little traffic is inconclusive and says how many requests are missing', () => {
    const d = decide(track(5000, 50), track(120, 30), thresholds);
    expect(d.verdict).toBe('inconclusive');
    expect(d.reason).toContain('each track needs 500');
    expect(d.reason).toContain('canary has 120 (380 more needed)');
    expect(d.tracks.canary.errorRate).toBeCloseTo(0.25);
    expect(d.tracks.canary.requestRate).toBeCloseTo(1.2);
  });

  test('a failure names the metric and by how much', () => {
    const d = decide(track(20_000, 200), track(20_000, 600), thresholds);
    expect(d.verdict).toBe('fail');
    expect(d.reason).toMatch(
      /^error rate: canary 3\.00% vs stable 1\.00%, \+2\.00 points where at most \+0\.50/,
    );
  });

  test('a pass says what was compared', () => {
    const d = decide(track(40_000, 400), track(20_000, 200), thresholds);
    expect(d.verdict).toBe('pass');
    expect(d.reason).toMatch(
      /^no regression after 20,000 canary requests: error rate: canary 1\.00% vs stable 1\.00%, upper bound \+0\.\d\d points where at most \+0\.50/,
    );
    expect(d.tracks.stable.p50Ms).toBeCloseTo(10);
  });
});

describe('pass needs evidence that the canary is within the thresholds', () => {
  const track = (requests: number, errors: number) => ({
    requests,
    errors,
    windowSeconds: 100,
    latencyBuckets: [
      { le: 10_000, count: (requests - errors) * 0.5 },
      { le: 20_000, count: (requests - errors) * 0.995 },
      { le: Infinity, count: requests - errors },
    ],
  });

  test('1% vs 3% errors at 500 to 1,500 requests per track is never pass, and says how much more is needed', () => {
    for (let n = 500; n <= 1500; n += 100) {
      const d = decide(track(n, n * 0.01), track(n, n * 0.03), thresholds);
      expect(d.verdict).not.toBe('pass');
    }
    const d = decide(track(1000, 10), track(1000, 30), thresholds);
    expect(d.verdict).toBe('inconclusive');
    expect(d.reason).toMatch(/error rate: canary 3\.00% vs stable 1\.00%/);
  });

  test('an equal error rate is inconclusive with the requests still needed, then passes with enough traffic', () => {
    const early = decide(track(1000, 10), track(1000, 10), thresholds);
    expect(early.verdict).toBe('inconclusive');
    const needed = Number(/about ([\d,]+) more canary requests/.exec(early.reason)?.[1]?.replace(/,/g, ''));
    expect(needed).toBeGreaterThan(1000);
    // At the estimated size the same rates pass.
    const n = 1000 + needed;
    const late = decide(track(n, n * 0.01), track(n, n * 0.01), thresholds);
    expect(late.verdict).toBe('pass');
    expect(late.reason).toMatch(/upper bound/);
  });

  test('without stable latency to compare with there is no pass, and the reason says what is missing', () => {
    const noLatency = { ...track(40_000, 40_000), latencyBuckets: [{ le: Infinity, count: 0 }] };
    const d = decide(noLatency, track(40_000, 0), { ...thresholds, maxErrorRateIncrease: 0.005 });
    // The canary is far better on errors, but nothing shows its latency within the limit.
    expect(d.verdict).toBe('inconclusive');
    expect(d.reason).toMatch(/latency is compared once the stable track serves successful requests$/);
  });

  test('the upper confidence bound is the edge of what the within-test rejects', () => {
    const stable = { requests: 20_000, errors: 200 };
    const canary = { requests: 20_000, errors: 210 };
    const bound = errorRateUpperBound(stable, canary, 0.005, perTest);
    expect(bound).toBeGreaterThan(0.0005);
    expect(errorRateWithinTest(stable, canary, bound + 1e-4, perTest, 0.005).reject).toBe(true);
    expect(errorRateWithinTest(stable, canary, bound - 1e-4, perTest, 0.005).reject).toBe(false);
  });

  test('a slow share is only shown below its limit when few requests are slow', () => {
    expect(exceedanceWithinTest(200, 0, 0.01, perTest).reject).toBe(false);
    expect(exceedanceWithinTest(5000, 0, 0.01, perTest).reject).toBe(true);
    expect(exceedanceWithinTest(5000, 60, 0.01, perTest).reject).toBe(false);
  });
});

describe('steps compared over their own windows', () => {
  // An identical canary while the error rate of both versions rises from 1%
  // to 3% over four steps of 100,000 requests, at weights 5/10/25/50%.
  const weights = [0.05, 0.1, 0.25, 0.5];
  const rates = [0.01, 0.0167, 0.0233, 0.03];
  const side = (requests: number, rate: number) => ({
    requests,
    errors: requests * rate,
    windowSeconds: 600,
    latencyBuckets: [
      { le: 10_000, count: requests * (1 - rate) * 0.5 },
      { le: 20_000, count: requests * (1 - rate) },
      { le: Infinity, count: requests * (1 - rate) },
    ],
  });
  const steps = weights.map((w, i) => ({
    stable: side(100_000 * (1 - w), rates[i]!),
    canary: side(100_000 * w, rates[i]!),
  }));

  test('counts pooled since the start make a drift look like a regression', () => {
    const pooled = (t: 'stable' | 'canary') => {
      const requests = steps.reduce((sum, s) => sum + s[t].requests, 0);
      return side(requests, steps.reduce((sum, s) => sum + s[t].errors, 0) / requests);
    };
    const d = decide(pooled('stable'), pooled('canary'), thresholds);
    expect(d.tracks.canary.errorRate - d.tracks.stable.errorRate).toBeGreaterThan(0.005);
    expect(d.verdict).toBe('fail');
  });

  test('compared step by step, the same traffic is no regression and passes', () => {
    const d = decideOverSteps(steps, thresholds);
    expect(d.verdict).toBe('pass');
    expect(d.tracks.canary.requests).toBe(90_000);
  });

  test('a real regression in every step still fails step by step', () => {
    const worse = steps.map((s, i) => ({ ...s, canary: side(s.canary.requests, rates[i]! * 3) }));
    expect(decideOverSteps(worse, thresholds).verdict).toBe('fail');
  });
});

// Each property runs many whole experiments. The sizes keep the file within
// a few seconds on a busy two-core machine; the bounds allow for the
// simulation's own noise (three standard deviations).
const simulation = { numRuns: 2, seed: 20261129 } as const;

describe('pass is sound under repeated looks', () => {
  test('a canary exactly at the allowed error-rate increase passes at most alpha/2 of experiments, 10 looks each', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0.01, 0.03),
        fc.constantFrom(0.1, 0.5),
        fc.integer({ min: 1, max: 2 ** 30 }),
        (stableRate, canaryShare, seed) => {
          const experiments = 200;
          let passed = 0;
          for (let e = 0; e < experiments; e++) {
            const outcome = runExperiment({
              stable: { errorRate: stableRate, medianMs: 10, p99Ms: 10 },
              canary: { errorRate: stableRate + thresholds.maxErrorRateIncrease, medianMs: 10, p99Ms: 10 },
              canaryShare,
              requestsPerLook: 4000,
              looks: 10,
              thresholds,
              seed: seed + e,
            });
            if (outcome.passedAt) passed++;
          }
          report(
            `pass at the edge of the error-rate limit: stable ${stableRate * 100}%, canary +${thresholds.maxErrorRateIncrease * 100} points, canary share ${canaryShare * 100}%: ${passed} of ${experiments} experiments passed`,
          );
          expect(passed / experiments).toBeLessThanOrEqual(falseAlarmBound(experiments, perTest));
        },
      ),
      simulation,
    );
  });

  test('a healthy canary (equal error rate and latency) passes within 48,000 requests in 95% of experiments, and rarely fails', () => {
    const runs = Array.from({ length: 60 }, (_, e) =>
      runExperiment({
        stable: { errorRate: 0.01, medianMs: 10, p99Ms: 10 },
        canary: { errorRate: 0.01, medianMs: 10, p99Ms: 10 },
        canaryShare: 0.5,
        requestsPerLook: 4000,
        looks: 12,
        thresholds,
        seed: 7000 + e,
      }),
    );
    expect(runs.filter((r) => r.passedAt).length).toBeGreaterThanOrEqual(57);
    expect(runs.filter((r) => r.failedAt).length).toBeLessThanOrEqual(3);
  });
});

describe('sound under repeated looks', () => {
  test('a canary exactly at the allowed error-rate increase fails at most alpha/2 of experiments, 10 looks each', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0.002, 0.01, 0.03),
        fc.constantFrom(0, 0.005),
        fc.constantFrom(0.1, 0.5),
        fc.integer({ min: 1, max: 2 ** 30 }),
        (stableRate, delta, canaryShare, seed) => {
          const experiments = 300;
          let failed = 0;
          for (let e = 0; e < experiments; e++) {
            const outcome = runExperiment({
              stable: { errorRate: stableRate, medianMs: 10, p99Ms: 10 },
              canary: { errorRate: stableRate + delta, medianMs: 10, p99Ms: 10 },
              canaryShare,
              requestsPerLook: 2400,
              looks: 10,
              thresholds: { ...thresholds, maxErrorRateIncrease: delta },
              seed: seed + e,
            });
            if (outcome.failedAt) failed++;
          }
          report(
            `error rate at the edge of H0: stable ${stableRate * 100}%, allowed +${delta * 100} points, canary share ${canaryShare * 100}%: ${failed} of ${experiments} experiments failed`,
          );
          expect(failed / experiments).toBeLessThanOrEqual(falseAlarmBound(experiments, perTest));
        },
      ),
      simulation,
    );
  });

  test('a canary as fast as stable fails on latency in at most alpha/2 of experiments, 10 looks each', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(2, 10, 50),
        fc.constantFrom(1.5, 3),
        fc.integer({ min: 1, max: 2 ** 30 }),
        (medianMs, spread, seed) => {
          const experiments = 100;
          let failed = 0;
          for (let e = 0; e < experiments; e++) {
            const latency = { medianMs, p99Ms: medianMs * spread };
            const outcome = runExperiment({
              stable: { errorRate: 0, ...latency },
              canary: { errorRate: 0, ...latency },
              canaryShare: 0.2,
              requestsPerLook: 600,
              looks: 10,
              thresholds,
              seed: seed + e,
            });
            if (outcome.failedAt) failed++;
          }
          report(
            `latency, canary as fast as stable: median ${medianMs} ms, p99 ${medianMs * spread} ms: ${failed} of ${experiments} experiments failed`,
          );
          expect(failed / experiments).toBeLessThanOrEqual(falseAlarmBound(experiments, perTest));
        },
      ),
      simulation,
    );
  });
});

describe('catches a bad canary', () => {
  // A fixed latency where only errors matter: it is faster to simulate.
  const plan = (canary: Partial<ExperimentPlan['canary']>, seed: number, p99Ms = 10): ExperimentPlan => ({
    stable: { errorRate: 0.01, medianMs: 10, p99Ms },
    canary: { errorRate: 0.01, medianMs: 10, p99Ms, ...canary },
    canaryShare: 0.5,
    requestsPerLook: 500,
    looks: 40,
    thresholds,
    seed,
  });

  test('3x the stable error rate (1% vs 3%) fails within 20,000 requests in 95% of experiments, and never passes first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 30 }), (seed) => {
        const runs = Array.from({ length: 60 }, (_, e) => runExperiment(plan({ errorRate: 0.03 }, seed + e)));
        const caught = runs.filter((r) => r.failedAt && r.last.reason.startsWith('error rate'));
        expect(caught.length).toBeGreaterThanOrEqual(57);
        expect(runs.filter((r) => r.passedAt)).toHaveLength(0);
      }),
      simulation,
    );
  });

  test('2x the stable latency (p99 40 ms vs 20 ms) fails within 20,000 requests in 95% of experiments', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 30 }), (seed) => {
        const runs = Array.from({ length: 60 }, (_, e) =>
          runExperiment(plan({ errorRate: 0.01, medianMs: 20, p99Ms: 40 }, seed + e, 20)),
        );
        const caught = runs.filter((r) => r.failedAt && r.last.reason.startsWith('latency'));
        expect(caught.length).toBeGreaterThanOrEqual(57);
      }),
      simulation,
    );
  });
});

// Figures for docs/benchmarks.md, only when asked for (they take a while):
//   CATWALK_ANALYSIS_REPORT=1 npx jest test/unit/analysis-sequential.test.ts -t 'requests a verdict needs'
const whenReporting = process.env.CATWALK_ANALYSIS_REPORT ? describe : describe.skip;
whenReporting('requests a verdict needs', () => {
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  const percentile90 = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.9)]!;
  const row = (name: string, share: number, at: { requests: number; canaryRequests: number }[]) =>
    `| ${name} | ${share * 100}% | ${at.length} of 60 | ${median(at.map((a) => a.canaryRequests))} | ${percentile90(at.map((a) => a.canaryRequests))} | ${median(at.map((a) => a.requests))} | ${percentile90(at.map((a) => a.requests))} |`;
  const runs = (stable: TrackModel, canary: TrackModel, share: number, requestsPerLook: number) =>
    Array.from({ length: 60 }, (_, e) =>
      runExperiment({
        stable,
        canary,
        canaryShare: share,
        requestsPerLook,
        looks: 1000,
        thresholds,
        seed: 1000 + e,
        stopAtPass: true,
      }),
    );

  test('to fail, at the default thresholds', () => {
    const fixed = { medianMs: 10, p99Ms: 10 };
    const cases = [
      {
        name: '3x errors, 1% vs 3%',
        stable: { errorRate: 0.01, ...fixed },
        canary: { errorRate: 0.03, ...fixed },
        shares: [0.5, 0.1],
      },
      {
        name: '3x errors, 0.5% vs 1.5%',
        stable: { errorRate: 0.005, ...fixed },
        canary: { errorRate: 0.015, ...fixed },
        shares: [0.5],
      },
      {
        name: '2x latency, p99 20 ms vs 40 ms',
        stable: { errorRate: 0.01, medianMs: 10, p99Ms: 20 },
        canary: { errorRate: 0.01, medianMs: 20, p99Ms: 40 },
        shares: [0.5, 0.1],
      },
    ];
    const lines = cases.flatMap((c) =>
      c.shares.map((share) => {
        const outcomes = runs(c.stable, c.canary, share, 200);
        expect(outcomes.filter((o) => o.passedAt)).toHaveLength(0);
        return row(
          c.name,
          share,
          outcomes.flatMap((o) => (o.failedAt ? [o.failedAt] : [])),
        );
      }),
    );
    report(lines.join('\n'));
  });

  test('to pass, at the default thresholds', () => {
    const cases = [
      {
        name: 'healthy, 1% vs 1%, fixed latency',
        errorRate: 0.01,
        latency: { medianMs: 10, p99Ms: 10 },
        shares: [0.5, 0.1],
      },
      {
        name: 'healthy, 0.1% vs 0.1%, fixed latency',
        errorRate: 0.001,
        latency: { medianMs: 10, p99Ms: 10 },
        shares: [0.5],
      },
      {
        name: 'healthy, 1% vs 1%, p99 20 ms both',
        errorRate: 0.01,
        latency: { medianMs: 10, p99Ms: 20 },
        shares: [0.5],
      },
    ];
    const lines = cases.flatMap((c) =>
      c.shares.map((share) => {
        const track = { errorRate: c.errorRate, ...c.latency };
        const outcomes = runs(track, track, share, 1000);
        return row(
          c.name,
          share,
          outcomes.flatMap((o) => (o.passedAt ? [o.passedAt] : [])),
        );
      }),
    );
    report(lines.join('\n'));
  });
});

test('the simulation buckets latencies with TF Serving limits', () => {
  expect(TF_BUCKETS).toHaveLength(33);
  expect(TF_BUCKETS[2]).toBeCloseTo(32.4);
});
