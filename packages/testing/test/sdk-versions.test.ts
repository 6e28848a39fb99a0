// The SDK's signature cache and deadline against the fake over real loopback
// sockets, REST and gRPC alike. TF Serving itself cannot run here; the fake
// answers with its texts and codes.
import {
  type CatwalkClient,
  type ClientOptions,
  createClient,
  DeadlineExceededError,
  InvalidInputError,
  ModelNotFoundError,
  type Tensor,
  tensor,
} from '@catwalk/client';
import { type FakeModel, type FakeServing, type FakeSignature, startFakeServing } from '@catwalk/testing';
import { type DelayProxy, startDelayProxy } from './delay-proxy';

const scale = (alias: string, output: string): FakeSignature => ({
  methodName: 'tensorflow/serving/predict',
  inputs: { [alias]: { dtype: 'DT_FLOAT', shape: [-1, 1], tensorName: `${alias}:0` } },
  outputs: { [output]: { dtype: 'DT_FLOAT', shape: [-1, 1], tensorName: `${output}:0` } },
  predict: (inputs: Readonly<Record<string, Tensor>>) => {
    const x = inputs[alias]!;
    return {
      [output]: tensor(
        Float32Array.from(x.data as Float32Array, (v) => 2 * v),
        x.shape,
        'float32',
      ),
    };
  },
});

/** Version 1 takes "x" and answers "y"; version 2, retrained, takes "features" and answers "score". */
const pricing = (name: string): FakeModel => ({
  name,
  versions: [1],
  signatures: { serving_default: scale('x', 'y') },
  signaturesByVersion: { 2: { serving_default: scale('features', 'score') } },
});

/** Version 2 keeps the input but renames the output: nothing the client sends is rejected. */
const relabelled = (name: string): FakeModel => ({
  name,
  versions: [1],
  signatures: { serving_default: scale('x', 'y') },
  signaturesByVersion: { 2: { serving_default: scale('x', 'z') } },
});

/** TF Serving loading version 2 and unloading version 1 (model_version_policy latest: 1). */
function rollOut(fake: FakeServing, model: string): void {
  fake.setVersionState(model, 2, 'AVAILABLE');
  fake.setVersionState(model, 1, 'END');
}

let fake: FakeServing;
beforeAll(async () => {
  fake = await startFakeServing({
    models: ['rest', 'grpc'].flatMap((t) => [
      pricing(`pricing-${t}`),
      relabelled(`relabelled-${t}`),
      relabelled(`refused-${t}`),
      relabelled(`steady-${t}`),
      relabelled(`moved-${t}`),
    ]),
  });
});
afterAll(() => fake.close());

const metadataRequests = (model: string) =>
  fake.requests.filter((r) => r.method === 'metadata' && r.model === model).length;

describe.each(['rest', 'grpc'] as const)('over %s', (transport) => {
  const clients: CatwalkClient[] = [];
  const connect = (options: Partial<ClientOptions> = {}, target: Partial<ClientOptions> = {}) => {
    const client = createClient({
      baseUrl: fake.restUrl,
      grpcAddress: fake.grpcAddress,
      transport,
      retry: { initialBackoffMs: 1, maxBackoffMs: 5 },
      ...target,
      ...options,
    } as ClientOptions);
    clients.push(client);
    return client;
  };
  afterAll(() => Promise.all(clients.map((c) => c.close())));

  test('a client keeps working after a new version renames its input', async () => {
    const name = `pricing-${transport}`;
    const model = connect().model(name);
    expect((await model.predict({ x: [[1]] })).y?.data).toEqual(new Float32Array([2]));
    rollOut(fake, name);
    // Version 2 takes "features": the cached signature (version 1's) would refuse it.
    const out = await model.predict({ features: [[3]] });
    expect(Object.keys(out)).toEqual(['score']);
    expect(out.score?.data).toEqual(new Float32Array([6]));
    // And an input the new signature lacks is still refused before sending.
    const sent = fake.requests.filter((r) => r.method === 'predict' && r.model === name).length;
    await expect(model.predict({ x: [[1]] })).rejects.toThrow(
      'unknown input "x"; the signature takes "features"',
    );
    expect(fake.requests.filter((r) => r.method === 'predict' && r.model === name)).toHaveLength(sent);
  });

  test('a signature is fetched again once it is older than signatureMaxAgeMs', async () => {
    const name = `relabelled-${transport}`;
    // Within its age a signature is not fetched again (a generous age, so a
    // slow machine cannot make this call look late).
    const patient = connect({ signatureMaxAgeMs: 60_000 }).model(name);
    expect(Object.keys(await patient.predict({ x: [[1]] }))).toEqual(['y']);
    const fetched = metadataRequests(name);
    expect(Object.keys(await patient.predict({ x: [[1]] }))).toEqual(['y']);
    expect(metadataRequests(name)).toBe(fetched); // still fresh
    const model = connect({ signatureMaxAgeMs: 50 }).model(name);
    expect(Object.keys(await model.predict({ x: [[1]] }))).toEqual(['y']);
    rollOut(fake, name);
    // Whatever the transport, the outputs take version 2's name once the
    // cached signature has aged out (gRPC names them from the response at once).
    let names: string[] = [];
    for (let i = 0; i < 100 && names[0] !== 'z'; i++) {
      names = Object.keys(await model.predict({ x: [[1]] }));
      if (names[0] !== 'z') await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(names).toEqual(['z']);
  });

  test('an answer from another version makes the next call fetch the signature again (gRPC says which version answered)', async () => {
    const name = `moved-${transport}`;
    const model = connect().model(name);
    await model.predict({ x: [[1]] });
    const fetched = metadataRequests(name);
    rollOut(fake, name);
    await model.predict({ x: [[1]] }); // answered by version 2
    await model.predict({ x: [[1]] });
    // REST answers do not name their version: there the cache relies on its age and on refusals.
    expect(metadataRequests(name)).toBe(transport === 'grpc' ? fetched + 1 : fetched);
  });

  test('a request the server refuses as invalid makes the next call fetch the signature again', async () => {
    const name = `refused-${transport}`;
    const model = connect().model(name);
    await model.predict({ x: [[1]] });
    const fetched = metadataRequests(name);
    fake.failNext(1, { code: 'INVALID_ARGUMENT', message: 'input size does not match signature' });
    await expect(model.predict({ x: [[1]] })).rejects.toThrow(InvalidInputError);
    await model.predict({ x: [[1]] });
    expect(metadataRequests(name)).toBe(fetched + 1);
  });

  test('a missing label is ModelNotFoundError, with the server text kept', async () => {
    const model = connect().model(`pricing-${transport}`, { label: 'nope' });
    const error = await model.metadata().catch((e) => e);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect(error).toMatchObject({
      code: 'NOT_FOUND',
      label: 'nope',
      serverMessage: 'Unrecognized servable version label: nope',
      ...(transport === 'rest' ? { httpStatus: 400 } : { grpcCode: 3 }),
    });
    await expect(model.predict({ x: [[1]] }, { timeoutMs: 5000 })).rejects.toThrow(ModelNotFoundError);
  });

  test('without validation, outputs have the same names and dtypes as over the other transport', async () => {
    const model = connect({ validate: false }).model(`steady-${transport}`);
    const out = await model.predict({ x: [[1], [2]] });
    expect(Object.keys(out)).toEqual(['y']);
    expect(out.y).toEqual(tensor(new Float32Array([2, 4]), [2, 1]));
  });

  test('an AbortSignal.timeout() is a deadline, not a cancel', async () => {
    const model = connect({ validate: false }).model(`steady-${transport}`);
    fake.setLatency(5000);
    try {
      const error = await model.predict({ x: [[1]] }, { signal: AbortSignal.timeout(100) }).catch((e) => e);
      expect(error).toBeInstanceOf(DeadlineExceededError);
      expect(error.code).toBe('DEADLINE_EXCEEDED');
    } finally {
      fake.setLatency(0);
    }
  });

  describe('through a link that delays every request by 600 ms', () => {
    let proxy: DelayProxy;
    beforeAll(async () => {
      const upstream = transport === 'rest' ? fake.restUrl.replace('http://', '') : fake.grpcAddress;
      proxy = await startDelayProxy(upstream, { delayMs: 600 });
    });
    afterAll(() => proxy.close());

    test('timeoutMs bounds the whole call, signature fetch included', async () => {
      const target =
        transport === 'rest' ? { baseUrl: `http://${proxy.address}` } : { grpcAddress: proxy.address };
      const model = connect({ timeoutMs: 900 }, target).model(`steady-${transport}`);
      const started = performance.now();
      // Fetching the signature and then predicting takes two delayed requests
      // (1200 ms at least): more than the call's 900 ms.
      const error = await model.predict({ x: [[1]] }).catch((e) => e);
      const elapsed = performance.now() - started;
      expect(error).toBeInstanceOf(DeadlineExceededError);
      expect(elapsed).toBeGreaterThanOrEqual(890);
      // Less than one more delayed request past the deadline.
      expect(elapsed).toBeLessThan(1500);
    });
  });
});
