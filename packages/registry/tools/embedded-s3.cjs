#!/usr/bin/env node
// Catwalk's embedded S3 for local use, tests and benchmarks: s3rver on
// loopback, plus the conditional writes AWS S3 has had since 2024
// (If-None-Match: * and If-Match: <etag> on PutObject and
// CompleteMultipartUpload), which s3rver 3.7 ignores. The registry relies on
// them to keep concurrent pushes and releases apart, and refuses servers
// without them.
//
// As a script: node embedded-s3.cjs --dir DIR [--port 0] [--bucket NAME]...
// prints one JSON line {"endpoint": "http://127.0.0.1:PORT"} once listening,
// and stops on SIGTERM/SIGINT.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** Serialises async work per key: check-then-write must not interleave. */
function keyedLock() {
  const tails = new Map();
  return async (key, fn) => {
    const previous = tails.get(key) ?? Promise.resolve();
    let release;
    const current = new Promise((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => current);
    tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}

function conditionalWrites() {
  const lock = keyedLock();
  return async (ctx, next) => {
    const noneMatch = ctx.get('if-none-match');
    const match = ctx.get('if-match');
    const isWrite =
      (ctx.method === 'PUT' && !('partNumber' in ctx.query) && !ctx.get('x-amz-copy-source')) ||
      (ctx.method === 'POST' && 'uploadId' in ctx.query);
    const [, bucket, ...rest] = ctx.path.split('/');
    if (!isWrite || !(noneMatch || match) || !bucket || rest.length === 0) return next();
    const key = rest.map(decodeURIComponent).join('/');
    return lock(`${bucket}/${key}`, async () => {
      const exists = await ctx.store.existsObject(bucket, key);
      const etag = exists ? (await ctx.store.getMetadata(bucket, key)).etag : undefined;
      const failed = noneMatch === '*' ? exists : match ? etag !== match && etag !== `"${match}"` : false;
      if (failed) {
        ctx.status = 412;
        ctx.type = 'application/xml';
        ctx.body =
          '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>' +
          '<Message>At least one of the pre-conditions you specified did not hold</Message>' +
          `<Condition>${noneMatch ? 'If-None-Match' : 'If-Match'}</Condition></Error>`;
        return;
      }
      await next();
    });
  };
}

/**
 * Starts the server in this process. Options: dir (default: a new temp
 * folder), port (default 0: any free port), buckets (created empty).
 * Returns { endpoint, port, dir, close() }.
 */
async function startEmbeddedS3(options = {}) {
  const S3rver = require('s3rver');
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    directory: dir,
    silent: true,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  // Koa composes its middleware when the server starts: ours runs first.
  server.middleware.unshift(conditionalWrites());
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  return { endpoint, port: address.port, dir, close: () => server.close() };
}

module.exports = { startEmbeddedS3 };

if (require.main === module) {
  const args = process.argv.slice(2);
  const value = (flag) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const buckets = args.flatMap((a, i) => (a === '--bucket' ? [args[i + 1]] : []));
  startEmbeddedS3({ dir: value('--dir'), port: Number(value('--port') ?? 0), buckets }).then(
    (s3) => {
      process.stdout.write(`${JSON.stringify({ endpoint: s3.endpoint, dir: s3.dir })}\n`);
      const stop = () => s3.close().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
    (error) => {
      process.stderr.write(`embedded S3 failed to start: ${error.message}\n`);
      process.exit(1);
    },
  );
}
