// The experiment values the commands hand to helm must suit charts generated
// before experiment.minReplicas existed: their values.schema.json forbids
// unknown keys under `experiment`, and `catwalk deploy --chart <older chart>`
// during an experiment passes these same values. The real helm checks them
// against the older chart's schema (fixtures/chart-before-holds: values and
// schema of the pricing chart as generated at 090d73e).

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { experimentValuesDocument } from '../../src/experiment-cluster';

const repo = path.resolve(__dirname, '../../../..');
const olderChart = path.join(__dirname, 'fixtures/chart-before-holds');

/** helm template of the older chart with `values` as a values file; the error text when helm refuses them. */
function helmRefusal(values: object): string | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-values-'));
  try {
    const file = path.join(dir, 'experiment.json');
    fs.writeFileSync(file, JSON.stringify(values));
    execFileSync(path.join(repo, 'tools/bin/helm'), ['template', 'pricing', olderChart, '--values', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return null;
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const noHold = { stableVersion: 3, canaryVersion: 4, canaryWeight: 20 };

test('a move with no hold writes no experiment.minReplicas', () => {
  const doc = experimentValuesDocument(noHold) as { experiment: Record<string, unknown> };
  expect(doc.experiment).not.toHaveProperty('minReplicas');
  expect(doc.experiment.weights).toEqual({ stable: 80, canary: 20 });
  // A hold of 0 on both tracks is no hold.
  const zero = experimentValuesDocument({ ...noHold, minReplicas: { stable: 0, canary: 0 } }) as {
    experiment: Record<string, unknown>;
  };
  expect(zero.experiment).not.toHaveProperty('minReplicas');
});

test('a hold is written as it is, both tracks named', () => {
  const doc = experimentValuesDocument({ ...noHold, minReplicas: { stable: 6, canary: 0 } }) as {
    experiment: Record<string, unknown>;
  };
  expect(doc.experiment.minReplicas).toEqual({ stable: 6, canary: 0 });
});

test('a chart generated before the holds existed accepts the values of an apply with no hold', () => {
  expect(helmRefusal(experimentValuesDocument(noHold))).toBeNull();
  // The fixture's schema is strict: the key it does not know is refused (so the check above means something).
  expect(helmRefusal(experimentValuesDocument({ ...noHold, minReplicas: { stable: 6, canary: 0 } }))).toMatch(
    /minReplicas/,
  );
});
