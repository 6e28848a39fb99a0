// Prune changes no served version or label, so it adds nothing to the
// bounded history rollback walks: before, each prune took two of its
// HISTORY_LIMIT places (the marker and its clearing), and a few prunes
// pushed the releases a rollback needs out of the record.

import { prune, push, release, rollback } from '../src';
import { listVersions } from '../src/catalog';
import { readRelease } from '../src/release';
import { client, type S3Server, startS3 } from './helpers';
import { freshModel, lookalikeExport } from './push-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

test('prune keeps the release history as it was and rollback still walks back through it', async () => {
  const loc = freshModel('prune-history');
  const c = client(s3.endpoint);
  const read = async () =>
    (
      await readRelease(
        c,
        loc,
        { versionPolicy: { kind: 'all' }, versionLabels: {} },
        await listVersions(c, loc),
      )
    ).release!;
  for (const seed of [1, 2, 3, 4]) await push({ client: c, location: loc, dir: lookalikeExport(60 + seed) });
  for (const v of [2, 3, 4])
    await release({ client: c, location: loc, request: { serve: [v], labels: { stable: v } } });
  const before = await read();

  // Keep the newest two (4, served, and 3); 1 and 2 are neither served nor labelled.
  const pruned = await prune({ client: c, location: loc, keep: 2 });
  expect(pruned.deleted).toEqual([1, 2]);

  const after = await read();
  expect(after.generation).toBe(before.generation + 2); // the marker, then its clearing
  expect(after.history).toEqual(before.history);
  expect(after.audit?.slice(0, 2).map((a) => a.action)).toEqual(['prune done', 'prune']);
  const back = await rollback({ client: c, location: loc });
  expect([back.from, back.to]).toEqual([4, 3]);
});
