// @catwalk/client against the fake over real loopback sockets, the same
// matrix for REST and gRPC.
import {
  type CallInfo,
  CancelledError,
  type CatwalkClient,
  type ClientOptions,
  createClient,
  DeadlineExceededError,
  type DType,
  feature,
  InvalidInputError,
  ModelNotFoundError,
  prometheusHooks,
  type Tensor,
  tensor,
  toBfloat16,
  toFloat16,
  UnavailableError,
  UnimplementedError,
} from '@catwalk/client';
import { type FakeModel, type FakeServing, halfPlusTwo, startFakeServing } from '@catwalk/testing';
import * as prom from 'prom-client';

const ALL_DTYPES: Record<DType, string> = {
  float32: 'DT_FLOAT',
  float64: 'DT_DOUBLE',
  float16: 'DT_HALF',
  bfloat16: 'DT_BFLOAT16',
  int8: 'DT_INT8',
  int16: 'DT_INT16',
  int32: 'DT_INT32',
  int64: 'DT_INT64',
  uint8: 'DT_UINT8',
  uint16: 'DT_UINT16',
  uint32: 'DT_UINT32',
  uint64: 'DT_UINT64',
  bool: 'DT_BOOL',
  string: 'DT_STRING',
};

/** One identity signature per dtype: echo_<dtype> returns its input x as y. */
const echo: FakeModel = {
  name: 'echo',
  versions: [1],
  signatures: Object.fromEntries(
    Object.entries(ALL_DTYPES).map(([dtype, tf]) => [
      `echo_${dtype}`,
      {
        methodName: 'tensorflow/serving/predict',
        inputs: { x: { dtype: tf, shape: [-1], tensorName: 'x:0' } },
        outputs: {
          y: { dtype: tf, shape: [-1], tensorName: 'y:0' },
          y_bytes: { dtype: 'DT_STRING', shape: [-1], tensorName: 'yb:0' },
        },
        predict: (inputs: Readonly<Record<string, Tensor>>) => ({ y: inputs.x!, y_bytes: tensor(['raw']) }),
      },
    ]),
  ),
};

/** Two inputs, two outputs: for row format with objects and for output filters. */
const pair: FakeModel = {
  name: 'pair model/with:odd%chars',
  versions: [1, 2],
  policy: { all: true },
  labels: { stable: 1, canary: 2 },
  signatures: {
    serving_default: {
      methodName: 'tensorflow/serving/predict',
      inputs: {
        a: { dtype: 'DT_FLOAT', shape: [-1], tensorName: 'a:0' },
        b: { dtype: 'DT_INT64', shape: [-1], tensorName: 'b:0' },
      },
      outputs: {
        sum: { dtype: 'DT_DOUBLE', shape: [-1], tensorName: 'sum:0' },
        twice: { dtype: 'DT_INT64', shape: [-1], tensorName: 'twice:0' },
      },
      predict: (inputs) => {
        const a = inputs.a!.data as Float32Array;
        const b = inputs.b!.data as BigInt64Array;
        return {
          sum: tensor(Float64Array.from(a, (v, i) => v + Number(b[i]))),
          twice: tensor(BigInt64Array.from(b, (v) => v * 2n)),
        };
      },
    },
  },
};

const dtypeSamples: Array<[DType, Tensor]> = [
  ['float32', tensor(new Float32Array([1.5, -2, Number.NaN, Number.POSITIVE_INFINITY]))],
  ['float64', tensor(new Float64Array([Math.PI, -1e300]))],
  ['float16', tensor(toFloat16([1, -2.5]), [2], 'float16')],
  ['bfloat16', tensor(toBfloat16([1, -2.5]), [2], 'bfloat16')],
  ['int8', tensor(new Int8Array([-128, 127]))],
  ['int16', tensor(new Int16Array([-32768, 32767]))],
  ['int32', tensor(new Int32Array([-(2 ** 31), 2 ** 31 - 1]))],
  ['int64', tensor(new BigInt64Array([-(2n ** 53n) - 1n, 42n]))],
  ['uint8', tensor(new Uint8Array([0, 255]))],
  ['uint16', tensor(new Uint16Array([0, 65535]))],
  ['uint32', tensor(new Uint32Array([0, 2 ** 32 - 1]))],
  ['uint64', tensor(new BigUint64Array([0n, 2n ** 53n + 1n]))],
  ['bool', tensor([true, false])],
  ['string', tensor(['héllo', 'wörld'])],
];

let fake: FakeServing;
beforeAll(async () => {
  fake = await startFakeServing({ models: [halfPlusTwo(), echo, pair] });
});
afterAll(() => fake.close());

describe.each(['rest', 'grpc'] as const)('over %s', (transport) => {
  const clients: CatwalkClient[] = [];
  const connect = (options: Partial<ClientOptions> = {}) => {
    const client = createClient({
      baseUrl: fake.restUrl,
      grpcAddress: fake.grpcAddress,
      transport,
      retry: { initialBackoffMs: 1, maxBackoffMs: 5 },
      ...options,
    });
    clients.push(client);
    return client;
  };
  afterAll(() => Promise.all(clients.map((c) => c.close())));
  afterEach(() => {
    fake.clearFailures();
    fake.setLatency(0);
  });

  test('predict: half_plus_two gives y = 0.5x + 2', async () => {
    const model = connect().model('half_plus_two');
    const { y } = await model.predict({ x: tensor(new Float32Array([1, 2, 5]), [3, 1]) });
    expect(y).toEqual(tensor(new Float32Array([2.5, 3, 4.5]), [3, 1]));
    // A flat list takes the signature's [-1, 1] shape.
    expect((await model.predict({ x: [2, 3, 4] })).y!.data).toEqual(new Float32Array([3, 3.5, 4]));
    // Row format with one input: instances is the batch itself.
    const row = await model.predict({ x: [[1], [2]] }, { format: 'row' });
    expect(row.y).toEqual(tensor(new Float32Array([2.5, 3]), [2, 1]));
  });

  test.each(['columnar', 'row'] as const)(
    'predict in %s format with two inputs and two outputs',
    async (format) => {
      const model = connect().model('pair model/with:odd%chars');
      const out = await model.predict(
        { a: tensor(new Float32Array([0.5, 1.5])), b: tensor(new BigInt64Array([1n, 2n])) },
        { format },
      );
      expect(out.sum).toEqual(tensor(new Float64Array([1.5, 3.5])));
      expect(out.twice).toEqual(tensor(new BigInt64Array([2n, 4n])));
      const filtered = await model.predict({ a: [1], b: [1n] }, { format, outputFilter: ['twice'] });
      expect(Object.keys(filtered)).toEqual(['twice']);
    },
  );

  test('versions and labels address the right servable; names are percent-encoded', async () => {
    const model = connect().model('pair model/with:odd%chars');
    expect((await model.metadata()).version).toBe(2);
    expect((await model.metadata({ version: 1 })).version).toBe(1);
    expect((await model.metadata({ label: 'stable' })).version).toBe(1);
    expect((await connect().model('pair model/with:odd%chars', { label: 'canary' }).metadata()).version).toBe(
      2,
    );
    const statuses = await model.status();
    expect(statuses.map((s) => [s.version, s.state])).toEqual([
      [2, 'AVAILABLE'],
      [1, 'AVAILABLE'],
    ]);
    expect(await model.status({ version: 1 })).toEqual([
      { version: 1, state: 'AVAILABLE', error: { code: 'OK', message: '' } },
    ]);
    await expect(model.metadata({ version: 7 })).rejects.toThrow(ModelNotFoundError);
    await expect(model.metadata({ label: 'nope' })).rejects.toMatchObject({
      name: 'ModelNotFoundError',
      code: 'NOT_FOUND',
      serverMessage: 'Unrecognized servable version label: nope',
    });
  });

  test.each(dtypeSamples)('%s round trip', async (dtype, input) => {
    const model = connect().model('echo');
    // TF Serving's JSON cannot carry these (it answers 501); the SDK says so before sending.
    if (transport === 'rest' && (dtype === 'float16' || dtype === 'bfloat16' || dtype === 'uint16')) {
      await expect(model.predict({ x: input }, { signature: `echo_${dtype}` })).rejects.toThrow(
        UnimplementedError,
      );
      return;
    }
    const out = await model.predict({ x: input }, { signature: `echo_${dtype}` });
    expect(out.y).toEqual(input);
    expect(out.y_bytes).toEqual(tensor([new TextEncoder().encode('raw')]));
  });

  test('classify and regress, with floats kept floats and a shared context', async () => {
    const model = connect().model('half_plus_two');
    expect(await model.classify([{ x: 2 }], { signature: 'classify_x_to_y' })).toEqual([
      [{ label: '', score: 3 }],
    ]);
    expect(await model.regress([{ x: 80 }, { x: 2 }], { signature: 'regress_x_to_y' })).toEqual([42, 3]);
    expect(await model.regress([{}], { signature: 'regress_x2_to_y3', context: { x2: 4 } })).toEqual([5]);
    await expect(
      model.regress([{ x: feature.int64(2) }], { signature: 'regress_x_to_y' }),
    ).rejects.toMatchObject({
      name: 'InvalidInputError',
      serverMessage: expect.stringContaining('Data type: int64 but expected type: float'),
    });
  });

  test('multiInference runs several signatures over the same examples (gRPC only)', async () => {
    const model = connect().model('half_plus_two');
    const run = model.multiInference(
      [
        { method: 'classify', signature: 'classify_x_to_y' },
        { method: 'regress', signature: 'regress_x_to_y2' },
      ],
      [{ x: 2 }],
    );
    if (transport === 'rest') return expect(run).rejects.toThrow(UnimplementedError);
    const results = await run;
    expect(results.map((r) => r.classifications ?? r.regressions)).toEqual([
      [[{ label: '', score: 3 }]],
      [4],
    ]);
    expect(results[0]).toMatchObject({ model: 'half_plus_two', version: 123, signature: 'classify_x_to_y' });
  });

  test('metadata is parsed into typed signatures', async () => {
    const metadata = await connect().model('half_plus_two').metadata();
    expect(metadata.model).toBe('half_plus_two');
    expect(metadata.signatures.serving_default?.inputs.x).toEqual({
      dtype: 'float32',
      tfDtype: 'DT_FLOAT',
      shape: [-1, 1],
      tensorName: 'x:0',
    });
    expect(metadata.signatures.classify_x_to_y?.inputs.inputs?.shape).toBeUndefined();
  });

  test('server errors map to typed errors with code, status and the server text', async () => {
    const missing = await connect()
      .model('nope')
      .predict({ x: [1] })
      .catch((e) => e);
    expect(missing).toBeInstanceOf(ModelNotFoundError);
    expect(missing).toMatchObject({
      code: 'NOT_FOUND',
      grpcCode: 5,
      model: 'nope',
      transport,
      retryable: false,
      serverMessage: 'Servable not found for request: Latest(nope)',
      ...(transport === 'rest' ? { httpStatus: 404 } : {}),
    });
    expect(missing.message).toBe('model "nope": Servable not found for request: Latest(nope)');

    const noSignature = await connect({ validate: false })
      .model('half_plus_two')
      .predict({ x: [[1]] }, { signature: 'nope' })
      .catch((e) => e);
    expect(noSignature).toBeInstanceOf(InvalidInputError);
    expect(noSignature.serverMessage).toBe(
      transport === 'rest'
        ? 'Serving signature name: "nope" not found in signature def'
        : 'Serving signature key "nope" not found.',
    );
  });

  test('inputs are checked against the signature before anything is sent', async () => {
    const before = fake.requests.filter((r) => r.method === 'predict').length;
    const model = connect().model('half_plus_two');
    await expect(model.predict({ x: tensor(new Int32Array([1]), [1, 1]) })).rejects.toThrow(
      'model "half_plus_two" signature "serving_default": input "x" must be float32 (DT_FLOAT), got int32 (DT_INT32)',
    );
    await expect(model.predict({ z: [1] })).rejects.toThrow('unknown input "z"; the signature takes "x"');
    await expect(model.predict({ x: [1] }, { signature: 'nope' })).rejects.toThrow(
      /model "half_plus_two" has no signature "nope"; it has "regress_x2_to_y3", "serving_default"/,
    );
    expect(fake.requests.filter((r) => r.method === 'predict').length).toBe(before);
  });

  test('retries retryable failures with the same request id, then succeeds', async () => {
    const attempts: CallInfo[] = [];
    const client = connect({ hooks: { onRequest: (info) => attempts.push(info) } });
    fake.failNext(2, { code: 'UNAVAILABLE' });
    const { y } = await client.model('half_plus_two').predict({ x: [1] });
    expect(y!.data).toEqual(new Float32Array([2.5]));
    const predicts = attempts.filter((a) => a.method === 'predict');
    expect(predicts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    const ids = new Set(predicts.map((a) => a.requestId));
    expect(ids.size).toBe(1);
    const seen = fake.requests.filter((r) => r.headers['x-request-id'] === predicts[0]!.requestId);
    expect(seen).toHaveLength(3);
  });

  test('gives up after maxAttempts, and never retries a non-retryable error', async () => {
    let attempts = 0;
    const client = connect({
      retry: { maxAttempts: 2, initialBackoffMs: 1 },
      hooks: { onRequest: (info) => (info.method === 'predict' ? attempts++ : undefined) },
    });
    const model = client.model('half_plus_two');
    fake.failNext(5, { code: 'RESOURCE_EXHAUSTED' });
    await expect(model.predict({ x: [1] })).rejects.toMatchObject({
      name: 'ResourceExhaustedError',
      retryable: true,
    });
    expect(attempts).toBe(2);
    fake.clearFailures();
    attempts = 0;
    fake.failNext(1, { code: 'INVALID_ARGUMENT', message: 'bad input' });
    await expect(model.predict({ x: [1] })).rejects.toMatchObject({
      name: 'InvalidInputError',
      serverMessage: 'bad input',
    });
    expect(attempts).toBe(1);
  });

  test('the retry budget stops retry storms', async () => {
    let attempts = 0;
    const client = connect({
      retry: { maxAttempts: 5, initialBackoffMs: 1, budget: { maxTokens: 4, tokenRatio: 0.1 } },
      validate: false,
      // Over REST the signature is fetched once even without validation (to name and type outputs).
      hooks: { onRequest: (info) => (info.method === 'predict' ? attempts++ : undefined) },
    });
    const model = client.model('half_plus_two');
    fake.failNext(20, { code: 'UNAVAILABLE' });
    await expect(model.predict({ x: [[1]] })).rejects.toThrow(UnavailableError);
    // 4 tokens: the first failure leaves 3 (> 2, retry), the second 2 (stop).
    expect(attempts).toBe(2);
    attempts = 0;
    await expect(model.predict({ x: [[1]] })).rejects.toThrow(UnavailableError);
    expect(attempts).toBe(1);
    fake.clearFailures();
  });

  test('one deadline spans every attempt', async () => {
    const model = connect({ validate: false, timeoutMs: 150 }).model('half_plus_two');
    fake.setLatency(5000);
    const started = Date.now();
    try {
      const error = await model.predict({ x: [[1]] }).catch((e) => e);
      expect(error).toBeInstanceOf(DeadlineExceededError);
      expect(error.message).toBe(
        'the call to model "half_plus_two" did not finish within its 150 ms deadline',
      );
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      fake.setLatency(0);
    }
  });

  test('an AbortSignal cancels the call in flight', async () => {
    const controller = new AbortController();
    const model = connect({ validate: false }).model('half_plus_two');
    fake.setLatency(2000);
    try {
      const call = model.predict({ x: [[1]] }, { signal: controller.signal });
      setImmediate(() => controller.abort());
      const error = await call.catch((e) => e);
      expect(error).toBeInstanceOf(CancelledError);
      expect(error.message).toBe('the call was cancelled by the caller');
      await expect(model.predict({ x: [[1]] }, { signal: controller.signal })).rejects.toThrow(
        CancelledError,
      );
    } finally {
      fake.setLatency(0);
    }
  });

  test('headers and the request id reach the server; hooks see responses and errors', async () => {
    const events: string[] = [];
    const client = connect({
      headers: { 'x-team': 'pricing' },
      hooks: {
        onRequest: (info) => {
          info.headers.traceparent = '00-abc-def-01';
          events.push(`request ${info.method}`);
        },
        onResponse: (info) => events.push(`response ${info.method}`),
        onError: (info, { error }) => events.push(`error ${info.method} ${error.code}`),
      },
    });
    await client.model('half_plus_two').status({ requestId: `req-${transport}` });
    await client
      .model('missing')
      .status()
      .catch(() => undefined);
    expect(events).toEqual(['request status', 'response status', 'request status', 'error status NOT_FOUND']);
    const seen = fake.requests.find((r) => r.headers['x-request-id'] === `req-${transport}`);
    expect(seen).toMatchObject({
      transport,
      method: 'status',
      headers: { 'x-team': 'pricing', traceparent: '00-abc-def-01' },
    });
  });

  test('the prom-client hook records latency and errors per model, version and transport', async () => {
    const registry = new prom.Registry();
    const client = connect({ hooks: prometheusHooks(prom, { registry }) });
    await client.model('half_plus_two', { version: 123 }).status();
    await client
      .model('missing')
      .status()
      .catch(() => undefined);
    const text = await registry.metrics();
    expect(text).toContain(
      `catwalk_client_request_duration_seconds_count{model="half_plus_two",version="123",transport="${transport}",method="status",outcome="ok"} 1`,
    );
    expect(text).toContain(
      `catwalk_client_errors_total{model="missing",version="latest",transport="${transport}",method="status",code="NOT_FOUND"} 1`,
    );
  });
});

describe('connection failures', () => {
  test.each(['rest', 'grpc'] as const)(
    'a server that dies mid-call gives UnavailableError (%s)',
    async (transport) => {
      const doomed = await startFakeServing({ models: [halfPlusTwo()] });
      const client = createClient({
        baseUrl: doomed.restUrl,
        grpcAddress: doomed.grpcAddress,
        transport,
        validate: false,
        retry: { maxAttempts: 2, initialBackoffMs: 1 },
        timeoutMs: 5000,
      });
      try {
        doomed.setLatency(5000);
        const call = client.model('half_plus_two').predict({ x: [[1]] });
        while (!doomed.requests.some((r) => r.method === 'predict'))
          await new Promise((r) => setImmediate(r));
        await doomed.kill();
        const error = await call.catch((e) => e);
        expect(error).toBeInstanceOf(UnavailableError);
        expect(error.retryable).toBe(true);
      } finally {
        await client.close();
        await doomed.close();
      }
    },
  );

  test.each(['rest', 'grpc'] as const)(
    'connection refused is retried, then UnavailableError (%s)',
    async (transport) => {
      const gone = await startFakeServing({ models: [] });
      await gone.close();
      let attempts = 0;
      const client = createClient({
        baseUrl: gone.restUrl,
        grpcAddress: gone.grpcAddress,
        transport,
        validate: false,
        retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 },
        timeoutMs: 5000,
        hooks: { onRequest: () => attempts++ },
      });
      try {
        const error = await client
          .model('half_plus_two')
          .status()
          .catch((e) => e);
        expect(error).toBeInstanceOf(UnavailableError);
        expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: true, transport });
        expect(attempts).toBe(3);
      } finally {
        await client.close();
      }
    },
  );

  test('REST: a 404 with no body says where to look', async () => {
    const client = createClient({ baseUrl: `${fake.restUrl}/not-tf-serving`, validate: false });
    try {
      const error = await client
        .model('half_plus_two')
        .status()
        .catch((e) => e);
      expect(error).toBeInstanceOf(ModelNotFoundError);
      expect(error.httpStatus).toBe(404);
      expect(error.message).toBe(
        'HTTP 404 with no body for GET /not-tf-serving/v1/models/half_plus_two (is baseUrl the TF Serving REST endpoint, e.g. http://host:8501?)',
      );
    } finally {
      await client.close();
    }
  });

  test('bad client options are refused at once with a clear message', () => {
    // tsc refuses the first two (test/types in @catwalk/client); JavaScript callers get these errors.
    const untyped = (options: object) => createClient(options as ClientOptions);
    expect(() => untyped({ transport: 'rest' })).toThrow(
      'createClient: baseUrl is required for the REST transport',
    );
    expect(() => untyped({ transport: 'grpc' })).toThrow(/grpcAddress \(host:port\) is required/);
    expect(() => untyped({ transport: 'http', baseUrl: 'http://localhost:8501' })).toThrow(
      'createClient: transport must be "rest" or "grpc", got "http"',
    );
    expect(() => createClient({ baseUrl: 'localhost:8501' })).toThrow(/baseUrl must be an http\(s\) URL/);
    const client = createClient({ baseUrl: 'http://localhost:8501' });
    expect(() => client.model('m', { version: 1, label: 'stable' })).toThrow(
      'model "m": give a version or a label, not both',
    );
  });
});
