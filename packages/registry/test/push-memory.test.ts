// Push's memory: the bytes read but not yet sent are bounded by the byte
// budget, and the buffers they were read into are reused once sent rather
// than left for the garbage collector (which let a 200 MiB push reach
// 80 MiB of sent buffers at its peak against a 32 MiB budget).

import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ByteBudget, uploadFile } from '../src/upload';
import { BUCKET, client, independentS3, type S3Server, startS3, tempDir } from './helpers';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

const MiB = 1024 * 1024;

describe('push memory', () => {
  it('reads the parts of a large file into the same few buffers, and the object is still the file', async () => {
    const file = path.join(tempDir(), 'big.bin');
    const bytes = randomBytes(48 * MiB);
    fs.writeFileSync(file, bytes);
    const budget = new ByteBudget(16 * MiB);
    const arrays = new Set<ArrayBufferLike>();
    const run = budget.use.bind(budget);
    budget.use = <T>(size: number, fn: (buffer: Buffer) => Promise<T>) =>
      run(size, (b) => {
        arrays.add(b.buffer);
        return fn(b);
      });
    const key = 'memory/big.bin';
    const sha256 = await uploadFile(
      { client: client(s3.endpoint), bucket: BUCKET, key, file, size: bytes.length },
      { partSize: 5 * MiB, partConcurrency: 4, budget, onBytes: () => undefined },
    );
    const expected = createHash('sha256').update(bytes).digest('hex');
    expect(sha256).toBe(expected);
    const stored = await independentS3(s3.endpoint).bytes(key);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(expected);
    // 10 parts (9 of 5 MiB and one of 3 MiB), at most 3 in memory at once under 16 MiB:
    // the 5 MiB buffers are reused, so far fewer than one per part were ever allocated.
    expect(arrays.size).toBeLessThanOrEqual(4);
  });

  it('keeps at most its limit in spare buffers, and hands a kept one out again for the same rounded size', async () => {
    const budget = new ByteBudget(2 * MiB);
    const first: ArrayBufferLike[] = [];
    // Three 700 KiB reads at once: the budget holds two (704 KiB each, rounded) in use, the third waits.
    await Promise.all(
      [0, 1, 2].map(() =>
        budget.use(700 * 1024, async (b) => {
          expect(b.length).toBe(700 * 1024);
          first.push(b.buffer);
          await new Promise((resolve) => setImmediate(resolve));
        }),
      ),
    );
    expect(budget.held.spare).toBeLessThanOrEqual(2 * MiB);
    const again: Buffer[] = [];
    await Promise.all(
      [690, 700, 650].map((k) =>
        budget.use(k * 1024, async (b) => {
          again.push(b);
          await new Promise((resolve) => setImmediate(resolve));
        }),
      ),
    );
    // 690 and 650 KiB round to the same 704 KiB: kept buffers come back instead of new ones.
    expect(again.filter((x) => first.includes(x.buffer)).length).toBeGreaterThanOrEqual(2);
    expect(again.find((x) => x.length === 690 * 1024)).toBeDefined();
    expect(budget.held.inUse + budget.held.spare).toBeLessThanOrEqual(2 * MiB);
  });
});
