// How the pods get AWS credentials for S3, in each of the three modes EKS
// offers, and what the NetworkPolicy must open for each. The addresses are
// the ones AWS documents: the EC2 instance metadata service answers at
// 169.254.169.254:80 (IPv6 [fd00:ec2::254]) and the EKS Pod Identity agent at
// 169.254.170.23:80 (IPv6 [fd00:ec2::23]); IRSA exchanges a projected token at
// STS over HTTPS (443), which the S3 rule already allows.
import { chartDir, exampleModel, helm } from './support/helm';
import { named, ofKind, renderWith, valueSets, valuesFile } from './support/value-sets';

const pricing = chartDir(exampleModel('pricing'));
const tagger = chartDir(exampleModel('image-tagger'));

/** Every (address, port) the policy lets the pods connect to; '*' for any address. */
function egress(objects: any[]): string[] {
  const [policy] = ofKind(objects, 'NetworkPolicy');
  return policy!.spec.egress.flatMap((rule: any) =>
    (rule.to ?? [{ ipBlock: { cidr: '*' } }]).flatMap((to: any) =>
      rule.ports.map((p: any) => `${to.ipBlock.cidr}:${p.port}/${p.protocol}`),
    ),
  );
}

describe('credentials', () => {
  it('IRSA (a role ARN in the spec): the service account carries the role, only HTTPS leaves the pod', () => {
    const objects = renderWith(pricing, {});
    expect(named(objects, 'ServiceAccount', 'pricing')!.metadata.annotations).toEqual({
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/catwalk-pricing',
    });
    const out = egress(objects);
    expect(out).toContain('*:443/TCP');
    expect(out.filter((e) => e.startsWith('169.254.') || e.startsWith('fd00:'))).toEqual([]);
  });

  it('node credentials (no role in the spec, or chosen): the instance metadata service is reachable, nothing else extra', () => {
    for (const objects of [renderWith(tagger, {}), renderWith(pricing, valueSets['no-irsa'])]) {
      const out = egress(objects);
      expect(out).toEqual(
        expect.arrayContaining(['169.254.169.254/32:80/TCP', 'fd00:ec2::254/128:80/TCP', '*:443/TCP']),
      );
      expect(out.filter((e) => e.startsWith('169.254.170.'))).toEqual([]);
      const [account] = ofKind(objects, 'ServiceAccount');
      expect(account!.metadata.annotations?.['eks.amazonaws.com/role-arn']).toBeUndefined();
    }
  });

  it('EKS Pod Identity: the agent is reachable, the metadata service is not, no IRSA annotation', () => {
    const objects = renderWith(pricing, valueSets['pod-identity']);
    const out = egress(objects);
    expect(out).toEqual(expect.arrayContaining(['169.254.170.23/32:80/TCP', 'fd00:ec2::23/128:80/TCP']));
    expect(out.filter((e) => e.startsWith('169.254.169.254'))).toEqual([]);
    const [account] = ofKind(objects, 'ServiceAccount');
    expect(account!.metadata.annotations?.['eks.amazonaws.com/role-arn']).toBeUndefined();
  });

  it('the mode is explicit: IRSA without a role ARN is refused, naming the values', () => {
    const result = helm([
      'template',
      'pricing',
      pricing,
      '-f',
      valuesFile({ credentials: { mode: 'irsa', roleArn: '' } }),
    ]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('credentials.roleArn is required when credentials.mode is irsa');
  });

  it('an unknown mode is refused by the schema', () => {
    const result = helm(['template', 'pricing', pricing, '--set', 'credentials.mode=keys']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('mode');
  });
});
