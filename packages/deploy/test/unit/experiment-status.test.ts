// What `catwalk experiment status` prints, from a status read elsewhere: pure
// formatting, so the lines are pinned here without a cluster.

import { type ExperimentStatus, formatExperimentStatus } from '../../src/experiment';

const base: ExperimentStatus = {
  model: 'pricing',
  namespace: 'models',
  release: {
    generation: 7,
    serve: [3, 4],
    labels: { stable: 3, canary: 4 },
    experiment: {
      canary: 4,
      stable: 3,
      weight: 50,
      plan: { steps: [10, 50], intervalSeconds: 600 },
      step: 1,
      phase: 'running',
      startedAt: '2026-11-29T12:00:00.000Z',
      startedBy: 'ana@laptop',
    },
  },
  applied: { stableVersion: 3, canaryVersion: 4, canaryWeight: 10 },
  main: null,
  canary: null,
  audit: [],
};

describe('experiment status', () => {
  it('says when a weight move is under way, and which track holds how many pods', () => {
    const moving = formatExperimentStatus({
      ...base,
      applied: { ...base.applied!, minReplicas: { stable: 0, canary: 5 } },
    });
    expect(moving).toContain('weight now: canary 50% (release), 10% in the cluster');
    expect(moving).toContain('moving the weight: main not held, canary at least 5 pods');
  });

  it('says nothing of a move when the chart holds no pods', () => {
    expect(formatExperimentStatus(base)).not.toContain('moving the weight');
  });
});
