export interface RetryOptions {
  /** Attempts in all, the first included. 1 disables retries. @default 3 */
  readonly maxAttempts?: number;
  /** Upper bound of the first backoff; each retry doubles it. @default 50 */
  readonly initialBackoffMs?: number;
  /** Cap on one backoff. @default 2000 */
  readonly maxBackoffMs?: number;
  /**
   * Retry budget shared by every call of the client (gRPC's retry throttling):
   * each retryable failure costs a token, each success earns `tokenRatio`
   * back, and retries stop while fewer than half of `maxTokens` remain.
   * @default { maxTokens: 10, tokenRatio: 0.1 }
   */
  readonly budget?: { readonly maxTokens?: number; readonly tokenRatio?: number } | false;
}

export interface ResolvedRetry {
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly budget: RetryBudget | undefined;
}

export function resolveRetry(options: RetryOptions | false | undefined): ResolvedRetry {
  if (options === false) return { maxAttempts: 1, initialBackoffMs: 0, maxBackoffMs: 0, budget: undefined };
  const budget = options?.budget;
  return {
    maxAttempts: Math.max(1, options?.maxAttempts ?? 3),
    initialBackoffMs: options?.initialBackoffMs ?? 50,
    maxBackoffMs: options?.maxBackoffMs ?? 2000,
    budget:
      budget === false ? undefined : new RetryBudget(budget?.maxTokens ?? 10, budget?.tokenRatio ?? 0.1),
  };
}

/** Token bucket that stops retry storms when most calls are failing. */
export class RetryBudget {
  private tokens: number;

  constructor(
    private readonly maxTokens: number,
    private readonly tokenRatio: number,
  ) {
    this.tokens = maxTokens;
  }

  onSuccess(): void {
    this.tokens = Math.min(this.maxTokens, this.tokens + this.tokenRatio);
  }

  /** Records a retryable failure; says whether a retry is still allowed. */
  onFailure(): boolean {
    this.tokens = Math.max(0, this.tokens - 1);
    return this.tokens > this.maxTokens / 2;
  }
}

/** Full jitter: a uniform delay between 0 and the exponential bound. */
export function backoffMs(retry: ResolvedRetry, attempt: number, random: () => number = Math.random): number {
  const bound = Math.min(retry.maxBackoffMs, retry.initialBackoffMs * 2 ** (attempt - 1));
  return Math.floor(random() * bound);
}

/** Waits, unless the signal fires first. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
