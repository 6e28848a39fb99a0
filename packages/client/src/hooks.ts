import type { CatwalkError } from './errors.js';
import type { TransportKind } from './transport.js';

export interface CallInfo {
  readonly method:
    | 'predict'
    | 'classify'
    | 'regress'
    | 'multiInference'
    | 'metadata'
    | 'status'
    | 'reloadConfig';
  readonly model: string;
  readonly version: number | undefined;
  readonly label: string | undefined;
  readonly signature: string | undefined;
  readonly transport: TransportKind;
  /** Sent as the x-request-id header (REST) or metadata (gRPC); the same for every attempt. */
  readonly requestId: string;
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number;
  /** Headers for this attempt; onRequest may add some (a trace context, say). */
  readonly headers: Record<string, string>;
}

/**
 * Observers of every attempt, for metrics, logs and traces. They run in
 * line with the call, so keep them quick; a hook that throws is ignored.
 */
export interface Hooks {
  onRequest?(info: CallInfo): void;
  onResponse?(info: CallInfo, outcome: { readonly durationMs: number }): void;
  onError?(info: CallInfo, outcome: { readonly durationMs: number; readonly error: CatwalkError }): void;
}

export function runHooks<K extends keyof Hooks>(
  hooks: readonly Hooks[],
  name: K,
  ...args: Parameters<NonNullable<Hooks[K]>>
): void {
  for (const hook of hooks) {
    const fn = hook[name] as ((...a: unknown[]) => void) | undefined;
    if (!fn) continue;
    try {
      fn.apply(hook, args);
    } catch {
      // A broken metrics or logging hook must not fail the model call.
    }
  }
}
