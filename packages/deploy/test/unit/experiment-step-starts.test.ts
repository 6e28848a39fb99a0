// Which windows the analysis compares: each weight of the running experiment
// from the moment its audit line says it took effect.

import type { AuditLine, ExperimentRecord } from '../../src/experiment-plan';
import { stepStarts } from '../../src/experiment-plan';

const record = {
  canary: 4,
  stable: 3,
  weight: 25,
  plan: { steps: [5, 10, 25], intervalSeconds: 600 },
  step: 2,
  phase: 'running',
  startedAt: '2026-11-29T12:00:00.000Z',
  startedBy: 'ana',
} as ExperimentRecord;

const line = (at: string, action: string, from = '', to = ''): AuditLine => ({
  at,
  by: 'ana',
  action,
  from,
  to,
  generation: 1,
});

it('takes the weight moves of this experiment, oldest first, and nothing from an earlier one', () => {
  // Newest first, as release.json keeps them.
  const audit = [
    line('2026-11-29T12:21:00.000Z', 'experiment-weight', 'weight 10', 'weight 25'),
    line('2026-11-29T12:20:30.000Z', 'experiment-analysis'),
    line('2026-11-29T12:11:00.000Z', 'experiment-weight', 'weight 5', 'weight 10'),
    line('2026-11-29T12:01:00.000Z', 'experiment-weight', 'weight 0', 'weight 5'),
    line('2026-11-29T12:00:00.000Z', 'experiment-start'),
    line('2026-11-28T09:00:00.000Z', 'experiment-weight', 'weight 0', 'weight 50'),
    line('2026-11-28T08:00:00.000Z', 'release'),
  ];
  expect(stepStarts(record, audit).map((d) => d.toISOString())).toEqual([
    '2026-11-29T12:01:00.000Z',
    '2026-11-29T12:11:00.000Z',
    '2026-11-29T12:21:00.000Z',
  ]);
});

it('is empty when the audit trail holds no weight move of this experiment (the analysis then pools)', () => {
  expect(stepStarts(record, [line('2026-11-29T12:00:00.000Z', 'experiment-start')])).toEqual([]);
});
