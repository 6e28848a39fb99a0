// Signatures without inputs (TF Serving's saved_model_counter: get_counter,
// incr_counter, reset_counter) through @catwalk/client against the fake, over
// real loopback REST and gRPC. TF Serving itself cannot run here; the fake
// follows its checks: over gRPC, PreProcessPrediction only asks that the
// request's inputs match the signature's (none and none do); over REST,
// FillPredictRequestFromJson refuses any request for a signature whose input
// map is empty ("Failed to get input map for signature: ...").
import { type CatwalkClient, createClient, InvalidInputError, tensor } from '@catwalk/client';
import { type FakeModel, type FakeServing, startFakeServing } from '@catwalk/testing';

/** The counter model's predict signatures, with a counter the calls change. */
function counterModel(): FakeModel {
  let count = 0;
  const out = { output: { dtype: 'DT_FLOAT', shape: [], tensorName: 'counter:0' } };
  const value = () => ({ output: tensor(new Float32Array([count]), [], 'float32') });
  return {
    name: 'counter',
    versions: [123],
    signatures: {
      get_counter: { methodName: 'tensorflow/serving/predict', inputs: {}, outputs: out, predict: value },
      incr_counter: {
        methodName: 'tensorflow/serving/predict',
        inputs: {},
        outputs: out,
        predict: () => {
          count += 1;
          return value();
        },
      },
      incr_counter_by: {
        methodName: 'tensorflow/serving/predict',
        inputs: { delta: { dtype: 'DT_FLOAT', shape: [], tensorName: 'delta:0' } },
        outputs: out,
        predict: (inputs) => {
          count += (inputs.delta!.data as Float32Array)[0]!;
          return value();
        },
      },
    },
  };
}

let fake: FakeServing;
beforeEach(async () => {
  fake = await startFakeServing({ models: [counterModel()] });
});
afterEach(async () => {
  await fake.close();
});

async function withClient<T>(transport: 'rest' | 'grpc', run: (c: CatwalkClient) => Promise<T>): Promise<T> {
  const client =
    transport === 'rest'
      ? createClient({ baseUrl: fake.restUrl })
      : createClient({ transport: 'grpc', grpcAddress: fake.grpcAddress });
  try {
    return await run(client);
  } finally {
    await client.close();
  }
}

describe('a signature with no inputs', () => {
  test('gRPC: predict({}) calls it', async () => {
    await withClient('grpc', async (client) => {
      const incr = client.model('counter', { signature: 'incr_counter' });
      await incr.predict({});
      const out = await incr.predict({});
      expect(Array.from(out.output!.data as Float32Array)).toEqual([2]);
      const got = await client.model('counter', { signature: 'get_counter' }).predict({});
      expect(Array.from(got.output!.data as Float32Array)).toEqual([2]);
    });
    expect(fake.requests.filter((r) => r.method === 'predict')).toHaveLength(3);
  });

  test('gRPC without signature checks: predict({}) is sent and answered', async () => {
    const client = createClient({ transport: 'grpc', grpcAddress: fake.grpcAddress, validate: false });
    try {
      const out = await client.model('counter', { signature: 'get_counter' }).predict({});
      expect(Array.from(out.output!.data as Float32Array)).toEqual([0]);
    } finally {
      await client.close();
    }
  });

  test.each(['rest', 'grpc'] as const)(
    '%s: a signature that has inputs still refuses {}',
    async (transport) => {
      await withClient(transport, async (client) => {
        const error = await client
          .model('counter', { signature: 'incr_counter_by' })
          .predict({})
          .catch((e: Error) => e);
        expect(error).toBeInstanceOf(InvalidInputError);
        expect((error as Error).message).toContain('missing input "delta"');
      });
      expect(fake.requests.filter((r) => r.method === 'predict')).toHaveLength(0);
    },
  );

  test("REST: refused before sending, naming TF Serving's limit and gRPC as the way", async () => {
    await withClient('rest', async (client) => {
      const error = await client
        .model('counter', { signature: 'get_counter' })
        .predict({})
        .catch((e: Error) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as Error).message).toBe(
        'model "counter" signature "get_counter" takes no inputs, and TF Serving\'s REST API cannot call ' +
          'such a signature (it answers "Failed to get input map for signature"); call it over gRPC ' +
          "(createClient({ transport: 'grpc' }))",
      );
    });
    expect(fake.requests.filter((r) => r.method === 'predict')).toHaveLength(0);
  });

  test('the fake answers REST as TF Serving does', async () => {
    for (const body of [{ inputs: {} }, { instances: [] }, {}]) {
      const response = await fetch(`${fake.restUrl}/v1/models/counter:predict`, {
        method: 'POST',
        body: JSON.stringify({ signature_name: 'get_counter', ...body }),
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: 'Failed to get input map for signature: get_counter' });
    }
  });
});
