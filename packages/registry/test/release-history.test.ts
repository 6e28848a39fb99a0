// Rollback walks back through release history, never forward; release by
// URI with no release.json refuses to guess what is served.

import { checkLabelName, NotFoundError, push, release, rollback, UsageError } from '../src';
import { HISTORY_LIMIT } from '../src/records';
import { client, halfPlusTwo, type S3Server, startS3 } from './helpers';
import { freshModel, lookalikeExport } from './push-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

describe('rollback history', () => {
  it('1 -> 2 -> 3, then rollback three times: 3 -> 2, 2 -> 1, then a clear error', async () => {
    const loc = freshModel('history');
    const c = client(s3.endpoint);
    for (const seed of [1, 2, 3]) await push({ client: c, location: loc, dir: lookalikeExport(30 + seed) });
    for (const v of [1, 2, 3])
      await release({ client: c, location: loc, request: { serve: [v], labels: { stable: v } } });

    const first = await rollback({ client: c, location: loc });
    expect([first.from, first.to, first.release.serve]).toEqual([3, 2, [2]]);
    const second = await rollback({ client: c, location: loc });
    expect([second.from, second.to, second.release.serve]).toEqual([2, 1, [1]]);
    const third = await rollback({ client: c, location: loc }).catch((e: Error) => e);
    expect(third).toBeInstanceOf(NotFoundError);
    expect((third as Error).message).toMatch(/no earlier release to roll back to/);
    expect((third as Error).message).toContain('--to');
  });

  it('keeps a bounded history', async () => {
    const loc = freshModel('bounded');
    const c = client(s3.endpoint);
    await push({ client: c, location: loc, dir: halfPlusTwo });
    let last: Awaited<ReturnType<typeof release>> | undefined;
    for (let i = 0; i < HISTORY_LIMIT + 5; i++) {
      last = await release({ client: c, location: loc, request: { serve: [1], labels: { stable: 1 } } });
    }
    expect(last!.release.generation).toBe(HISTORY_LIMIT + 5);
    expect(last!.release.history).toHaveLength(HISTORY_LIMIT);
    expect(last!.release.history[0]!.generation).toBe(HISTORY_LIMIT + 4);
  });
});

describe('release by URI before any release.json', () => {
  it('refuses to change labels when it does not know what is served, and says how to tell it', async () => {
    const loc = freshModel('uri');
    const c = client(s3.endpoint);
    for (const seed of [1, 2]) await push({ client: c, location: loc, dir: lookalikeExport(40 + seed) });
    // No `initial`: the caller named the model by its S3 folder, not by its spec.
    const error = await release({ client: c, location: loc, request: { labels: { stable: 2 } } }).catch(
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/no release\.json yet.*--serve/);
    const told = await release({
      client: c,
      location: loc,
      request: { serve: [1, 2], labels: { stable: 2 } },
    });
    expect(told.release).toMatchObject({ generation: 1, serve: [1, 2], labels: { stable: 2 } });
  });
});

describe('label names', () => {
  it('are lowercase TF Serving label names; a near miss of a known label is refused with the known one', () => {
    expect(() => checkLabelName('Stable', ['stable'])).toThrow(
      /label 'Stable' is not a label name.*did you mean 'stable'\?/,
    );
    expect(() => checkLabelName('stabe', ['stable', 'canary'])).toThrow(/one letter away from 'stable'/);
    expect(() => checkLabelName('9lives')).toThrow(/starting with a letter/);
    for (const ok of ['stable', 'canary', 'shadow-2', 'ab_test'])
      expect(() => checkLabelName(ok, ['stable'])).not.toThrow();
  });
});
