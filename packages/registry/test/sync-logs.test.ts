// The sidecar's log lines as a log pipeline reads them: one JSON object per
// line with level, time and msg, and on every line the pod, model and track
// (and the release generation once one is read); lines about one version
// name it. Real runs against the embedded S3.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createSyncLogger, listVersions, type ModelLocation, push, release, runSidecar } from '../src';
import { toText } from '../src/log';
import { BUCKET, client, halfPlusTwo, halfPlusTwoTf2, type S3Server, startS3, tempDir } from './helpers';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

let n = 0;
const model = (): ModelLocation => ({ bucket: BUCKET, prefix: `logs/model-${++n}`, name: `model-${n}` });

/** A destination that keeps what the logger wrote. */
function capture(isTTY = false) {
  const chunks: string[] = [];
  return { isTTY, write: (line: string) => chunks.push(line), text: () => chunks.join('') };
}

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('sync sidecar logs', () => {
  const savedPod = process.env.POD_NAME;
  beforeAll(() => {
    process.env.POD_NAME = 'pricing-stable-7d9c5-x2x4q';
  });
  afterAll(() => {
    if (savedPod === undefined) delete process.env.POD_NAME;
    else process.env.POD_NAME = savedPod;
  });

  it('writes JSON lines with level, time, msg, pod, model, track, generation and version', async () => {
    const c = client(s3.endpoint);
    const loc = model();
    await push({ client: c, location: loc, dir: halfPlusTwo });
    await push({ client: c, location: loc, dir: halfPlusTwoTf2 });
    const [first, second] = (await listVersions(c, loc)).map((v) => v.version).sort((a, b) => a - b);
    await release({
      client: c,
      location: loc,
      request: { serve: [first!, second!], labels: { stable: first!, canary: second! } },
    });
    const out = capture();
    const dest = path.join(tempDir(), 'models', loc.name);
    await runSidecar({
      client: c,
      location: loc,
      dest,
      track: 'stable',
      once: true,
      intervalMs: 100,
      logger: createSyncLogger(out),
    });
    expect(fs.readdirSync(dest)).toEqual([String(first)]);

    const lines = out
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) {
      expect(line).toMatchObject({
        component: 'catwalk-sync',
        pod: 'pricing-stable-7d9c5-x2x4q',
        model: loc.name,
        track: 'stable',
      });
      expect(['info', 'warn', 'error']).toContain(line.level);
      expect(line.time).toMatch(ISO_TIME);
      expect(typeof line.msg).toBe('string');
      expect(line).not.toHaveProperty('pid');
      expect(line).not.toHaveProperty('hostname');
    }
    expect(lines[0]!.msg).toBe('sync starting');
    expect(lines[0]).not.toHaveProperty('generation');
    const downloaded = lines.find((l) => l.msg === `version ${first} downloaded and verified`);
    expect(downloaded).toMatchObject({ level: 'info', version: first, generation: 1 });
    expect(lines.find((l) => l.msg === 'sync applied the release')).toMatchObject({ generation: 1 });
    expect(lines.at(-1)).toMatchObject({ msg: 'sync stopped', generation: 1 });
    // Keys appear once per line: a line with duplicate keys is read differently by each parser.
    for (const raw of out.text().trim().split('\n')) {
      const keys = [...raw.matchAll(/"([^"]+)":/g)].map((m) => m[1]);
      expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
    }
  });

  it('writes text on a terminal, and JSON when told to even there', async () => {
    const c = client(s3.endpoint);
    const loc = model();
    await push({ client: c, location: loc, dir: halfPlusTwo });
    const tty = capture(true);
    await runSidecar({
      client: c,
      location: loc,
      dest: tempDir(),
      once: true,
      intervalMs: 100,
      logger: createSyncLogger(tty),
    });
    const first = tty.text().split('\n')[0]!;
    expect(first).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z INFO  sync starting  component=catwalk-sync pod=pricing-stable-7d9c5-x2x4q model=${loc.name} track=all `,
      ),
    );
    expect(tty.text()).toMatch(/INFO {2}version \d+ downloaded and verified {2}.*generation=0 version=\d+/);

    const forced = capture(true);
    await runSidecar({
      client: c,
      location: loc,
      dest: tempDir(),
      once: true,
      intervalMs: 100,
      logger: createSyncLogger(forced, 'info', 'json'),
    });
    expect(JSON.parse(forced.text().split('\n')[0]!)).toMatchObject({
      msg: 'sync starting',
      model: loc.name,
    });
  });
});

describe('toText', () => {
  it('quotes values with spaces and keeps a line that is not JSON as it is', () => {
    expect(
      toText(
        '{"level":"warn","time":"2026-01-01T00:00:00.000Z","msg":"slow","model":"a b","n":2,"x":null}\n',
      ),
    ).toBe('2026-01-01T00:00:00.000Z WARN  slow  model="a b" n=2\n');
    expect(toText('plain words\n')).toBe('plain words\n');
  });
});
