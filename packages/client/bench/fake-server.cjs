// Child process for the benchmark: the fake TF Serving in its own process (and
// so on its own core), so client-side costs are what the benchmark compares.
const path = require('node:path');
const { halfPlusTwo, startFakeServing } = require(path.resolve(__dirname, '../../testing/dist/index.js'));

startFakeServing({ models: [halfPlusTwo()] }).then((fake) => {
  process.send({ restUrl: fake.restUrl, grpcAddress: fake.grpcAddress });
  process.on('disconnect', () => fake.kill().then(() => process.exit(0)));
});
