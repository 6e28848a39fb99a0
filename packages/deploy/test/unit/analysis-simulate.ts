// Simulated experiments for the statistics tests: two tracks whose requests
// fail with a given probability and take log-normal times, bucketed with TF
// Serving's request_latency limits, looked at after every step.
import { type AnalysisThresholds, type Bucket, type Decision, decide } from '../../src/analysis';

/** TF Serving's request_latency limits: 10 µs × 1.8^i, i < 33. */
export const TF_BUCKETS: readonly number[] = (() => {
  const limits: number[] = [];
  let bound = 10;
  for (let i = 0; i < 33; i++) {
    limits.push(bound);
    bound *= 1.8;
  }
  return limits;
})();

export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An exact Binomial(n, p) draw by inversion: O(n·p) steps, cheap for error rates of a few percent. */
export function binomial(n: number, p: number, random: () => number): number {
  if (p <= 0 || n <= 0) return 0;
  if (p >= 1) return n;
  if (n * p > 300) {
    let k = 0;
    for (let i = 0; i < n; i++) if (random() < p) k++;
    return k;
  }
  const ratio = p / (1 - p);
  let probability = (1 - p) ** n;
  let cdf = probability;
  const u = random();
  let k = 0;
  while (u > cdf && k < n) {
    probability *= ((n - k) / (k + 1)) * ratio;
    k++;
    cdf += probability;
  }
  return k;
}

/** Standard normal CDF (Abramowitz and Stegun 7.1.26 for erf, error below 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** The first index whose cumulative probability is above u. */
function firstAbove(cumulative: readonly number[], u: number): number {
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (u < cumulative[mid]!) high = mid;
    else low = mid + 1;
  }
  return low;
}

/** The bucket TF's Histogram::Add puts a value in: the first limit above it (binary search). */
function bucketIndex(micros: number): number {
  let low = 0;
  let high = TF_BUCKETS.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (micros < TF_BUCKETS[mid]!) high = mid;
    else low = mid + 1;
  }
  return low;
}

export interface TrackModel {
  readonly errorRate: number;
  /** Log-normal latency of successful requests; medianMs = p99Ms gives a fixed latency (fast to simulate). */
  readonly medianMs: number;
  readonly p99Ms: number;
}

class SimulatedTrack {
  requests = 0;
  errors = 0;
  private readonly counts = new Array<number>(TF_BUCKETS.length + 1).fill(0);
  private readonly sigma: number;
  private readonly fixedIndex: number;
  private readonly cumulative: number[];

  constructor(
    private readonly model: TrackModel,
    private readonly random: () => number,
  ) {
    this.sigma = Math.log(model.p99Ms / model.medianMs) / 2.3263478740408408;
    this.fixedIndex = bucketIndex(model.medianMs * 1000);
    // P(latency < limit) for each of TF's limits, then 1 for +Inf.
    const mu = Math.log(model.medianMs * 1000);
    this.cumulative = [...TF_BUCKETS.map((limit) => normalCdf((Math.log(limit) - mu) / this.sigma)), 1];
  }

  serve(n: number): void {
    const errors = binomial(n, this.model.errorRate, this.random);
    this.requests += n;
    this.errors += errors;
    const ok = n - errors;
    if (this.sigma === 0) {
      this.counts[this.fixedIndex]! += ok;
      return;
    }
    // Inverse CDF over the buckets: one uniform draw and a binary search per request.
    for (let i = 0; i < ok; i++) this.counts[firstAbove(this.cumulative, this.random())]!++;
  }

  sample() {
    let cumulative = 0;
    const latencyBuckets: Bucket[] = this.counts.map((c, i) => {
      cumulative += c;
      return { le: i < TF_BUCKETS.length ? TF_BUCKETS[i]! : Infinity, count: cumulative };
    });
    return { requests: this.requests, errors: this.errors, windowSeconds: 60, latencyBuckets };
  }
}

export interface ExperimentPlan {
  readonly stable: TrackModel;
  readonly canary: TrackModel;
  /** Share of requests the canary gets. */
  readonly canaryShare: number;
  /** Requests (both tracks) between two looks. */
  readonly requestsPerLook: number;
  readonly looks: number;
  readonly thresholds: AnalysisThresholds;
  readonly seed: number;
  /** Stop at the first pass too (for measuring how many requests a pass needs). */
  readonly stopAtPass?: boolean;
}

export interface ExperimentOutcome {
  /** The first look that failed, and how many requests had been served by then; absent when none did. */
  readonly failedAt?: { readonly look: number; readonly requests: number; readonly canaryRequests: number };
  readonly firstVerdictAt?: number;
  /** The first look that passed (steps go on after a pass, as the experiment's do). */
  readonly passedAt?: { readonly look: number; readonly requests: number; readonly canaryRequests: number };
  readonly last: Decision;
}

/** Runs one experiment, looking after each step, and stops at the first failure (the run aborts there). */
export function runExperiment(plan: ExperimentPlan): ExperimentOutcome {
  const random = seeded(plan.seed);
  const stable = new SimulatedTrack(plan.stable, random);
  const canary = new SimulatedTrack(plan.canary, random);
  let last: Decision | undefined;
  let firstVerdictAt: number | undefined;
  let passedAt: ExperimentOutcome['passedAt'];
  for (let look = 1; look <= plan.looks; look++) {
    const toCanary = Math.round(plan.requestsPerLook * plan.canaryShare);
    canary.serve(toCanary);
    stable.serve(plan.requestsPerLook - toCanary);
    last = decide(stable.sample(), canary.sample(), plan.thresholds);
    if (last.verdict !== 'inconclusive' && firstVerdictAt === undefined) firstVerdictAt = look;
    if (last.verdict === 'pass' && passedAt === undefined) {
      passedAt = { look, requests: stable.requests + canary.requests, canaryRequests: canary.requests };
      if (plan.stopAtPass) return { firstVerdictAt: look, passedAt, last };
    }
    if (last.verdict === 'fail') {
      return {
        failedAt: { look, requests: stable.requests + canary.requests, canaryRequests: canary.requests },
        ...(firstVerdictAt === undefined ? {} : { firstVerdictAt }),
        ...(passedAt === undefined ? {} : { passedAt }),
        last,
      };
    }
  }
  return {
    ...(firstVerdictAt === undefined ? {} : { firstVerdictAt }),
    ...(passedAt === undefined ? {} : { passedAt }),
    last: last!,
  };
}
