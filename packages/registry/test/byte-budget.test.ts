// The byte budget of push's reads: the buffers it hands out and the sent ones
// it keeps for reuse together stay within its limit, whatever mix of sizes
// goes through it, and kept buffers are still handed out again.

import { ByteBudget } from '../src/upload';

const KiB = 1024;

/** Lets other calls waiting on the budget run, as a request in flight would. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('ByteBudget', () => {
  it('holds at most its limit in buffers in use and kept, over reads of many different sizes', async () => {
    const limit = 1024 * KiB;
    const budget = new ByteBudget(limit);
    // 40 reads, three at a time: every other one 256 KiB, the rest over 13 sizes from 100 KiB to 460 KiB.
    // A kept buffer fits only some reads, and spares of the sizes that do not come back used to pile up.
    const sizes = Array.from(
      { length: 40 },
      (_, i) => (i % 2 === 0 ? 256 : 100 + ((i * 37) % 13) * 30) * KiB,
    );
    let inUse = 0; // counted here, from the buffers handed out, not from the budget's own books
    let worst = 0;
    const check = () => {
      expect(budget.held.inUse).toBe(inUse);
      worst = Math.max(worst, budget.held.inUse + budget.held.spare);
    };
    const seen = new Set<ArrayBufferLike>();
    let reused = 0;
    let next = 0;
    const reader = async () => {
      while (next < sizes.length) {
        const size = sizes[next++]!;
        await budget.use(size, async (buffer) => {
          expect(buffer.length).toBe(size);
          if (seen.has(buffer.buffer)) reused++;
          seen.add(buffer.buffer);
          inUse += buffer.buffer.byteLength;
          check();
          await turn();
          inUse -= buffer.buffer.byteLength;
        });
        check();
      }
    };
    await Promise.all([reader(), reader(), reader()]);
    expect(worst).toBeGreaterThan(limit / 2); // the run did fill the budget
    expect(worst).toBeLessThanOrEqual(limit);
    expect(budget.held).toEqual({ inUse: 0, spare: expect.any(Number) });
    expect(budget.held.spare).toBeLessThanOrEqual(limit);
    expect(reused).toBeGreaterThan(0); // keeping buffers still pays off
  });

  it('hands a kept buffer out again for the same rounded size, and drops one whose call failed', async () => {
    const budget = new ByteBudget(2048 * KiB);
    const first = await budget.use(700 * KiB, async (b) => b.buffer);
    expect(budget.held).toEqual({ inUse: 0, spare: 704 * KiB });
    // 690 KiB rounds up to the same 704 KiB (grains of 64 KiB): the kept buffer comes back.
    const again = await budget.use(690 * KiB, async (b) => {
      expect(b.length).toBe(690 * KiB);
      return b.buffer;
    });
    expect(again).toBe(first);
    await expect(
      budget.use(690 * KiB, async () => {
        throw new Error('PUT failed');
      }),
    ).rejects.toThrow('PUT failed');
    // The failed call's buffer may still be referenced by a request that broke off: not kept.
    expect(budget.held).toEqual({ inUse: 0, spare: 0 });
  });

  it('drops kept buffers of other sizes before a read of a new size, rather than waiting or going over', async () => {
    const limit = 1024 * KiB;
    const budget = new ByteBudget(limit);
    for (const size of [256, 320, 384]) await budget.use(size * KiB, async () => undefined);
    expect(budget.held.spare).toBe(960 * KiB);
    await budget.use(512 * KiB, async () => {
      expect(budget.held.inUse).toBe(512 * KiB);
      expect(budget.held.inUse + budget.held.spare).toBeLessThanOrEqual(limit);
    });
  });

  it('runs an item larger than its limit alone, and does not keep its buffer', async () => {
    const budget = new ByteBudget(256 * KiB);
    const order: string[] = [];
    const big = budget.use(512 * KiB, async () => {
      order.push('big start');
      await turn();
      order.push('big end');
    });
    const small = budget.use(64 * KiB, async () => {
      order.push('small');
    });
    await Promise.all([big, small]);
    expect(order).toEqual(['big start', 'big end', 'small']);
    expect(budget.held.spare).toBeLessThanOrEqual(256 * KiB);
  });
});
