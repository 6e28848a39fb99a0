// Test fixtures: a real S3 server (Catwalk's embedded s3rver) in a child
// process per test file, a fault-injecting proxy in front of it, an
// independent S3 client (MinIO's) to cross-check it, and copies of TF Serving's test SavedModels.

import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client as MinioClient } from 'minio';
import { createS3Client } from '../src/s3';

export const repoRoot = path.resolve(__dirname, '../../..');
export const tfserving = path.resolve(repoRoot, '../shared/testdata/tfserving');
export const halfPlusTwo = path.join(tfserving, 'saved_model_half_plus_two_cpu/00000123');
export const halfPlusTwoTf2 = path.join(tfserving, 'saved_model_half_plus_two_tf2_cpu/00000123');
export const twoVersions = path.join(tfserving, 'saved_model_half_plus_two_2_versions');
export const badHalfPlusTwo = path.join(tfserving, 'bad_half_plus_two');

process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export const BUCKET = 'models';

export interface S3Server {
  readonly endpoint: string;
  readonly dir: string;
  stop(): Promise<void>;
}

export function tempDir(prefix = 'catwalk-registry-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Starts a server in a child process. plain: bare s3rver (no conditional writes). */
export async function startS3(options: { plain?: boolean } = {}): Promise<S3Server> {
  const dir = tempDir('catwalk-s3-');
  let child: ChildProcess;
  let endpoint: string;
  if (options.plain) {
    const port = await freePort();
    child = spawn(
      path.join(repoRoot, 'node_modules/.bin/s3rver'),
      ['-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--configure-bucket', BUCKET],
      { stdio: 'ignore' },
    );
    endpoint = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(endpoint).catch(() => undefined)) !== undefined, 10_000);
  } else {
    child = spawn(
      process.execPath,
      [path.join(__dirname, '../tools/embedded-s3.cjs'), '--dir', dir, '--bucket', BUCKET],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    endpoint = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const line = buffered.split('\n')[0];
        if (buffered.includes('\n') && line) resolve(JSON.parse(line).endpoint);
      });
      child.once('exit', (code) => reject(new Error(`embedded S3 exited with ${code}`)));
    });
  }
  return {
    endpoint,
    dir,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function client(endpoint: string, maxAttempts = 3) {
  return createS3Client({ endpoint, maxAttempts });
}

export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `check` until it is true, failing after `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * An S3 client that shares no code with the registry (MinIO's JavaScript
 * client, its own signing, listing and XML parsing): what it reads back is
 * an independent check of what the registry wrote.
 */
export function independentS3(endpoint: string) {
  const url = new URL(endpoint);
  const mc = new MinioClient({
    endPoint: url.hostname,
    port: Number(url.port),
    useSSL: url.protocol === 'https:',
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    region: 'us-east-1',
    pathStyle: true,
  });
  return {
    /** Every key below `prefix`, sorted, following every listing page. */
    async keys(prefix: string, bucket = BUCKET): Promise<string[]> {
      const keys: string[] = [];
      for await (const item of mc.listObjectsV2(bucket, prefix, true)) {
        if (item.name) keys.push(item.name);
      }
      return keys.sort();
    },
    async bytes(key: string, bucket = BUCKET): Promise<Buffer> {
      const chunks: Buffer[] = [];
      for await (const chunk of await mc.getObject(bucket, key)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    /** Downloads every object below `prefix` into `dir`, keeping the relative paths. */
    async download(prefix: string, dir: string, bucket = BUCKET): Promise<void> {
      for (const key of await this.keys(prefix, bucket)) {
        const target = path.join(dir, key.slice(prefix.length));
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, await this.bytes(key, bucket));
      }
    },
    /** The object's user metadata (x-amz-meta-*), lowercase names. */
    async metadata(key: string, bucket = BUCKET): Promise<Record<string, string>> {
      return (await mc.statObject(bucket, key)).metaData as Record<string, string>;
    },
    remove: (key: string, bucket = BUCKET) => mc.removeObject(bucket, key),
  };
}

/** Every file below `dir`, relative, sorted. */
export function filesIn(dir: string): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) visit(r);
      else out.push(r);
    }
  };
  visit('');
  return out.sort();
}

export type FaultAction =
  | 'pass'
  | 'reset'
  | { readonly status: number; readonly code: string }
  | { readonly truncateAfter: number }
  | { readonly corrupt: true };

export interface FaultRequest {
  readonly method: string;
  readonly url: string;
}

/**
 * An HTTP proxy in front of the S3 server that can answer 500/503, reset
 * the connection, cut a response body short or flip its bytes, on the
 * requests `rule` picks.
 */
export async function startFaultProxy(upstream: string) {
  const target = new URL(upstream);
  let rule: (req: FaultRequest) => FaultAction | Promise<FaultAction> = () => 'pass';
  const seen: Array<FaultRequest & { action: string }> = [];
  const server = http.createServer(async (req, res) => {
    const request = { method: req.method ?? 'GET', url: decodeURIComponent(req.url ?? '/') };
    const action = await rule(request);
    seen.push({ ...request, action: typeof action === 'string' ? action : Object.keys(action)[0]! });
    if (action === 'reset') {
      req.socket.destroy();
      return;
    }
    if (typeof action === 'object' && 'status' in action) {
      req.resume();
      req.on('end', () => {
        res.writeHead(action.status, { 'content-type': 'application/xml', connection: 'close' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${action.code}</Code><Message>injected</Message></Error>`,
        );
      });
      return;
    }
    const forward = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (typeof action === 'object' && 'truncateAfter' in action) {
          let sent = 0;
          up.on('data', (chunk: Buffer) => {
            const room = action.truncateAfter - sent;
            sent += chunk.length;
            if (sent < action.truncateAfter) {
              res.write(chunk);
              return;
            }
            up.destroy();
            // Close once the headers and those bytes have left: a 2xx whose body stops short, not a lost answer.
            res.write(chunk.subarray(0, room), () => res.socket?.destroy());
          });
          up.on('end', () => res.end());
          return;
        }
        if (typeof action === 'object' && 'corrupt' in action) {
          up.on('data', (chunk: Buffer) => res.write(Buffer.from(chunk.map((b) => b ^ 0xff))));
          up.on('end', () => res.end());
          return;
        }
        up.pipe(res);
      },
    );
    forward.on('error', () => res.socket?.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    setRule(next: (req: FaultRequest) => FaultAction | Promise<FaultAction>) {
      rule = next;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
