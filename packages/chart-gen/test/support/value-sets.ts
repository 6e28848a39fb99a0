// Named value sets the production tests render each chart with: the defaults,
// an A/B test at several weights, production with TLS, each credential mode,
// and a GPU model. Each is written to a file and passed to helm with -f.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { type K8sObject, render, tempDir } from './helm';

export const CERT = 'arn:aws:acm:eu-west-1:123456789012:certificate/0f7a8a4c-1111-2222-3333-444455556666';

export const experimentAt = (canary: number) => ({
  experiment: {
    enabled: true,
    stableVersion: 3,
    canaryVersion: 4,
    weights: { stable: 100 - canary, canary },
  },
});

export const valueSets = {
  default: {},
  'experiment-0': experimentAt(0),
  'experiment-10': experimentAt(10),
  'experiment-50': experimentAt(50),
  'experiment-100': experimentAt(100),
  production: {
    environment: 'prod',
    loadBalancer: { scheme: 'internet-facing', tls: { enabled: true, redirectHttp: true } },
    ingress: { certificateArns: [CERT] },
  },
  'no-irsa': { credentials: { mode: 'node', roleArn: '' } },
  'pod-identity': { credentials: { mode: 'podIdentity', roleArn: '' } },
} as const;

let dir: string | undefined;

/** A values file holding `values`, for helm -f. */
export function valuesFile(values: unknown): string {
  dir ??= tempDir();
  const file = path.join(dir, `values-${fs.readdirSync(dir).length}.yaml`);
  fs.writeFileSync(file, stringify(values));
  return file;
}

/** `helm template` of a chart with a value set (and extra helm args). */
export function renderWith(chart: string, values: unknown, args: string[] = []): K8sObject[] {
  return render(chart, ['-f', valuesFile(values), ...args]);
}

export const ofKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
export const named = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
export const container = (deployment: K8sObject, name: string) =>
  [...(deployment.spec.template.spec.initContainers ?? []), ...deployment.spec.template.spec.containers].find(
    (c: { name: string }) => c.name === name,
  );
