// Instant queries against Prometheus's HTTP API (GET /api/v1/query), with
// errors that name the server and the query.

export interface PrometheusOptions {
  /** Base URL, e.g. http://prometheus.monitoring:9090 (a path prefix is kept). */
  readonly url: string;
  /** @default 10000 */
  readonly timeoutMs?: number;
  /** Injected in tests; @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

export interface VectorSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
}

export class PrometheusQueryError extends Error {
  override readonly name = 'PrometheusQueryError';
  constructor(
    readonly url: string,
    readonly query: string,
    detail: string,
  ) {
    super(`Prometheus at ${url} could not answer ${query}: ${detail}`);
  }
}

interface ApiResponse {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: unknown };
}

function parseValue(raw: unknown): number {
  // Samples are [unixSeconds, "value"]; the value is a string so NaN and ±Inf survive JSON.
  const text = Array.isArray(raw) ? raw[1] : undefined;
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return typeof text === 'string' ? Number(text) : Number.NaN;
}

/** Runs one instant query and returns its vector (a scalar answer comes back as one sample without labels). */
export async function queryInstant(
  options: PrometheusOptions,
  query: string,
  time?: Date,
): Promise<VectorSample[]> {
  const base = options.url.replace(/\/+$/, '');
  let endpoint: URL | undefined;
  try {
    endpoint = new URL(`${base}/api/v1/query`);
  } catch {
    endpoint = undefined;
  }
  if (!endpoint || (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:')) {
    throw new PrometheusQueryError(
      options.url,
      query,
      'the URL is not valid; pass the server address, e.g. --analysis prometheus=http://prometheus:9090',
    );
  }
  const body = new URLSearchParams({ query });
  if (time) body.set('time', (time.getTime() / 1000).toFixed(3));
  const doFetch = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(endpoint, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${options.timeoutMs ?? 10_000} ms`
        : (cause?.code ?? cause?.message ?? (error as Error).message);
    throw new PrometheusQueryError(
      options.url,
      query,
      `request failed (${reason}); is the URL right and the server up?`,
    );
  }
  const text = await response.text();
  let parsed: ApiResponse;
  try {
    parsed = JSON.parse(text) as ApiResponse;
  } catch {
    throw new PrometheusQueryError(
      options.url,
      query,
      `HTTP ${response.status} with a body that is not the Prometheus API's JSON: ${text.slice(0, 200)}`,
    );
  }
  if (parsed.status !== 'success') {
    throw new PrometheusQueryError(
      options.url,
      query,
      `HTTP ${response.status}, ${parsed.errorType ?? 'error'}: ${parsed.error ?? 'no message'}`,
    );
  }
  const data = parsed.data;
  if (data?.resultType === 'scalar') return [{ metric: {}, value: parseValue(data.result) }];
  if (data?.resultType !== 'vector' || !Array.isArray(data.result)) {
    throw new PrometheusQueryError(
      options.url,
      query,
      `expected a vector, got ${data?.resultType ?? 'nothing'}`,
    );
  }
  return (data.result as Array<{ metric?: Record<string, string>; value?: unknown }>).map((r) => ({
    metric: r.metric ?? {},
    value: parseValue(r.value),
  }));
}
