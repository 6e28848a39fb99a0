// Load balancer groups: every model of a group shares one ALB, so the group
// must agree on the ALB-wide settings and fit the ALB's limits. Pure: it
// reads resolved models and returns a plan with its problems.

import type { ResolvedModel } from '@catwalk/schema';

/** AWS limits of one Application Load Balancer. */
export const ALB_LIMITS = {
  /** "Target groups per Application Load Balancer": 100, not adjustable. */
  targetGroups: 100,
  /** "Rules per Application Load Balancer (not counting default rules)": 100 by default; a quota increase raises it. */
  rules: 100,
  /** "Certificates per Application Load Balancer (not counting default certificates)": 25 by default. */
  certificates: 25,
} as const;

export interface GroupOptions {
  /** Names the default group, catwalk-<environment>. @default default */
  readonly environment?: string;
  /** The account's rules-per-ALB quota, when raised. @default 100 */
  readonly rulesQuota?: number;
}

/** What one model takes on its group's ALB. */
export interface ModelFootprint {
  readonly model: string;
  /** Target groups and rules as the spec stands (with its experiment, if any). */
  readonly targetGroups: number;
  readonly rules: number;
  /** The same during an A/B test (a canary track, addressed routes). */
  readonly experimentTargetGroups: number;
  readonly experimentRules: number;
}

export interface GroupPlan {
  readonly name: string;
  readonly models: readonly ModelFootprint[];
  /** The ALB-wide settings the group's models agree on. */
  readonly scheme: string;
  readonly tls: boolean;
  readonly sslPolicy: string;
  readonly certificates: number;
  readonly targetGroups: number;
  readonly rules: number;
  /** Counts if every model of the group ran an A/B test at once. */
  readonly experimentTargetGroups: number;
  readonly experimentRules: number;
}

export interface GroupProblem {
  readonly group: string;
  readonly message: string;
  readonly fix: string;
  /** Errors stop `catwalk generate`; warnings are reported. */
  readonly severity: 'error' | 'warning';
}

/**
 * Rules and target groups of one model, as the chart's Ingresses make them:
 * a target group per track and protocol; REST one catch-all rule, plus a
 * label and a version rule per track during a test; gRPC the same.
 * (With TLS the HTTP listener only redirects, so rules exist on one listener.)
 */
export function modelFootprint(model: ResolvedModel): ModelFootprint {
  const protocols = model.endpoint.grpc ? 2 : 1;
  const steadyTracks = model.experiment ? 2 : 1;
  const rulesPerProtocol = (tracks: number) => 1 + (tracks - 1) * 4;
  return {
    model: model.name,
    targetGroups: protocols * steadyTracks,
    rules: protocols * rulesPerProtocol(steadyTracks),
    experimentTargetGroups: protocols * 2,
    experimentRules: protocols * rulesPerProtocol(2),
  };
}

export function groupName(model: ResolvedModel, options: GroupOptions = {}): string {
  return model.endpoint.group ?? `catwalk-${options.environment ?? 'default'}`;
}

const sum = (items: readonly ModelFootprint[], key: keyof Omit<ModelFootprint, 'model'>) =>
  items.reduce((total, item) => total + item[key], 0);

/** The groups of a set of models, their counts, and what is wrong with them. */
export function planGroups(
  models: readonly ResolvedModel[],
  options: GroupOptions = {},
): { groups: GroupPlan[]; problems: GroupProblem[] } {
  const byGroup = new Map<string, ResolvedModel[]>();
  for (const model of [...models].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const name = groupName(model, options);
    byGroup.set(name, [...(byGroup.get(name) ?? []), model]);
  }
  const rulesLimit = options.rulesQuota ?? ALB_LIMITS.rules;
  const groups: GroupPlan[] = [];
  const problems: GroupProblem[] = [];
  for (const [name, members] of [...byGroup].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    // ALB-wide settings: the controller takes one value for the whole group.
    const settings: [string, (m: ResolvedModel) => string][] = [
      ['spec.endpoint.scheme', (m) => m.endpoint.scheme],
      ['spec.endpoint.tls.enabled', (m) => String(m.endpoint.tls.enabled)],
      ['spec.endpoint.tls.sslPolicy', (m) => m.endpoint.tls.sslPolicy],
    ];
    for (const [field, read] of settings) {
      const values = new Map<string, string[]>();
      for (const m of members) values.set(read(m), [...(values.get(read(m)) ?? []), m.name]);
      if (values.size > 1) {
        const sides = [...values].map(([value, names]) => `${value} (${names.join(', ')})`).join(' vs ');
        problems.push({
          group: name,
          severity: 'error',
          message: `models of load balancer group ${name} disagree on ${field}: ${sides}; it applies to the whole ALB`,
          fix: `give them the same ${field}, or put them in different groups with spec.endpoint.group`,
        });
      }
    }
    const footprints = members.map(modelFootprint);
    const first = members[0]!;
    const plan: GroupPlan = {
      name,
      models: footprints,
      scheme: first.endpoint.scheme,
      tls: first.endpoint.tls.enabled,
      sslPolicy: first.endpoint.tls.sslPolicy,
      certificates: new Set(members.flatMap((m) => m.endpoint.tls.certificateArns)).size,
      targetGroups: sum(footprints, 'targetGroups'),
      rules: sum(footprints, 'rules'),
      experimentTargetGroups: sum(footprints, 'experimentTargetGroups'),
      experimentRules: sum(footprints, 'experimentRules'),
    };
    groups.push(plan);
    const move = 'move models to another group with spec.endpoint.group';
    if (plan.targetGroups > ALB_LIMITS.targetGroups) {
      problems.push({
        group: name,
        severity: 'error',
        message: `load balancer group ${name} needs ${plan.targetGroups} target groups; an ALB holds ${ALB_LIMITS.targetGroups}`,
        fix: move,
      });
    }
    if (plan.rules > rulesLimit) {
      problems.push({
        group: name,
        severity: 'error',
        message: `load balancer group ${name} needs ${plan.rules} listener rules; the quota is ${rulesLimit}`,
        fix: `${move}, or raise the rules-per-ALB quota and pass --rules-quota`,
      });
    }
    if (plan.certificates > ALB_LIMITS.certificates) {
      problems.push({
        group: name,
        severity: 'error',
        message: `load balancer group ${name} has ${plan.certificates} certificates; an ALB listener takes ${ALB_LIMITS.certificates} by default`,
        fix: `${move}, or use fewer (wildcard) certificates`,
      });
    }
    const experimentRoom =
      plan.experimentTargetGroups > ALB_LIMITS.targetGroups || plan.experimentRules > rulesLimit;
    if (experimentRoom && plan.targetGroups <= ALB_LIMITS.targetGroups && plan.rules <= rulesLimit) {
      problems.push({
        group: name,
        severity: 'warning',
        message: `load balancer group ${name} cannot run A/B tests on all its models at once (${plan.experimentTargetGroups} target groups, ${plan.experimentRules} rules)`,
        fix: `keep concurrent tests few, or ${move}`,
      });
    }
  }
  return { groups, problems };
}
