#!/usr/bin/env node
// Catwalk's embedded S3 for local use, tests and benchmarks: s3rver on
// loopback, with what s3rver 3.7 lacks and the registry relies on:
//
// - conditional writes, as AWS S3 has had them since 2024 (If-None-Match: *
//   and If-Match: <etag> on PutObject and CompleteMultipartUpload), which keep
//   concurrent pushes and releases apart (the registry refuses servers without);
// - ListObjectsV2 pagination: s3rver makes its continuation tokens with DES,
//   which OpenSSL 3 (Node 17+) no longer has, so any listing past 1,000 keys
//   failed with HTTP 500;
// - keys with '.' or '..' segments refused: s3rver maps keys to file paths,
//   and such a key would be written outside the data folder;
// - atomic object writes: each object is written to a temp file and renamed
//   into place, and readers of a key wait for a rename in progress, so a
//   reader sees the old object or the new one, never part of one;
// - AbortMultipartUpload and ListMultipartUploads, which s3rver answers with
//   405 / NotImplemented: a push cleans up the parts of a killed push with
//   them, and a test can see that no part is left stored.
//
// As a script: node embedded-s3.cjs --dir DIR [--port 0] [--bucket NAME]...
// prints one JSON line {"endpoint": "http://127.0.0.1:PORT"} once listening,
// and stops on SIGTERM/SIGINT.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Transform } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const S3Object = require('s3rver/lib/models/object');

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

const escapeXml = (text) =>
  String(text).replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c],
  );

function s3Error(ctx, status, code, message) {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`;
}

/** The bucket and key a request path names ('' when it names none). */
function target(ctx) {
  const [, bucket = '', ...rest] = ctx.path.split('/');
  let key = '';
  try {
    key = rest.map(decodeURIComponent).join('/');
  } catch {
    key = rest.join('/');
  }
  return { bucket: safeDecode(bucket), key };
}

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const badSegment = (name) => name.split('/').some((s) => s === '.' || s === '..');

/** Keys (and copy sources, and upload ids) that would resolve outside the data folder are refused. */
function refuseEscapingKeys() {
  return async (ctx, next) => {
    const { bucket, key } = target(ctx);
    const copySource = ctx.get('x-amz-copy-source');
    const uploadId = ctx.query.uploadId;
    const bad =
      bucket === '.' ||
      bucket === '..' ||
      badSegment(key) ||
      (copySource && badSegment(safeDecode(copySource.split('?')[0]))) ||
      (uploadId !== undefined && !/^[A-Za-z0-9_-]+$/.test(String(uploadId)));
    if (bad) {
      return s3Error(
        ctx,
        400,
        'InvalidArgument',
        "keys with '.' or '..' segments (and upload ids other than letters, digits, '-' and '_') are refused: " +
          'this server stores keys as files and such a key would leave its data folder',
      );
    }
    return next();
  };
}

/**
 * ListObjectsV2 with our own continuation tokens (base64url JSON of the
 * bucket and the last key). s3rver's store does the walking.
 */
function listObjectsV2() {
  return async (ctx, next) => {
    const { bucket, key } = target(ctx);
    if (ctx.method !== 'GET' || ctx.query['list-type'] !== '2' || !bucket || key !== '') return next();
    if (!(await ctx.store.getBucket(bucket))) return next(); // s3rver answers NoSuchBucket
    const q = ctx.query;
    const prefix = String(q.prefix ?? '');
    const delimiter = String(q.delimiter ?? '');
    const maxKeys = q['max-keys'] === undefined ? 1000 : Number(q['max-keys']);
    if (!Number.isInteger(maxKeys) || maxKeys < 0) {
      return s3Error(ctx, 400, 'InvalidArgument', 'max-keys must be a non-negative integer');
    }
    let startAfter = String(q['start-after'] ?? '');
    const token = q['continuation-token'];
    if (token) {
      let decoded;
      try {
        decoded = JSON.parse(Buffer.from(String(token), 'base64url').toString('utf8'));
      } catch {
        decoded = undefined;
      }
      if (!decoded || decoded.bucket !== bucket || typeof decoded.after !== 'string') {
        return s3Error(ctx, 400, 'InvalidArgument', 'The continuation token provided is incorrect');
      }
      startAfter = decoded.after;
    }
    const limit = Math.min(1000, maxKeys);
    const result =
      limit === 0
        ? { objects: [], commonPrefixes: [], isTruncated: false }
        : await ctx.store.listObjects(bucket, { prefix, delimiter, startAfter, maxKeys: limit });
    const last = result.objects.at(-1);
    const truncated = Boolean(result.isTruncated && last);
    const url = q['encoding-type'] === 'url';
    const enc = (text) => escapeXml(url ? encodeURIComponent(text) : text);
    const xml = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
      `<Name>${escapeXml(bucket)}</Name>`,
      `<Prefix>${enc(prefix)}</Prefix>`,
      delimiter ? `<Delimiter>${enc(delimiter)}</Delimiter>` : '',
      token ? `<ContinuationToken>${escapeXml(token)}</ContinuationToken>` : '',
      !token && q['start-after'] ? `<StartAfter>${enc(startAfter)}</StartAfter>` : '',
      url ? '<EncodingType>url</EncodingType>' : '',
      `<MaxKeys>${maxKeys}</MaxKeys>`,
      `<KeyCount>${result.objects.length + result.commonPrefixes.length}</KeyCount>`,
      `<IsTruncated>${truncated}</IsTruncated>`,
      truncated
        ? `<NextContinuationToken>${Buffer.from(JSON.stringify({ bucket, after: last.key })).toString('base64url')}</NextContinuationToken>`
        : '',
      ...result.objects.map(
        (o) =>
          `<Contents><Key>${enc(o.key)}</Key><LastModified>${o.lastModifiedDate.toISOString()}</LastModified>` +
          `<ETag>${escapeXml(o.metadata.etag)}</ETag><Size>${o.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
      ),
      ...result.commonPrefixes.map((p) => `<CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`),
      '</ListBucketResult>',
    ].join('');
    ctx.status = 200;
    ctx.type = 'application/xml';
    ctx.body = xml;
  };
}

/**
 * Object writes become temp file + rename (object, md5 and metadata renamed
 * together under the key's lock), and GET/HEAD of a key take the same lock
 * while they read the metadata and open the file: a reader sees one whole
 * version of the object. An open file keeps its bytes after a rename, so the
 * lock is not held while the body streams.
 */
function atomicObjects(store, lock) {
  const putObject = async (object) => {
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
    const tmp = `${objectPath}.${crypto.randomUUID()}.tmp`;
    const md5 = crypto.createHash('md5');
    let size = 0;
    try {
      const meter = new Transform({
        transform(chunk, _encoding, done) {
          md5.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      });
      const source = Buffer.isBuffer(object.content) ? [object.content] : object.content;
      await pipeline(source, meter, fs.createWriteStream(tmp));
      const digest = md5.digest('hex');
      const metadataPath = store.getResourcePath(object.bucket, object.key, 'metadata.json');
      const md5Path = store.getResourcePath(object.bucket, object.key, 'object.md5');
      // What s3rver keeps of a request's headers: its allowed list and the user metadata.
      const metadata = Object.fromEntries(
        Object.entries(object.metadata).filter(
          ([k]) => S3Object.ALLOWED_METADATA.includes(k) || k.startsWith('x-amz-meta-'),
        ),
      );
      await fs.promises.writeFile(`${metadataPath}.${path.basename(tmp)}`, JSON.stringify(metadata, null, 2));
      await fs.promises.writeFile(`${md5Path}.${path.basename(tmp)}`, digest);
      await lock(`${object.bucket}/${object.key}`, async () => {
        await fs.promises.rename(`${metadataPath}.${path.basename(tmp)}`, metadataPath);
        await fs.promises.rename(`${md5Path}.${path.basename(tmp)}`, md5Path);
        await fs.promises.rename(tmp, objectPath);
      });
      return { size, md5: digest };
    } finally {
      await fs.promises.rm(tmp, { force: true }); // only there when the write failed
    }
  };
  store.putObject = putObject;
  // s3rver copies the three files one after the other; a copy is a read and a write like any other.
  store.copyObject = async (srcBucket, srcKey, destBucket, destKey, replacementMetadata) => {
    const source = await lock(`${srcBucket}/${srcKey}`, () => store.getObject(srcBucket, srcKey));
    if (!source) {
      const error = new Error('source object not found');
      error.code = 'ENOENT';
      throw error;
    }
    await putObject({
      bucket: destBucket,
      key: destKey,
      content: source.content,
      metadata: replacementMetadata ?? source.metadata,
    });
    return store.getMetadata(destBucket, destKey);
  };
  return async (ctx, next) => {
    const { bucket, key } = target(ctx);
    if ((ctx.method === 'GET' || ctx.method === 'HEAD') && bucket && key) {
      return lock(`${bucket}/${key}`, next);
    }
    return next();
  };
}

/** The open multipart uploads of a bucket, from s3rver's upload folders: [{ uploadId, key, initiated }]. */
async function openUploads(store, bucket) {
  const root = store.getResourcePath(bucket, undefined, 'uploads');
  const ids = await fs.promises.readdir(root).catch((error) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const uploads = await Promise.all(
    ids.map(async (uploadId) => {
      const file = path.join(root, uploadId, 'key');
      try {
        const [key, stat] = await Promise.all([fs.promises.readFile(file, 'utf8'), fs.promises.stat(file)]);
        return { uploadId, key, initiated: stat.mtime };
      } catch (error) {
        if (error.code === 'ENOENT') return undefined; // completed or aborted meanwhile
        throw error;
      }
    }),
  );
  return uploads.filter(Boolean);
}

function multipartUploads(store) {
  return async (ctx, next) => {
    const { bucket, key } = target(ctx);
    if (!bucket) return next();
    if (ctx.method === 'DELETE' && key && 'uploadId' in ctx.query) {
      const upload = (await openUploads(store, bucket)).find(
        (u) => u.uploadId === String(ctx.query.uploadId) && u.key === key,
      );
      if (!upload) {
        return s3Error(ctx, 404, 'NoSuchUpload', 'The specified multipart upload does not exist.');
      }
      const folder = path.join(store.getResourcePath(bucket, undefined, 'uploads'), upload.uploadId);
      await fs.promises.rm(folder, { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    if (ctx.method === 'GET' && !key && 'uploads' in ctx.query) {
      if (!(await store.getBucket(bucket))) {
        return s3Error(ctx, 404, 'NoSuchBucket', 'The specified bucket does not exist');
      }
      const prefix = String(ctx.query.prefix ?? '');
      // Few uploads are ever open here: one page, in key order as S3 lists them.
      const uploads = (await openUploads(store, bucket))
        .filter((u) => u.key.startsWith(prefix))
        .sort((a, b) => (a.key === b.key ? a.uploadId.localeCompare(b.uploadId) : a.key < b.key ? -1 : 1));
      ctx.type = 'application/xml';
      ctx.body = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
        `<Bucket>${escapeXml(bucket)}</Bucket>`,
        `<Prefix>${escapeXml(prefix)}</Prefix>`,
        '<MaxUploads>1000</MaxUploads>',
        '<IsTruncated>false</IsTruncated>',
        ...uploads.map(
          (u) =>
            `<Upload><Key>${escapeXml(u.key)}</Key><UploadId>${escapeXml(u.uploadId)}</UploadId>` +
            `<Initiated>${u.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
        ),
        '</ListMultipartUploadsResult>',
      ].join('');
      return;
    }
    return next();
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
  // Koa composes its middleware when the server starts: ours run first, in this order.
  server.middleware.unshift(
    refuseEscapingKeys(),
    listObjectsV2(),
    multipartUploads(server.store),
    conditionalWrites(),
    atomicObjects(server.store, keyedLock()),
  );
  // s3rver listens without an 'error' listener, so a taken port became an
  // uncaught exception and run() never settled: listen with one, and reject.
  const listen = server.listen.bind(server);
  server.listen = (port, address, options) =>
    new Promise((resolve, reject) => {
      const http = listen(port, address, options, () => {
        http.off('error', reject);
        resolve(http);
      });
      http.once('error', reject);
    });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  /**
   * Stops taking connections, lets requests in flight finish, then closes
   * whatever is still open after a second: http's close() waits for every
   * connection, and one a client holds half sent (a stalled upload, a
   * process killed mid-request on a connection that stays up) held it forever.
   */
  const close = () => {
    const closing = server.close();
    const http = server.httpServer;
    http?.closeIdleConnections();
    const grace = setTimeout(() => http?.closeAllConnections(), 1000);
    return closing.finally(() => clearTimeout(grace));
  };
  return { endpoint, port: address.port, dir, close };
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
