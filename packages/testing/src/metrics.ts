// TF Serving's Prometheus page (util/prometheus_exporter.cc) over the
// metrics TF Serving and TensorFlow define: names with '/' turned into ':',
// a "# TYPE" line per metric (also for metrics without points), no HELP,
// histograms with TF's bucket limits and a last bucket written as +Inf,
// bucket limits and sums written with six significant digits (absl::StrCat
// of a double) and counters as integers.
import type { ErrorCode } from '@catwalk/client';

/** monitoring::Buckets::Exponential(scale, growth, count) plus TF's DBL_MAX bucket. */
export function exponentialBuckets(scale: number, growth: number, count: number): number[] {
  const limits: number[] = [];
  let bound = scale;
  for (let i = 0; i < count; i++) {
    limits.push(bound);
    bound *= growth;
  }
  return limits;
}

/** request_latency, runtime_latency, model_warmup_latency: 10 µs × 1.8^i, 33 limits (~20 minutes). */
export const LATENCY_BUCKETS_MICROS: readonly number[] = exponentialBuckets(10, 1.8, 33);
/** batching_session/queuing_latency: 100 µs × 1.2^i, 52 limits (~1 second). */
export const QUEUING_BUCKETS_MICROS: readonly number[] = exponentialBuckets(100, 1.2, 52);

/** absl::StrCat(double): %g with six significant digits, exponent with at least two digits. */
export function sixDigits(value: number): string {
  if (value === 0) return '0';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : value < 0 ? '-inf' : 'nan';
  const exponent = Math.floor(Math.log10(Math.abs(Number(value.toPrecision(6)))));
  if (exponent < -4 || exponent >= 6) {
    const [mantissa, exp] = value.toExponential(5).split('e') as [string, string];
    const trimmed = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[+-]/, '').padStart(2, '0');
    return `${trimmed}e${sign}${digits}`;
  }
  const fixed = value.toFixed(Math.max(0, 5 - exponent));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

type Labels = readonly string[];

interface Family {
  readonly name: string;
  readonly labelNames: readonly string[];
  render(lines: string[]): void;
}

/** The Prometheus name TF Serving writes for a TF metric name. */
function prometheusName(tfName: string): string {
  return tfName.replace(/[^a-zA-Z0-9_]/g, ':');
}

function labelText(names: readonly string[], values: Labels): string[] {
  return names.map((n, i) => `${n}="${values[i]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
}

function keyOf(values: Labels): string {
  return JSON.stringify(values);
}

/** TF's collection registry keeps cells in a std::map: points come out sorted by label values. */
function sortedCells<T>(cells: Map<string, { labels: Labels; cell: T }>) {
  return [...cells.values()].sort((a, b) => {
    for (let i = 0; i < a.labels.length; i++) {
      if (a.labels[i] !== b.labels[i]) return a.labels[i]! < b.labels[i]! ? -1 : 1;
    }
    return 0;
  });
}

export class Counter implements Family {
  private readonly cells = new Map<string, { labels: Labels; cell: { value: number } }>();
  constructor(
    readonly name: string,
    readonly labelNames: readonly string[],
  ) {}

  increment(labels: Labels, by = 1): void {
    const key = keyOf(labels);
    const entry = this.cells.get(key) ?? { labels: [...labels], cell: { value: 0 } };
    entry.cell.value += by;
    this.cells.set(key, entry);
  }

  value(labels: Labels): number {
    return this.cells.get(keyOf(labels))?.cell.value ?? 0;
  }

  render(lines: string[]): void {
    const name = prometheusName(this.name);
    lines.push(`# TYPE ${name} counter`);
    for (const { labels, cell } of sortedCells(this.cells)) {
      lines.push(`${name}{${labelText(this.labelNames, labels).join(',')}} ${Math.trunc(cell.value)}`);
    }
  }
}

interface HistogramCell {
  readonly counts: number[];
  sum: number;
}

export class Sampler implements Family {
  private readonly cells = new Map<string, { labels: Labels; cell: HistogramCell }>();
  constructor(
    readonly name: string,
    readonly labelNames: readonly string[],
    readonly limits: readonly number[],
  ) {}

  /** Histogram::Add: the bucket is the first limit above the value (limits are exclusive upper bounds). */
  add(labels: Labels, value: number): void {
    const key = keyOf(labels);
    let entry = this.cells.get(key);
    if (!entry) {
      entry = { labels: [...labels], cell: { counts: new Array(this.limits.length + 1).fill(0), sum: 0 } };
      this.cells.set(key, entry);
    }
    let index = this.limits.findIndex((limit) => value < limit);
    if (index === -1) index = this.limits.length;
    entry.cell.counts[index]!++;
    entry.cell.sum += value;
  }

  count(labels: Labels): number {
    return this.cells.get(keyOf(labels))?.cell.counts.reduce((a, b) => a + b, 0) ?? 0;
  }

  render(lines: string[]): void {
    const name = prometheusName(this.name);
    lines.push(`# TYPE ${name} histogram`);
    for (const { labels, cell } of sortedCells(this.cells)) {
      const text = labelText(this.labelNames, labels);
      const prefix = `${name}_bucket{${text.join(',')}${text.length > 0 ? ',' : ''}`;
      let cumulative = 0;
      cell.counts.forEach((count, i) => {
        cumulative += count;
        const le = i < this.limits.length ? sixDigits(this.limits[i]!) : '+Inf';
        lines.push(`${prefix}le="${le}"} ${cumulative}`);
      });
      lines.push(`${name}_sum{${text.join(',')}} ${sixDigits(cell.sum)}`);
      lines.push(`${name}_count{${text.join(',')}} ${cumulative}`);
    }
  }
}

export type InferenceApi = 'Predict' | 'Classify' | 'Regress';
export type Entrypoint = 'REST' | 'GRPC';

/** The metrics the fake keeps, with the names, labels and buckets of TF Serving 2.x. */
export class ServingMetrics {
  // servables/tensorflow/util.cc
  readonly requestCount = new Counter('/tensorflow/serving/request_count', ['model_name', 'status']);
  readonly requestLatency = new Sampler(
    '/tensorflow/serving/request_latency',
    ['model_name', 'API', 'entrypoint'],
    LATENCY_BUCKETS_MICROS,
  );
  // servables/tensorflow/saved_model_warmup_util.cc
  readonly warmupLatency = new Sampler(
    '/tensorflow/serving/model_warmup_latency',
    ['model_path', 'status'],
    LATENCY_BUCKETS_MICROS,
  );
  // tensorflow/cc/saved_model/loader.cc
  readonly loadAttemptCount = new Counter('/tensorflow/cc/saved_model/load_attempt_count', [
    'model_path',
    'status',
  ]);
  readonly loadLatency = new Counter('/tensorflow/cc/saved_model/load_latency', ['model_path']);
  // batching/batching_session.cc, present only when batching is on
  readonly queuingLatency = new Sampler(
    '/tensorflow/serving/batching_session/queuing_latency',
    ['thread_pool_name'],
    QUEUING_BUCKETS_MICROS,
  );
  readonly wrappedRunCount = new Counter('/tensorflow/serving/batching_session/wrapped_run_count', []);

  constructor(readonly batching: boolean) {}

  /**
   * One inference call, as PredictionServiceImpl records it: the count by
   * status code always, the latency only when the call succeeded.
   */
  recordRequest(
    model: string,
    api: InferenceApi,
    entrypoint: Entrypoint,
    code: ErrorCode,
    micros: number,
    queuedMicros: number,
  ): void {
    this.requestCount.increment([model, code]);
    if (code !== 'OK') return;
    this.requestLatency.add([model, api, entrypoint], micros);
    if (this.batching) {
      // The fake's simulated wait stands for the time in the batching queue.
      this.queuingLatency.add([''], queuedMicros);
      this.wrappedRunCount.increment([]);
    }
  }

  /** A version loaded from `path` (and warmed up, when it has warm-up data). */
  recordLoad(path: string, loadMicros: number, warmupMicros: number | undefined): void {
    this.loadAttemptCount.increment([path, 'success']);
    this.loadLatency.increment([path], Math.round(loadMicros));
    if (warmupMicros !== undefined) this.warmupLatency.add([path, 'OK'], Math.round(warmupMicros));
  }

  /** The page GET <monitoring path> answers, metrics sorted by TF name as the registry's std::map keeps them. */
  render(): string {
    const families: Family[] = [
      this.requestCount,
      this.requestLatency,
      this.warmupLatency,
      this.loadAttemptCount,
      this.loadLatency,
    ];
    if (this.batching) families.push(this.queuingLatency, this.wrappedRunCount);
    families.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const lines: string[] = [];
    for (const family of families) family.render(lines);
    return `${lines.join('\n')}\n`;
  }
}
