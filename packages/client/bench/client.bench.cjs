// `npm run bench` for @catwalk/client. Everything is measured in one run, and
// reported as ratios to a baseline measured in the same run:
//   1. predict throughput and p50/p99 latency, SDK vs raw transport, against
//      the fake TF Serving (in a child process) on loopback:
//      REST: SDK vs undici with a hand-built JSON body;
//      gRPC: SDK vs a bare grpc-js client sending the same PredictRequest.
//   2. encoding a 4 MB float32 tensor: the gRPC path (TensorProto +
//      PredictRequest bytes) in MB/s, and its speed-up over REST JSON.
//   3. import time of the package (ESM and CommonJS) in fresh processes,
//      against a bare import of undici, alternated run by run.
const { execFileSync, fork } = require('node:child_process');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const os = require('node:os');
const { create } = require('@bufbuild/protobuf');
const { Client, credentials, Metadata } = require('@grpc/grpc-js');
const { Agent } = require('undici');
const { createClient, tensor } = require('../dist/cjs/index.js');
const wire = require('../dist/cjs/wire.js');

// Short rounds, alternated and repeated: on a shared machine the load changes
// from second to second; each side's median round is robust to a lucky or
// unlucky moment.
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 800);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const CONCURRENCY = 8;
const BATCH = 8;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs `call` from CONCURRENCY loops for DURATION_MS; returns requests/s and latency percentiles. */
async function load(call) {
  for (let i = 0; i < 200; i++) await call(); // warm up connections and JIT
  const latencies = [];
  const cpu = process.cpuUsage();
  const end = performance.now() + DURATION_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await call();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = performance.now() - started;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / (elapsed / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    // This process is the client only (the fake runs in a child), so this is
    // what a call costs the caller, and it moves less with the machine's load.
    cpuUs: (used.user + used.system) / latencies.length,
  };
}

/** Alternates the variants round by round so drift hits all; keeps each one's median round (by throughput). */
async function compare(variants) {
  const rounds = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, call] of Object.entries(variants)) {
      const result = await load(call);
      (rounds[name] ??= []).push(result);
    }
  }
  const median = {};
  for (const [name, results] of Object.entries(rounds)) {
    results.sort((a, b) => a.rps - b.rps);
    median[name] = results[Math.floor(results.length / 2)];
  }
  return median;
}

function median(fn, runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Milliseconds one fresh Node process spends loading `target` (startup itself excluded). */
function importMs(kind, target) {
  const load = kind === 'esm' ? `await import(${JSON.stringify(target)})` : `require(${JSON.stringify(target)})`;
  const code = `const t0 = performance.now(); ${load}; process.stdout.write(String(performance.now() - t0));`;
  const args = kind === 'esm' ? ['--input-type=module', '-e', code] : ['-e', code];
  return Number(execFileSync(process.execPath, args, { cwd: __dirname, encoding: 'utf8' }));
}

function importTimes(runs) {
  const esmEntry = require('node:url').pathToFileURL(path.join(__dirname, '../dist/esm/index.js')).href;
  const variants = {
    'import("@catwalk/client") (ESM)': () => importMs('esm', esmEntry),
    'require("@catwalk/client") (CommonJS)': () => importMs('cjs', path.join(__dirname, '../dist/cjs/index.js')),
    'baseline: import("undici") (ESM)': () => importMs('esm', 'undici'),
    'baseline: require("undici") (CommonJS)': () => importMs('cjs', 'undici'),
  };
  const times = {};
  for (let r = 0; r < runs; r++) {
    for (const [name, run] of Object.entries(variants)) (times[name] ??= []).push(run());
  }
  return Object.entries(times).map(([name, list]) => {
    list.sort((a, b) => a - b);
    return [name, list[Math.floor(list.length / 2)], list[0], list[list.length - 1]];
  });
}

async function main() {
  const imports = importTimes(Number(process.env.BENCH_IMPORT_RUNS ?? 15));
  const child = fork(path.join(__dirname, 'fake-server.cjs'), { stdio: 'inherit' });
  const { restUrl, grpcAddress } = await new Promise((resolve) => child.once('message', resolve));
  const rows = [];
  try {
    const x = tensor(Float32Array.from({ length: BATCH }, (_, i) => i), [BATCH, 1]);
    const expectedFirst = 2; // 0.5 * 0 + 2

    // REST
    const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 });
    const url = new URL(restUrl);
    // A hand-written caller encodes its inputs on every call, as the SDK does.
    const rawRest = async () => {
      const body = `{"inputs":{"x":[${Array.from(x.data, (v) => `[${v.toFixed(1)}]`).join(',')}]}}`;
      const res = await agent.request({
        origin: url.origin,
        path: '/v1/models/half_plus_two:predict',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const json = JSON.parse(await res.body.text());
      if (json.outputs[0][0] !== expectedFirst) throw new Error('raw REST: wrong answer');
    };
    const restClient = createClient({ baseUrl: restUrl });
    const restModel = restClient.model('half_plus_two');
    const sdkRest = async () => {
      const { y } = await restModel.predict({ x });
      if (y.data[0] !== expectedFirst) throw new Error('SDK REST: wrong answer');
    };
    const rest = await compare({ raw: rawRest, sdk: sdkRest });
    rows.push(['REST', rest.raw, rest.sdk]);
    await agent.close();
    await restClient.close();

    // gRPC
    // The same channel options as the SDK's, so the comparison is about the SDK layer.
    const grpcRaw = new Client(grpcAddress, credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
    });
    const method = wire.predictionServiceDefinition.predict;
    const request = create(wire.PredictRequestSchema, {
      modelSpec: { name: 'half_plus_two', signatureName: 'serving_default' },
      inputs: { x: wire.encodeTensor(x) },
    });
    // Bare: no deadline, no metadata. Same options: the deadline and the
    // x-request-id metadata the SDK sends on every call (the server pays for
    // them too: grpc-js arms a deadline timer per call).
    const rawGrpc = (withOptions) => () =>
      new Promise((resolve, reject) => {
        const metadata = new Metadata();
        if (withOptions) metadata.set('x-request-id', randomUUID());
        grpcRaw.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          metadata,
          withOptions ? { deadline: Date.now() + 30_000 } : {},
          (error, response) => {
            if (error) return reject(error);
            if (response.outputs.y.floatVal[0] !== expectedFirst) return reject(new Error('raw gRPC: wrong answer'));
            resolve();
          },
        );
      });
    const grpcClient = createClient({ transport: 'grpc', grpcAddress });
    const grpcModel = grpcClient.model('half_plus_two');
    const sdkGrpc = async () => {
      const { y } = await grpcModel.predict({ x });
      if (y.data[0] !== expectedFirst) throw new Error('SDK gRPC: wrong answer');
    };
    const grpc = await compare({ bare: rawGrpc(false), same: rawGrpc(true), sdk: sdkGrpc });
    rows.push(['gRPC', grpc.bare, grpc.sdk]);
    rows.push(['gRPC, raw with deadline + request id', grpc.same, grpc.sdk]);
    grpcRaw.close();
    await grpcClient.close();
  } finally {
    child.disconnect();
  }

  console.log(`\nNode ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)}`);
  console.log(
    `\npredict half_plus_two, batch ${BATCH}, ${CONCURRENCY} concurrent callers, median of ${ROUNDS} alternating ${DURATION_MS} ms rounds, fake in a child process`,
  );
  console.log(
    '| transport | raw req/s | SDK req/s | throughput SDK/raw | raw p50 ms | SDK p50 ms | raw p99 ms | SDK p99 ms | client CPU µs/call raw | SDK |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [name, raw, sdk] of rows) {
    console.log(
      `| ${name} | ${raw.rps.toFixed(0)} | ${sdk.rps.toFixed(0)} | ${(sdk.rps / raw.rps).toFixed(3)} | ${raw.p50.toFixed(3)} | ${sdk.p50.toFixed(3)} | ${raw.p99.toFixed(3)} | ${sdk.p99.toFixed(3)} | ${raw.cpuUs.toFixed(1)} | ${sdk.cpuUs.toFixed(1)} |`,
    );
  }

  console.log(
    `\nimport time in a fresh process (startup excluded), median of ${process.env.BENCH_IMPORT_RUNS ?? 15} alternating runs; transports load on a client's first call`,
  );
  console.log('| what | median ms | min ms | max ms |');
  console.log('|---|---:|---:|---:|');
  for (const [name, medianMs, min, max] of imports) {
    console.log(`| ${name} | ${medianMs.toFixed(1)} | ${min.toFixed(1)} | ${max.toFixed(1)} |`);
  }

  // Encoding a 4 MB float32 tensor.
  const big = tensor(Float32Array.from({ length: 1 << 20 }, (_, i) => Math.sin(i) * 100), [1 << 20]);
  const mb = big.data.byteLength / 1e6;
  // What the SDK does per gRPC predict: the PredictRequest's wire bytes,
  // written straight from the tensor.
  const grpcEncode = () => wire.encodePredictRequest({ model: 'm', signature: 'serving_default' }, { x: big });
  const restEncode = () => `{"inputs":{"x":${wire.tensorToJson(big, 'x', 'compact')}}}`;
  const grpcBytes = grpcEncode().length;
  const restBytes = restEncode().length;
  const grpcMs = median(grpcEncode, 30);
  const restMs = median(restEncode, 5);
  console.log(`\nencode one 4 MB float32 tensor (${(1 << 20).toLocaleString('en')} values) into a request body`);
  console.log('| path | body bytes | median ms | MB/s | x REST JSON |');
  console.log('|---|---:|---:|---:|---:|');
  console.log(`| REST JSON (SDK) | ${restBytes} | ${restMs.toFixed(2)} | ${(mb / (restMs / 1000)).toFixed(0)} | 1.0 |`);
  console.log(
    `| gRPC PredictRequest (SDK) | ${grpcBytes} | ${grpcMs.toFixed(2)} | ${(mb / (grpcMs / 1000)).toFixed(0)} | ${(restMs / grpcMs).toFixed(1)} |`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
