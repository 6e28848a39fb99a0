// catwalk sync and the S3 options: bad flags are usage errors (exit 2) that
// name the flag and the fix, never a stack trace.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { catwalk, tempDir } from './run';

process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);
const sync = (...args: string[]) =>
  catwalk(['sync', '--source', 's3://models/team/m', '--dest', path.join(tempDir(), 'm'), ...args]);

describe('catwalk sync usage errors', () => {
  it.each([
    [['--port', '99999'], "--port '99999': give a port number from 0 to 65535"],
    [['--port', 'http'], "--port 'http': give a port number from 0 to 65535"],
    [['--endpoint', 'not-a-url', '--once'], "--endpoint 'not-a-url' is not a URL"],
    [['--endpoint', 'ftp://host', '--once'], "--endpoint 'ftp://host' is not a URL"],
    [['--serving-url', '127.0.0.1:8501'], "--serving-url '127.0.0.1:8501' is not a URL"],
    [['--serving-poll-seconds', 'often'], "--serving-poll-seconds 'often'"],
    [['--poll-deadline', '0s'], "--poll-deadline '0s'"],
    [['--stale-after', 'soon'], "--stale-after 'soon'"],
  ])('%j exits 2 with a clear message', async (args, message) => {
    const result = await sync(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    noStack(result.stderr);
  });

  it('--endpoint is checked for every command that talks to S3', async () => {
    const result = await catwalk(['versions', 's3://models/team/m', '--endpoint', 'not-a-url']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--endpoint 'not-a-url' is not a URL");
    expect(result.stderr).toContain('http://127.0.0.1:4568');
    noStack(result.stderr);
  });

  it('a port in use names the port and what to do, exit 1', async () => {
    const taken = http.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const result = await sync('--port', String(port), '--endpoint', 'http://127.0.0.1:9');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`port ${port} on 0.0.0.0 is already in use`);
      expect(result.stderr).toContain('give --port another port');
      expect(result.stderr).not.toContain('S3:');
      noStack(result.stderr);
    } finally {
      taken.close();
    }
  });

  it.each([
    [404, 'NoSuchBucket', "S3: bucket 'models' does not exist at"],
    [403, 'AccessDenied', "S3: access to bucket 'models' denied"],
  ])(
    'sync --once against an S3 answering %i %s names the bucket and the fix',
    async (status, code, message) => {
      // A stand-in for S3 that refuses every request the way S3 does: no S3 server can be made to deny access here.
      const s3 = http.createServer((req, res) => {
        req.resume();
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>refused</Message></Error>`,
        );
      });
      await new Promise<void>((resolve) => s3.listen(0, '127.0.0.1', resolve));
      const endpoint = `http://127.0.0.1:${(s3.address() as AddressInfo).port}`;
      try {
        const result = await sync('--once', '--endpoint', endpoint, '--interval', '100ms');
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(message);
        noStack(result.stderr);
      } finally {
        s3.closeAllConnections();
        s3.close();
      }
    },
  );

  it('documents the sidecar endpoints and flags in --help', async () => {
    const help = await catwalk(['sync', '--help']);
    for (const flag of ['--serving-url', '--serving-poll-seconds', '--poll-deadline', '--stale-after']) {
      expect(help.stdout).toContain(flag);
    }
    expect(help.stdout).toContain('/ready/serving');
  });
});

describe('catwalk sync readiness limit', () => {
  const readyz = async (port: number) => {
    for (let i = 0; i < 200; i++) {
      const body = await fetch(`http://127.0.0.1:${port}/readyz`)
        .then((r) => r.json() as Promise<{ staleAfterSeconds: number }>)
        .catch(() => undefined);
      if (body) return body;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('the sidecar never answered /readyz');
  };
  const freePort = async () => {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    return port;
  };

  it.each([
    // A sidecar polling every 10 minutes must not be called stale after 5: three polls, at least 5 minutes.
    [['--interval', '10m'], 1800],
    [['--interval', '10s'], 300],
    [['--interval', '10m', '--stale-after', '45m'], 2700],
  ])('%j gives /readyz a limit of %i s', async (args, seconds) => {
    const port = await freePort();
    const running = sync('--endpoint', 'http://127.0.0.1:9', '--port', String(port), ...args);
    try {
      expect((await readyz(port)).staleAfterSeconds).toBe(seconds);
    } finally {
      process.emit('SIGTERM');
      await running;
    }
  });
});
