// Ready-made hooks that feed OpenTelemetry: spans for every call and attempt,
// trace context on every request, and request-duration histograms.
// @opentelemetry/api is an optional peer dependency: the caller passes its
// module in, so importing the SDK never loads it.
import type { CatwalkError } from './errors.js';
import type { CallInfo, CallStart, Hooks } from './hooks.js';

type Attributes = Record<string, string | number | boolean>;

/** The parts of a span these hooks use. */
export interface SpanLike {
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

export interface TracerLike {
  startSpan(name: string, options: { kind: number; attributes: Attributes }, context: unknown): SpanLike;
}

export interface MeterLike {
  createHistogram(
    name: string,
    options: { description: string; unit: string; advice?: { explicitBucketBoundaries: number[] } },
  ): { record(value: number, attributes: Attributes, context?: unknown): void };
}

/**
 * The parts of `@opentelemetry/api` these hooks use (structural, so its types
 * are not required): pass the module itself, `import * as otel from
 * '@opentelemetry/api'`.
 */
export interface OpenTelemetryApiLike {
  readonly context: { active(): unknown };
  readonly trace: {
    getTracer(name: string, version?: string): TracerLike;
    setSpan(context: unknown, span: SpanLike): unknown;
  };
  readonly propagation: {
    inject(context: unknown, carrier: Record<string, string>): void;
  };
  readonly metrics: { getMeter(name: string, version?: string): MeterLike };
  readonly SpanKind: { readonly INTERNAL: number; readonly CLIENT: number };
  readonly SpanStatusCode: { readonly ERROR: number };
}

export interface OpenTelemetryHookOptions {
  /** @default the global tracer provider (otel.trace) */
  readonly tracerProvider?: { getTracer(name: string, version?: string): TracerLike };
  /** @default the global meter provider (otel.metrics) */
  readonly meterProvider?: { getMeter(name: string, version?: string): MeterLike };
  /** Record request-duration histograms. @default true */
  readonly metrics?: boolean;
}

const SCOPE = '@catwalk/client';

/** TF Serving's gRPC service and method behind each SDK method (REST is a front for the same calls). */
const RPC: Record<CallStart['method'], readonly [service: string, method: string]> = {
  predict: ['tensorflow.serving.PredictionService', 'Predict'],
  classify: ['tensorflow.serving.PredictionService', 'Classify'],
  regress: ['tensorflow.serving.PredictionService', 'Regress'],
  multiInference: ['tensorflow.serving.PredictionService', 'MultiInference'],
  metadata: ['tensorflow.serving.PredictionService', 'GetModelMetadata'],
  status: ['tensorflow.serving.ModelService', 'GetModelStatus'],
  reloadConfig: ['tensorflow.serving.ModelService', 'HandleReloadConfigRequest'],
};

/** TF Serving's REST route for each method that has one. */
const REST: Partial<Record<CallStart['method'], readonly [verb: string, suffix: string]>> = {
  predict: ['POST', ':predict'],
  classify: ['POST', ':classify'],
  regress: ['POST', ':regress'],
  metadata: ['GET', '/metadata'],
  status: ['GET', ''],
};

// Bucket advice of the HTTP semantic conventions (seconds); the same bounds in ms for the RPC histogram.
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * Traces and metrics through the OpenTelemetry API.
 *
 * Spans: one INTERNAL span per call (`predict pricing`), parented on the
 * caller's active context, and under it one CLIENT span per attempt (a
 * retry is a new attempt span, as the HTTP and RPC conventions ask), whose
 * context goes out through the global propagator: a `traceparent` header
 * over REST, gRPC metadata over gRPC. The signature fetch predict may make
 * first is a call of its own (`metadata pricing`).
 *
 * Metrics, one observation per attempt: `http.client.request.duration` (s)
 * for REST, `rpc.client.duration` (ms) for gRPC.
 *
 *   import * as otel from '@opentelemetry/api';
 *   createClient({ baseUrl, hooks: openTelemetryHooks(otel) });
 */
export function openTelemetryHooks(
  otel: OpenTelemetryApiLike,
  options: OpenTelemetryHookOptions = {},
): Hooks {
  const tracer = (options.tracerProvider ?? otel.trace).getTracer(SCOPE);
  const meter =
    options.metrics === false ? undefined : (options.meterProvider ?? otel.metrics).getMeter(SCOPE);
  const httpDuration = meter?.createHistogram('http.client.request.duration', {
    description: 'Duration of HTTP client requests to TF Serving, one per attempt',
    unit: 's',
    advice: { explicitBucketBoundaries: SECONDS },
  });
  const rpcDuration = meter?.createHistogram('rpc.client.duration', {
    description: 'Duration of gRPC calls to TF Serving, one per attempt',
    unit: 'ms',
    advice: { explicitBucketBoundaries: SECONDS.map((s) => s * 1000) },
  });
  // Per-call and per-attempt state, keyed by the objects the client hands the hooks.
  const calls = new WeakMap<CallStart, { span: SpanLike; context: unknown }>();
  const attempts = new WeakMap<CallInfo, { span: SpanLike; context: unknown }>();

  const endAttempt = (info: CallInfo, durationMs: number, error?: CatwalkError) => {
    const attempt = attempts.get(info);
    attempts.delete(info);
    const outcome = outcomeAttributes(info, error);
    if (attempt) {
      for (const [key, value] of Object.entries(outcome)) attempt.span.setAttribute(key, value);
      if (error) attempt.span.setStatus({ code: otel.SpanStatusCode.ERROR, message: error.message });
      attempt.span.end();
    }
    const attributes = { ...metricAttributes(info), ...outcome };
    if (info.transport === 'rest') httpDuration?.record(durationMs / 1000, attributes, attempt?.context);
    else rpcDuration?.record(durationMs, attributes, attempt?.context);
  };

  return {
    onCallStart(call) {
      const parent = otel.context.active();
      const span = tracer.startSpan(
        call.model ? `${call.method} ${call.model}` : call.method,
        { kind: otel.SpanKind.INTERNAL, attributes: callAttributes(call) },
        parent,
      );
      calls.set(call, { span, context: otel.trace.setSpan(parent, span) });
    },
    onRequest(info) {
      const parent = calls.get(info.call)?.context ?? otel.context.active();
      const span = tracer.startSpan(
        attemptName(info),
        { kind: otel.SpanKind.CLIENT, attributes: attemptAttributes(info) },
        parent,
      );
      const context = otel.trace.setSpan(parent, span);
      otel.propagation.inject(context, info.headers);
      attempts.set(info, { span, context });
    },
    onResponse(info, { durationMs }) {
      endAttempt(info, durationMs);
    },
    onError(info, { durationMs, error }) {
      endAttempt(info, durationMs, error);
    },
    onCallEnd(call, { attempts: sent, error }) {
      const entry = calls.get(call);
      if (!entry) return;
      calls.delete(call);
      entry.span.setAttribute('catwalk.attempts', sent);
      if (error) {
        entry.span.setAttribute('error.type', error.code);
        entry.span.setStatus({ code: otel.SpanStatusCode.ERROR, message: error.message });
      }
      entry.span.end();
    },
  };
}

/** What the call asked for: model, version or label, signature, transport, TF Serving's method. */
function callAttributes(call: CallStart): Attributes {
  const [service, method] = RPC[call.method];
  const attributes: Attributes = {
    'catwalk.method': call.method,
    'catwalk.transport': call.transport,
    'catwalk.request_id': call.requestId,
    'rpc.service': service,
    'rpc.method': method,
    'server.address': call.server.address,
    'server.port': call.server.port,
  };
  if (call.transport === 'grpc') attributes['rpc.system'] = 'grpc';
  if (call.model) attributes['catwalk.model'] = call.model;
  if (call.version !== undefined) attributes['catwalk.model.version'] = call.version;
  if (call.label !== undefined) attributes['catwalk.model.label'] = call.label;
  if (call.signature !== undefined) attributes['catwalk.signature'] = call.signature;
  return attributes;
}

/** The call's attributes plus the protocol's own: HTTP method and route, or the gRPC method. */
function attemptAttributes(info: CallInfo): Attributes {
  const attributes = callAttributes(info);
  attributes['catwalk.attempt'] = info.attempt;
  const route = info.transport === 'rest' ? restRoute(info) : undefined;
  if (route) {
    attributes['http.request.method'] = route.verb;
    attributes['url.template'] = route.template;
    if (info.attempt > 1) attributes['http.request.resend_count'] = info.attempt - 1;
  }
  return attributes;
}

function attemptName(info: CallInfo): string {
  const route = info.transport === 'rest' ? restRoute(info) : undefined;
  if (route) return `${route.verb} ${route.template}`;
  const [service, method] = RPC[info.method];
  return `${service}/${method}`;
}

function restRoute(info: CallStart): { verb: string; template: string } | undefined {
  const route = REST[info.method];
  if (!route) return undefined;
  const which =
    info.version !== undefined ? '/versions/{version}' : info.label !== undefined ? '/labels/{label}' : '';
  return { verb: route[0], template: `/v1/models/{model}${which}${route[1]}` };
}

/**
 * The answer: HTTP status or gRPC status code, and error.type on failure
 * (the HTTP status for an HTTP error answer, as the HTTP conventions ask;
 * otherwise the SDK's error code, e.g. UNAVAILABLE or DEADLINE_EXCEEDED).
 */
function outcomeAttributes(info: CallInfo, error: CatwalkError | undefined): Attributes {
  const attributes: Attributes = {};
  if (info.transport === 'rest') {
    const status = error ? error.httpStatus : 200;
    if (status !== undefined) attributes['http.response.status_code'] = status;
    if (error) attributes['error.type'] = status !== undefined && status >= 400 ? String(status) : error.code;
  } else {
    const code = error ? error.grpcCode : 0;
    if (code !== undefined) attributes['rpc.grpc.status_code'] = code;
    if (error) attributes['error.type'] = error.code;
  }
  return attributes;
}

/** Metric attributes: low-cardinality ones only (no request id, no attempt number). */
function metricAttributes(info: CallInfo): Attributes {
  const [service, method] = RPC[info.method];
  const attributes: Attributes = {
    'server.address': info.server.address,
    'server.port': info.server.port,
    'catwalk.method': info.method,
  };
  if (info.model) attributes['catwalk.model'] = info.model;
  const route = info.transport === 'rest' ? restRoute(info) : undefined;
  if (route) {
    attributes['http.request.method'] = route.verb;
  } else if (info.transport === 'grpc') {
    attributes['rpc.system'] = 'grpc';
    attributes['rpc.service'] = service;
    attributes['rpc.method'] = method;
  }
  return attributes;
}
