// A version whose bytes in S3 were overwritten in place (same size) still
// lists as complete: only reading it back shows the damage. verifyVersion
// reads it back, and release reads back what it is about to start serving.

import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ChecksumMismatchError, listVersions, push, release, rollback, verifyVersion } from '../src';
import { BUCKET, client, type S3Server, startS3 } from './helpers';
import { freshModel, lookalikeExport, objectBytes } from './push-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

async function damage(loc: ReturnType<typeof freshModel>, version: number, file: string) {
  const c = client(s3.endpoint);
  const key = `${loc.prefix}/${version}/${file}`;
  const bytes = await objectBytes(c, key);
  bytes[0] = (bytes[0] ?? 0) ^ 0xff; // same size, other bytes
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bytes }));
}

describe('checking what is in S3', () => {
  it('verifyVersion finds a same-size overwrite that the listing calls complete', async () => {
    const loc = freshModel('verify');
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: lookalikeExport(101) });
    await damage(loc, 1, 'saved_model.pb');
    const [v] = await listVersions(c, loc);
    expect(v!.state).toBe('complete');
    const problem = await verifyVersion(c, loc, v!.manifest!);
    expect(problem).toMatch(/^saved_model\.pb holds \d+ bytes with sha256 .*, the manifest says/);
  });

  it('release refuses to start serving a version that fails its checksum, and so does rollback', async () => {
    const loc = freshModel('release-verify');
    const c = client(s3.endpoint);
    for (const seed of [102, 103, 104]) await push({ client: c, location: loc, dir: lookalikeExport(seed) });
    await release({ client: c, location: loc, request: { serve: [1], labels: { stable: 1 } } });
    await release({ client: c, location: loc, request: { serve: [3], labels: { stable: 3 } } });
    await damage(loc, 2, 'variables/variables.index');
    const error = await release({
      client: c,
      location: loc,
      request: { serve: [2], labels: { stable: 2 } },
    }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect((error as Error).message).toMatch(
      /version 2 does not match its manifest.*variables\/variables\.index/,
    );
    await damage(loc, 1, 'saved_model.pb');
    const back = await rollback({ client: c, location: loc }).catch((e: Error) => e);
    expect(back).toBeInstanceOf(ChecksumMismatchError);
    expect((back as Error).message).toContain('version 1 does not match its manifest');
  });
});
