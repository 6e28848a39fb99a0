// @catwalk/client's OpenTelemetry hooks against the fake over real loopback
// sockets: spans as the OpenTelemetry SDK's in-memory exporter records them,
// histograms as its metric reader collects them, and the trace context of
// each attempt as it reached the fake's REST handler (headers) and gRPC
// handler (metadata). TF Serving itself cannot run here; the fake stands in
// for it and records what its handlers received.

import { type CatwalkClient, createClient, ModelNotFoundError, openTelemetryHooks } from '@catwalk/client';
import { type FakeServing, halfPlusTwo, startFakeServing } from '@catwalk/testing';
import * as otel from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

class CollectingReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const reader = new CollectingReader();
const meterProvider = new MeterProvider({ readers: [reader] });
const handlerTracer = tracerProvider.getTracer('service-handler');

let fake: FakeServing;
const clients: CatwalkClient[] = [];

beforeAll(async () => {
  fake = await startFakeServing({ models: [halfPlusTwo({ versions: [123], labels: { stable: 123 } })] });
  otel.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  otel.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await fake?.close();
  otel.context.disable();
  otel.propagation.disable();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});
beforeEach(() => exporter.reset());

const spanId = (span: ReadableSpan) => span.spanContext().spanId;
const parentId = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const childrenOf = (parent: ReadableSpan) =>
  exporter
    .getFinishedSpans()
    .filter((s) => parentId(s) === spanId(parent))
    .sort((a, b) => Number(a.attributes['catwalk.attempt']) - Number(b.attributes['catwalk.attempt']));
const only = (name: string): ReadableSpan => {
  const found = exporter.getFinishedSpans().filter((s) => s.name === name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
};

/** Observation counts of a histogram by attribute set, as the reader collects them now. */
async function histogram(name: string): Promise<{ unit: string | undefined; counts: Map<string, number> }> {
  const { resourceMetrics } = await reader.collect();
  const counts = new Map<string, number>();
  let unit: string | undefined;
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      unit = metric.descriptor.unit;
      for (const point of metric.dataPoints) {
        const key = JSON.stringify(Object.entries(point.attributes).sort(([a], [b]) => a.localeCompare(b)));
        counts.set(key, (point.value as { count: number }).count);
      }
    }
  }
  return { unit, counts };
}
const key = (attributes: Record<string, string | number>) =>
  JSON.stringify(Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b)));

describe.each(['rest', 'grpc'] as const)('over %s', (transport) => {
  const connect = () => {
    const client = createClient({
      transport,
      baseUrl: fake.restUrl,
      grpcAddress: fake.grpcAddress,
      retry: { initialBackoffMs: 1, maxBackoffMs: 5, budget: false },
      hooks: openTelemetryHooks(otel, { tracerProvider, meterProvider }),
    });
    clients.push(client);
    return client;
  };
  const port = () => Number(new URL(transport === 'rest' ? fake.restUrl : `http://${fake.grpcAddress}`).port);
  const received = (requestId: string) =>
    fake.requests.filter((r) => r.method === 'predict' && r.headers['x-request-id'] === requestId);

  test("a call is a span under the caller's span; its attempt is a client span whose context reaches the fake", async () => {
    const client = connect();
    const requestId = `trace-${transport}-one`;
    const handler = await handlerTracer.startActiveSpan('handle request', async (span) => {
      await client.model('half_plus_two', { version: 123 }).predict({ x: [[1]] }, { requestId });
      span.end();
      return span;
    });

    const call = only('predict half_plus_two');
    expect(call.kind).toBe(otel.SpanKind.INTERNAL);
    expect(call.spanContext().traceId).toBe(handler.spanContext().traceId);
    expect(parentId(call)).toBe(handler.spanContext().spanId);
    expect(call.status.code).toBe(otel.SpanStatusCode.UNSET);
    expect(call.attributes).toMatchObject({
      'catwalk.model': 'half_plus_two',
      'catwalk.model.version': 123,
      'catwalk.signature': 'serving_default',
      'catwalk.method': 'predict',
      'catwalk.transport': transport,
      'catwalk.request_id': requestId,
      'catwalk.attempts': 1,
      'rpc.service': 'tensorflow.serving.PredictionService',
      'rpc.method': 'Predict',
      'server.address': '127.0.0.1',
      'server.port': port(),
    });
    expect(call.attributes['rpc.system']).toBe(transport === 'grpc' ? 'grpc' : undefined);
    expect(call.attributes['error.type']).toBeUndefined();

    const [attempt, ...more] = childrenOf(call);
    expect(more).toEqual([]);
    expect(attempt!.kind).toBe(otel.SpanKind.CLIENT);
    if (transport === 'rest') {
      expect(attempt!.name).toBe('POST /v1/models/{model}/versions/{version}:predict');
      expect(attempt!.attributes).toMatchObject({
        'http.request.method': 'POST',
        'http.response.status_code': 200,
        'url.template': '/v1/models/{model}/versions/{version}:predict',
      });
    } else {
      expect(attempt!.name).toBe('tensorflow.serving.PredictionService/Predict');
      expect(attempt!.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.grpc.status_code': 0 });
    }
    expect(attempt!.attributes).toMatchObject({ 'catwalk.attempt': 1, 'catwalk.model': 'half_plus_two' });

    // What the fake's handler received: the attempt span's W3C trace context.
    const [seen] = received(requestId);
    expect(seen?.transport).toBe(transport);
    expect(seen?.headers.traceparent).toBe(
      `00-${handler.spanContext().traceId}-${attempt!.spanContext().spanId}-01`,
    );

    // The signature fetch that came first is a call of its own, beside predict.
    const fetch = only('metadata half_plus_two');
    expect(parentId(fetch)).toBe(handler.spanContext().spanId);
    expect(fetch.attributes).toMatchObject({ 'rpc.method': 'GetModelMetadata', 'catwalk.attempts': 1 });
  });

  test('each retry is a new attempt span with the outcome of its answer; each sends its own context', async () => {
    const client = connect();
    const requestId = `trace-${transport}-retried`;
    await client.model('half_plus_two', { label: 'stable' }).predict({ x: [[1]] }); // signature cached
    exporter.reset();
    fake.failNext(2, { code: 'UNAVAILABLE' });
    await client.model('half_plus_two', { label: 'stable' }).predict({ x: [[2]] }, { requestId });

    const call = only('predict half_plus_two');
    expect(parentId(call)).toBeUndefined();
    expect(call.attributes).toMatchObject({ 'catwalk.model.label': 'stable', 'catwalk.attempts': 3 });
    expect(call.attributes['catwalk.model.version']).toBeUndefined();
    expect(call.status.code).toBe(otel.SpanStatusCode.UNSET);

    const attempts = childrenOf(call);
    expect(attempts.map((a) => a.attributes['catwalk.attempt'])).toEqual([1, 2, 3]);
    expect(attempts.map((a) => a.status.code)).toEqual([
      otel.SpanStatusCode.ERROR,
      otel.SpanStatusCode.ERROR,
      otel.SpanStatusCode.UNSET,
    ]);
    if (transport === 'rest') {
      expect(attempts.map((a) => a.attributes['http.response.status_code'])).toEqual([503, 503, 200]);
      expect(attempts.map((a) => a.attributes['error.type'])).toEqual(['503', '503', undefined]);
      expect(attempts.map((a) => a.attributes['http.request.resend_count'])).toEqual([undefined, 1, 2]);
      expect(attempts[0]!.attributes['url.template']).toBe('/v1/models/{model}/labels/{label}:predict');
    } else {
      expect(attempts.map((a) => a.attributes['rpc.grpc.status_code'])).toEqual([14, 14, 0]);
      expect(attempts.map((a) => a.attributes['error.type'])).toEqual([
        'UNAVAILABLE',
        'UNAVAILABLE',
        undefined,
      ]);
    }

    const seen = received(requestId).map((r) => r.headers.traceparent);
    const traceId = call.spanContext().traceId;
    expect(seen).toEqual(attempts.map((a) => `00-${traceId}-${a.spanContext().spanId}-01`));
    expect(new Set(seen).size).toBe(3);
  });

  test('a failed call ends with error.type and an error status on the call and its attempt', async () => {
    const client = connect();
    await expect(client.model('missing').status()).rejects.toBeInstanceOf(ModelNotFoundError);

    const call = only('status missing');
    expect(call.status.code).toBe(otel.SpanStatusCode.ERROR);
    expect(call.status.message).toContain('missing');
    expect(call.attributes).toMatchObject({
      'error.type': 'NOT_FOUND',
      'catwalk.attempts': 1,
      'rpc.service': 'tensorflow.serving.ModelService',
      'rpc.method': 'GetModelStatus',
    });
    const [attempt] = childrenOf(call);
    expect(attempt!.status.code).toBe(otel.SpanStatusCode.ERROR);
    if (transport === 'rest') {
      expect(attempt!.name).toBe('GET /v1/models/{model}');
      expect(attempt!.attributes).toMatchObject({ 'http.response.status_code': 404, 'error.type': '404' });
    } else {
      expect(attempt!.attributes).toMatchObject({ 'rpc.grpc.status_code': 5, 'error.type': 'NOT_FOUND' });
    }
  });

  test('a call cancelled before it sends anything still ends its span, with no attempt', async () => {
    const client = connect();
    const before = fake.requests.length;
    await expect(client.model('half_plus_two').status({ signal: AbortSignal.abort() })).rejects.toMatchObject(
      {
        code: 'CANCELLED',
      },
    );
    const call = only('status half_plus_two');
    expect(call.attributes).toMatchObject({ 'catwalk.attempts': 0, 'error.type': 'CANCELLED' });
    expect(call.status.code).toBe(otel.SpanStatusCode.ERROR);
    expect(childrenOf(call)).toEqual([]);
    expect(fake.requests.length).toBe(before);
  });

  test('request durations are recorded per attempt under the semantic-convention name', async () => {
    const name = transport === 'rest' ? 'http.client.request.duration' : 'rpc.client.duration';
    const common = {
      'catwalk.method': 'predict',
      'catwalk.model': 'half_plus_two',
      'server.address': '127.0.0.1',
      'server.port': port(),
      ...(transport === 'rest'
        ? { 'http.request.method': 'POST' }
        : {
            'rpc.system': 'grpc',
            'rpc.service': 'tensorflow.serving.PredictionService',
            'rpc.method': 'Predict',
          }),
    };
    const failed = key({
      ...common,
      ...(transport === 'rest'
        ? { 'http.response.status_code': 503, 'error.type': '503' }
        : { 'rpc.grpc.status_code': 14, 'error.type': 'UNAVAILABLE' }),
    });
    const ok = key({
      ...common,
      ...(transport === 'rest' ? { 'http.response.status_code': 200 } : { 'rpc.grpc.status_code': 0 }),
    });
    const before = await histogram(name);
    const client = connect();
    fake.failNext(1, { code: 'UNAVAILABLE' });
    await client.model('half_plus_two').predict({ x: [[3]] });
    const after = await histogram(name);

    expect(after.unit).toBe(transport === 'rest' ? 's' : 'ms');
    expect((after.counts.get(failed) ?? 0) - (before.counts.get(failed) ?? 0)).toBe(1);
    expect((after.counts.get(ok) ?? 0) - (before.counts.get(ok) ?? 0)).toBe(1);
  });
});
