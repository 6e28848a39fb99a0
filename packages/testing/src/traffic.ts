// What a model does to the calls it serves, as a test sets it: a share of
// failures and a latency distribution. Draws come from a seeded generator so
// a test that sends its calls one after the other sees the same outcomes on
// every run.
import type { ErrorCode } from '@catwalk/client';

export type LatencyDistribution =
  /** Every call takes this long. */
  | { readonly fixedMs: number }
  /** Log-normal with this median and 99th percentile (p99Ms ≥ medianMs). */
  | { readonly medianMs: number; readonly p99Ms: number };

export interface TrafficBehaviour {
  /** Share of inference calls (0 to 1) that fail. @default 0 */
  readonly errorRate?: number;
  /** TF Serving code of those failures. @default "UNAVAILABLE" */
  readonly errorCode?: ErrorCode;
  /** How long each inference call takes before it answers. @default no added time */
  readonly latency?: LatencyDistribution;
  /** Seed of the generator behind both. @default 1 */
  readonly seed?: number;
}

// z of the standard normal's 99th percentile.
const Z99 = 2.3263478740408408;

/** mulberry32: small, fast, and good enough to draw test traffic. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class TrafficModel {
  private readonly random: () => number;
  readonly errorRate: number;
  readonly errorCode: ErrorCode;

  constructor(
    readonly model: string,
    private readonly behaviour: TrafficBehaviour,
  ) {
    const where = `setTraffic('${model}')`;
    const rate = behaviour.errorRate ?? 0;
    if (!(rate >= 0 && rate <= 1)) {
      throw new Error(`${where}: errorRate must be a share between 0 and 1 (0.03 is 3%), got ${rate}`);
    }
    if (behaviour.errorCode === 'OK') {
      throw new Error(`${where}: errorCode must be a failure code such as "UNAVAILABLE", not "OK"`);
    }
    const latency = behaviour.latency;
    if (latency && 'fixedMs' in latency && !(latency.fixedMs >= 0)) {
      throw new Error(`${where}: latency.fixedMs must be 0 or more milliseconds, got ${latency.fixedMs}`);
    }
    if (latency && 'medianMs' in latency && !(latency.medianMs > 0 && latency.p99Ms >= latency.medianMs)) {
      throw new Error(
        `${where}: latency needs medianMs > 0 and p99Ms ≥ medianMs, got medianMs ${latency.medianMs} and p99Ms ${latency.p99Ms}`,
      );
    }
    this.errorRate = rate;
    this.errorCode = behaviour.errorCode ?? 'UNAVAILABLE';
    this.random = generator(behaviour.seed ?? 1);
  }

  /** Milliseconds the next call takes. */
  drawLatencyMs(): number {
    const latency = this.behaviour.latency;
    if (!latency) return 0;
    if ('fixedMs' in latency) return latency.fixedMs;
    const sigma = Math.log(latency.p99Ms / latency.medianMs) / Z99;
    // Box-Muller; 1 - u keeps the logarithm finite.
    const u = 1 - this.random();
    const v = this.random();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return latency.medianMs * Math.exp(sigma * z);
  }

  /** Whether the next call fails. */
  drawFailure(): boolean {
    return this.errorRate > 0 && this.random() < this.errorRate;
  }
}
