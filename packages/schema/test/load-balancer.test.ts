// The load balancer settings of a spec: group, scheme and TLS, their
// defaults, and the combinations an ALB cannot serve.
import { validateSpecValue } from '../src/validate';
import { baseSpec, withField } from './helpers';

const CERT = 'arn:aws:acm:eu-west-1:123456789012:certificate/0f7a8a4c-1111-2222-3333-444455556666';

function check(endpoint: Record<string, unknown>) {
  return validateSpecValue(withField(baseSpec(), 'spec.endpoint', endpoint));
}
const codes = (endpoint: Record<string, unknown>) =>
  check(endpoint).diagnostics.map((d) => [d.code, String(d.path)]);

describe('spec.endpoint load balancer settings', () => {
  it('defaults: internal, HTTPS when there is a host to find a certificate by, the recommended TLS policy', () => {
    const endpoint = check({ host: 'models.example.com' }).model!.endpoint;
    expect(endpoint).toMatchObject({
      scheme: 'internal',
      tls: { enabled: true, certificateArns: [], sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06' },
    });
    expect(endpoint.group).toBeUndefined();
    expect(check({}).model!.endpoint.tls.enabled).toBe(false);
  });

  it('takes a group, a scheme and certificates', () => {
    const endpoint = check({
      group: 'catwalk-prod-2',
      scheme: 'internet-facing',
      tls: { certificateArns: [CERT] },
    }).model!.endpoint;
    expect(endpoint).toMatchObject({
      group: 'catwalk-prod-2',
      scheme: 'internet-facing',
      tls: { enabled: true, certificateArns: [CERT] },
    });
  });

  it('refuses HTTPS with no way to get a certificate, and gRPC without HTTPS', () => {
    expect(codes({ tls: { enabled: true } })).toEqual([['tls-needs-certificate', 'spec.endpoint.tls']]);
    expect(codes({ host: 'models.example.com', grpc: true, tls: { enabled: false } })).toEqual([
      ['grpc-needs-tls', 'spec.endpoint.tls.enabled'],
    ]);
  });

  it('refuses malformed groups, schemes and certificate ARNs, naming the field', () => {
    expect(codes({ group: 'Catwalk_Prod' }).map(([, path]) => path)).toEqual(['spec.endpoint.group']);
    expect(new Set(codes({ scheme: 'public' }).map(([, path]) => path))).toEqual(
      new Set(['spec.endpoint.scheme']),
    );
    expect(codes({ tls: { certificateArns: ['cert-1'] } }).map(([, path]) => path)).toEqual([
      'spec.endpoint.tls.certificateArns[0]',
    ]);
  });
});
