// Push hands the SigV4 signer the sha256 it already computed for each
// single-request upload instead of letting the signer hash the body again.
// The header is what S3 checks the body against, so it must be exactly the
// sha256 of the bytes that arrive, for every object push writes.

import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { push } from '../src';
import { client, halfPlusTwo, type S3Server, startS3 } from './helpers';
import { freshModel } from './push-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

/** A pass-through proxy that records, for each PUT, the signed payload hash and the body's real sha256. */
async function recordingProxy(upstream: string) {
  const target = new URL(upstream);
  const puts: Array<{ url: string; signed: string | undefined; actual: string }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'PUT') {
        const signed = req.headers['x-amz-content-sha256'];
        puts.push({
          url: req.url ?? '',
          signed: Array.isArray(signed) ? signed[0] : signed,
          actual: createHash('sha256').update(body).digest('hex'),
        });
      }
      const forward = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      forward.on('error', () => res.socket?.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    puts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

it('every PUT of a push is signed with the sha256 of the body that arrives', async () => {
  const proxy = await recordingProxy(s3.endpoint);
  try {
    const loc = freshModel('payload-hash');
    const result = await push({ client: client(proxy.endpoint), location: loc, dir: halfPlusTwo });
    expect(result.version).toBeGreaterThan(0);
    const files = proxy.puts.filter((p) => p.url.includes(`/${result.version}/`));
    expect(files.length).toBeGreaterThanOrEqual(3); // saved_model.pb, variables, manifest
    for (const put of proxy.puts) {
      expect({ url: put.url, signed: put.signed }).toEqual({ url: put.url, signed: put.actual });
    }
  } finally {
    await proxy.close();
  }
});
