// Metrics: the ServiceMonitor (labels, an explicit switch, the sidecar's
// endpoint), Datadog checks that list what they collect, unified service tags
// that cannot go stale, and the NetworkPolicy letting scrapers in.
import { chartDir, exampleModel } from './support/helm';
import { container, experimentAt, named, ofKind, renderWith } from './support/value-sets';

const pricing = chartDir(exampleModel('pricing'));

describe('Prometheus Operator', () => {
  it('enabled=true renders it under plain `helm template` (no --api-versions), with the labels its Prometheus selects', () => {
    const objects = renderWith(pricing, {
      metrics: { serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } } },
    });
    const [monitor] = ofKind(objects, 'ServiceMonitor');
    expect(monitor!.metadata.labels.release).toBe('kube-prometheus-stack');
    expect(monitor!.spec.endpoints.map((e: any) => [e.port, e.path])).toEqual([
      ['http', '/monitoring/prometheus/metrics'],
      ['sync-metrics', '/metrics'],
    ]);
  });

  it('auto (the default) renders it only where helm sees the Prometheus Operator API; false never', () => {
    expect(ofKind(renderWith(pricing, {}), 'ServiceMonitor')).toEqual([]);
    const api = ['--api-versions', 'monitoring.coreos.com/v1'];
    expect(ofKind(renderWith(pricing, {}, api), 'ServiceMonitor')).toHaveLength(1);
    expect(
      ofKind(renderWith(pricing, { metrics: { serviceMonitor: { enabled: false } } }, api), 'ServiceMonitor'),
    ).toEqual([]);
  });

  it('the explicit switch turns it off', () => {
    expect(
      ofKind(renderWith(pricing, { metrics: { serviceMonitor: { enabled: false } } }), 'ServiceMonitor'),
    ).toEqual([]);
  });

  it("the sidecar's metrics port is on the Services the monitor selects, and allowed in", () => {
    const objects = renderWith(pricing, experimentAt(10));
    for (const service of ofKind(objects, 'Service')) {
      expect(service.spec.ports).toContainEqual({
        name: 'sync-metrics',
        port: 9102,
        targetPort: 'sync-metrics',
        protocol: 'TCP',
      });
    }
    const [policy] = ofKind(objects, 'NetworkPolicy');
    expect(policy!.spec.ingress[0].ports).toContainEqual({ port: 9102, protocol: 'TCP' });
  });
});

describe('Datadog', () => {
  const objects = renderWith(pricing, { environment: 'prod', ...experimentAt(10) });
  const pod = (name: string) => named(objects, 'Deployment', name)!.spec.template;

  it('checks TF Serving and the sidecar with lists of metrics, not ".*"', () => {
    const annotations = pod('pricing').metadata.annotations;
    const tf = JSON.parse(annotations['ad.datadoghq.com/tfserving.checks']).openmetrics.instances[0];
    expect(tf.metrics).not.toContain('.*');
    expect(tf.metrics).toEqual(
      expect.arrayContaining([
        { ':tensorflow:serving:request_count': 'request_count' },
        { ':tensorflow:serving:request_latency': 'request_latency' },
      ]),
    );
    const sync = JSON.parse(annotations['ad.datadoghq.com/model-sync.checks']).openmetrics.instances[0];
    expect(sync.openmetrics_endpoint).toBe('http://%%host%%:9102/metrics');
    // Named one by one (monitoring.test.ts checks them against the sidecar), not catwalk_sync_.*.
    expect(sync.metrics).toContainEqual({
      catwalk_sync_last_success_timestamp_seconds: 'sync.last_success_timestamp',
    });
    expect(JSON.stringify(sync.metrics)).not.toContain('*');
    // Each check is keyed by its container's name.
    expect(pod('pricing').spec.containers.map((c: any) => c.name)).toEqual(['tfserving', 'model-sync']);
  });

  it('unified service tags: service and env, and a version tag that stays true after a release', () => {
    expect(pod('pricing').metadata.labels).toMatchObject({
      'tags.datadoghq.com/service': 'pricing',
      'tags.datadoghq.com/env': 'prod',
      // The track, which a release never changes; the version number a track serves is in the sidecar's metrics.
      'tags.datadoghq.com/version': 'stable',
    });
    expect(pod('pricing-canary').metadata.labels['tags.datadoghq.com/version']).toBe('canary');
    const tags = JSON.parse(pod('pricing').metadata.annotations['ad.datadoghq.com/tfserving.checks'])
      .openmetrics.instances[0].tags;
    expect(tags.some((t: string) => t.startsWith('version:'))).toBe(false);
  });

  it('nothing on the pods depends on the experiment versions (a release moves them without a restart)', () => {
    const a = named(renderWith(pricing, experimentAt(10)), 'Deployment', 'pricing')!.spec.template;
    const moved = {
      experiment: { enabled: true, stableVersion: 4, canaryVersion: 5, weights: { stable: 90, canary: 10 } },
    };
    const b = named(renderWith(pricing, moved), 'Deployment', 'pricing')!.spec.template;
    expect(b).toEqual(a);
    expect(container({ spec: { template: b } } as any, 'model-sync').args).toContain('--track=stable');
  });
});
