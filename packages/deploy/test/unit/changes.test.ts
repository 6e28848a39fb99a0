import { changedPaths } from '../../src/changes';

describe('changedPaths', () => {
  it('lists the leaf paths that differ and ignores what the server owns', () => {
    const live = {
      metadata: { name: 'pricing', resourceVersion: '10', labels: { team: 'a' } },
      spec: { template: { spec: { containers: [{ name: 'tfserving', image: 'tf:1' }] } } },
      status: { replicas: 2 },
    };
    const after = {
      metadata: { name: 'pricing', resourceVersion: '11', labels: { team: 'b', tier: 'x' } },
      spec: { template: { spec: { containers: [{ name: 'tfserving', image: 'tf:2' }] } } },
      status: { replicas: 3 },
    };
    expect(changedPaths(live, after)).toEqual([
      'metadata.labels.team',
      'metadata.labels.tier',
      'spec.template.spec.containers[0].image',
    ]);
  });

  it('finds nothing between equal objects, and a whole list when its length changes', () => {
    expect(changedPaths({ a: [1, 2] }, { a: [1, 2] })).toEqual([]);
    expect(changedPaths({ a: [1, 2] }, { a: [1] })).toEqual(['a']);
  });
});
