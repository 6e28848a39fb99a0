// `catwalk deploy --log-format json` against the local control plane (real
// API server, controllers and scheduler; kwok's simulated kubelets make the
// pods Ready): every line is a JSON object a log pipeline can index, one per
// change of a track's rollout, then the outcome.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freshNamespace, runCatwalk, specOf } from './support';

const catwalk = runCatwalk;

describe('catwalk deploy --log-format json', () => {
  const savedPod = process.env.POD_NAME;
  beforeAll(() => {
    process.env.POD_NAME = 'ci-runner-0';
  });
  afterAll(() => {
    if (savedPod === undefined) delete process.env.POD_NAME;
    else process.env.POD_NAME = savedPod;
  });

  it('writes a JSON line per track change with model, track and replica counts, then the outcome', async () => {
    const namespace = await freshNamespace('deploy-logs');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-deploy-logs-'));
    const file = path.join(dir, 'pricing.json');
    fs.writeFileSync(
      file,
      JSON.stringify(
        specOf({ name: 'pricing', scaling: { minReplicas: 2, maxReplicas: 4 }, prometheus: false }),
      ),
    );
    const result = await catwalk([
      'deploy',
      file,
      '--namespace',
      namespace,
      '--timeout',
      '3m',
      '--log-format',
      'json',
    ]);
    expect(result.stderr).toBe('');
    // The lines say why when it fails.
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 0, stdout: result.stdout });

    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const line of lines) {
      expect(line).toMatchObject({ component: 'catwalk-deploy', pod: 'ci-runner-0', model: 'pricing' });
      expect(line.level).toMatch(/^(info|warn|error)$/);
      expect(Number.isNaN(Date.parse(String(line.time)))).toBe(false);
      expect(typeof line.msg).toBe('string');
    }
    const progress = lines.filter((l) => l.track !== undefined);
    expect(progress.length).toBeGreaterThan(0);
    for (const line of progress) {
      // desired is the Deployment's replicas raised to the HPA's minimum: 1 until the HPA is seen.
      expect(line).toMatchObject({ track: 'main', deployment: 'pricing' });
      expect(line.desired).toEqual(expect.any(Number));
      expect(line.ready).toEqual(expect.any(Number));
    }
    // Each line is a change: no two lines in a row say the same of a track.
    const states = progress.map((l) => JSON.stringify({ ...l, time: undefined }));
    expect(states.filter((s, i) => i > 0 && s === states[i - 1])).toEqual([]);
    expect(progress.at(-1)).toMatchObject({
      desired: 2,
      ready: 2,
      complete: true,
      msg: 'main 2/2 ready: rolled out',
    });
    expect(lines.at(-1)).toMatchObject({ level: 'info', msg: 'rolled out', namespace });
    expect(lines.at(-1)!.seconds).toEqual(expect.any(Number));
  });
});
