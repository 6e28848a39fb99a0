// What operators expect of a well-kept chart, each value reaching the objects.
import { chartDir, exampleModel } from './support/helm';
import { container, named, ofKind, renderWith } from './support/value-sets';

const pricing = chartDir(exampleModel('pricing'));
const tagger = chartDir(exampleModel('image-tagger'));

describe('operator values', () => {
  const values = {
    global: { imageRegistry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror' },
    imagePullSecrets: ['registry-creds'],
    priorityClassName: 'model-serving',
    runtimeClassName: 'gvisor',
    podLabels: { 'example.com/cost-center': 'pay-042' },
    podAnnotations: { 'example.com/owner': 'marketplace' },
    extraEnv: [{ name: 'TF_CPP_MIN_LOG_LEVEL', value: '1' }],
    extraVolumes: [{ name: 'cache', emptyDir: {} }],
    extraVolumeMounts: [{ name: 'cache', mountPath: '/cache' }],
    service: { annotations: { 'example.com/scrape': 'true' } },
    serviceAccount: { annotations: { 'example.com/owner': 'marketplace' } },
    sync: { initResources: { requests: { cpu: '1', memory: '512Mi' }, limits: { cpu: '2', memory: '1Gi' } } },
    autoscaling: { behavior: { scaleDown: { stabilizationWindowSeconds: 600 } } },
    podDisruptionBudget: { maxUnavailable: '10%' },
    affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
  };
  const objects = renderWith(pricing, values);
  const deployment = named(objects, 'Deployment', 'pricing')!;
  const pod = deployment.spec.template.spec;

  it('reach the pod', () => {
    expect(container(deployment, 'tfserving').image).toBe(
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/tensorflow/serving:2.19.0',
    );
    expect(container(deployment, 'model-sync').image).toBe(
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/catwalk-dev/model-sync:0.1.0',
    );
    expect(pod.imagePullSecrets).toEqual([{ name: 'registry-creds' }]);
    expect(pod.priorityClassName).toBe('model-serving');
    expect(pod.runtimeClassName).toBe('gvisor');
    expect(deployment.spec.template.metadata.labels['example.com/cost-center']).toBe('pay-042');
    expect(deployment.spec.template.metadata.annotations['example.com/owner']).toBe('marketplace');
    expect(container(deployment, 'tfserving').env).toEqual([{ name: 'TF_CPP_MIN_LOG_LEVEL', value: '1' }]);
    expect(pod.volumes).toContainEqual({ name: 'cache', emptyDir: {} });
    expect(container(deployment, 'tfserving').volumeMounts).toContainEqual({
      name: 'cache',
      mountPath: '/cache',
    });
    expect(pod.affinity).toEqual(values.affinity);
  });

  it('the init container has its own resources; the model volume is requested as ephemeral storage', () => {
    expect(container(deployment, 'model-sync-init').resources).toEqual(values.sync.initResources);
    expect(container(deployment, 'model-sync').resources.requests['ephemeral-storage']).toBe('2Gi');
  });

  it('reach the Service, service account, autoscaler and disruption budget', () => {
    expect(named(objects, 'Service', 'pricing')!.metadata.annotations).toEqual({
      'example.com/scrape': 'true',
    });
    expect(named(objects, 'ServiceAccount', 'pricing')!.metadata.annotations).toEqual({
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/catwalk-pricing',
      'example.com/owner': 'marketplace',
    });
    expect(named(objects, 'HorizontalPodAutoscaler', 'pricing')!.spec.behavior).toMatchObject({
      scaleDown: { stabilizationWindowSeconds: 600 },
    });
    expect(ofKind(objects, 'PodDisruptionBudget').map((p) => p.spec.maxUnavailable)).toEqual(['10%', '10%']);
  });

  it('spread each revision on its own and carry the recommended labels; pods carry no chart version', () => {
    for (const spread of pod.topologySpreadConstraints)
      expect(spread.matchLabelKeys).toEqual(['pod-template-hash']);
    expect(deployment.metadata.labels).toMatchObject({
      'app.kubernetes.io/name': 'pricing',
      'app.kubernetes.io/instance': 'pricing',
      'app.kubernetes.io/version': '2.19.0',
      'app.kubernetes.io/component': 'model-server',
      'app.kubernetes.io/part-of': 'catwalk',
      'app.kubernetes.io/managed-by': 'Helm',
    });
    expect(deployment.spec.template.metadata.labels['helm.sh/chart']).toBeUndefined();
  });

  it('GPU pods: the default node selector is overridable for nodes without GPU Feature Discovery', () => {
    const gpu = named(
      renderWith(tagger, {
        // Helm merges maps with the defaults: null drops the GPU Feature Discovery label.
        gpu: {
          nodeSelector: {
            'nvidia.com/gpu.present': null,
            'karpenter.k8s.aws/instance-gpu-manufacturer': 'nvidia',
          },
        },
      }),
      'Deployment',
      'image-tagger',
    )!;
    expect(gpu.spec.template.spec.nodeSelector).toEqual({
      'karpenter.k8s.aws/instance-gpu-manufacturer': 'nvidia',
    });
    expect(container(gpu, 'tfserving').resources.limits['nvidia.com/gpu']).toBe(1);
  });
});
