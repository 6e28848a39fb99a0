// A push killed with -9 cannot abort its multipart uploads, and their parts
// stay stored (and billed). The push records its open uploads in its claim;
// the push that retires that claim aborts them.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listVersions, push } from '../src';
import { gate, type ProxiedRequest, startProxy } from './fault-proxy';
import { client, halfPlusTwo, type S3Server, startS3, tempDir, waitFor } from './helpers';
import { freshModel } from './push-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

const MiB = 1024 * 1024;

it('the push after a kill -9 aborts the multipart uploads the dead push left open', async () => {
  const loc = freshModel('killed');
  const dir = tempDir('catwalk-export-');
  fs.cpSync(halfPlusTwo, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'assets', 'big.bin'), randomBytes(12 * MiB));
  const proxy = await startProxy(s3.endpoint);
  const never = gate();
  const isPart = (r: ProxiedRequest) => r.method === 'PUT' && /partNumber=2\b/.test(r.url);
  let held = false;
  proxy.setRule((r) => {
    if (held || !isPart(r)) return 'pass';
    held = true; // the killed push's part 2 never gets through
    return { hold: never.opened, next: 'reset' };
  });
  // The pushing process runs the built package, as the CLI would.
  const script = `
    const reg = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'index.js'))});
    reg.push({
      client: reg.createS3Client({ endpoint: ${JSON.stringify(proxy.endpoint)}, maxAttempts: 1 }),
      location: ${JSON.stringify(loc)},
      dir: ${JSON.stringify(dir)},
      partSize: ${5 * MiB},
      concurrency: 1,
    }).catch(() => undefined);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore', env: process.env });
  try {
    await proxy.arrival(isPart, true);
    // Wait until the claim names the open upload (a heartbeat is sent as soon as one opens).
    let uploads: ReadonlyArray<{ key: string; uploadId: string }> = [];
    await waitFor(async () => {
      uploads = (await listVersions(client(s3.endpoint), loc))[0]?.claim?.uploads ?? [];
      return uploads.length > 0;
    }, 15_000);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    const warnings: string[] = [];
    const resumed = await push({
      client: client(proxy.endpoint),
      location: loc,
      dir,
      partSize: 5 * MiB,
      onWarning: (m) => warnings.push(m),
    });
    expect(resumed).toMatchObject({ resumed: true, resumedFrom: 1, version: 2 });
    const aborts = proxy.seen.filter((r) => r.method === 'DELETE' && r.url.includes('uploadId='));
    expect(aborts.map((r) => new URLSearchParams(r.url.split('?')[1]).get('uploadId'))).toEqual(
      uploads.map((u) => u.uploadId),
    );
  } finally {
    never.open();
    if (child.exitCode === null) child.kill('SIGKILL');
    await proxy.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
