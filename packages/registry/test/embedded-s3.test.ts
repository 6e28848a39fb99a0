// The embedded S3 (tools/embedded-s3.cjs) that local use, tests and
// benchmarks run against: listings past 1,000 keys, keys that try to leave
// its data folder, and writes a concurrent reader must never see half done.

import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { listVersions, type ModelLocation, push, syncOnce } from '../src';
import { listAll } from '../src/s3';
import {
  BUCKET,
  client,
  filesIn,
  halfPlusTwo,
  independentS3,
  type S3Server,
  startS3,
  tempDir,
} from './helpers';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

describe('the embedded S3', () => {
  it('lists a model of more than 2,000 files page by page, so push, versions and sync handle it', async () => {
    const loc: ModelLocation = { bucket: BUCKET, prefix: 'big/many-files', name: 'many-files' };
    const dir = tempDir();
    fs.cpSync(halfPlusTwo, dir, { recursive: true });
    const extra = 2010;
    for (let i = 0; i < extra; i++) {
      const sub = path.join(dir, 'assets', `shard-${i % 7}`);
      fs.mkdirSync(sub, { recursive: true });
      fs.writeFileSync(path.join(sub, `vocab-${String(i).padStart(4, '0')}.txt`), `token ${i}\n`);
    }
    const files = filesIn(dir).length;
    expect(files).toBeGreaterThan(2000);
    const c = client(s3.endpoint);
    const pushed = await push({ client: c, location: loc, dir, concurrency: 16 });
    expect(pushed.files).toBe(files);

    // Our client and MinIO's both page through the listing (1,000 keys a page at most).
    const ours = await listAll(c, BUCKET, `${loc.prefix}/1/`);
    const theirs = await independentS3(s3.endpoint).keys(`${loc.prefix}/1/`);
    expect(ours.map((o) => o.key).sort()).toEqual(theirs);
    expect(theirs.length).toBe(files + 2); // the claim and the manifest

    const [version] = await listVersions(c, loc);
    expect(version).toMatchObject({ version: 1, state: 'complete' });
    const dest = tempDir();
    const report = await syncOnce({ client: c, location: loc, dest, concurrency: 16 });
    expect(report).toMatchObject({ present: [1], complete: true });
    expect(filesIn(path.join(dest, '1')).filter((f) => f !== 'catwalk-manifest.json')).toEqual(filesIn(dir));
  }, 300_000);

  it('lists open multipart uploads by prefix and aborts them, removing their parts', async () => {
    const c = client(s3.endpoint, 1);
    const key = `multipart/${randomUUID()}/big.bin`;
    const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    await c.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId,
        PartNumber: 1,
        Body: Buffer.alloc(1024, 7),
      }),
    );
    const list = async (prefix: string) =>
      ((await c.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix }))).Uploads ?? []).map(
        (u) => [u.Key, u.UploadId],
      );
    expect(await list(path.posix.dirname(key))).toEqual([[key, UploadId]]);
    expect(await list('elsewhere/')).toEqual([]);
    await c.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId }));
    expect(await list(path.posix.dirname(key))).toEqual([]);
    await expect(
      c.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId })),
    ).rejects.toMatchObject({ name: 'NoSuchUpload' });
  });

  it("refuses keys with '.' or '..' segments: nothing is written outside its data folder", async () => {
    const c = client(s3.endpoint, 1);
    const name = `catwalk-escape-${randomUUID()}`;
    const root = path.parse(s3.dir).root;
    const escapes = [
      `x/${'../'.repeat(12)}${path.relative(root, path.join(path.dirname(s3.dir), name))}`,
      `x/../../${name}`,
      `./${name}`,
    ];
    for (const key of escapes) {
      const error = await c
        .send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'escaped' }))
        .catch((e) => e);
      expect(error?.$metadata?.httpStatusCode).toBe(400);
      expect(error.name).toBe('InvalidArgument');
      expect(error.message).toContain("'.' or '..'");
    }
    // Not beside the data folder (where the first two keys lead), not inside it, not at the root.
    expect(fs.readdirSync(path.dirname(s3.dir)).filter((f) => f.includes(name))).toEqual([]);
    expect(filesIn(s3.dir).filter((f) => f.includes(name))).toEqual([]);
    expect(fs.existsSync(path.join(root, `${name}._S3rver_object`))).toBe(false);
  });

  it('never lets a reader see a half-written object (release.json rewritten while read)', async () => {
    const c = client(s3.endpoint);
    const key = `atomic/${randomUUID()}/release.json`;
    // Large enough that a write takes many chunks: a reader in between would see a prefix.
    const bodies = ['a', 'b'].map((ch) => JSON.stringify({ pad: ch.repeat(2 * 1024 * 1024) }));
    await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bodies[0] }));
    let writing = true;
    const writes = (async () => {
      try {
        for (let i = 1; i <= 30; i++) {
          await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bodies[i % 2] }));
        }
      } finally {
        writing = false;
      }
    })();
    const seen: string[] = [];
    let reads = 0;
    while (writing && reads < 2000) {
      reads++;
      const got = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      const text = (await got.Body?.transformToString()) ?? '';
      if (!bodies.includes(text)) seen.push(`read ${reads}: ${text.length} bytes, not a whole write`);
    }
    await writes;
    expect(reads).toBeGreaterThan(5);
    expect(seen).toEqual([]);
  }, 120_000);
});

describe('starting the embedded S3', () => {
  it('rejects with EADDRINUSE when its port is taken, instead of crashing the process', async () => {
    const { startEmbeddedS3 } = require('../tools/embedded-s3.cjs') as {
      startEmbeddedS3: (o: {
        port?: number;
        dir?: string;
      }) => Promise<{ port: number; close(): Promise<void> }>;
    };
    const first = await startEmbeddedS3({ dir: tempDir() });
    // s3rver emitted the listen error on a server nothing listened to: an uncaught exception.
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    const jestHandlers = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onUncaught);
    try {
      await expect(startEmbeddedS3({ dir: tempDir(), port: first.port })).rejects.toThrow(/EADDRINUSE/);
      // The first server still answers (a bucket it does not have is an S3 error, not a dead socket).
      const listed = await listVersions(client(`http://127.0.0.1:${first.port}`), {
        bucket: BUCKET,
        prefix: 'nothing',
        name: 'nothing',
      }).catch((e: { name?: string }) => e.name);
      expect(uncaught).toEqual([]);
      expect(listed).toBe('NoSuchBucket');
    } finally {
      process.off('uncaughtException', onUncaught);
      for (const h of jestHandlers) process.on('uncaughtException', h);
      await first.close();
    }
  }, 15_000);
});

describe('stopping the embedded S3', () => {
  it('exits on SIGTERM even while a client holds a request open half sent', async () => {
    // Its own server: the shared one must outlive this test.
    const own = await startS3();
    const { port } = new URL(own.endpoint);
    const socket = require('node:net').connect(Number(port), '127.0.0.1') as import('node:net').Socket;
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.on('error', () => undefined); // the server may end it with a reset: that is the point
    // A PUT whose body never finishes: a stalled upload, or a client that died without closing.
    socket.write(
      `PUT /${BUCKET}/stall/key HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 1000\r\n\r\n0123456789`,
    );
    const closedByServer = new Promise((resolve) => socket.once('close', resolve));
    try {
      // stop() sends SIGTERM and waits for the process to exit; it waited forever on this connection.
      await own.stop();
      await closedByServer;
    } finally {
      socket.destroy();
    }
  }, 15_000);
});
