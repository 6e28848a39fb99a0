// PromQL for one track of an experiment, over TF Serving's own metrics:
// :tensorflow:serving:request_count{model_name,status} and the
// :tensorflow:serving:request_latency{model_name,API,entrypoint} histogram
// (microseconds). Names that start with ':' are written as __name__
// matchers, which every PromQL parser reads the same way.

export const REQUEST_COUNT = ':tensorflow:serving:request_count';
export const REQUEST_LATENCY_BUCKET = ':tensorflow:serving:request_latency_bucket';

export type Track = 'stable' | 'canary';

/**
 * How Prometheus tells the tracks apart: the name of a label whose values
 * are "stable" and "canary" (e.g. "track"), or PromQL label matchers per
 * track (e.g. { stable: 'version="3"', canary: 'version="4"' }).
 */
export type TrackSelector = string | { readonly stable: string; readonly canary: string };

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const MATCHERS =
  /^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*(,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*)*$/;

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export function trackMatchers(selector: TrackSelector, track: Track): string {
  if (typeof selector === 'string') {
    if (!LABEL_NAME.test(selector)) {
      throw new Error(
        `trackSelector "${selector}" is not a Prometheus label name; give the label that holds "stable"/"canary" (e.g. "track") or { stable: 'label="value"', canary: 'label="value"' }`,
      );
    }
    return `${selector}=${quote(track)}`;
  }
  const matchers = selector[track];
  if (typeof matchers !== 'string' || !MATCHERS.test(matchers)) {
    throw new Error(
      `trackSelector.${track} must be PromQL label matchers such as 'track="${track}"', got ${JSON.stringify(matchers)}`,
    );
  }
  return matchers.trim();
}

/** A PromQL duration from seconds or a duration text ("90s", "10m", "1h30m"). */
export function promDuration(window: string | number): { text: string; seconds: number } {
  if (typeof window === 'number') {
    if (!(window >= 1) || !Number.isFinite(window)) {
      throw new Error(`window must be at least 1 second, got ${window}`);
    }
    const seconds = Math.ceil(window);
    return { text: `${seconds}s`, seconds };
  }
  const units: Record<string, number> = {
    ms: 0.001,
    s: 1,
    m: 60,
    h: 3600,
    d: 86_400,
    w: 604_800,
    y: 31_536_000,
  };
  const parts = /^((\d+)(ms|s|m|h|d|w|y))+$/.test(window)
    ? [...window.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)]
    : [];
  const seconds = parts.reduce((sum, m) => sum + Number(m[1]) * units[m[2]!]!, 0);
  if (parts.length === 0 || seconds < 1) {
    throw new Error(`window "${window}" is not a Prometheus duration of at least 1s, e.g. "600s" or "10m"`);
  }
  return { text: window, seconds };
}

export interface TrackQueries {
  /** Requests in the window by status code (OK, UNAVAILABLE, ...). */
  readonly requestsByStatus: string;
  /** Latency buckets' increase in the window, by le (microseconds). */
  readonly latencyBuckets: string;
  readonly p50: string;
  readonly p99: string;
}

export function trackQueries(options: {
  readonly model: string;
  readonly namespace?: string;
  readonly window: string;
  readonly selector: TrackSelector;
  readonly track: Track;
}): TrackQueries {
  const scope = [
    `model_name=${quote(options.model)}`,
    ...(options.namespace ? [`namespace=${quote(options.namespace)}`] : []),
    trackMatchers(options.selector, options.track),
  ].join(', ');
  const counts = `{__name__=${quote(REQUEST_COUNT)}, ${scope}}[${options.window}]`;
  const buckets = `{__name__=${quote(REQUEST_LATENCY_BUCKET)}, ${scope}}[${options.window}]`;
  return {
    requestsByStatus: `sum by (status) (increase(${counts}))`,
    latencyBuckets: `sum by (le) (increase(${buckets}))`,
    p50: `histogram_quantile(0.5, sum by (le) (rate(${buckets})))`,
    p99: `histogram_quantile(0.99, sum by (le) (rate(${buckets})))`,
  };
}
