import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateChart, generateCharts } from '../src';
import {
  chartDir,
  exampleModel,
  exampleModels,
  helm,
  type K8sObject,
  kubernetesProblems,
  render,
} from './support/helm';

const models = exampleModels();
const dirs = new Map(models.map((m) => [m.name, chartDir(m)]));
const dirOf = (name: string) => dirs.get(name)!;
const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const ciSets = (name: string) => fs.readdirSync(path.join(dirOf(name), 'ci')).sort();

describe('generated files', () => {
  it('are the same bytes every time, with no absolute paths or timestamps', () => {
    const a = generateCharts(models);
    const b = generateCharts([...models].reverse());
    expect(b).toEqual(a);
    for (const file of a) {
      expect({ file: file.path, leak: /\/(tmp|home|root|work|Users)\//.test(file.contents) }).toEqual({
        file: file.path,
        leak: false,
      });
      expect({ file: file.path, date: /20\d\d-\d\d-\d\dT/.test(file.contents) }).toEqual({
        file: file.path,
        date: false,
      });
    }
  });

  it('are complete: chart metadata, values and schema, templates, docs, CI value sets, IAM policies, monitoring', () => {
    const paths = generateChart(exampleModel('pricing')).map((f) => f.path);
    expect(paths).toEqual([
      '.helmignore',
      'Chart.yaml',
      'README.md',
      'ci/default-values.yaml',
      'ci/experiment-values.yaml',
      'ci/minimal-values.yaml',
      'ci/node-credentials-values.yaml',
      'ci/pod-identity-values.yaml',
      'ci/production-values.yaml',
      'datadog/dashboard.json',
      'datadog/monitors.json',
      'iam-policy.json',
      'monitoring/grafana-dashboard.json',
      'monitoring/prometheus-rules.yaml',
      'push-policy.json',
      'templates/NOTES.txt',
      'templates/_helpers.tpl',
      'templates/configmap.yaml',
      'templates/deployment.yaml',
      'templates/grafana-dashboard.yaml',
      'templates/hpa.yaml',
      'templates/ingress.yaml',
      'templates/networkpolicy.yaml',
      'templates/pdb.yaml',
      'templates/prometheusrule.yaml',
      'templates/service.yaml',
      'templates/serviceaccount.yaml',
      'templates/servicemonitor.yaml',
      'values.schema.json',
      'values.yaml',
    ]);
  });

  it.each(models.map((m) => m.name))('%s: snapshot of every file', (name) => {
    const files = generateChart(exampleModel(name));
    expect(Object.fromEntries(files.map((f) => [f.path, f.contents]))).toMatchSnapshot();
  });

  it('Chart.yaml carries the TF Serving tag and the spec hash', () => {
    const chart = fs.readFileSync(path.join(dirOf('pricing'), 'Chart.yaml'), 'utf8');
    expect(chart).toContain('appVersion: "2.19.0"');
    expect(chart).toMatch(/catwalk\.dev\/spec-hash: "[a-f0-9]{64}"/);
  });

  it('README has the endpoints, a curl and an SDK example, and a parameter per documented value', () => {
    const readme = fs.readFileSync(path.join(dirOf('pricing'), 'README.md'), 'utf8');
    expect(readme).toContain('| REST | `https://models.example.com/v1/models/pricing` |');
    expect(readme).toContain('| gRPC | `pricing.grpc.models.example.com:443` |');
    expect(readme).toContain('curl -s -X POST https://models.example.com/v1/models/pricing:predict');
    expect(readme).toContain("createClient({ baseUrl: 'https://models.example.com' })");
    expect(readme).toContain(
      "createClient({ transport: 'grpc', grpcAddress: 'pricing.grpc.models.example.com:443' })",
    );
    expect(readme).toContain(
      '| `autoscaling.maxReplicas` | `20` | Most pods: enough for the expected peak at the CPU target. |',
    );
    expect(readme).toContain('| `experiment.weights.canary` | `10` |');
  });
});

describe('values that look like numbers to some YAML reader', () => {
  it.each(['1_0', '0o1_7', '1e1_0', '08', 'yes', 'on', '0x1f', '.5', '1.2.3', '12'])(
    'stay strings through helm: %s',
    (value) => {
      const model = { ...exampleModel('fraud-check'), labels: { tier: value } };
      const objects = render(chartDir(model));
      expect(objects.find((o) => o.kind === 'Deployment')!.metadata.labels.tier).toBe(value);
    },
  );
});

describe('helm lint and template', () => {
  it.each(models.map((m) => m.name))(
    '%s passes helm lint --strict with default values and every ci/ value set',
    (name) => {
      const dir = dirOf(name);
      const lint = helm(['lint', '--strict', dir]);
      expect(lint.stderr + lint.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
      for (const set of ciSets(name)) {
        const result = helm(['lint', '--strict', dir, '-f', path.join(dir, 'ci', set)]);
        expect({
          set,
          status: result.status,
          out: result.status ? result.stdout + result.stderr : '',
        }).toEqual({ set, status: 0, out: '' });
      }
    },
  );

  it.each(models.map((m) => m.name))(
    '%s renders objects the Kubernetes API accepts, with every value set',
    (name) => {
      const dir = dirOf(name);
      for (const set of ['', ...ciSets(name)]) {
        const objects = render(dir, set ? ['-f', path.join(dir, 'ci', set)] : []);
        expect(objects.length).toBeGreaterThanOrEqual(5);
        expect({ set, problems: kubernetesProblems(objects) }).toEqual({ set, problems: [] });
      }
    },
  );

  it.each([
    [['--set', 'autoscaling.minReplicas=two'], 'autoscaling.minReplicas'],
    [['--set', 'experiment.weights.canary=150'], 'experiment.weights.canary'],
    [['--set', 'tfServing.resources.requests.memory=lots'], 'tfServing.resources.requests.memory'],
    [['--set', 'ingress.scheme=public'], 'ingress.scheme'],
    [['--set', 'unknownValue=1'], 'unknownValue'],
  ])('a bad override %j is refused by values.schema.json, naming %s', (args, field) => {
    const result = helm(['template', 'pricing', dirOf('pricing'), ...args]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toContain(field.split('.').pop()!);
  });

  it('refuses values that only fail together, listing every problem at once', () => {
    const result = helm([
      'template',
      'pricing',
      dirOf('pricing'),
      '--set',
      'experiment.weights.stable=80',
      '--set',
      'autoscaling.minReplicas=30',
    ]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      'experiment.weights.stable (80) and experiment.weights.canary (10) must add up to 100',
    );
    expect(result.stderr).toContain('autoscaling.minReplicas (30) is more than autoscaling.maxReplicas (20)');
  });
});

describe('rendered objects (pricing: labels, A/B test, gRPC, IRSA)', () => {
  const objects = render(dirOf('pricing'));
  const deployments = byKind(objects, 'Deployment');
  const pods = deployments.map((d) => d.spec.template.spec);

  it('runs a main and a canary Deployment, each with a Service, HPA and PDB', () => {
    expect(deployments.map((d) => d.metadata.name)).toEqual(['pricing', 'pricing-canary']);
    expect(byKind(objects, 'Service').map((s) => s.metadata.name)).toEqual(['pricing', 'pricing-canary']);
    expect(byKind(objects, 'PodDisruptionBudget').map((p) => p.spec.maxUnavailable)).toEqual([1, 1]);
    const hpas = byKind(objects, 'HorizontalPodAutoscaler');
    // Each track's bounds follow its weight (90/10) of the 20 pods the peak needs.
    expect(hpas.map((h) => [h.metadata.name, h.spec.minReplicas, h.spec.maxReplicas])).toEqual([
      ['pricing', 2, 18],
      ['pricing-canary', 2, 2],
    ]);
    for (const hpa of hpas) expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpas[0]!.spec.metrics[0].resource.target.averageUtilization).toBe(60);
  });

  it('runs TF Serving with the derived args, named ports and probes', () => {
    const tf = pods[0].containers.find((c: any) => c.name === 'tfserving');
    expect(tf.image).toBe('tensorflow/serving:2.19.0');
    expect(tf.command).toEqual(['/usr/bin/tensorflow_model_server']);
    expect(tf.args).toContain('--model_config_file=/models/models.config');
    expect(tf.ports).toEqual([
      { name: 'grpc', containerPort: 8500, protocol: 'TCP' },
      { name: 'http', containerPort: 8501, protocol: 'TCP' },
    ]);
    // Readiness is the sidecar's /ready/serving (test/pods.test.ts); TF Serving opens its ports once loaded.
    expect(tf.readinessProbe).toBeUndefined();
    expect(tf.startupProbe.tcpSocket).toEqual({ port: 'grpc' });
    expect(tf.livenessProbe).toBeDefined();
    expect(tf.resources).toEqual({
      requests: { cpu: '2', memory: '4Gi' },
      limits: { cpu: '4', memory: '4Gi' },
    });
  });

  it('syncs the model with an init container and a sidecar; main tracks stable, canary tracks canary', () => {
    const sync = (pod: any) => pod.containers.find((c: any) => c.name === 'model-sync');
    expect(pods[0].initContainers[0].args).toEqual(
      expect.arrayContaining([
        'sync',
        '--once',
        '--track=stable',
        '--source=s3://catwalk-models/marketplace/pricing',
      ]),
    );
    expect(sync(pods[0]).args).toContain('--track=stable');
    expect(sync(pods[1]).args).toContain('--track=canary');
    expect(sync(pods[0]).env).toEqual([
      { name: 'AWS_REGION', value: 'ap-southeast-1' },
      { name: 'AWS_ENDPOINT_URL_S3', value: 'https://s3.example.internal' },
    ]);
    expect(pods[0].volumes.find((v: any) => v.name === 'models').emptyDir).toBeDefined();
  });

  it('meets the restricted Pod Security Standard in every container', () => {
    for (const pod of pods) {
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      for (const container of [...pod.initContainers, ...pod.containers]) {
        expect({ container: container.name, securityContext: container.securityContext }).toEqual({
          container: container.name,
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          },
        });
      }
    }
  });

  it('spreads pods, never drops capacity in a rollout, and drains before stopping', () => {
    const deployment = deployments[0]!;
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(pods[0].topologySpreadConstraints.map((t: any) => t.topologyKey)).toEqual([
      'topology.kubernetes.io/zone',
      'kubernetes.io/hostname',
    ]);
    expect(pods[0].terminationGracePeriodSeconds).toBeGreaterThan(15);
    expect(pods[0].containers[0].lifecycle.preStop.exec.command.join(' ')).toContain('sleep 30');
    expect(pods[0].topologySpreadConstraints[0].matchLabelKeys).toEqual(['pod-template-hash']);
    expect(deployment.spec.template.metadata.annotations['checksum/config']).toMatch(/^[a-f0-9]{64}$/);
  });

  it('annotates pods for Datadog with team, model and track tags', () => {
    const checks = JSON.parse(
      deployments[1]!.spec.template.metadata.annotations['ad.datadoghq.com/tfserving.checks'],
    );
    expect(checks.openmetrics.instances[0]).toMatchObject({
      openmetrics_endpoint: 'http://%%host%%:8501/monitoring/prometheus/metrics',
      namespace: 'tfserving',
      tags: ['team:marketplace', 'model:pricing', 'track:canary'],
    });
  });

  it('routes /v1/models/pricing through one shared ALB, splitting 90/10 between stable and canary', () => {
    const [http, grpc] = byKind(objects, 'Ingress');
    expect(http!.spec.ingressClassName).toBe('alb');
    expect(http!.metadata.annotations['alb.ingress.kubernetes.io/target-type']).toBe('ip');
    expect(http!.metadata.annotations['alb.ingress.kubernetes.io/group.name']).toBe('catwalk-default');
    const rule = http!.spec.rules[0];
    expect(rule.host).toBe('models.example.com');
    // Addressed routes first (test/experiment.test.ts walks them), the model's catch-all last.
    expect(rule.http.paths.map((p: any) => [p.path, p.pathType, p.backend.service.name])).toEqual([
      ['/v1/models/pricing/labels/canary', 'Exact', 'canary-label'],
      ['/v1/models/pricing/versions/4', 'Exact', 'canary-version'],
      ['/v1/models/pricing/labels/stable', 'Exact', 'stable-label'],
      ['/v1/models/pricing/versions/3', 'Exact', 'stable-version'],
      ['/v1/models/pricing', 'Prefix', 'unaddressed'],
    ]);
    const action = JSON.parse(http!.metadata.annotations['alb.ingress.kubernetes.io/actions.unaddressed']);
    const groups = action.forwardConfig.targetGroups;
    expect(groups.map((g: any) => [g.serviceName, g.weight])).toEqual([
      ['pricing', 90],
      ['pricing-canary', 10],
    ]);
    expect(groups.reduce((sum: number, g: any) => sum + g.weight, 0)).toBe(100);
    expect(grpc!.metadata.annotations['alb.ingress.kubernetes.io/backend-protocol-version']).toBe('GRPC');
    // The ALB checks gRPC targets through the health service TF Serving is started with.
    expect(grpc!.metadata.annotations['alb.ingress.kubernetes.io/healthcheck-path']).toBe(
      '/grpc.health.v1.Health/Check',
    );
    expect(pods[0].containers[0].args).toContain('--enable_grpc_healthcheck_service=true');
    expect(grpc!.spec.rules[0].host).toBe('pricing.grpc.models.example.com');
  });

  it('annotates the service account for IRSA and limits network traffic', () => {
    const [account] = byKind(objects, 'ServiceAccount');
    expect(account!.metadata.annotations['eks.amazonaws.com/role-arn']).toBe(
      'arn:aws:iam::123456789012:role/catwalk-pricing',
    );
    const [policy] = byKind(objects, 'NetworkPolicy');
    expect(policy!.spec.ingress).toEqual([
      {
        ports: [
          { port: 8500, protocol: 'TCP' },
          { port: 8501, protocol: 'TCP' },
          // The sidecar: load balancer health checks and metrics scrapes.
          { port: 9102, protocol: 'TCP' },
        ],
      },
    ]);
    expect(policy!.spec.egress[1].ports).toEqual([{ port: 443, protocol: 'TCP' }]);
  });

  it('mounts the generated TF Serving configs from a ConfigMap', () => {
    const [config] = byKind(objects, 'ConfigMap');
    expect(Object.keys(config!.data).sort()).toEqual([
      'batching.config',
      'models.config',
      'monitoring.config',
    ]);
    expect(config!.data['models.config']).toContain('version_labels');
  });

  it('renders the ServiceMonitor when enabled=true, whatever helm knows of the cluster, scraping TF Serving and the sidecar', () => {
    const [monitor] = byKind(
      render(dirOf('pricing'), ['--set', 'metrics.serviceMonitor.enabled=true']),
      'ServiceMonitor',
    );
    expect(monitor!.spec.endpoints).toEqual([
      { port: 'http', path: '/monitoring/prometheus/metrics', interval: '30s' },
      { port: 'sync-metrics', path: '/metrics', interval: '30s' },
    ]);
    const off = render(dirOf('pricing'), ['--set', 'metrics.serviceMonitor.enabled=false']);
    expect(byKind(off, 'ServiceMonitor')).toEqual([]);
  });
});

describe('other examples', () => {
  it('image-tagger: GPU limits, toleration and node selector; no experiment, no gRPC ingress', () => {
    const objects = render(dirOf('image-tagger'));
    const pod = byKind(objects, 'Deployment')[0]!.spec.template.spec;
    expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBe(1);
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(byKind(objects, 'Deployment')).toHaveLength(1);
    expect(byKind(objects, 'Ingress')).toHaveLength(1);
    const [ingress] = byKind(objects, 'Ingress');
    expect(ingress!.spec.rules[0].http.paths[0].backend.service).toEqual({
      name: 'unaddressed',
      port: { name: 'use-annotation' },
    });
    expect(
      JSON.parse(ingress!.metadata.annotations['alb.ingress.kubernetes.io/actions.unaddressed'])
        .forwardConfig,
    ).toEqual({ targetGroups: [{ serviceName: 'image-tagger', servicePort: '8501' }] });
    // A 3 GiB model gets a longer startup budget than the 60 s base.
    expect(
      pod.containers[0].startupProbe.failureThreshold * pod.containers[0].startupProbe.periodSeconds,
    ).toBeGreaterThan(60 * 3);
  });

  it('fraud-check: the sidecar syncs every served version; CPU pods get no GPU tolerations', () => {
    const objects = render(dirOf('fraud-check'));
    const pod = byKind(objects, 'Deployment')[0]!.spec.template.spec;
    expect(pod.containers.find((c: any) => c.name === 'model-sync').args).toContain('--track=all');
    expect(pod.tolerations).toBeUndefined();
    expect(byKind(objects, 'HorizontalPodAutoscaler')[0]!.spec).toMatchObject({
      minReplicas: 6,
      maxReplicas: 21,
    });
  });
});

describe('IAM policies', () => {
  it('the serving role may list and read the model prefix, nothing else', () => {
    const policy = JSON.parse(fs.readFileSync(path.join(dirOf('pricing'), 'iam-policy.json'), 'utf8'));
    expect(policy.Statement).toEqual([
      {
        Sid: 'ListModelVersions',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: ['arn:aws:s3:::catwalk-models'],
        Condition: { StringLike: { 's3:prefix': ['marketplace/pricing/*'] } },
      },
      {
        Sid: 'ReadModelFiles',
        Effect: 'Allow',
        Action: ['s3:GetObject'],
        Resource: ['arn:aws:s3:::catwalk-models/marketplace/pricing/*'],
      },
    ]);
  });

  it('the team may write only the model prefix', () => {
    const policy = JSON.parse(fs.readFileSync(path.join(dirOf('pricing'), 'push-policy.json'), 'utf8'));
    const resources = policy.Statement.flatMap((s: any) => s.Resource);
    expect(resources).toEqual([
      'arn:aws:s3:::catwalk-models',
      'arn:aws:s3:::catwalk-models/marketplace/pricing/*',
    ]);
    expect(policy.Statement[1].Action).toContain('s3:PutObject');
    expect(policy.Statement.some((s: any) => s.Action.includes('s3:*') || s.Resource.includes('*'))).toBe(
      false,
    );
  });
});
