// The requests s3-direct.ts sends beside the SDK must behave as the SDK's
// would wherever S3 or the network behaves differently from the happy path:
// an IPv6 endpoint, S3's 400 RequestTimeout (a slow upload, retried by the
// SDK), and an answer S3 gives before it reads a large body.

import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createS3Client } from '../src';
import { getObjectBytes, putObject } from '../src/s3-direct';
import { startProxy } from './fault-proxy';
import { BUCKET, type S3Server, startS3 } from './helpers';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const putInput = (body: Buffer) => ({
  sha256: sha256(body),
  contentType: 'application/octet-stream',
  metadata: {},
});

/**
 * A proxy listening on [::1] in front of the embedded S3 (on 127.0.0.1). It
 * hands the request on with Host rewritten, because the embedded S3 reads a
 * bracketed Host as a bucket name (the SDK's own requests get NoSuchBucket
 * there too), and records the Host each request came with.
 */
async function ipv6Proxy(upstream: string) {
  const target = new URL(upstream);
  const hosts: string[] = [];
  const server = http.createServer((req, res) => {
    hosts.push(req.headers.host ?? '');
    const forward = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', () => res.socket?.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://[::1]:${port}`,
    hosts,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('an IPv6 endpoint ([::1]) works for GETs and PUTs', async () => {
  const proxy = await ipv6Proxy(s3.endpoint);
  try {
    const c = createS3Client({ endpoint: proxy.endpoint, maxAttempts: 2 });
    const body = randomBytes(1000);
    await putObject(c, BUCKET, 'direct/ipv6/file.bin', body, putInput(body));
    const got = await getObjectBytes(c, BUCKET, 'direct/ipv6/file.bin');
    expect(got.bytes.equals(body)).toBe(true);
    // The Host header (which SigV4 signs) keeps the brackets.
    expect(proxy.hosts).toEqual([new URL(proxy.endpoint).host, new URL(proxy.endpoint).host]);
  } finally {
    await proxy.close();
  }
});

test("S3's 400 RequestTimeout (a body that came too slowly) is retried, as the SDK retries it", async () => {
  const proxy = await startProxy(s3.endpoint);
  try {
    let puts = 0;
    proxy.setRule((r) =>
      r.method === 'PUT' && ++puts === 1 ? { status: 400, code: 'RequestTimeout' } : 'pass',
    );
    const c = createS3Client({ endpoint: proxy.endpoint, maxAttempts: 3 });
    const body = randomBytes(2000);
    await putObject(c, BUCKET, 'direct/timeout/file.bin', body, putInput(body));
    expect(puts).toBe(2);
    expect((await getObjectBytes(c, BUCKET, 'direct/timeout/file.bin')).bytes.equals(body)).toBe(true);
  } finally {
    await proxy.close();
  }
});

test('a refusal S3 sends before reading a large body reaches the caller as that refusal, with no body sent', async () => {
  // A stand-in for S3 (the embedded S3 reads every body first): it answers 403 AccessDenied at once
  // and closes the connection, as S3 does for a request it will not take, and counts the body bytes
  // it was sent. With Expect: 100-continue the body is never sent.
  let requests = 0;
  let bodyBytes = 0;
  const refuse = (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests++;
    req.on('data', (c: Buffer) => {
      bodyBytes += c.length;
    });
    res.writeHead(403, { 'content-type': 'application/xml', connection: 'close' });
    res.end('<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
  };
  const server = http.createServer(refuse);
  server.on('checkContinue', refuse);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const c = createS3Client({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      maxAttempts: 3,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    });
    const body = randomBytes(6 * 1024 * 1024);
    const error = await putObject(c, BUCKET, 'direct/refused/file.bin', body, putInput(body)).catch(
      (e: Error) => e,
    );
    expect(error).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    expect(requests).toBe(1);
    expect(bodyBytes).toBe(0);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
