// The shared ALB: HTTPS listeners, the settings that are group-wide in the
// AWS Load Balancer Controller, and draining. Semantics relied on (quoted from
// the controller's guide/ingress/annotations.md):
// - listen-ports: defaults to '[{"HTTP": 80}]' or '[{"HTTPS": 443}]' depending
//   on whether certificate-arn is specified; it is merged across the group and
//   "Ingress rules will only impact the ports defined for that Ingress".
// - ssl-redirect is exclusive: "Once defined on a single Ingress, it impacts
//   every Ingress within IngressGroup" and "every HTTP listener will be
//   configured with default action which redirects to HTTPS".
// - scheme, ssl-policy, load-balancer-attributes are exclusive too: "should
//   only be specified on a single Ingress within IngressGroup or specified with
//   same value across all Ingresses within IngressGroup".
// - group.order: "You may not have duplicate group order explicitly defined
//   for Ingresses within IngressGroup".
import { chartDir, exampleModel, helm } from './support/helm';
import { CERT, container, named, ofKind, renderWith, valueSets, valuesFile } from './support/value-sets';

const pricing = chartDir(exampleModel('pricing'));
const tagger = chartDir(exampleModel('image-tagger'));
const ann = (o: any, key: string) => o.metadata.annotations[`alb.ingress.kubernetes.io/${key}`];

/** Annotations whose value applies to the whole ALB of the group. */
const GROUP_WIDE = ['group.name', 'scheme', 'ssl-redirect', 'ssl-policy', 'load-balancer-attributes'];

describe('HTTPS', () => {
  it('default (a host in the spec): HTTPS on 443 for REST and gRPC, HTTP 80 only redirects', () => {
    const [rest, grpc] = ofKind(renderWith(pricing, {}), 'Ingress');
    expect(JSON.parse(ann(rest, 'listen-ports'))).toEqual([{ HTTP: 80 }, { HTTPS: 443 }]);
    expect(ann(rest, 'ssl-redirect')).toBe('443');
    expect(ann(rest, 'ssl-policy')).toBe('ELBSecurityPolicy-TLS13-1-2-2021-06');
    // gRPC target groups need an HTTPS listener.
    expect(JSON.parse(ann(grpc, 'listen-ports'))).toEqual([{ HTTPS: 443 }]);
    expect(ann(grpc, 'backend-protocol-version')).toBe('GRPC');
    // No certificate ARN: the controller discovers the ACM certificate by the rule's host.
    expect(ann(rest, 'certificate-arn')).toBeUndefined();
    expect(rest!.spec.rules[0].host).toBe('models.example.com');
  });

  it('production: the certificate ARN is on both Ingresses, the group settings on every Ingress alike', () => {
    const objects = renderWith(pricing, valueSets.production);
    const ingresses = ofKind(objects, 'Ingress');
    expect(ingresses).toHaveLength(2);
    for (const ingress of ingresses) {
      expect(ann(ingress, 'certificate-arn')).toBe(CERT);
      expect(ann(ingress, 'scheme')).toBe('internet-facing');
      expect(ann(ingress, 'group.name')).toBe('catwalk-prod');
    }
    const [rest, grpc] = ingresses;
    for (const key of GROUP_WIDE)
      expect({ key, value: ann(grpc, key) }).toEqual({ key, value: ann(rest, key) });
  });

  it('without TLS the REST Ingress listens on HTTP only and gRPC is refused with a clear message', () => {
    const [rest] = ofKind(renderWith(tagger, { loadBalancer: { tls: { enabled: false } } }), 'Ingress');
    expect(JSON.parse(ann(rest, 'listen-ports'))).toEqual([{ HTTP: 80 }]);
    expect(ann(rest, 'ssl-redirect')).toBeUndefined();
    const result = helm(['template', 'pricing', pricing, '--set', 'loadBalancer.tls.enabled=false']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('ingress.grpc.enabled needs loadBalancer.tls.enabled');
  });

  it('sets no explicit group.order, which two Ingresses of one model would repeat', () => {
    for (const ingress of ofKind(renderWith(pricing, {}), 'Ingress')) {
      expect(ann(ingress, 'group.order')).toBeUndefined();
    }
  });
});

describe('group-wide settings are chart-level values, not per-model annotations', () => {
  it('scheme, TLS policy, redirect and attributes come from loadBalancer.*, the same on every Ingress', () => {
    const values = {
      loadBalancer: {
        group: 'models-eu',
        scheme: 'internet-facing',
        tls: { enabled: true, sslPolicy: 'ELBSecurityPolicy-TLS13-1-3-2021-06', redirectHttp: false },
        attributes: { 'idle_timeout.timeout_seconds': 120, 'routing.http2.enabled': true },
      },
    };
    for (const ingress of ofKind(renderWith(pricing, values), 'Ingress')) {
      expect(ann(ingress, 'group.name')).toBe('models-eu');
      expect(ann(ingress, 'scheme')).toBe('internet-facing');
      expect(ann(ingress, 'ssl-policy')).toBe('ELBSecurityPolicy-TLS13-1-3-2021-06');
      expect(ann(ingress, 'ssl-redirect')).toBeUndefined();
      expect(JSON.parse(ann(ingress, 'listen-ports'))).toEqual([{ HTTPS: 443 }]);
      expect(ann(ingress, 'load-balancer-attributes')).toBe(
        'idle_timeout.timeout_seconds=120,routing.http2.enabled=true',
      );
    }
  });

  it('the old per-model ingress.scheme value is gone (the schema refuses it)', () => {
    const result = helm(['template', 'pricing', pricing, '--set', 'ingress.scheme=internet-facing']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('scheme');
  });
});

describe('rollouts keep capacity at the load balancer', () => {
  it('drain time, deregistration delay and grace period come from termination.drainSeconds', () => {
    for (const drain of [30, 45]) {
      const objects = renderWith(pricing, {
        termination: { drainSeconds: drain, gracePeriodSeconds: drain + 30 },
      });
      const deployment = named(objects, 'Deployment', 'pricing')!;
      const tf = container(deployment, 'tfserving');
      expect(tf.lifecycle.preStop.exec.command.join(' ')).toContain(`sleep ${drain}`);
      expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBe(drain + 30);
      for (const ingress of ofKind(objects, 'Ingress')) {
        expect(ann(ingress, 'target-group-attributes')).toBe(`deregistration_delay.timeout_seconds=${drain}`);
      }
    }
  });

  it('defaults are consistent: the deregistration delay ends with the drain, inside the grace period', () => {
    const objects = renderWith(pricing, {});
    const deployment = named(objects, 'Deployment', 'pricing')!;
    const sleep = Number(
      /sleep (\d+)/.exec(container(deployment, 'tfserving').lifecycle.preStop.exec.command[2])![1],
    );
    const delay = Number(ann(ofKind(objects, 'Ingress')[0], 'target-group-attributes').split('=')[1]);
    expect(delay).toBe(sleep);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(sleep);
    expect(deployment.spec.minReadySeconds).toBeGreaterThan(0);
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it('a drain as long as the grace period is refused, naming both values', () => {
    const result = helm([
      'template',
      'pricing',
      pricing,
      '-f',
      valuesFile({ termination: { drainSeconds: 60, gracePeriodSeconds: 60 } }),
    ]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      'termination.drainSeconds (60) must be less than termination.gracePeriodSeconds (60)',
    );
  });

  it('NOTES tell the operator to label the namespace for pod readiness gate injection', () => {
    const result = helm(['install', 'pricing', pricing, '--dry-run=client', '--namespace', 'models']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('elbv2.k8s.aws/pod-readiness-gate-inject=enabled');
  });
});
