// A/B tests through the ALB: addressed requests reach the track that serves
// them, only unaddressed ones are split by weight; starting and ending a test
// leaves the main pods alone; canary capacity follows its weight.
// The controller's semantics relied on (guide/ingress/annotations.md):
// - actions.<name>: "The action-name in the annotation must match the
//   serviceName in the Ingress rules, and servicePort must be use-annotation";
//   a forward action with forwardConfig.targetGroups splits by weight.
// - conditions.<name>: routing conditions "in addition to original host/path
//   condition on Ingress spec"; path-pattern values are OR-ed with the path
//   (rule-path2: "Path is /path2 OR /anno/path2"); "up to five match
//   evaluations per rule".
// - Rules of one Ingress are evaluated in the order of its paths.
import { chartDir, exampleModel, helm } from './support/helm';
import { container, experimentAt, named, ofKind, renderWith, valueSets } from './support/value-sets';

const pricing = chartDir(exampleModel('pricing'));
const fraud = chartDir(exampleModel('fraud-check'));
const ann = (o: any, key: string) => o.metadata.annotations[`alb.ingress.kubernetes.io/${key}`];

interface Rule {
  readonly host?: string;
  readonly paths: string[];
  readonly headers: Record<string, string[]>;
  /** Services and weights the rule forwards to. */
  readonly forward: Record<string, number>;
}

/** The ALB rules an Ingress becomes, in order, as the controller builds them. */
function rules(ingress: any): Rule[] {
  const rule = ingress.spec.rules[0];
  return rule.http.paths.map((p: any) => {
    const name = p.backend.service.name;
    const paths = p.pathType === 'Prefix' ? (p.path === '/' ? ['/*'] : [p.path, `${p.path}/*`]) : [p.path];
    const headers: Record<string, string[]> = {};
    for (const c of JSON.parse(ann(ingress, `conditions.${name}`) ?? '[]')) {
      if (c.field === 'path-pattern') paths.push(...c.pathPatternConfig.values);
      if (c.field === 'http-header') headers[c.httpHeaderConfig.httpHeaderName] = c.httpHeaderConfig.values;
    }
    const action =
      p.backend.service.port.name === 'use-annotation'
        ? JSON.parse(ann(ingress, `actions.${name}`))
        : undefined;
    const groups = action ? action.forwardConfig.targetGroups : [{ serviceName: name, weight: 1 }];
    const forward = Object.fromEntries(groups.map((g: any) => [g.serviceName, g.weight ?? 1]));
    return { host: rule.host, paths, headers, forward };
  });
}

/** ALB path-pattern matching: '*' any characters, '?' one; case-sensitive. */
function matches(pattern: string, path: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(path);
}

/** Where the first matching rule sends a request: service -> weight. */
function route(ingress: any, path: string, headers: Record<string, string> = {}) {
  for (const rule of rules(ingress)) {
    if (!rule.paths.some((p) => matches(p, path))) continue;
    if (!Object.entries(rule.headers).every(([h, values]) => values.includes(headers[h] ?? ''))) continue;
    return Object.fromEntries(Object.entries(rule.forward).filter(([, w]) => w > 0));
  }
  return undefined;
}

describe('requests that name a label or version reach the track serving it', () => {
  const [rest, grpc] = ofKind(renderWith(pricing, experimentAt(10)), 'Ingress');

  it.each([
    ['/v1/models/pricing/labels/canary:predict', { 'pricing-canary': 1 }],
    ['/v1/models/pricing/labels/canary', { 'pricing-canary': 1 }],
    ['/v1/models/pricing/labels/canary/metadata', { 'pricing-canary': 1 }],
    ['/v1/models/pricing/versions/4:predict', { 'pricing-canary': 1 }],
    ['/v1/models/pricing/versions/4/metadata', { 'pricing-canary': 1 }],
    ['/v1/models/pricing/labels/stable:classify', { pricing: 1 }],
    ['/v1/models/pricing/versions/3:predict', { pricing: 1 }],
    ['/v1/models/pricing:predict', { pricing: 90, 'pricing-canary': 10 }],
    ['/v1/models/pricing', { pricing: 90, 'pricing-canary': 10 }],
    ['/v1/models/pricing/metadata', { pricing: 90, 'pricing-canary': 10 }],
    // Version 40 is not the canary's 4.
    ['/v1/models/pricing/versions/40:predict', { pricing: 90, 'pricing-canary': 10 }],
  ])('REST %s -> %j', (path, expected) => {
    expect(route(rest, path)).toEqual(expected);
  });

  it('gRPC: metadata x-catwalk-label / x-catwalk-version picks the track, the rest is split', () => {
    const predict = '/tensorflow.serving.PredictionService/Predict';
    expect(route(grpc, predict, { 'x-catwalk-label': 'canary' })).toEqual({ 'pricing-canary': 1 });
    expect(route(grpc, predict, { 'x-catwalk-version': '4' })).toEqual({ 'pricing-canary': 1 });
    expect(route(grpc, predict, { 'x-catwalk-label': 'stable' })).toEqual({ pricing: 1 });
    expect(route(grpc, predict, { 'x-catwalk-version': '3' })).toEqual({ pricing: 1 });
    expect(route(grpc, predict)).toEqual({ pricing: 90, 'pricing-canary': 10 });
    expect(grpc!.spec.rules[0].host).toBe('pricing.grpc.models.example.com');
  });

  it('every rule stays within the ALB limit of five match evaluations', () => {
    for (const ingress of [rest, grpc]) {
      for (const rule of rules(ingress)) {
        const evaluations =
          (rule.host ? 1 : 0) + rule.paths.length + Object.values(rule.headers).flat().length;
        expect(evaluations).toBeLessThanOrEqual(5);
      }
    }
  });

  it.each([0, 50, 100])(
    'at canary weight %d the split follows the weight and addressed routes stay',
    (weight) => {
      const [ingress] = ofKind(renderWith(pricing, experimentAt(weight)), 'Ingress');
      const split = Object.fromEntries(
        Object.entries({ pricing: 100 - weight, 'pricing-canary': weight }).filter(([, w]) => w > 0),
      );
      expect(route(ingress, '/v1/models/pricing:predict')).toEqual(split);
      expect(route(ingress, '/v1/models/pricing/labels/canary:predict')).toEqual({ 'pricing-canary': 1 });
      expect(route(ingress, '/v1/models/pricing/labels/stable:predict')).toEqual({ pricing: 1 });
    },
  );

  it('without an experiment everything goes to the main pods', () => {
    const [ingress] = ofKind(renderWith(pricing, { experiment: { enabled: false } }), 'Ingress');
    for (const path of ['/v1/models/pricing:predict', '/v1/models/pricing/labels/canary:predict']) {
      expect(route(ingress, path)).toEqual({ pricing: 1 });
    }
    expect(route(ingress, '/v1/models/other:predict')).toBeUndefined();
  });
});

describe('turning an experiment on and off', () => {
  const podTemplate = (values: unknown) =>
    named(renderWith(pricing, values), 'Deployment', 'pricing')!.spec.template;

  it('leaves the main pods untouched: the same pod template with the experiment off and at any weight', () => {
    const off = podTemplate({ experiment: { enabled: false } });
    for (const weight of [0, 10, 50, 100]) expect(podTemplate(experimentAt(weight))).toEqual(off);
    const sync = container({ spec: { template: off } } as any, 'model-sync');
    expect(sync.args).toContain('--track=stable');
  });

  it('the canary can be created at weight 0: its Deployment exists, and no unaddressed request reaches it', () => {
    const objects = renderWith(pricing, experimentAt(0));
    expect(named(objects, 'Deployment', 'pricing-canary')).toBeDefined();
    const [rest] = ofKind(objects, 'Ingress');
    expect(route(rest, '/v1/models/pricing:predict')).toEqual({ pricing: 100 });
  });

  it('an experiment on a chart whose main pods load every version is refused with the fix', () => {
    const result = helm([
      'template',
      'fraud-check',
      fraud,
      '--set',
      'experiment.enabled=true',
      '--set',
      'experiment.canaryVersion=2',
      '--set',
      'experiment.stableVersion=1',
    ]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('experiment.enabled needs sync.mainTrack=stable');
  });

  it('the canary sidecar follows the canary label (and falls back to the spec when the release has none)', () => {
    const canary = named(renderWith(pricing, experimentAt(10)), 'Deployment', 'pricing-canary')!;
    expect(container(canary, 'model-sync').args).toContain('--track=canary');
    expect(container(canary, 'model-sync-init').args).toContain('--track=canary');
  });
});

describe('canary capacity follows the weight', () => {
  const bounds = (values: unknown) =>
    Object.fromEntries(
      ofKind(renderWith(pricing, values), 'HorizontalPodAutoscaler').map((h) => [
        h.metadata.name,
        [h.spec.minReplicas, h.spec.maxReplicas],
      ]),
    );

  it.each([
    [0, { pricing: [2, 20], 'pricing-canary': [2, 2] }],
    [10, { pricing: [2, 18], 'pricing-canary': [2, 2] }],
    [50, { pricing: [2, 10], 'pricing-canary': [2, 10] }],
    [100, { pricing: [2, 2], 'pricing-canary': [2, 20] }],
  ])('canary weight %d: bounds %j (max 20 pods carry the expected peak)', (weight, expected) => {
    expect(bounds(experimentAt(weight))).toEqual(expected);
  });

  it('a --set of the weight alone keeps them consistent', () => {
    const objects = renderWith(pricing, {}, [
      '--set',
      'experiment.weights.canary=50',
      '--set',
      'experiment.weights.stable=50',
    ]);
    expect(named(objects, 'HorizontalPodAutoscaler', 'pricing-canary')!.spec.maxReplicas).toBe(10);
  });

  it('never drops below the redundancy floor', () => {
    expect(bounds(valueSets['experiment-0'])['pricing-canary']![0]).toBe(2);
  });
});

describe('experiment.minReplicas holds pods while catwalk experiment moves traffic', () => {
  const bounds = (weight: number, minReplicas: { stable: number; canary: number }) =>
    Object.fromEntries(
      ofKind(
        renderWith(pricing, { experiment: { ...experimentAt(weight).experiment, minReplicas } }),
        'HorizontalPodAutoscaler',
      ).map((h) => [h.metadata.name, [h.spec.minReplicas, h.spec.maxReplicas]]),
    );

  it('raises the receiving track before the weight moves, and its maximum with it', () => {
    // 10 -> 50 with main at 14 pods and the canary at 2: the canary gets its half of 16 first.
    expect(bounds(10, { stable: 14, canary: 8 })).toEqual({ pricing: [14, 18], 'pricing-canary': [8, 8] });
  });

  it('holds the giving track at its pods when the weight it carried falls', () => {
    expect(bounds(50, { stable: 14, canary: 8 })).toEqual({ pricing: [14, 14], 'pricing-canary': [8, 10] });
  });

  it('never asks a track for more than autoscaling.maxReplicas', () => {
    expect(bounds(0, { stable: 25, canary: 0 })).toEqual({ pricing: [20, 20], 'pricing-canary': [2, 2] });
  });

  it('0 leaves the bounds to the weight', () => {
    expect(bounds(50, { stable: 0, canary: 0 })).toEqual({ pricing: [2, 10], 'pricing-canary': [2, 10] });
    expect(bounds(50, { stable: 1, canary: 1 })).toEqual({ pricing: [2, 10], 'pricing-canary': [2, 10] });
  });
});
