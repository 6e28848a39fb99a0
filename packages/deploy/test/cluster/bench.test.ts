// Time from `deploy` to every model Ready, for 1 and for 20 models, on the
// local control plane. Only with CATWALK_CLUSTER_BENCH=1 (figures go to
// reports/cluster/deploy-bench.json and docs/benchmarks.md):
//   CATWALK_CLUSTER_BENCH=1 npm run test:cluster -- bench

import * as fs from 'node:fs';
import * as path from 'node:path';
import { deploy } from '../../src/deploy';
import { freshNamespace, repoRoot, resolveSpec, specOf } from './support';

const enabled = process.env.CATWALK_CLUSTER_BENCH === '1';

(enabled ? describe : describe.skip)('deploy to Ready', () => {
  const figures: Record<string, number> = {};
  afterAll(() => {
    const file = path.join(repoRoot, 'reports', 'cluster', 'deploy-bench.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(figures, null, 2)}\n`);
  });

  it.each([1, 20])(
    '%i model(s)',
    async (count) => {
      const namespace = await freshNamespace(`bench-${count}`);
      const models = Array.from({ length: count }, (_, i) =>
        resolveSpec(specOf({ name: `bench-${i + 1}`, scaling: { minReplicas: 2, maxReplicas: 4 } })),
      );
      const started = Date.now();
      const result = await deploy({ models, namespace, timeoutSeconds: 600 });
      const seconds = (Date.now() - started) / 1000;
      expect(result.models.filter((m) => !m.ok)).toEqual([]);
      figures[`${count}`] = seconds;
      process.stderr.write(`deploy of ${count} model(s) to Ready: ${seconds.toFixed(1)} s\n`);
    },
    900_000,
  );
});
