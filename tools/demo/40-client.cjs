// Start the TF-Serving-compatible fake with half_plus_two on a free port, call
// it through @catwalk/client over REST and over gRPC, print each request and
// answer, and stop the fake. Any failure exits non-zero.
const path = require('node:path');

const root = path.resolve(__dirname, '../..');
const { createClient, tensor, toNested } = require(path.join(root, 'packages/client/dist/cjs/index.js'));
const { halfPlusTwo, startFakeServing } = require(path.join(root, 'packages/testing/dist/index.js'));

async function main() {
  const fake = await startFakeServing({ models: [halfPlusTwo()] });
  console.log(
    `fake TF Serving: REST ${fake.restUrl}, gRPC ${fake.grpcAddress}, model half_plus_two (y = 0.5x + 2)`,
  );
  try {
    for (const transport of ['rest', 'grpc']) {
      const client = createClient({
        baseUrl: fake.restUrl,
        grpcAddress: fake.grpcAddress,
        transport,
        timeoutMs: 5000,
      });
      try {
        const model = client.model('half_plus_two');
        const x = tensor(new Float32Array([1, 2, 5]), [3, 1]);
        console.log(`\n[${transport}] predict x = ${JSON.stringify(toNested(x))}`);
        const { y } = await model.predict({ x });
        console.log(`[${transport}]   -> y = ${JSON.stringify(toNested(y))}`);
        const expected = [2.5, 3, 4.5];
        if (!expected.every((v, i) => y.data[i] === v))
          throw new Error(`expected y = ${expected}, got ${y.data}`);

        console.log(`[${transport}] regress regress_x_to_y examples [{ x: 2.0 }]`);
        console.log(
          `[${transport}]   -> ${JSON.stringify(await model.regress([{ x: 2 }], { signature: 'regress_x_to_y' }))}`,
        );
        console.log(`[${transport}] classify classify_x_to_y examples [{ x: 2.0 }]`);
        console.log(
          `[${transport}]   -> ${JSON.stringify(await model.classify([{ x: 2 }], { signature: 'classify_x_to_y' }))}`,
        );
        const [status] = await model.status();
        console.log(`[${transport}] status -> version ${status.version} ${status.state}`);
      } finally {
        await client.close();
      }
    }
  } finally {
    await fake.close();
  }
}

main().catch((error) => {
  console.error(`client demo failed: ${error.message}`);
  process.exit(1);
});
