// A conditional write whose response is lost has still happened. The SDK
// sends it again, gets 412 (its own write changed the ETag), and the writer
// must recognise its own write instead of reporting a conflict. The proxy
// forwards the request, lets the server finish it, then drops the response.

import { listVersions, push, release, rollback } from '../src';
import { gate, is, type ProxiedRequest, startProxy } from './fault-proxy';
import { client, halfPlusTwo, halfPlusTwoTf2, type S3Server, startS3 } from './helpers';
import { freshModel, lookalikeExport } from './push-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

jest.setTimeout(60_000);

describe('lost responses to conditional writes', () => {
  it('push: a lost response to the manifest write is recognised as its own write (no duplicate on rerun)', async () => {
    const proxy = await startProxy(s3.endpoint);
    try {
      for (const attempts of [1, 3]) {
        const loc = freshModel('manifest');
        let dropped = false;
        proxy.setRule((r) => {
          if (!dropped && is.put('/catwalk-manifest.json')(r)) {
            dropped = true;
            return 'drop-response';
          }
          return 'pass';
        });
        const result = await push({
          client: client(proxy.endpoint, attempts),
          location: loc,
          dir: halfPlusTwo,
        });
        expect(dropped).toBe(true);
        expect(result.version).toBe(1);
        const versions = await listVersions(client(s3.endpoint), loc);
        expect(versions.map((v) => [v.version, v.state])).toEqual([[1, 'complete']]);
        expect(versions[0]!.manifest!.pushId).toBe(result.manifest.pushId);
      }
    } finally {
      await proxy.close();
    }
  });

  it('push: a lost response to a claim heartbeat is not taken for a takeover', async () => {
    const proxy = await startProxy(s3.endpoint);
    try {
      for (let round = 0; round < 2; round++) {
        const loc = freshModel('heartbeat');
        const dir = lookalikeExport(10 + round);
        const heartbeatDropped = gate();
        let claimPuts = 0;
        let heldData = false;
        proxy.setRule((r) => {
          if (!r.path.startsWith(`/models/${loc.prefix}/`)) return 'pass';
          if (is.put('/catwalk-claim.json')(r) && ++claimPuts === 2) {
            // The first refresh after the claim itself.
            return 'drop-response';
          }
          if (claimPuts >= 2 && is.put('/catwalk-claim.json')(r)) heartbeatDropped.open();
          if (!heldData && is.dataPut(r)) {
            heldData = true; // keep the upload going until the heartbeat retry has come and gone
            return { hold: heartbeatDropped.opened };
          }
          return 'pass';
        });
        const result = await push({ client: client(proxy.endpoint, 3), location: loc, dir, leaseMs: 300 });
        expect(claimPuts).toBeGreaterThanOrEqual(3);
        expect(result.version).toBe(1);
        expect((await listVersions(client(s3.endpoint), loc))[0]!.state).toBe('complete');
      }
    } finally {
      await proxy.close();
    }
  });
});

describe('lost responses to release.json writes', () => {
  it('release and rollback succeed once, and the rerun the old message advised is not needed', async () => {
    const loc = freshModel('release');
    const c = client(s3.endpoint);
    for (const dir of [halfPlusTwo, halfPlusTwoTf2, lookalikeExport(20)])
      await push({ client: c, location: loc, dir });
    const proxy = await startProxy(s3.endpoint);
    try {
      const dropNextReleaseWrite = () => {
        let dropped = false;
        proxy.setRule((r) => {
          if (!dropped && is.put('/release.json')(r)) {
            dropped = true;
            return 'drop-response';
          }
          return 'pass';
        });
      };
      const viaProxy = (attempts: number) => client(proxy.endpoint, attempts);
      dropNextReleaseWrite();
      const r1 = await release({
        client: viaProxy(3),
        location: loc,
        request: { serve: [1], labels: { stable: 1 } },
      });
      expect(r1.release.generation).toBe(1);
      dropNextReleaseWrite();
      const r2 = await release({
        client: viaProxy(1),
        location: loc,
        request: { serve: [2], labels: { stable: 2 } },
      });
      expect(r2.release.generation).toBe(2);
      dropNextReleaseWrite();
      const back = await rollback({ client: viaProxy(3), location: loc });
      expect(back).toMatchObject({ from: 2, to: 1 });
      const stored = await release({ client: c, location: loc, request: { labels: {}, serve: [1] } }).catch(
        (e: Error) => e,
      );
      // Only one write per command happened: generation 3 is the rollback, serving 1.
      expect(stored).not.toBeInstanceOf(Error);
      expect((stored as Awaited<typeof r1>).previous).toEqual({ serve: [1], labels: { stable: 1 } });
      expect((stored as Awaited<typeof r1>).release.generation).toBe(4);
    } finally {
      await proxy.close();
    }
  });
});

describe('claim heartbeats', () => {
  it('send one at a time: a slow heartbeat is never overtaken by the next (which would carry a stale ETag)', async () => {
    const proxy = await startProxy(s3.endpoint);
    try {
      for (let round = 0; round < 2; round++) {
        const loc = freshModel('slow-heartbeat');
        const isClaimPut = (r: ProxiedRequest) =>
          r.path.startsWith(`/models/${loc.prefix}/`) && is.put('/catwalk-claim.json')(r);
        const laterHeartbeat = gate();
        let claimPuts = 0;
        let maxConcurrent = 0;
        let heldData = false;
        proxy.setRule((r) => {
          if (isClaimPut(r)) {
            claimPuts++;
            maxConcurrent = Math.max(maxConcurrent, proxy.inFlight(isClaimPut) + 1);
            if (claimPuts >= 3) laterHeartbeat.open();
            // The first refresh is slow: its answer comes after three heartbeat periods.
            if (claimPuts === 2) return { hold: new Promise((resolve) => setTimeout(resolve, 300)) };
          }
          if (!heldData && r.path.startsWith(`/models/${loc.prefix}/`) && is.dataPut(r)) {
            heldData = true; // the push keeps running until a later heartbeat went out
            return { hold: laterHeartbeat.opened };
          }
          return 'pass';
        });
        const result = await push({
          client: client(proxy.endpoint, 3),
          location: loc,
          dir: lookalikeExport(30 + round),
          leaseMs: 300,
        });
        expect(result.version).toBe(1);
        expect(maxConcurrent).toBe(1);
      }
    } finally {
      await proxy.close();
    }
  });
});

describe('claim heartbeat failures', () => {
  it('are reported through onWarning (not swallowed) when they are not a takeover, and the push goes on', async () => {
    const proxy = await startProxy(s3.endpoint);
    try {
      const loc = freshModel('failing-heartbeat');
      const isClaimPut = (r: ProxiedRequest) =>
        r.path.startsWith(`/models/${loc.prefix}/`) && is.put('/catwalk-claim.json')(r);
      const warned = gate();
      let claimPuts = 0;
      let heldData = false;
      proxy.setRule((r) => {
        if (isClaimPut(r) && ++claimPuts === 2) return { status: 503, code: 'SlowDown' };
        if (!heldData && r.path.startsWith(`/models/${loc.prefix}/`) && is.dataPut(r)) {
          heldData = true;
          return { hold: warned.opened };
        }
        return 'pass';
      });
      const warnings: string[] = [];
      const result = await push({
        client: client(proxy.endpoint, 1),
        location: loc,
        dir: lookalikeExport(40),
        leaseMs: 300,
        onWarning: (message) => {
          warnings.push(message);
          warned.open();
        },
      });
      expect(result.version).toBe(1);
      expect(warnings[0]).toMatch(/could not refresh the claim on s3:\/\/models\/.*\/1 .*trying again/);
    } finally {
      await proxy.close();
    }
  });
});
