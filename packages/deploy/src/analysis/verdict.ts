// The verdict between two steps of an experiment, from each track's counts
// and latency histogram since the experiment started. Pure: the numbers come
// from Prometheus through analyse.ts.
import type { ResolvedAnalysisThresholds } from '@catwalk/schema';
import {
  type Bucket,
  countAbove,
  errorRateTestOverSteps,
  errorRateUpperBoundOverSteps,
  errorRateWithinTestOverSteps,
  exceedanceTestOverSteps,
  exceedanceWithinTestOverSteps,
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

/** Both tracks over the same window: one step of an experiment. */
export interface StepSample {
  readonly stable: TrackSample;
  readonly canary: TrackSample;
}

/** One track's samples of several windows added up (buckets by their bound). */
function pooled(samples: readonly TrackSample[]): TrackSample {
  if (samples.length === 1) return samples[0]!;
  const byLe = new Map<number, number>();
  for (const s of samples) for (const b of s.latencyBuckets) byLe.set(b.le, (byLe.get(b.le) ?? 0) + b.count);
  return {
    requests: samples.reduce((sum, s) => sum + s.requests, 0),
    errors: samples.reduce((sum, s) => sum + s.errors, 0),
    windowSeconds: samples.reduce((sum, s) => sum + s.windowSeconds, 0),
    latencyBuckets: [...byLe].map(([le, count]) => ({ le, count })).sort((x, y) => x.le - y.le),
  };
}

/** The verdict on one window: both tracks' counts since the experiment started. */
export function decide(
  stableSample: TrackSample,
  canarySample: TrackSample,
  thresholds: AnalysisThresholds,
  alpha = ALPHA,
): Decision {
  return decideOverSteps([{ stable: stableSample, canary: canarySample }], thresholds, alpha);
}

/**
 * The verdict on an experiment's steps, each comparing both tracks over the
 * same window: the tests multiply one mixture per step, so a drift of the
 * error rate or latency over time, while the canary's weight rises, does
 * not bias the comparison. The tracks' figures in the decision are the
 * steps added up.
 */
export function decideOverSteps(
  steps: readonly StepSample[],
  thresholds: AnalysisThresholds,
  alpha = ALPHA,
): Decision {
  const stableSample = pooled(steps.map((s) => s.stable));
  const canarySample = pooled(steps.map((s) => s.canary));
  const stable = trackStats(stableSample);
  const canary = trackStats(canarySample);
  const tracks = { stable, canary };
  const perTest = alpha / 2;
  const counts = steps.map((s) => ({ stable: s.stable, canary: s.canary }));
  const errorRate = errorRateTestOverSteps(counts, thresholds.maxErrorRateIncrease, perTest);

  // Per step: the canary's successful requests and how many were slower than
  // the ratio × that step's stable p99 (steps without a stable p99 carry none).
  const slowByStep = steps.flatMap((s) => {
    const stableP99 = trackStats(s.stable).p99Ms;
    if (stableP99 === null) return [];
    const ok = s.canary.latencyBuckets.at(-1)?.count ?? 0;
    const slow = countAbove(stableP99 * thresholds.maxP99LatencyRatio * 1000, s.canary.latencyBuckets);
    return [{ requests: ok, exceeding: slow }];
  });
  const canaryOk = slowByStep.reduce((sum, w) => sum + w.requests, 0);
  const slowTotal = slowByStep.reduce((sum, w) => sum + w.exceeding, 0);
  const latency =
    stable.p99Ms === null || slowByStep.length === 0
      ? undefined
      : {
          ...exceedanceTestOverSteps(slowByStep, SLOW_SHARE, perTest),
          thresholdMs: stable.p99Ms * thresholds.maxP99LatencyRatio,
          slowShare: canaryOk > 0 ? slowTotal / canaryOk : 0,
        };
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
  const errorWithin = errorRateWithinTestOverSteps(counts, maxIncrease, perTest);
  const upper = errorRateUpperBoundOverSteps(counts, maxIncrease, perTest);
  const latencyWithin = latency ? exceedanceWithinTestOverSteps(slowByStep, SLOW_SHARE, perTest) : undefined;
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
          errorRateWithinTestOverSteps(
            counts.map((c) => ({
              stable: { requests: c.stable.requests * f, errors: c.stable.errors * f },
              canary: { requests: c.canary.requests * f, errors: c.canary.errors * f },
            })),
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
              exceedanceWithinTestOverSteps(
                slowByStep.map((w) => ({ requests: w.requests * f, exceeding: w.exceeding * f })),
                SLOW_SHARE,
                perTest,
              ).reject,
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
