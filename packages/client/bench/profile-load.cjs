// Load for a CPU profile of REST predict calls, SDK or raw undici, against
// the fake TF Serving in a child process (as in client.bench.cjs):
//
//   node --cpu-prof --cpu-prof-dir=/tmp/catwalk-prof bench/profile-load.cjs sdk 4000
//   node --cpu-prof --cpu-prof-dir=/tmp/catwalk-prof-raw bench/profile-load.cjs raw 4000
//   node bench/profile-summary.cjs /tmp/catwalk-prof/<largest>.cpuprofile <calls>
//
// The largest profile in the folder is this process's (the fake's is the other).
const { fork } = require('node:child_process');
const path = require('node:path');
const { Agent } = require('undici');
const { createClient, tensor } = require('../dist/cjs/index.js');

const [mode = 'sdk', ms = '4000'] = process.argv.slice(2);
if (mode !== 'sdk' && mode !== 'raw') {
  console.error('usage: node bench/profile-load.cjs sdk|raw [milliseconds]');
  process.exit(2);
}

async function main() {
  const child = fork(path.join(__dirname, 'fake-server.cjs'), { stdio: 'inherit', execArgv: [] });
  const { restUrl } = await new Promise((resolve) => child.once('message', resolve));
  const x = tensor(Float32Array.from({ length: 8 }, (_, i) => i), [8, 1]);
  const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 });
  const url = new URL(restUrl);
  const raw = async () => {
    const body = `{"inputs":{"x":[${Array.from(x.data, (v) => `[${v.toFixed(1)}]`).join(',')}]}}`;
    const res = await agent.request({
      origin: url.origin,
      path: '/v1/models/half_plus_two:predict',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    JSON.parse(await res.body.text());
  };
  const client = createClient({ baseUrl: restUrl });
  const model = client.model('half_plus_two');
  const sdk = async () => {
    await model.predict({ x });
  };
  const call = mode === 'raw' ? raw : sdk;
  for (let i = 0; i < 500; i++) await call();
  const end = Date.now() + Number(ms);
  let calls = 500;
  const cpu = process.cpuUsage();
  let measured = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (Date.now() < end) {
        await call();
        measured++;
      }
    }),
  );
  calls += measured;
  const used = process.cpuUsage(cpu);
  console.log(`${mode}: ${calls} calls in all, ${((used.user + used.system) / measured).toFixed(1)} µs CPU per call`);
  await client.close();
  await agent.close();
  child.disconnect();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
