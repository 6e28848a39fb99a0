// The experiment state in release.json: written compare-and-swap like every
// release, audited (who, when, from, to), kept by the other writers, and
// guarded against a `catwalk release` that would pull the canary from under
// a running test. Against the embedded S3, through a proxy that holds writes
// so two operators interleave exactly.

import {
  ConflictError,
  changeExperiment,
  type ExperimentState,
  experimentStore,
  InvalidRecordError,
  push,
  readRelease,
  release,
  rollback,
} from '../src';
import { listVersions } from '../src/catalog';
import { gate, startProxy } from './fault-proxy';
import { client, type S3Server, startS3 } from './helpers';
import { freshModel, lookalikeExport } from './push-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

const experimentOf = (canary: number, by: string): ExperimentState => ({
  canary,
  stable: 1,
  weight: 0,
  plan: { steps: [10], intervalSeconds: 60 },
  step: -1,
  phase: 'starting',
  startedAt: '2026-11-29T12:00:00.000Z',
  startedBy: by,
});

async function twoVersions(tag: string, seed: number) {
  const loc = freshModel(tag);
  const c = client(s3.endpoint);
  for (const s of [seed, seed + 1]) await push({ client: c, location: loc, dir: lookalikeExport(s) });
  await release({
    client: c,
    location: loc,
    request: { serve: [1], labels: { stable: 1 } },
    updatedBy: 'setup',
  });
  return { loc, c };
}

async function current(loc: ReturnType<typeof freshModel>) {
  const c = client(s3.endpoint);
  return readRelease(
    c,
    loc,
    { versionPolicy: { kind: 'all' }, versionLabels: {} },
    await listVersions(c, loc),
  );
}

describe('experiment state in release.json', () => {
  it('is written with an audit line, kept by a later release, and steps do not fill the rollback history', async () => {
    const { loc, c } = await twoVersions('exp-audit', 200);
    const started = await changeExperiment({ client: c, location: loc, updatedBy: 'ana' }, (cur) => ({
      state: { serve: [1, 2], labels: { ...cur.state.labels, canary: 2 } },
      experiment: experimentOf(2, 'ana'),
      action: 'experiment-start',
      from: 'stable=1',
      to: 'canary=2 at 0%',
    }));
    expect(started.written).toBe(true);
    expect(started.release?.audit?.[0]).toMatchObject({
      by: 'ana',
      action: 'experiment-start',
      from: 'stable=1',
      to: 'canary=2 at 0%',
      generation: 2,
    });
    const historyBefore = started.release!.history.length;

    for (const weight of [5, 10, 25]) {
      await changeExperiment({ client: c, location: loc, updatedBy: 'ana' }, (cur) => ({
        experiment: { ...cur.release!.experiment!, weight, phase: 'running' },
        action: 'experiment-weight',
        from: `${cur.release!.experiment!.weight}%`,
        to: `${weight}%`,
      }));
    }
    const after = await current(loc);
    expect(after.release!.history).toHaveLength(historyBefore);
    expect(after.release!.audit!.map((a) => a.to).slice(0, 3)).toEqual(['25%', '10%', '5%']);

    // An ordinary release in the middle (serving one more label) keeps the experiment and its audit.
    const other = await release({
      client: c,
      location: loc,
      request: { labels: { shadow: 1 } },
      updatedBy: 'bo',
    });
    expect(other.release.experiment).toMatchObject({ canary: 2, weight: 25, phase: 'running' });
    expect(other.release.audit![0]).toMatchObject({ by: 'bo', action: 'release' });
    expect(other.release.audit!.length).toBe(after.release!.audit!.length + 1);
  });

  it('a decision that changes nothing writes nothing (a rerun after an interruption)', async () => {
    const { loc, c } = await twoVersions('exp-noop', 210);
    const before = await current(loc);
    const result = await changeExperiment({ client: c, location: loc }, () => undefined);
    expect(result.written).toBe(false);
    expect((await current(loc)).generation).toBe(before.generation);
  });

  it('release refuses to move the canary label or stop serving a version under test, naming the experiment', async () => {
    const { loc, c } = await twoVersions('exp-guard', 220);
    await changeExperiment({ client: c, location: loc, updatedBy: 'ana' }, (cur) => ({
      state: { serve: [1, 2], labels: { ...cur.state.labels, canary: 2 } },
      experiment: experimentOf(2, 'ana'),
      action: 'experiment-start',
      from: 'stable=1',
      to: 'canary=2',
    }));
    const moved = await release({ client: c, location: loc, request: { labels: { canary: null } } }).catch(
      (e: Error) => e,
    );
    expect(moved).toBeInstanceOf(ConflictError);
    expect((moved as Error).message).toMatch(
      /an experiment is running on .*canary 2 vs stable 1 at 0% \(starting, started by ana.*the canary label must stay on 2.*experiment promote or catwalk experiment abort/,
    );
    const unserved = await release({ client: c, location: loc, request: { serve: [1] } }).catch(
      (e: Error) => e,
    );
    expect((unserved as Error).message).toMatch(/version 2 must stay served/);
    // A rollback would take the stable version of the test away: refused the same way.
    const back = await rollback({ client: c, location: loc }).catch((e: Error) => e);
    expect(back).toBeInstanceOf(ConflictError);
    expect((back as Error).message).toMatch(
      /an experiment is running.*catwalk experiment abort first \(stable stays 1\)/,
    );
  });

  it('release refuses to move the stable label under a running experiment, naming it and what to run', async () => {
    const { loc, c } = await twoVersions('exp-stable', 225);
    await changeExperiment({ client: c, location: loc, updatedBy: 'ana' }, (cur) => ({
      state: { serve: [1, 2], labels: { ...cur.state.labels, canary: 2 } },
      experiment: experimentOf(2, 'ana'),
      action: 'experiment-start',
      from: 'stable=1',
      to: 'canary=2',
    }));
    const before = await current(loc);
    for (const labels of [{ stable: 2 }, { stable: null }]) {
      const moved = await release({ client: c, location: loc, request: { labels } }).catch((e: Error) => e);
      expect(moved).toBeInstanceOf(ConflictError);
      expect((moved as Error).message).toMatch(
        /an experiment is running on .*canary 2 vs stable 1 .*the stable label must stay on 1.*catwalk experiment promote.*catwalk experiment abort/,
      );
    }
    const after = await current(loc);
    expect(after.generation).toBe(before.generation);
    expect(after.state.labels).toEqual({ stable: 1, canary: 2 });
  });

  it('experimentStore reads the record the experiment commands plan from and writes it compare-and-swap', async () => {
    const { loc, c } = await twoVersions('exp-store', 235);
    const store = experimentStore({ client: c, location: loc, updatedBy: 'ana' });
    const before = await store.read();
    expect(before).toMatchObject({ generation: 1, serve: [1], labels: { stable: 1 } });
    expect(before.experiment).toBeUndefined();
    await store.write(before.generation, {
      state: { serve: [1, 2], labels: { stable: 1, canary: 2 } },
      experiment: experimentOf(2, 'ana'),
      action: 'experiment-start',
      from: 'stable=1',
      to: 'canary=2 at 0%',
    });
    const after = await store.read();
    expect(after).toMatchObject({
      generation: 2,
      labels: { stable: 1, canary: 2 },
      experiment: { canary: 2 },
    });
    expect(after.audit?.[0]).toMatchObject({ by: 'ana', action: 'experiment-start' });
    // A write planned from the older generation is a conflict, and nothing is written.
    const stale = await store
      .write(before.generation, { experiment: null, action: 'experiment-aborted', from: '-', to: '-' })
      .catch((e: Error) => e);
    expect(stale).toBeInstanceOf(ConflictError);
    expect((await store.read()).generation).toBe(2);
  });

  it('refuses to write a broken experiment, naming the field, and writes nothing', async () => {
    const { loc, c } = await twoVersions('exp-bad', 230);
    const before = await current(loc);
    const error = await changeExperiment({ client: c, location: loc }, () => ({
      experiment: { ...experimentOf(2, 'ana'), weight: 150 },
      action: 'experiment-weight',
      from: '0%',
      to: '150%',
    })).catch((e: Error) => e);
    expect(error).toBeInstanceOf(InvalidRecordError);
    expect((error as Error).message).toMatch(/experiment of .*'weight' must be a whole percent, 0 to 100/);
    expect((await current(loc)).generation).toBe(before.generation);
  });

  it('two operators starting at once: exactly one wins, the other gets a conflict naming the winner, nothing mixed', async () => {
    const proxyA = await startProxy(s3.endpoint);
    const proxyB = await startProxy(s3.endpoint);
    try {
      for (let round = 0; round < 4; round++) {
        const { loc } = await twoVersions('exp-race', 240 + round * 3);
        // Both read generation 1; A's write waits until B's has been sent, then both land in either order.
        const bSent = gate();
        const isPut = (r: { method: string; path: string }) =>
          r.method === 'PUT' && r.path.endsWith('/release.json');
        proxyA.setRule((r) => (isPut(r) ? { hold: bSent.opened } : 'pass'));
        proxyB.setRule(() => 'pass');
        const attempt = (proxy: typeof proxyA, who: string, canary: number) =>
          changeExperiment(
            { client: client(proxy.endpoint), location: loc, updatedBy: who, expectGeneration: 1 },
            (cur) => ({
              state: { serve: [1, 2], labels: { ...cur.state.labels, canary } },
              experiment: experimentOf(canary, who),
              action: 'experiment-start',
              from: 'stable=1',
              to: `canary=${canary}`,
            }),
          ).then(
            () => 'won',
            (e: Error) => e,
          );
        const a = attempt(proxyA, 'ana', 2);
        await proxyA.arrival(isPut);
        const b = attempt(proxyB, 'bo', 2);
        await proxyB.arrival(isPut);
        bSent.open();
        const results = [await a, await b];
        const winners = results.filter((r) => r === 'won');
        expect(winners).toHaveLength(1);
        const loser = results.find((r) => r !== 'won') as Error;
        expect(loser).toBeInstanceOf(ConflictError);
        const stored = (await current(loc)).release!;
        expect(stored.generation).toBe(2);
        expect(loser.message).toContain(`started by ${stored.experiment!.startedBy}`);
        expect(stored.audit!.filter((x) => x.action === 'experiment-start')).toHaveLength(1);
      }
    } finally {
      await proxyA.close();
      await proxyB.close();
    }
  });
});
