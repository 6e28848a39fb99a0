// A push killed with -9 cannot abort its multipart uploads, and their parts
// stay stored (and billed). The push records its open uploads in its claim;
// the push that retires that claim aborts them.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
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

/** Starts a push of `dir` in a child process, waits until its claim lists an open multipart upload, kills it with -9. */
async function killMidUpload(loc: ReturnType<typeof freshModel>, dir: string) {
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
    let uploads: ReadonlyArray<{ key: string; uploadId: string }> = [];
    await waitFor(async () => {
      uploads = (await listVersions(client(s3.endpoint), loc))[0]?.claim?.uploads ?? [];
      return uploads.length > 0;
    }, 15_000);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    return uploads;
  } finally {
    never.open();
    if (child.exitCode === null) child.kill('SIGKILL');
    await proxy.close();
  }
}

function exportWithBigFile(seed: number): string {
  const dir = tempDir('catwalk-export-');
  fs.cpSync(halfPlusTwo, dir, { recursive: true });
  const big = randomBytes(12 * MiB);
  big[0] = seed;
  fs.writeFileSync(path.join(dir, 'assets', 'big.bin'), big);
  return dir;
}

/** Multipart uploads still open under the model's folder, as S3 lists them. */
async function openUploads(loc: ReturnType<typeof freshModel>) {
  const listed = await client(s3.endpoint).send(
    new ListMultipartUploadsCommand({ Bucket: loc.bucket, Prefix: `${loc.prefix}/` }),
  );
  return (listed.Uploads ?? []).map((u) => u.UploadId);
}

const abortsSeen = (proxy: { seen: ReadonlyArray<ProxiedRequest> }) =>
  proxy.seen
    .filter((r) => r.method === 'DELETE' && r.url.includes('uploadId='))
    .map((r) => new URLSearchParams(r.url.split('?')[1]).get('uploadId'));

it('the rerun after a kill -9 aborts the uploads the dead push left open and copies what it had uploaded', async () => {
  const loc = freshModel('killed');
  const dir = exportWithBigFile(1);
  const uploads = await killMidUpload(loc, dir);
  const proxy = await startProxy(s3.endpoint);
  try {
    expect(await openUploads(loc)).toEqual(uploads.map((u) => u.uploadId));
    const resumed = await push({ client: client(proxy.endpoint), location: loc, dir, partSize: 5 * MiB });
    expect(resumed).toMatchObject({ resumed: true, resumedFrom: 1, version: 2 });
    expect(abortsSeen(proxy)).toEqual(uploads.map((u) => u.uploadId));
    // The aborts took effect: no part of the dead push is left stored.
    expect(await openUploads(loc)).toEqual([]);
  } finally {
    await proxy.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

it('a later push of another export aborts them too, and the dead export can still be pushed again', async () => {
  const loc = freshModel('killed-other');
  const dir = exportWithBigFile(2);
  const other = exportWithBigFile(3);
  const uploads = await killMidUpload(loc, dir);
  const proxy = await startProxy(s3.endpoint);
  try {
    const later = await push({
      client: client(proxy.endpoint),
      location: loc,
      dir: other,
      partSize: 5 * MiB,
    });
    expect(later).toMatchObject({ version: 2, resumed: false });
    expect(abortsSeen(proxy)).toEqual(uploads.map((u) => u.uploadId));
    const rerun = await push({ client: client(proxy.endpoint), location: loc, dir, partSize: 5 * MiB });
    // The dead push had only opened its multipart upload (largest file first): nothing to copy.
    expect(rerun).toMatchObject({ version: 3, resumed: false });
    expect((await listVersions(client(s3.endpoint), loc)).map((v) => [v.version, v.state])).toEqual([
      [1, 'abandoned'],
      [2, 'complete'],
      [3, 'complete'],
    ]);
  } finally {
    await proxy.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(other, { recursive: true, force: true });
  }
}, 60_000);
