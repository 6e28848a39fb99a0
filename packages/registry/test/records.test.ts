// release.json is read by every command and by the sidecar; a field that is
// edited by hand into the wrong shape must be refused by name, not coerced
// (a string `pruning` made "12".includes(1) report version 1 as being pruned).
import { InvalidRecordError, parseRelease } from '../src';

const base = {
  format: 'catwalk.release/v1',
  model: 'm',
  generation: 3,
  serve: [1, 2],
  labels: { stable: 2 },
  at: '2026-11-29T10:00:00.000Z',
  by: 'ana',
  history: [],
};

const parse = (extra: Record<string, unknown>) =>
  parseRelease(JSON.stringify({ ...base, ...extra }), 's3://b/m/release.json');

describe('parseRelease', () => {
  test('takes a release with and without a pruning list', () => {
    expect(parse({}).generation).toBe(3);
    expect(parse({ pruning: [1] }).pruning).toEqual([1]);
  });

  test.each([
    ['a string', '12'],
    ['a fraction', [1.5]],
    ['a negative number', [-1]],
    ['an object', { 1: true }],
  ])('refuses pruning that is %s, naming the field', (_what, pruning) => {
    expect(() => parse({ pruning })).toThrow(InvalidRecordError);
    expect(() => parse({ pruning })).toThrow(/release\.json: 'pruning' must be a list of version numbers/);
  });

  test('refuses audit entries that are not objects with at, by and action', () => {
    expect(() => parse({ audit: ['x'] })).toThrow(
      /release\.json: audit\[0\] must be an object with 'at', 'by' and 'action'/,
    );
    expect(
      parse({ audit: [{ at: '2026-11-29T10:00:00.000Z', by: 'ana', action: 'release' }] }).audit,
    ).toHaveLength(1);
  });
});
