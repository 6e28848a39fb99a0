// Sync's GETs are signed and sent without the AWS SDK's request stack
// (src/s3-direct.ts). These tests hold that path to what the SDK did: the
// endpoint it resolves, signatures a real S3 would accept (checked by an
// independent SigV4 computation on the bytes that reached the wire, since
// the embedded S3 does not verify V4 signatures), session tokens, keys that
// need encoding, the socket idle timeout, abort, the retries and sha256
// checks under the heavy fault plan, and S3's errors reported as the SDK
// reported them. Everything runs against the real embedded S3 over loopback.

import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type ModelLocation, push, syncOnce } from '../src';
import { errorKind, isRetryable } from '../src/retry';
import { createS3Client, isNotFound } from '../src/s3';
import { getObject, getObjectBytes, resolveGetRoute } from '../src/s3-direct';
import { faultPlan, gate, type ProxyAction, startProxy } from './fault-proxy';
import { BUCKET, client, filesIn, halfPlusTwo, type S3Server, startS3, tempDir } from './helpers';
import { verifySigV4 } from './sigv4-check';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

let n = 0;
const model = (): ModelLocation => ({ bucket: BUCKET, prefix: `direct/model-${++n}`, name: `model-${n}` });

/** The files of `b` are in `a` with the same bytes (a's manifest aside). */
const same = (a: string, b: string) => {
  expect(filesIn(a).filter((f) => f !== 'catwalk-manifest.json')).toEqual(filesIn(b));
  for (const f of filesIn(b))
    expect(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f)))).toBe(true);
};

/** halfPlusTwo plus asset files whose names need encoding in a URL and in SigV4's canonical request. */
function exportWithAwkwardNames(): string {
  const dir = tempDir('catwalk-awkward-');
  fs.cpSync(halfPlusTwo, dir, { recursive: true });
  const names = [
    'a b.txt',
    'plus+sign.txt',
    'per%cent.txt',
    'ünïcödé-名前.txt',
    "it's (1)*!.txt",
    'tilde~_-.txt',
  ];
  for (const [i, name] of names.entries()) fs.writeFileSync(path.join(dir, 'assets', name), `asset ${i}\n`);
  return dir;
}

/** Counts the SDK GetObject commands of a client that read below `under` (a version folder's files or manifest). */
function countSdkGets(c: S3Client, under: string): { count: number } {
  const counter = { count: 0 };
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const key = (args.input as { Key?: string }).Key ?? '';
      if (context.commandName === 'GetObjectCommand' && /\/\d+\//.test(key.slice(under.length)))
        counter.count++;
      return next(args);
    },
    { step: 'initialize', name: 'countVersionGets' },
  );
  return counter;
}

describe("sync's GETs", () => {
  it("do not go through the SDK's request stack (files and manifests), and every file still matches its sha256", async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const c = client(s3.endpoint);
    const sdkGets = countSdkGets(c, loc.prefix);
    const dest = tempDir();
    const report = await syncOnce({ client: c, location: loc, dest });
    expect(report).toMatchObject({ complete: true, downloaded: [1] });
    same(path.join(dest, '1'), halfPlusTwo);
    // Neither the catalog's manifest read (which is also the identity read) nor any file goes through it.
    expect(sdkGets.count).toBe(0);
  });

  it('carry a SigV4 signature S3 would accept, for keys with spaces, unicode, +, % and sub-delimiters', async () => {
    const loc = model();
    const dir = exportWithAwkwardNames();
    await push({ client: client(s3.endpoint), location: loc, dir });
    const proxy = await startProxy(s3.endpoint);
    try {
      const dest = tempDir();
      const report = await syncOnce({ client: client(proxy.endpoint), location: loc, dest });
      expect(report).toMatchObject({ complete: true, downloaded: [1] });
      same(path.join(dest, '1'), dir);
      const gets = proxy.seen.filter((r) => r.method === 'GET' && r.path.includes(`/${loc.prefix}/1/`));
      expect(gets.map((r) => r.path.split('/').pop())).toEqual(
        expect.arrayContaining([
          'a b.txt',
          'plus+sign.txt',
          'per%cent.txt',
          'ünïcödé-名前.txt',
          "it's (1)*!.txt",
        ]),
      );
      for (const r of gets) {
        const verdict = verifySigV4(r, 'S3RVER');
        expect({ url: r.rawUrl, ...verdict }).toMatchObject({ ok: true, region: 'us-east-1', service: 's3' });
        // The checker itself is not lenient: the same request fails under another secret.
        expect(verifySigV4(r, 'not-the-secret').ok).toBe(false);
      }
      // Control: the SDK's own requests (the LIST and the release.json read) pass the same checker.
      const sdkRequests = proxy.seen.filter((r) => !gets.includes(r));
      expect(sdkRequests.length).toBeGreaterThan(0);
      for (const r of sdkRequests)
        expect({ url: r.rawUrl, ...verifySigV4(r, 'S3RVER') }).toMatchObject({ ok: true });
    } finally {
      await proxy.close();
    }
  });

  it('are signed with the secret the client holds: a wrong secret gives signatures S3 would refuse', async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const proxy = await startProxy(s3.endpoint);
    try {
      const wrong = createS3Client({
        endpoint: proxy.endpoint,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'wrong-secret' },
      });
      await getObjectBytes(wrong, BUCKET, `${loc.prefix}/1/saved_model.pb`);
      const [get] = proxy.seen.filter((r) => r.method === 'GET');
      expect(verifySigV4(get!, 'S3RVER')).toMatchObject({
        ok: false,
        problem: expect.stringMatching(/mismatch/),
      });
      expect(verifySigV4(get!, 'wrong-secret').ok).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it("send and sign the session token of the client's credential chain (x-amz-security-token)", async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const proxy = await startProxy(s3.endpoint);
    process.env.AWS_SESSION_TOKEN = 'session-token-of-an-assumed-role';
    try {
      // No static credentials: the SDK's default chain reads them, token included, from the environment.
      const c = createS3Client({ endpoint: proxy.endpoint });
      const dest = tempDir();
      expect(await syncOnce({ client: c, location: loc, dest })).toMatchObject({ complete: true });
      const gets = proxy.seen.filter((r) => r.method === 'GET' && r.path.includes(`/${loc.prefix}/1/`));
      expect(gets.length).toBeGreaterThan(0);
      for (const r of gets) {
        expect(r.headers['x-amz-security-token']).toBe('session-token-of-an-assumed-role');
        const verdict = verifySigV4(r, 'S3RVER');
        expect(verdict.ok).toBe(true);
        expect(verdict.signedHeaders).toContain('x-amz-security-token');
      }
    } finally {
      delete process.env.AWS_SESSION_TOKEN;
      await proxy.close();
    }
  });

  it("take each signature's credentials from the client's provider, so rotated credentials are used as they change", async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const proxy = await startProxy(s3.endpoint);
    try {
      // Credentials that expire within the SDK's refresh window: its provider fetches new ones for every request,
      // as it would for IRSA or instance-profile credentials near their expiry.
      let issued = 0;
      const c = new S3Client({
        endpoint: proxy.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: async () => ({
          accessKeyId: 'S3RVER',
          secretAccessKey: 'S3RVER',
          sessionToken: `token-${++issued}`,
          expiration: new Date(Date.now() + 60_000),
        }),
      });
      for (let i = 0; i < 3; i++) await getObjectBytes(c, BUCKET, `${loc.prefix}/1/saved_model.pb`);
      const tokens = proxy.seen
        .filter((r) => r.method === 'GET')
        .map((r) => r.headers['x-amz-security-token']);
      expect(tokens).toHaveLength(3);
      expect(new Set(tokens).size).toBe(3);
      for (const r of proxy.seen) expect(verifySigV4(r, 'S3RVER').ok).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it("correct the signing clock from the server's Date and retry a clock-skew refusal, as the SDK does", async () => {
    // A server whose clock is an hour ahead: the embedded S3 cannot be given another clock, so this one
    // plays S3's part for the two requests (a refusal naming the skew, then the object), over real HTTP.
    const hourAhead = () => new Date(Date.now() + 3_600_000);
    const seen: Array<{ amzDate: string }> = [];
    const server = http.createServer((req, res) => {
      const amzDate = String(req.headers['x-amz-date']);
      seen.push({ amzDate });
      const signedAt = Date.parse(
        amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
      );
      res.setHeader('date', hourAhead().toUTCString());
      if (Math.abs(signedAt - hourAhead().getTime()) > 300_000) {
        res.writeHead(403, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>RequestTimeTooSkewed</Code>' +
            '<Message>The difference between the request time and the current time is too large.</Message></Error>',
        );
        return;
      }
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const c = createS3Client({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 3 });
      const got = await getObjectBytes(c, BUCKET, 'skewed/object');
      expect(got.bytes.toString()).toBe('ok');
      expect(seen).toHaveLength(2); // refused once, then signed with the server's time
      expect(Math.abs((c.config.systemClockOffset ?? 0) - 3_600_000)).toBeLessThan(5_000);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('go to the endpoint the SDK resolves: virtual-hosted on AWS, path style when asked, FIPS and dual-stack, custom endpoints', async () => {
    // No network: the client's own endpoint rules, evaluated locally.
    const route = async (c: S3Client, bucket = 'models') => {
      const r = await resolveGetRoute(c, bucket);
      return r && { url: r.url.href, region: r.signingRegion, name: r.signingName };
    };
    expect(await route(createS3Client({ region: 'eu-west-1' }))).toEqual({
      url: 'https://models.s3.eu-west-1.amazonaws.com/',
      region: 'eu-west-1',
      name: 's3',
    });
    expect(await route(createS3Client({ region: 'eu-west-1', forcePathStyle: true }))).toEqual({
      url: 'https://s3.eu-west-1.amazonaws.com/models',
      region: 'eu-west-1',
      name: 's3',
    });
    // A bucket name with dots cannot be a TLS host name: the rules fall back to path style.
    expect((await route(createS3Client({ region: 'eu-west-1' }), 'my.models'))!.url).toBe(
      'https://s3.eu-west-1.amazonaws.com/my.models',
    );
    expect(await route(new S3Client({ region: 'us-east-2', useFipsEndpoint: true }))).toMatchObject({
      url: 'https://models.s3-fips.us-east-2.amazonaws.com/',
      region: 'us-east-2',
    });
    expect((await route(new S3Client({ region: 'eu-west-1', useDualstackEndpoint: true })))!.url).toBe(
      'https://models.s3.dualstack.eu-west-1.amazonaws.com/',
    );
    expect(
      await route(createS3Client({ endpoint: 'http://127.0.0.1:9000', region: 'eu-central-1' })),
    ).toEqual({
      url: 'http://127.0.0.1:9000/models',
      region: 'eu-central-1',
      name: 's3',
    });
  });

  it('give up on a socket that goes quiet after the idle timeout and retry it, then complete', async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const proxy = await startProxy(s3.endpoint);
    const never = gate(); // never opened: the first GET of the data file gets no answer at all
    const dataFile = `/${BUCKET}/${loc.prefix}/1/variables/variables.data-00000-of-00001`;
    let held = 0;
    proxy.setRule((r) =>
      r.method === 'GET' && r.path === dataFile && held++ === 0 ? { hold: never.opened } : 'pass',
    );
    try {
      const c = createS3Client({ endpoint: proxy.endpoint, maxAttempts: 3, socketTimeoutMs: 1000 });
      const dest = tempDir();
      const started = Date.now();
      const report = await syncOnce({ client: c, location: loc, dest });
      expect(report).toMatchObject({ complete: true, downloaded: [1] });
      same(path.join(dest, '1'), halfPlusTwo);
      expect(proxy.seen.filter((r) => r.path === dataFile).map((r) => r.action)).toEqual(['hold', 'pass']);
      expect(Date.now() - started).toBeLessThan(15_000);
      // The abandoned request is the timeout's, worded as the SDK's handler words it, and counted as network.
      proxy.setRule((r) => (r.method === 'GET' ? { hold: never.opened } : 'pass'));
      const once = createS3Client({ endpoint: proxy.endpoint, maxAttempts: 1, socketTimeoutMs: 300 });
      const error = await getObject(once, BUCKET, `${loc.prefix}/1/saved_model.pb`).catch((e: Error) => e);
      expect((error as Error).message).toMatch(/timed out after 300 ms of inactivity/);
      expect(errorKind(error)).toBe('network');
      expect(isRetryable(error)).toBe(true);
    } finally {
      never.open();
      await proxy.close();
    }
  });

  it('stop at once on abort and leave dest without the version', async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const proxy = await startProxy(s3.endpoint);
    const never = gate();
    const isData = (r: { method: string; path: string }) =>
      r.method === 'GET' && r.path.endsWith('saved_model.pb');
    proxy.setRule((r) => (isData(r) ? { hold: never.opened } : 'pass'));
    try {
      const stop = new AbortController();
      const dest = tempDir();
      const c = createS3Client({ endpoint: proxy.endpoint, socketTimeoutMs: 60_000 });
      const syncing = syncOnce({ client: c, location: loc, dest, signal: stop.signal }).catch(
        (e: Error) => e,
      );
      await proxy.arrival(isData, true);
      const started = Date.now();
      stop.abort();
      const outcome = await syncing;
      expect((outcome as Error).name).toBe('AbortError');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(fs.readdirSync(dest).filter((e) => !e.startsWith('.catwalk-'))).toEqual([]);
    } finally {
      never.open();
      await proxy.close();
    }
  });

  it('complete under the heavy fault plan (every 3rd 503, every 4th reset, every 5th cut body) with every sha256 checked', async () => {
    const loc = model();
    const dir = exportWithAwkwardNames();
    await push({ client: client(s3.endpoint), location: loc, dir });
    const proxy = await startProxy(s3.endpoint);
    const plan: Array<readonly [number, ProxyAction]> = [
      [3, { status: 503, code: 'SlowDown' }],
      [4, 'reset'],
      [5, { truncateAfter: 7 }],
    ];
    try {
      for (let round = 0; round < 3; round++) {
        // Sync's own GETs of the version, its manifest included (the catalog reads it on the direct path too).
        // The SDK's GetObject carries x-id=GetObject: release.json and the LIST stay on the SDK, whose
        // handling of cut bodies is not what is tested here.
        const ours = (r: { method: string; path: string; url: string }) =>
          r.method === 'GET' && r.path.includes(`/${loc.prefix}/1/`) && !r.url.includes('x-id=');
        proxy.setRule(faultPlan(plan, (r) => (ours(r) ? 'reset' : 'pass')));
        const dest = tempDir();
        const report = await syncOnce({
          client: createS3Client({ endpoint: proxy.endpoint }),
          location: loc,
          dest,
        });
        expect(report).toMatchObject({ complete: true, downloaded: [1] });
        same(path.join(dest, '1'), dir);
      }
      const faults = proxy.seen.filter((r) => r.action !== 'pass').map((r) => r.action);
      expect(new Set(faults)).toEqual(new Set(['status 503', 'reset', 'truncate']));
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it("report S3's errors as the SDK did: NoSuchKey is not found, 403 is not retried, 5xx is a server error", async () => {
    const loc = model();
    await push({ client: client(s3.endpoint), location: loc, dir: halfPlusTwo });
    const proxy = await startProxy(s3.endpoint);
    try {
      const c = createS3Client({ endpoint: proxy.endpoint, maxAttempts: 2 });
      const both = async (key: string) => {
        const direct = await getObject(c, BUCKET, key).catch((e: unknown) => e);
        const sdk = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })).catch((e: unknown) => e);
        const shape = (e: unknown) => {
          const x = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
          return {
            name: x.name,
            message: x.message,
            status: x.$metadata?.httpStatusCode,
            notFound: isNotFound(e),
            kind: errorKind(e),
            retryable: isRetryable(e),
          };
        };
        return { direct: shape(direct), sdk: shape(sdk) };
      };
      const missing = await both(`${loc.prefix}/1/no-such-file`);
      expect(missing.direct).toEqual(missing.sdk);
      expect(missing.direct).toMatchObject({
        name: 'NoSuchKey',
        status: 404,
        notFound: true,
        retryable: false,
      });

      proxy.setRule((r) => (r.method === 'GET' ? { status: 403, code: 'AccessDenied' } : 'pass'));
      const before = proxy.seen.length;
      const denied = await both(`${loc.prefix}/1/saved_model.pb`);
      expect(denied.direct).toEqual(denied.sdk);
      expect(denied.direct).toMatchObject({ name: 'AccessDenied', status: 403, retryable: false });
      expect(proxy.seen.length - before).toBe(2); // one request each: a 403 is not retried

      proxy.setRule((r) => (r.method === 'GET' ? { status: 500, code: 'InternalError' } : 'pass'));
      const broken = await both(`${loc.prefix}/1/saved_model.pb`);
      expect(broken.direct).toEqual(broken.sdk);
      expect(broken.direct).toMatchObject({
        name: 'InternalError',
        status: 500,
        kind: 'server',
        retryable: true,
      });
    } finally {
      await proxy.close();
    }
  });
});
