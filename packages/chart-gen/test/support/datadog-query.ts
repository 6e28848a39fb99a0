// A checker for Datadog's metric query syntax as its API documentation gives
// it (Monitors: "Metric Alert Query" and "Change Alert Query"; Dashboards:
// metric queries of a formula request):
//
//   time_aggr(time_window):space_aggr:metric{tags} [by {key}] operator #
//   change(time_aggr(time_window),timeshift):space_aggr:metric{tags} [by {key}] operator #
//
// time_aggr is avg, sum, min, max, change or pct_change; time_window last_#m
// (1-10080), last_#h (1-168), last_#d (1-7) or last_#w (1); metric queries may
// be combined with + - * / and numbers; .as_count() / .as_rate() modify a
// count's aggregation; percentile aggregators (p50 ... p99) apply to
// distributions. Tag filters: key:value, key IN (a,b), NOT forms, *, and
// $variables in dashboards.

export interface MetricQuery {
  readonly aggregator: string;
  readonly metric: string;
  readonly filters: readonly string[];
  readonly by: readonly string[];
}

const TIME_AGGREGATORS = ['avg', 'sum', 'min', 'max', 'change', 'pct_change'];
const SPACE_AGGREGATORS = ['avg', 'sum', 'min', 'max', 'p50', 'p75', 'p90', 'p95', 'p99'];
const COMPARATORS = ['>', '>=', '<', '<=', '==', '!='];
const WINDOW_LIMITS: Record<string, number> = { m: 10080, h: 168, d: 7, w: 1 };

export class DatadogQueryError extends Error {}

function window(text: string): void {
  const match = /^last_([0-9]+)([mhdw])$/.exec(text);
  if (!match)
    throw new DatadogQueryError(`'${text}' is not a time window (last_#m, last_#h, last_#d, last_#w)`);
  const n = Number(match[1]);
  if (n < 1 || n > WINDOW_LIMITS[match[2]!]!) throw new DatadogQueryError(`'${text}' is out of range`);
}

function tagFilter(item: string): void {
  const t = item.trim();
  if (t === '*' || /^\$[a-z_]+$/.test(t)) return;
  if (/^!?[a-z][a-z0-9_.\-/]*:[a-z0-9_.\-/*]+$/.test(t)) return;
  if (/^[a-z][a-z0-9_.\-/]* (NOT )?IN \([a-z0-9_.\-/]+(,[a-z0-9_.\-/]+)*\)$/.test(t)) return;
  throw new DatadogQueryError(`'${t}' is not a tag filter (key:value, key IN (a,b), * or $variable)`);
}

/** Splits a tag list on commas outside parentheses. */
function splitFilters(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

const METRIC_QUERY =
  /^([a-z0-9_]+):([a-z][a-z0-9_.]*)\{([^}]*)\}(?: by \{([a-z_][a-z0-9_,]*)\})?(\.as_count\(\)|\.as_rate\(\))?$/;

/** One metric query: space_aggr:metric{tags} [by {keys}] [.as_count()|.as_rate()]. */
export function parseMetricQuery(text: string): MetricQuery {
  const match = METRIC_QUERY.exec(text.trim());
  if (!match)
    throw new DatadogQueryError(`'${text}' is not a metric query (space_aggr:metric{tags} [by {key}])`);
  const [, aggregator, metric, tags, by] = match;
  if (!SPACE_AGGREGATORS.includes(aggregator!))
    throw new DatadogQueryError(`unknown space aggregator '${aggregator}'`);
  const filters = splitFilters(tags!);
  filters.forEach(tagFilter);
  return { aggregator: aggregator!, metric: metric!, filters, by: by ? by.split(',') : [] };
}

/** Metric queries joined by arithmetic (+ - * /) and numbers; returns the metric queries. */
function parseExpression(text: string): MetricQuery[] {
  // Grouping parentheses stand apart with spaces: `( a - b ) * c`.
  let depth = 0;
  for (const token of text.split(' ')) {
    if (token === '(') depth++;
    if (token === ')') depth--;
    if (depth < 0) throw new DatadogQueryError(`unbalanced parentheses in '${text}'`);
  }
  if (depth !== 0) throw new DatadogQueryError(`unbalanced parentheses in '${text}'`);
  const terms = text
    .split(/ ([-+*/]) /)
    .filter((_, i) => i % 2 === 0)
    .map((term) => term.replace(/^(\( )+/, '').replace(/( \))+$/, ''));
  if (terms.length === 0) throw new DatadogQueryError('empty expression');
  return terms.flatMap((term) => (/^[0-9.]+$/.test(term.trim()) ? [] : [parseMetricQuery(term)]));
}

export interface MonitorQuery {
  readonly timeAggregator: string;
  readonly window: string;
  readonly timeshift?: string;
  readonly metrics: readonly MetricQuery[];
  readonly comparator: string;
  readonly threshold: number;
}

/** A metric monitor's query (type "query alert"). */
export function parseMonitorQuery(text: string): MonitorQuery {
  const change = /^change\(([a-z_]+)\(([^)]*)\),([^)]*)\):(.*)$/.exec(text);
  const plain = /^([a-z_]+)\(([^)]*)\):(.*)$/.exec(text);
  const head = change ?? plain;
  if (!head) throw new DatadogQueryError(`'${text}' does not start with time_aggr(time_window):`);
  const timeAggregator = head[1]!;
  if (!TIME_AGGREGATORS.includes(timeAggregator))
    throw new DatadogQueryError(`unknown time aggregator '${timeAggregator}'`);
  window(head[2]!);
  if (change) window(change[3]!);
  const rest = (change ? change[4] : plain![3])!;
  const tail = /^(.*) (>=|<=|==|!=|>|<) (-?[0-9.]+)$/.exec(rest);
  if (!tail || !COMPARATORS.includes(tail[2]!))
    throw new DatadogQueryError(`'${rest}' does not end with operator #`);
  return {
    timeAggregator,
    window: head[2]!,
    ...(change ? { timeshift: change[3]! } : {}),
    metrics: parseExpression(tail[1]!),
    comparator: tail[2]!,
    threshold: Number(tail[3]),
  };
}
