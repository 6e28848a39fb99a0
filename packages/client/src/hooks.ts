import type { CatwalkError } from './errors.js';
import type { TransportKind } from './transport.js';

/** One call as the caller made it: the same object for every attempt of the call. */
export interface CallStart {
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
  /** Host and port the call goes to (from baseUrl or grpcAddress). */
  readonly server: { readonly address: string; readonly port: number };
}

/** One attempt of a call. */
export interface CallInfo extends CallStart {
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number;
  /** Headers for this attempt; onRequest may add some (a trace context, say). */
  readonly headers: Record<string, string>;
  /** The call this attempt belongs to: the object onCallStart and onCallEnd receive. */
  readonly call: CallStart;
}

export interface CallOutcome {
  readonly durationMs: number;
  /** Attempts sent (0 when the call failed before sending anything). */
  readonly attempts: number;
  /** Set when the call failed: the error the caller gets. */
  readonly error?: CatwalkError | undefined;
}

/**
 * Observers of every call and attempt, for metrics, logs and traces. They
 * run in line with the call (in the caller's async context), so keep them
 * quick; a hook that throws is ignored.
 */
export interface Hooks {
  /** Before anything of the call is done. */
  onCallStart?(call: CallStart): void;
  onRequest?(info: CallInfo): void;
  onResponse?(info: CallInfo, outcome: { readonly durationMs: number }): void;
  onError?(info: CallInfo, outcome: { readonly durationMs: number; readonly error: CatwalkError }): void;
  /** Once per call that onCallStart saw, however it ended. */
  onCallEnd?(call: CallStart, outcome: CallOutcome): void;
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
