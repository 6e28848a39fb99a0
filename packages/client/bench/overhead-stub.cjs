// The SDK's own work per REST predict, without the network: undici's Agent
// is replaced by a stub that answers at once with TF Serving's JSON, for the
// SDK and for a raw caller that builds the body by hand and JSON.parses the
// answer (as in client.bench.cjs). One process, one call at a time; the
// fastest of 7 rounds of 30,000 calls each, alternated.
//
//   node bench/overhead-stub.cjs
const { createClient, tensor } = require('../dist/cjs/index.js');

const answer = '{"outputs":[[2.0],[2.5],[3.0],[3.5],[4.0],[4.5],[5.0],[5.5]]}';
const spec = { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1' }, { size: '1' }] } };
const metadata = JSON.stringify({
  model_spec: { name: 'half_plus_two', version: '123' },
  metadata: {
    signature_def: {
      signature_def: {
        serving_default: {
          method_name: 'tensorflow/serving/predict',
          inputs: { x: { ...spec, name: 'x:0' } },
          outputs: { y: { ...spec, name: 'y:0' } },
        },
      },
    },
  },
});
const stub = {
  request: async (options) => ({
    statusCode: 200,
    body: { text: async () => (options.method === 'GET' ? metadata : answer) },
  }),
};

async function main() {
  const x = tensor(Float32Array.from({ length: 8 }, (_, i) => i), [8, 1]);
  const raw = async () => {
    const body = `{"inputs":{"x":[${Array.from(x.data, (v) => `[${v.toFixed(1)}]`).join(',')}]}}`;
    const res = await stub.request({ path: '/v1/models/half_plus_two:predict', method: 'POST', body });
    JSON.parse(await res.body.text());
  };
  const client = createClient({ baseUrl: 'http://127.0.0.1:8501' });
  // Internals, for this measurement only: the REST transport with its agent swapped for the stub.
  const transport = await client.transportImpl();
  transport.agent = stub;
  const model = client.model('half_plus_two');
  const sdk = () => model.predict({ x });
  const perCall = async (fn, n) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await fn();
    return Number(process.hrtime.bigint() - t0) / n / 1000;
  };
  await perCall(raw, 20_000);
  await perCall(sdk, 20_000);
  const rawUs = [];
  const sdkUs = [];
  for (let round = 0; round < 7; round++) {
    rawUs.push(await perCall(raw, 30_000));
    sdkUs.push(await perCall(sdk, 30_000));
  }
  const best = (list) => Math.min(...list);
  console.log('| REST predict, network stubbed out | µs per call (fastest round) |\n|---|---:|');
  console.log(`| raw: body by hand + JSON.parse | ${best(rawUs).toFixed(2)} |`);
  console.log(`| SDK: model.predict | ${best(sdkUs).toFixed(2)} |`);
  console.log(`| SDK's own work | ${(best(sdkUs) - best(rawUs)).toFixed(2)} |`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
