// A pass-through proxy in front of the embedded S3 that keeps, for every
// PUT, its headers as they came and the sha256 and length of the body that
// arrived: what a test compares with what the client signed and meant to send.

import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedPut {
  readonly method: string;
  /** Path and query as they came on the wire (still percent-encoded). */
  readonly rawUrl: string;
  readonly headers: http.IncomingHttpHeaders;
  /** sha256 (hex) of the body that arrived. */
  readonly actual: string;
  readonly length: number;
}

export async function recordingProxy(upstream: string) {
  const target = new URL(upstream);
  const puts: RecordedPut[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'PUT') {
        puts.push({
          method: 'PUT',
          rawUrl: req.url ?? '',
          headers: req.headers,
          actual: createHash('sha256').update(body).digest('hex'),
          length: body.length,
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
