// One registry operation in its own process, so the benchmark sees its own
// peak RSS. Writes {"seconds", "maxRssMiB"} as JSON to $CATWALK_MEASURE_OUT.
//   node measure.cjs push <export-dir> <s3-uri> <endpoint>
//   node measure.cjs sync <s3-uri> <dest> <endpoint>            (one complete sync)
//   node measure.cjs sidecar <s3-uri> <dest> <endpoint> <ms>    (polls until SIGTERM)
const fs = require('node:fs');
const path = require('node:path');

const registry = require(path.resolve(__dirname, '..', 'dist', 'index.js'));
const [operation, a, b, endpoint, interval] = process.argv.slice(2);
const client = registry.createS3Client({ endpoint });
const logger = registry.createSyncLogger(process.stderr, 'warn');

async function main() {
  const started = process.hrtime.bigint();
  if (operation === 'push') {
    await registry.push({ client, location: registry.parseModelUri(b), dir: a });
  } else if (operation === 'sync') {
    await registry.runSidecar({ client, location: registry.parseModelUri(a), dest: b, once: true, logger });
  } else if (operation === 'sidecar') {
    const stop = new AbortController();
    process.once('SIGTERM', () => stop.abort());
    const intervalMs = Number(interval);
    await registry.runSidecar({ client, location: registry.parseModelUri(a), dest: b, intervalMs, logger, signal: stop.signal });
  } else {
    throw new Error(`unknown operation '${operation}'`);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const maxRssMiB = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
  if (process.env.CATWALK_MEASURE_OUT) fs.writeFileSync(process.env.CATWALK_MEASURE_OUT, JSON.stringify({ seconds, maxRssMiB }));
}

main().catch((error) => {
  process.stderr.write(`${registry.describeError(error)}\n`);
  process.exit(1);
});
