// The verdict between two steps of an experiment, from each track's counts
// and latency histogram since the experiment started. Pure: the numbers come
// from Prometheus through analyse.ts.
import type { ResolvedAnalysisThresholds } from '@catwalk/schema';
import {
  type Bucket,
  countAbove,
  errorRateTest,
  errorRateUpperBound,
  errorRateWithinTest,
  exceedanceTest,
  exceedanceWithinTest,
  growthNeeded,
  histogramQuantile,
  type SequentialResult,
} from './sequential';

/** `experiment.analysis` in the spec, with its defaults filled in (validated by the spec's schema). */
export type AnalysisThresholds = ResolvedAnalysisThresholds;

/** Total false-alarm rate of one experiment, split evenly between the error and the latency test. */
export const ALPHA = 0.05;
/** A canary is too slow when more than this share of its requests exceed maxP99LatencyRatio × the stable's p99. */
export const SLOW_SHARE = 0.01;

export interface TrackStats {
  /** Requests in the window (every status). */
  readonly requests: number;
  /** Requests that ended with a status other than OK. */
  readonly errors: number;
  /** Requests per second over the window. */
  readonly requestRate: number;
  /** errors / requests; 0 without requests. */
  readonly errorRate: number;
  /** Of successful requests, from TF Serving's request_latency histogram; null without any. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/** What Prometheus gave for one track. */
export interface TrackSample {
  readonly requests: number;
  readonly errors: number;
  readonly windowSeconds: number;
  /** request_latency buckets in microseconds (cumulative, le may be Infinity). */
  readonly latencyBuckets: readonly Bucket[];
  /** Prometheus's histogram_quantile answers; absent: computed from latencyBuckets the same way. */
  readonly p50Micros?: number;
  readonly p99Micros?: number;
}

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface Decision {
  readonly verdict: Verdict;
  readonly reason: string;
  readonly tracks: { readonly stable: TrackStats; readonly canary: TrackStats };
  readonly evidence: {
    readonly errorRate: SequentialResult;
    /** Absent when the stable track has no latency to compare with. */
    readonly latency?: SequentialResult & { readonly thresholdMs: number; readonly slowShare: number };
  };
}

export function trackStats(sample: TrackSample): TrackStats {
  const p50 = sample.p50Micros ?? histogramQuantile(0.5, sample.latencyBuckets);
  const p99 = sample.p99Micros ?? histogramQuantile(0.99, sample.latencyBuckets);
  return {
    requests: sample.requests,
    errors: sample.errors,
    requestRate: sample.windowSeconds > 0 ? sample.requests / sample.windowSeconds : 0,
    errorRate: sample.requests > 0 ? sample.errors / sample.requests : 0,
    p50Ms: Number.isFinite(p50) ? p50 / 1000 : null,
    p99Ms: Number.isFinite(p99) ? p99 / 1000 : null,
  };
}

const percent = (share: number) => `${(share * 100).toFixed(2)}%`;
const ms = (value: number | null) => (value === null ? 'n/a' : `${value.toFixed(1)} ms`);
const count = (n: number) => Math.round(n).toLocaleString('en-US');
const p = (r: SequentialResult) => (r.pValue < 0.001 ? r.pValue.toExponential(1) : r.pValue.toFixed(3));

export function decide(
  stableSample: TrackSample,
  canarySample: TrackSample,
  thresholds: AnalysisThresholds,
  alpha = ALPHA,
): Decision {
  const stable = trackStats(stableSample);
  const canary = trackStats(canarySample);
  const tracks = { stable, canary };
  const perTest = alpha / 2;
  const errorRate = errorRateTest(stable, canary, thresholds.maxErrorRateIncrease, perTest);

  const canaryOk = canarySample.latencyBuckets.at(-1)?.count ?? 0;
  const latency =
    stable.p99Ms === null
      ? undefined
      : (() => {
          const thresholdMs = stable.p99Ms * thresholds.maxP99LatencyRatio;
          const slow = countAbove(thresholdMs * 1000, canarySample.latencyBuckets);
          const test = exceedanceTest(canaryOk, slow, SLOW_SHARE, perTest);
          return { ...test, thresholdMs, slowShare: canaryOk > 0 ? slow / canaryOk : 0 };
        })();
  const evidence = { errorRate, ...(latency ? { latency } : {}) };

  const short = (['canary', 'stable'] as const).filter((t) => tracks[t].requests < thresholds.minRequests);
  if (short.length > 0) {
    const needs = short
      .map(
        (t) =>
          `${t} has ${count(tracks[t].requests)} (${count(thresholds.minRequests - tracks[t].requests)} more needed)`,
      )
      .join(', ');
    return {
      verdict: 'inconclusive',
      reason: `too few requests for a verdict: each track needs ${count(thresholds.minRequests)} in the window; ${needs}`,
      tracks,
      evidence,
    };
  }

  if (errorRate.reject) {
    const increase = canary.errorRate - stable.errorRate;
    return {
      verdict: 'fail',
      reason:
        `error rate: canary ${percent(canary.errorRate)} vs stable ${percent(stable.errorRate)}, ` +
        `+${(increase * 100).toFixed(2)} points where at most +${(thresholds.maxErrorRateIncrease * 100).toFixed(2)} are allowed ` +
        `(always-valid p = ${p(errorRate)} < ${perTest})`,
      tracks,
      evidence,
    };
  }
  if (latency?.reject) {
    return {
      verdict: 'fail',
      reason:
        `latency: ${percent(latency.slowShare)} of canary requests took longer than ${ms(latency.thresholdMs)} ` +
        `(${thresholds.maxP99LatencyRatio} × stable p99 ${ms(stable.p99Ms)}) where at most ${percent(SLOW_SHARE)} may; ` +
        `canary p99 ${ms(canary.p99Ms)} (always-valid p = ${p(latency)} < ${perTest})`,
      tracks,
      evidence,
    };
  }
  // Not shown worse is not shown within: a pass needs each mirrored test to
  // reject "the canary is at or beyond the threshold" at the same alpha.
  const maxIncrease = thresholds.maxErrorRateIncrease;
  const errorWithin = errorRateWithinTest(stable, canary, maxIncrease, perTest);
  const upper = errorRateUpperBound(stable, canary, maxIncrease, perTest);
  const latencyWithin = latency
    ? exceedanceWithinTest(canaryOk, latency.slowShare * canaryOk, SLOW_SHARE, perTest)
    : undefined;
  const points = (share: number) => `${share >= 0 ? '+' : ''}${(share * 100).toFixed(2)}`;
  const errorText =
    `error rate: canary ${percent(canary.errorRate)} vs stable ${percent(stable.errorRate)}, ` +
    `upper bound ${Number.isFinite(upper) ? points(upper) : 'unknown'} points where at most ${points(maxIncrease)} are allowed`;
  const latencyText = latency
    ? `latency: canary p99 ${ms(canary.p99Ms)} vs stable ${ms(stable.p99Ms)}, ${percent(latency.slowShare)} of canary requests slower than ${ms(latency.thresholdMs)} where at most ${percent(SLOW_SHARE)} may`
    : 'latency not compared: the stable track has no successful requests';
  if (errorWithin.reject && latencyWithin?.reject) {
    return {
      verdict: 'pass',
      reason: `no regression after ${count(canary.requests)} canary requests: ${errorText}; ${latencyText}`,
      tracks,
      evidence,
    };
  }
  const open: string[] = [];
  const factors: number[] = [];
  if (!errorWithin.reject) {
    open.push('error rate');
    factors.push(
      growthNeeded(
        (f) =>
          errorRateWithinTest(
            { requests: stable.requests * f, errors: stable.errors * f },
            { requests: canary.requests * f, errors: canary.errors * f },
            maxIncrease,
            perTest,
          ).reject,
      ),
    );
  }
  if (!latencyWithin?.reject) {
    open.push('latency');
    factors.push(
      latency
        ? growthNeeded(
            (f) =>
              exceedanceWithinTest(canaryOk * f, latency.slowShare * canaryOk * f, SLOW_SHARE, perTest)
                .reject,
          )
        : Infinity,
    );
  }
  const factor = Math.max(...factors);
  const more = !latency
    ? 'latency is compared once the stable track serves successful requests'
    : Number.isFinite(factor)
      ? `about ${count(canary.requests * (factor - 1))} more canary requests (and the stable track's in proportion) if the rates stay as they are`
      : 'at the rates seen so far no amount of traffic shows the canary within them; more traffic may still show it beyond them (a failure)';
  return {
    verdict: 'inconclusive',
    reason: `not yet shown within the thresholds (${open.join(' and ')}) after ${count(canary.requests)} canary requests: ${errorText}; ${latencyText}; ${more}`,
    tracks,
    evidence,
  };
}
