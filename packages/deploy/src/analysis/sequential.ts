// Sequential tests that stay valid when they are looked at after every step
// of an experiment: mixture likelihood ratios (mSPRT, Johari et al. 2017,
// "Peeking at A/B tests"). Each statistic Λ is a mixture of likelihood
// ratios of alternatives against the boundary of the null hypothesis; under
// the null it is a nonnegative supermartingale, so by Ville's inequality the
// chance that it ever reaches 1/α, however often it is computed, is at most
// α. 1/Λ, kept at its minimum so far, is an always-valid p-value.
//
// The data must be cumulative: each look sees every request since the
// experiment started, never a sliding window.

export interface SequentialResult {
  /** The mixture likelihood ratio Λ. */
  readonly statistic: number;
  /** min(1, 1/Λ): the always-valid p-value of this look. */
  readonly pValue: number;
  /** Λ ≥ 1/α: the null hypothesis is rejected. */
  readonly reject: boolean;
}

function logSumExp(values: readonly number[]): number {
  const max = Math.max(...values);
  if (max === -Infinity) return -Infinity;
  return max + Math.log(values.reduce((sum, v) => sum + Math.exp(v - max), 0));
}

function result(logStatistic: number, alpha: number): SequentialResult {
  const statistic = Math.exp(Math.min(logStatistic, 700));
  return {
    statistic,
    pValue: Math.min(1, Math.exp(-logStatistic)),
    reject: logStatistic >= Math.log(1 / alpha),
  };
}

export interface ErrorCounts {
  readonly requests: number;
  readonly errors: number;
}

/** Effect sizes the error-rate mixtures spread their weight over, in multiples of their scale. */
const ERROR_SHIFTS = [0.25, 0.5, 1, 2, 4, 8];

const rate = (c: ErrorCounts) => Math.min(1, Math.max(0, c.errors / c.requests));
// Variance from rates pulled half a request towards 1/2, so no track has zero variance.
const smoothed = (c: ErrorCounts) => (Math.max(0, c.errors) + 0.5) / (c.requests + 1);
const variance = (c: ErrorCounts) => (smoothed(c) * (1 - smoothed(c))) / c.requests;

/**
 * log Λ of a Gaussian mixture over shifts of `excess` beyond a boundary:
 * each component is the likelihood ratio of "the difference lies m·scale
 * past the boundary" against "it lies on the boundary", with the plug-in
 * information of the difference.
 */
function gaussianMixture(excess: number, information: number, scale: number): number {
  // A plain loop: the verdict evaluates this a few hundred times per look.
  let max = -Infinity;
  const terms = new Array<number>(ERROR_SHIFTS.length);
  for (let i = 0; i < ERROR_SHIFTS.length; i++) {
    const shift = ERROR_SHIFTS[i]! * scale;
    terms[i] = shift * excess * information - (shift * shift * information) / 2;
    if (terms[i]! > max) max = terms[i]!;
  }
  let sum = 0;
  for (const term of terms) sum += Math.exp(term - max);
  return max + Math.log(sum / ERROR_SHIFTS.length);
}

/** The scale of the error-rate mixtures: shifts of a quarter to eight times it. */
export function errorRateScale(maxIncrease: number): number {
  return Math.max(maxIncrease, 0.005);
}

/** Both tracks' counts over the same window (one step of an experiment, or all of it). */
export interface StepCounts {
  readonly stable: ErrorCounts;
  readonly canary: ErrorCounts;
}

/** Each window's observed difference and its plug-in information; windows a track has no requests in carry none. */
function differences(steps: readonly StepCounts[]): { difference: number; information: number }[] {
  return steps
    .filter((s) => s.stable.requests > 0 && s.canary.requests > 0)
    .map((s) => ({
      difference: rate(s.canary) - rate(s.stable),
      information: 1 / (variance(s.stable) + variance(s.canary)),
    }));
}

/**
 * log of the product of one mixture per window. Each window's mixture starts
 * at 1 when its window starts, so under H0 the running product is still a
 * nonnegative supermartingale and Ville's inequality holds for it: the
 * windows can be the steps of an experiment, each comparing the tracks over
 * the same time.
 */
function productOverWindows(
  windows: readonly { difference: number; information: number }[],
  excess: (difference: number) => number,
  scale: number,
): number {
  if (windows.length === 0) return -Infinity;
  let sum = 0;
  for (const w of windows) sum += gaussianMixture(excess(w.difference), w.information, scale);
  return sum;
}

/**
 * H0: the canary's error rate exceeds the stable's by at most `maxIncrease`
 * (p_canary − p_stable ≤ maxIncrease), against a larger difference.
 * Rejecting it is the evidence for `fail`.
 *
 * The difference of the two observed error rates is treated as Gaussian
 * with its plug-in variance (the normal approximation Johari et al. use for
 * two-sample Bernoulli tests); the mixture is over shifts beyond the
 * boundary, so the statistic is a supermartingale for every difference in
 * H0, not only at the boundary.
 */
export function errorRateTest(
  stable: ErrorCounts,
  canary: ErrorCounts,
  maxIncrease: number,
  alpha: number,
): SequentialResult {
  return errorRateTestOverSteps([{ stable, canary }], maxIncrease, alpha);
}

/** errorRateTest over several windows (the product of their mixtures). */
export function errorRateTestOverSteps(
  steps: readonly StepCounts[],
  maxIncrease: number,
  alpha: number,
): SequentialResult {
  const log = productOverWindows(differences(steps), (d) => d - maxIncrease, errorRateScale(maxIncrease));
  return result(log, alpha);
}

/**
 * The mirror of errorRateTest. H0: the canary's error rate exceeds the
 * stable's by `bound` or more (p_canary − p_stable ≥ bound), against a
 * smaller difference; the mixture is over shifts below the bound. Rejecting
 * it at bound = maxIncrease is the evidence for `pass`: the canary is shown
 * within the threshold, not merely not shown beyond it.
 */
export function errorRateWithinTest(
  stable: ErrorCounts,
  canary: ErrorCounts,
  bound: number,
  alpha: number,
  scale = errorRateScale(bound),
): SequentialResult {
  return errorRateWithinTestOverSteps([{ stable, canary }], bound, alpha, scale);
}

/** errorRateWithinTest over several windows (the product of their mixtures). */
export function errorRateWithinTestOverSteps(
  steps: readonly StepCounts[],
  bound: number,
  alpha: number,
  scale = errorRateScale(bound),
): SequentialResult {
  return result(
    productOverWindows(differences(steps), (d) => bound - d, scale),
    alpha,
  );
}

/**
 * The upper end of an always-valid confidence sequence for
 * p_canary − p_stable: the smallest bound that errorRateWithinTest (at a
 * fixed scale) rejects. It is the dual of the mixture test: the true
 * difference lies below it at every look at once with probability at least
 * 1 − α. Infinity without data.
 */
export function errorRateUpperBound(
  stable: ErrorCounts,
  canary: ErrorCounts,
  maxIncrease: number,
  alpha: number,
): number {
  return errorRateUpperBoundOverSteps([{ stable, canary }], maxIncrease, alpha);
}

/** errorRateUpperBound over several windows. */
export function errorRateUpperBoundOverSteps(
  steps: readonly StepCounts[],
  maxIncrease: number,
  alpha: number,
): number {
  const windows = differences(steps);
  if (windows.length === 0) return Infinity;
  const scale = errorRateScale(maxIncrease);
  const target = Math.log(1 / alpha);
  const statistic = (bound: number) => productOverWindows(windows, (d) => bound - d, scale);
  // The statistic grows with the bound; below the smallest observed
  // difference every mixture is under 1, so the edge lies above it.
  let low = Math.min(...windows.map((w) => w.difference));
  let width = ERROR_SHIFTS[ERROR_SHIFTS.length - 1]! * scale;
  while (statistic(low + width) < target) {
    width *= 2;
    if (width > 4) return Infinity;
  }
  let high = low + width;
  // 24 halvings: far below the hundredth of a point the reason shows.
  for (let i = 0; i < 24; i++) {
    const mid = (low + high) / 2;
    if (statistic(mid) >= target) high = mid;
    else low = mid;
  }
  return high;
}

/** Exceedance rates the latency mixture spreads its weight over, in multiples of p0. */
const EXCEEDANCE_MULTIPLES = [1.5, 2, 3, 5, 8, 13];
/** Exceedance rates below p0 the mirrored latency mixture spreads its weight over. */
const WITHIN_MULTIPLES = [0, 0.1, 0.25, 0.5, 0.75];

function binomialMixture(
  requests: number,
  exceeding: number,
  p0: number,
  multiples: readonly number[],
): number {
  const k = Math.min(Math.max(0, exceeding), requests);
  return logSumExp(
    multiples
      .filter((m) => m * p0 < 1)
      .map(
        (m) =>
          -Math.log(multiples.length) +
          (k === 0 ? 0 : k * Math.log(m)) +
          (requests - k) * Math.log((1 - m * p0) / (1 - p0)),
      ),
  );
}

/**
 * H0: at most a share `p0` of the canary's requests are slower than the
 * threshold, against a larger share. `exceeding` may be fractional (read
 * from histogram buckets by interpolation). A one-sided binomial mixture
 * SPRT: every component's ratio has expectation at most 1 under any rate
 * ≤ p0, so the mixture is a supermartingale over the whole null.
 */
export function exceedanceTest(
  requests: number,
  exceeding: number,
  p0: number,
  alpha: number,
): SequentialResult {
  if (requests <= 0) return result(-Infinity, alpha);
  return result(binomialMixture(requests, exceeding, p0, EXCEEDANCE_MULTIPLES), alpha);
}

/**
 * The mirror of exceedanceTest. H0: a share `p0` or more of the canary's
 * requests are slower than the threshold, against a smaller share.
 * Rejecting it is the evidence for `pass` on latency. Each component (a rate
 * m·p0 with m < 1) has a ratio whose expectation is at most 1 under any rate
 * ≥ p0, so the mixture is a supermartingale over the whole null.
 */
export function exceedanceWithinTest(
  requests: number,
  exceeding: number,
  p0: number,
  alpha: number,
): SequentialResult {
  if (requests <= 0) return result(-Infinity, alpha);
  return result(binomialMixture(requests, exceeding, p0, WITHIN_MULTIPLES), alpha);
}

/** Requests and how many of them were slow, in one window. */
export interface ExceedanceCounts {
  readonly requests: number;
  readonly exceeding: number;
}

/** exceedanceTest over several windows: the product of their mixtures, a supermartingale as each one is. */
export function exceedanceTestOverSteps(
  windows: readonly ExceedanceCounts[],
  p0: number,
  alpha: number,
): SequentialResult {
  const used = windows.filter((w) => w.requests > 0);
  if (used.length === 0) return result(-Infinity, alpha);
  let log = 0;
  for (const w of used) log += binomialMixture(w.requests, w.exceeding, p0, EXCEEDANCE_MULTIPLES);
  return result(log, alpha);
}

/** exceedanceWithinTest over several windows. */
export function exceedanceWithinTestOverSteps(
  windows: readonly ExceedanceCounts[],
  p0: number,
  alpha: number,
): SequentialResult {
  const used = windows.filter((w) => w.requests > 0);
  if (used.length === 0) return result(-Infinity, alpha);
  let log = 0;
  for (const w of used) log += binomialMixture(w.requests, w.exceeding, p0, WITHIN_MULTIPLES);
  return result(log, alpha);
}

/**
 * How many times the data seen so far a test needs before it rejects, if
 * the rates stay as observed: the smallest factor f ≥ 1 (to within 2%) with
 * `rejects(f)`; Infinity when even 10,000 times the data would not do.
 */
export function growthNeeded(rejects: (factor: number) => boolean): number {
  if (rejects(1)) return 1;
  let low = 1;
  let high = 2;
  while (!rejects(high)) {
    low = high;
    high *= 2;
    if (high > 10_000) return Infinity;
  }
  while (high / low > 1.02) {
    const mid = Math.sqrt(low * high);
    if (rejects(mid)) high = mid;
    else low = mid;
  }
  return high;
}

/** One bucket of a cumulative histogram: observations ≤ le (le may be Infinity). */
export interface Bucket {
  readonly le: number;
  readonly count: number;
}

function sortedBuckets(buckets: readonly Bucket[]): Bucket[] {
  return [...buckets].sort((a, b) => a.le - b.le);
}

/**
 * Prometheus's histogram_quantile on cumulative buckets: linear
 * interpolation inside the bucket, the lowest bucket starting at 0, and the
 * upper bound of the last finite bucket when the rank falls into +Inf.
 */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number {
  const sorted = sortedBuckets(buckets);
  const total = sorted.at(-1)?.count ?? 0;
  if (sorted.length < 2 || total <= 0 || sorted.at(-1)!.le !== Infinity) return Number.NaN;
  const rank = q * total;
  const index = sorted.findIndex((b) => b.count >= rank);
  if (index === sorted.length - 1) return sorted[sorted.length - 2]!.le;
  const upper = sorted[index]!;
  const lowerLe = index === 0 ? 0 : sorted[index - 1]!.le;
  const lowerCount = index === 0 ? 0 : sorted[index - 1]!.count;
  if (upper.count === lowerCount) return upper.le;
  return lowerLe + ((upper.le - lowerLe) * (rank - lowerCount)) / (upper.count - lowerCount);
}

/**
 * How many observations are above `threshold`, read from cumulative buckets
 * with the same linear interpolation histogram_quantile uses (so that the
 * share above a histogram's own quantile q is 1 − q).
 */
export function countAbove(threshold: number, buckets: readonly Bucket[]): number {
  const sorted = sortedBuckets(buckets);
  const total = sorted.at(-1)?.count ?? 0;
  if (total <= 0) return 0;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const bucket of sorted) {
    if (threshold < bucket.le) {
      if (bucket.le === Infinity) return total - lowerCount;
      const inside = ((threshold - lowerLe) / (bucket.le - lowerLe)) * (bucket.count - lowerCount);
      return Math.max(0, total - (lowerCount + Math.max(0, inside)));
    }
    lowerLe = bucket.le;
    lowerCount = bucket.count;
  }
  return 0;
}
