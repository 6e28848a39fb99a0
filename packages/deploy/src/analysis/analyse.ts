// analyseExperiment: asks Prometheus for both tracks' numbers since the
// experiment started and turns them into a verdict (verdict.ts).
import { type PrometheusOptions, queryInstant, type VectorSample } from './prometheus';
import { promDuration, type Track, type TrackSelector, trackQueries } from './queries';
import type { Bucket } from './sequential';
import { type AnalysisThresholds, type Decision, decide, decideOverSteps, type TrackSample } from './verdict';

export interface AnalyseOptions {
  /** e.g. http://prometheus.monitoring:9090 */
  readonly prometheusUrl: string;
  /** The model's name: TF Serving's model_name label. */
  readonly model: string;
  /** Adds namespace="<namespace>" to every selector (the label Prometheus's Kubernetes discovery sets). */
  readonly namespace?: string;
  /**
   * What the verdict looks at: the time since the experiment started, in
   * seconds or as a duration ("900s"). The sequential tests are only valid
   * over data that grows from look to look, so this must not be a fixed
   * sliding window.
   */
  readonly window: string | number;
  /**
   * When each step's weight took effect, oldest first (the first is the
   * experiment's start). Given, each step is compared over its own window,
   * both tracks over the same time (decideOverSteps), and `window` is not
   * used: a drift of the error rate while the weight rises then biases
   * nothing. Absent, both tracks are pooled over `window`.
   */
  readonly stepStarts?: readonly Date[];
  readonly thresholds: AnalysisThresholds;
  /** @default "track": a label with values "stable" and "canary" */
  readonly trackSelector?: TrackSelector;
  /** Evaluation time; @default now */
  readonly at?: Date;
  /** Total false-alarm rate over the whole experiment; @default ALPHA (0.05) */
  readonly alpha?: number;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

function finite(samples: readonly VectorSample[]): number | undefined {
  const value = samples[0]?.value;
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

async function sampleTrack(
  prometheus: PrometheusOptions,
  options: AnalyseOptions,
  window: { text: string; seconds: number },
  track: Track,
  at: Date | undefined,
): Promise<TrackSample> {
  const q = trackQueries({
    model: options.model,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    window: window.text,
    selector: options.trackSelector ?? 'track',
    track,
  });
  const [byStatus, buckets, p50, p99] = await Promise.all([
    queryInstant(prometheus, q.requestsByStatus, at),
    queryInstant(prometheus, q.latencyBuckets, at),
    queryInstant(prometheus, q.p50, at),
    queryInstant(prometheus, q.p99, at),
  ]);
  let requests = 0;
  let errors = 0;
  for (const s of byStatus) {
    if (!Number.isFinite(s.value)) continue;
    requests += s.value;
    if (s.metric.status !== 'OK') errors += s.value;
  }
  const latencyBuckets: Bucket[] = buckets
    .map((s) => ({ le: s.metric.le === '+Inf' ? Infinity : Number(s.metric.le), count: s.value }))
    .filter((b) => !Number.isNaN(b.le) && Number.isFinite(b.count))
    .sort((a, b) => a.le - b.le);
  const p50Micros = finite(p50);
  const p99Micros = finite(p99);
  return {
    requests,
    errors,
    windowSeconds: window.seconds,
    latencyBuckets,
    ...(p50Micros === undefined ? {} : { p50Micros }),
    ...(p99Micros === undefined ? {} : { p99Micros }),
  };
}

/**
 * Compares the canary with the stable track between two steps of an
 * experiment: `fail` (with the metric and by how much) when the canary is
 * worse beyond the thresholds with the evidence a sequential test needs,
 * `pass` when the mirrored tests show it within them (error-rate increase
 * and slow share both bounded below their limits), `inconclusive` (with how
 * many more requests are needed) otherwise, and always before either track
 * has `minRequests`. The thresholds are the spec's, already validated by its
 * schema (analysisThresholds of @catwalk/schema).
 */
export async function analyseExperiment(options: AnalyseOptions): Promise<Decision> {
  const prometheus: PrometheusOptions = {
    url: options.prometheusUrl,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  const sampleBoth = (window: { text: string; seconds: number }, at: Date | undefined) =>
    Promise.all([
      sampleTrack(prometheus, options, window, 'stable', at),
      sampleTrack(prometheus, options, window, 'canary', at),
    ]).then(([stable, canary]) => ({ stable, canary }));
  if (options.stepStarts && options.stepStarts.length > 0) {
    const end = options.at ?? new Date();
    const starts = options.stepStarts;
    const windows = starts
      .map((start, i) => {
        const until = i + 1 < starts.length ? starts[i + 1]! : end;
        return { until, seconds: Math.floor((until.getTime() - start.getTime()) / 1000) };
      })
      // A step shorter than a second (a weight changed twice at once) has nothing to compare.
      .filter((w) => w.seconds >= 1);
    if (windows.length > 0) {
      const steps = await Promise.all(windows.map((w) => sampleBoth(promDuration(w.seconds), w.until)));
      return decideOverSteps(steps, options.thresholds, options.alpha);
    }
  }
  const { stable, canary } = await sampleBoth(promDuration(options.window), options.at);
  return decide(stable, canary, options.thresholds, options.alpha);
}
