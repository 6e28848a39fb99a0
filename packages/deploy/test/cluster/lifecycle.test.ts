// The control-plane scripts themselves (tools/cluster): a stop leaves no
// process behind, and a component that fails to start is named, with its log.
// These start their own small clusters beside the one the other tests share.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from './support';

const { startCluster } = require(path.join(repoRoot, 'tools', 'cluster', 'cluster.cjs')) as any;

const binDir = () => {
  const dir = process.env.CATWALK_CLUSTER_BIN;
  if (!dir) throw new Error('CATWALK_CLUSTER_BIN is not set: run through npm run test:cluster');
  return dir;
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Processes whose command line mentions `needle` (any process of a stopped cluster would). */
function processesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(needle)) found.push(`${entry}: ${cmdline.slice(0, 120)}`);
    } catch {}
  }
  return found;
}

describe('local control plane scripts', () => {
  it('stops every process it started', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-lifecycle-'));
    const cluster = await startCluster({
      binDir: binDir(),
      dir,
      keepDir: true,
      nodes: [{ name: 'solo', zone: 'zone-a', cpu: '8', memory: '16Gi' }],
    });
    const pids = cluster.pids as { name: string; pid: number }[];
    expect(pids.map((p) => p.name)).toEqual([
      'etcd',
      'kube-apiserver',
      'kube-controller-manager',
      'kube-scheduler',
      'kwok',
    ]);
    for (const { pid } of pids) expect(alive(pid)).toBe(true);
    expect(processesMentioning(dir).length).toBeGreaterThanOrEqual(5);
    await cluster.stop();
    expect(pids.filter(({ pid }) => alive(pid))).toEqual([]);
    expect(processesMentioning(dir)).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names the component that fails to start and shows its log, and stops the others', async () => {
    // The real binaries, except an API server started with a flag it does not know.
    const broken = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-broken-bin-'));
    for (const name of ['etcd', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'kwok-stages.yaml']) {
      fs.symlinkSync(path.join(binDir(), name), path.join(broken, name));
    }
    fs.writeFileSync(
      path.join(broken, 'kube-apiserver'),
      `#!/bin/sh\nexec ${path.join(binDir(), 'kube-apiserver')} --no-such-flag "$@"\n`,
      { mode: 0o755 },
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-broken-'));
    const started = Date.now();
    const error = await startCluster({ binDir: broken, dir, keepDir: true, timeoutMs: 60_000 }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeDefined();
    expect(error!.name).toBe('ClusterStartError');
    expect(error!.message).toMatch(/^kube-apiserver did not start: exited with code \d+/);
    expect(error!.message).toContain("last lines of kube-apiserver's log");
    expect(error!.message).toContain('unknown flag: --no-such-flag');
    // It fails as soon as the process exits, not at the end of the time limit.
    expect(Date.now() - started).toBeLessThan(45_000);
    expect(processesMentioning(dir)).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(broken, { recursive: true, force: true });
  });
});
