// Load balancer groups: ALB-wide settings must agree within a group, and a
// group must fit one ALB (100 target groups, not adjustable; 100 rules by
// default). The counts are checked against what the chart really renders.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ResolvedModel, validateSpecValue } from '@catwalk/schema';
import { parse } from 'yaml';
import { ALB_LIMITS, modelFootprint, planGroups } from '../src';
import { chartDir, exampleModel, repoRoot } from './support/helm';
import { ofKind, renderWith } from './support/value-sets';

function spec(
  name: string,
  endpoint: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): ResolvedModel {
  const text = fs.readFileSync(path.join(repoRoot, 'examples', 'models', 'image-tagger.yaml'), 'utf8');
  const value = parse(text);
  value.metadata.name = name;
  value.spec.endpoint = { host: 'models.example.com', ...endpoint };
  Object.assign(value.spec, extra);
  const result = validateSpecValue(value);
  if (!result.model) throw new Error(JSON.stringify(result.diagnostics));
  return result.model;
}

/** Target groups (distinct Service:port pairs) and rules (paths) of a rendered chart. */
function rendered(objects: any[]) {
  const groups = new Set<string>();
  let rules = 0;
  for (const ingress of ofKind(objects, 'Ingress')) {
    rules += ingress.spec.rules[0].http.paths.length;
    for (const [key, value] of Object.entries<string>(ingress.metadata.annotations)) {
      if (!key.startsWith('alb.ingress.kubernetes.io/actions.')) continue;
      for (const g of JSON.parse(value).forwardConfig.targetGroups)
        groups.add(`${g.serviceName}:${g.servicePort}`);
    }
  }
  return { targetGroups: groups.size, rules };
}

describe('footprint of a model on its ALB', () => {
  it.each(['pricing', 'image-tagger', 'fraud-check'])('%s: the counts are what the chart renders', (name) => {
    const model = exampleModel(name);
    const footprint = modelFootprint(model);
    const dir = chartDir(model);
    expect(rendered(renderWith(dir, {}))).toEqual({
      targetGroups: footprint.targetGroups,
      rules: footprint.rules,
    });
    const test = {
      sync: { mainTrack: 'stable' },
      experiment: { enabled: true, stableVersion: 1, canaryVersion: 2, weights: { stable: 90, canary: 10 } },
    };
    expect(rendered(renderWith(dir, test))).toEqual({
      targetGroups: footprint.experimentTargetGroups,
      rules: footprint.experimentRules,
    });
  });
});

describe('planGroups', () => {
  it('puts models in catwalk-<environment> unless the spec names a group, and counts each group', () => {
    const { groups, problems } = planGroups(
      [spec('a', {}), spec('b', { grpc: true }), spec('c', { group: 'catwalk-eu' })],
      { environment: 'prod' },
    );
    expect(problems).toEqual([]);
    expect(groups.map((g) => [g.name, g.models.map((m) => m.model), g.targetGroups, g.rules])).toEqual([
      ['catwalk-eu', ['c'], 1, 1],
      ['catwalk-prod', ['a', 'b'], 3, 3],
    ]);
  });

  it('refuses models of one group that disagree on an ALB-wide setting, naming field and models', () => {
    const { problems } = planGroups([
      spec('a', {}),
      spec('b', { scheme: 'internet-facing' }),
      spec('c', { tls: { sslPolicy: 'ELBSecurityPolicy-TLS13-1-3-2021-06' } }),
      // Another group may differ.
      spec('d', { group: 'public', scheme: 'internet-facing' }),
    ]);
    expect(problems.map((p) => [p.severity, p.message])).toEqual([
      [
        'error',
        'models of load balancer group catwalk-default disagree on spec.endpoint.scheme: internal (a, c) vs internet-facing (b); it applies to the whole ALB',
      ],
      [
        'error',
        'models of load balancer group catwalk-default disagree on spec.endpoint.tls.sslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06 (a, b) vs ELBSecurityPolicy-TLS13-1-3-2021-06 (c); it applies to the whole ALB',
      ],
    ]);
    expect(problems[0]!.fix).toContain('spec.endpoint.group');
  });

  it('fails a group over the ALB limits, and warns when experiments on every model would not fit', () => {
    const grpcModels = Array.from({ length: 51 }, (_, i) => spec(`m${i}`, { grpc: true }));
    const over = planGroups(grpcModels);
    expect(over.groups[0]!.targetGroups).toBe(102);
    expect(over.problems.filter((p) => p.severity === 'error').map((p) => p.message)).toEqual([
      `load balancer group catwalk-default needs 102 target groups; an ALB holds ${ALB_LIMITS.targetGroups}`,
      'load balancer group catwalk-default needs 102 listener rules; the quota is 100',
    ]);
    const fits = planGroups(grpcModels.slice(0, 20));
    expect(fits.problems.map((p) => p.severity)).toEqual(['warning']);
    expect(fits.groups[0]).toMatchObject({
      targetGroups: 40,
      rules: 40,
      experimentTargetGroups: 80,
      experimentRules: 200,
    });
    expect(planGroups(grpcModels.slice(0, 20), { rulesQuota: 200 }).problems).toEqual([]);
  });
});
