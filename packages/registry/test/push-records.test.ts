// What counts as a version: a manifest must describe a SavedModel, and
// version numbers must survive every hop (JSON, JavaScript, TF Serving's
// int64) exactly, or be refused up front.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { InvalidExportError, listVersions, parseManifest, push, UsageError } from '../src';
import { BUCKET, client, halfPlusTwo, type S3Server, startS3, tempDir } from './helpers';
import { freshModel } from './push-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

const manifestWith = (files: Array<{ path: string; size: number }>) =>
  JSON.stringify({
    format: 'catwalk.manifest/v1',
    model: 'm',
    version: 1,
    files: files.map((f) => ({ ...f, sha256: 'a'.repeat(64) })),
    totalBytes: files.reduce((n, f) => n + f.size, 0),
    fingerprint: 'x',
    pushedAt: '2026-01-01T00:00:00Z',
    pushedBy: 'someone',
    pushId: 'p',
    tool: 'hand-written',
  });

describe('a manifest describes a SavedModel', () => {
  it('a manifest listing only a file called payload is corrupt, never complete', async () => {
    const loc = freshModel('payload');
    const c = client(s3.endpoint);
    await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${loc.prefix}/1/payload`, Body: 'abc' }));
    await c.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `${loc.prefix}/1/catwalk-manifest.json`,
        Body: manifestWith([{ path: 'payload', size: 3 }]),
      }),
    );
    const [v] = await listVersions(c, loc);
    expect(v!.state).toBe('corrupt');
    expect(v!.problem).toMatch(/saved_model\.pb or saved_model\.pbtxt/);
  });

  it('a file name no manifest can hold (a backslash, a path over 700 bytes) is refused before anything is written', async () => {
    const c = client(s3.endpoint);
    for (const name of [
      'a\\b.txt',
      `${'d'.repeat(200)}/${'e'.repeat(200)}/${'f'.repeat(200)}/${'g'.repeat(120)}`,
    ]) {
      const loc = freshModel('unsafe-name');
      const dir = tempDir();
      fs.cpSync(halfPlusTwo, dir, { recursive: true });
      const file = path.join(dir, 'assets', name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, 'vocabulary');
      const error = await push({ client: c, location: loc, dir }).catch((e: Error) => e);
      expect(error).toBeInstanceOf(InvalidExportError);
      expect((error as Error).message).toContain(`assets/${name}`);
      // Without the check the push succeeded and left a version every reader calls corrupt.
      expect(await listVersions(c, loc)).toEqual([]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts saved_model.pbtxt as well as saved_model.pb', () => {
    expect(() => parseManifest(manifestWith([{ path: 'saved_model.pbtxt', size: 3 }]), 'm')).not.toThrow();
    expect(() => parseManifest(manifestWith([{ path: 'variables/saved_model.pb', size: 3 }]), 'm')).toThrow(
      /must list saved_model\.pb or saved_model\.pbtxt at the root of the version/,
    );
  });
});

describe('version numbers', () => {
  it('a 16-digit version is pushed and listed exactly', async () => {
    const loc = freshModel('big');
    const c = client(s3.endpoint);
    const result = await push({ client: c, location: loc, dir: halfPlusTwo, version: 1234567890123456 });
    expect(result.version).toBe(1234567890123456);
    expect((await listVersions(c, loc)).map((v) => [v.version, v.state])).toEqual([
      [1234567890123456, 'complete'],
    ]);
  });

  it('a version above 2^53 - 1 is refused with the limit, before anything is written', async () => {
    const loc = freshModel('too-big');
    const c = client(s3.endpoint);
    for (const version of [2 ** 53, 1e20, -1, 1.5]) {
      const error = await push({ client: c, location: loc, dir: halfPlusTwo, version }).catch(
        (e: Error) => e,
      );
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toContain('from 0 to 9007199254740991');
    }
    expect(await listVersions(c, loc)).toEqual([]);
  });
});
