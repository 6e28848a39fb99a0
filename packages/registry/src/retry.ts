// Our own retries, around whole operations the S3 client cannot retry by
// itself: a download whose body was cut short or reset after its headers
// came, or whose bytes failed their checksum. Single requests are retried by
// the client's retry strategy (maxAttempts, one budget per client); an error
// that came out of those retries is final here, so a request that keeps
// failing is sent maxAttempts times, never maxAttempts times our attempts.

import { backOff } from 'exponential-backoff';
import { RegistryError } from './errors';

export interface RetryOptions {
  /** Attempts including the first. @default 5 */
  readonly attempts?: number;
  /** First delay in ms; doubles each time, with full jitter. @default 200 */
  readonly initialDelayMs?: number;
  /** @default 5000 */
  readonly maxDelayMs?: number;
  readonly signal?: AbortSignal;
  /** Called before each new attempt, with the error that ended the last one. */
  readonly onRetry?: (error: unknown, attempt: number) => void;
}

export function isAbort(error: unknown): boolean {
  const name = (error as { name?: string })?.name;
  return name === 'AbortError' || name === 'RequestAbortedError';
}

/** Whether trying again may help: network trouble, 5xx, throttling, a cut body; not a 4xx or our own refusals. */
export function isRetryable(error: unknown): boolean {
  if (isAbort(error)) return false;
  if (error instanceof RegistryError) return error.retryable;
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 400 && status < 500) return status === 408 || status === 429;
  return true;
}

/** What went wrong, in a word, for the errors_total metric and the logs. */
export function errorKind(error: unknown): string {
  if (isAbort(error)) return 'aborted';
  if (error instanceof RegistryError) return error.name;
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  if (e?.name === 'SlowDown' || status === 503) return 'throttled';
  if (status !== undefined && status >= 500) return 'server';
  if (status !== undefined) return `http_${status}`;
  if (e?.code && /^E[A-Z]+$/.test(e.code)) return 'network';
  // The SDK's retry layer can re-wrap a socket error into a plain Error that keeps only its text.
  if (
    /socket hang up|\bE(CONNRESET|CONNREFUSED|PIPE|TIMEDOUT|HOSTUNREACH|AI_AGAIN)\b/.test(
      String((error as Error)?.message),
    )
  ) {
    return 'network';
  }
  return 'other';
}

/** Errors that already came out of the S3 client's own retries. */
const spent = new WeakSet<object>();

/**
 * Marks an error thrown by a request the S3 client already retried (getObject
 * and every SDK call), so withRetries does not send it again; returns it.
 */
export function retriesSpent(error: unknown): unknown {
  if (typeof error === 'object' && error !== null) spent.add(error);
  return error;
}

export function withRetries<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  return backOff(fn, {
    numOfAttempts: options.attempts ?? 5,
    startingDelay: options.initialDelayMs ?? 200,
    maxDelay: options.maxDelayMs ?? 5000,
    timeMultiple: 2,
    jitter: 'full',
    delayFirstAttempt: false,
    retry: (error, attempt) => {
      if (options.signal?.aborted || !isRetryable(error)) return false;
      if (typeof error === 'object' && error !== null && spent.has(error)) return false;
      options.onRetry?.(error, attempt);
      return true;
    },
  });
}

export function describeError(error: unknown): string {
  if (error instanceof RegistryError) return error.message;
  const e = error as {
    name?: string;
    message?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = e?.$metadata?.httpStatusCode;
  const message = e?.message && e.message !== 'UnknownError' ? e.message : (e?.name ?? String(error));
  return status ? `${message} (HTTP ${status})` : message;
}
