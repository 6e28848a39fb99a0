// values.yaml: every setting of the chart, derived from the resolved model,
// each key documented. The same documentation feeds the README's parameter
// table, so the two cannot drift apart.

import { createHash } from 'node:crypto';
import { parseImageReference, ports, type ResolvedModel, tfServingFiles } from '@catwalk/schema';
import { DATADOG_SYNC_METRICS, DATADOG_TF_SERVING_METRICS } from './monitoring/datadog-metrics';

export interface ChartOptions {
  /** Image reference of the model sync sidecar (repository:tag or @digest). @default ghcr.io/catwalk-dev/model-sync:<Catwalk version> */
  readonly syncImage?: string;
  /** Version written into Chart.yaml and the default sidecar tag. @default 0.1.0 */
  readonly catwalkVersion?: string;
  /** Names the default load balancer group, catwalk-<environment>, and the Datadog env tag. @default default */
  readonly environment?: string;
}

/** Where the sidecar image is published; the tag is the @catwalk/registry version. */
export const SYNC_IMAGE_REPOSITORY = 'ghcr.io/catwalk-dev/model-sync';

export const CATWALK_VERSION = '0.1.0';

/** Seconds a startup may take: a base plus time to read and load the model. */
export function startupBudgetSeconds(modelSizeBytes: number | undefined): number {
  const gib = (modelSizeBytes ?? 0) / 2 ** 30;
  return Math.min(3600, 60 + Math.ceil(gib * 60));
}

/** A stable hash of the resolved model: keys sorted, so equal models hash equal. */
export function specHash(model: ResolvedModel): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value && typeof value === 'object'
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
          )
        : value;
  return createHash('sha256')
    .update(JSON.stringify(canonical(model)))
    .digest('hex');
}

/** Ports a pod may open to the outside: HTTPS, plus a custom S3 endpoint's port. */
function egressPorts(endpoint: string | undefined): number[] {
  const portsOut = new Set([443]);
  if (endpoint) {
    const url = new URL(endpoint);
    portsOut.add(url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443);
  }
  return [...portsOut].sort((a, b) => a - b);
}

/** An image reference split into registry (empty for Docker Hub), repository, tag and digest. */
export function splitImage(reference: string): {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
} {
  const ref = parseImageReference(reference);
  const [first, ...rest] = ref.repository.split('/');
  const hasRegistry =
    rest.length > 0 && (first!.includes('.') || first!.includes(':') || first === 'localhost');
  return {
    registry: hasRegistry ? first! : '',
    repository: hasRegistry ? rest.join('/') : ref.repository,
    tag: ref.tag ?? '',
    digest: ref.digest ?? '',
  };
}

/** Documentation of every values.yaml key, in file order; the README's parameter table reads it too. */
export const VALUE_DOCS: ReadonlyMap<string, string> = new Map([
  [
    'global.imageRegistry',
    'Registry host (and path) that replaces every image registry, for clusters pulling through a mirror such as ECR.',
  ],
  ['nameOverride', 'Replaces the chart name in object names.'],
  ['fullnameOverride', 'Replaces the full object name (release-chart).'],
  [
    'environment',
    'Environment name: the default load balancer group is catwalk-<environment>, and the Datadog env tag.',
  ],
  ['model', 'The model this chart serves, as its spec describes it.'],
  ['model.name', 'Model name: the endpoint is /v1/models/<name>. Must stay the chart name.'],
  ['model.team', 'Owning team, written into labels and metrics tags.'],
  ['model.description', 'What the model does.'],
  ['model.labels', 'Extra labels on every object.'],
  ['model.specHash', 'SHA-256 of the resolved spec this chart was generated from.'],
  ['imagePullSecrets', 'Secrets for pulling the images from a private registry (names).'],
  ['tfServing', 'The TensorFlow Serving container.'],
  ['tfServing.image.registry', 'TF Serving image registry; empty for Docker Hub.'],
  ['tfServing.image.repository', 'TF Serving image repository.'],
  ['tfServing.image.tag', 'TF Serving image tag (also the chart appVersion); never latest.'],
  ['tfServing.image.digest', 'Image digest; when set it wins over the tag.'],
  ['tfServing.image.pullPolicy', 'Image pull policy.'],
  ['tfServing.command', 'The server binary in the image (the entrypoint script is bypassed).'],
  [
    'tfServing.extraArgs',
    'Flags added after the ones the chart derives from these values (ports, config files, polling, thread pools), which it refuses here.',
  ],
  [
    'tfServing.threads.intraOp',
    'Threads of one TensorFlow op (--tensorflow_intra_op_parallelism); 0 means the CPU limit (else request), rounded up.',
  ],
  [
    'tfServing.threads.interOp',
    'Ops run at once (--tensorflow_inter_op_parallelism); 0 means half the cores, at least 1.',
  ],
  ['tfServing.threads.restApi', 'REST server threads (--rest_api_num_threads); 0 means four per core.'],
  [
    'tfServing.config',
    'TF Serving config files, mounted at /etc/catwalk; the sidecar turns models.config into the live copy.',
  ],
  ['tfServing.resources.requests', 'CPU, memory (and ephemeral-storage) requests.'],
  ['tfServing.resources.limits', 'CPU and memory limits (at least the requests).'],
  ['tfServing.gpu', 'NVIDIA GPUs per pod (0 for CPU models).'],
  ['tfServing.probes.startup.periodSeconds', 'Seconds between startup checks.'],
  [
    'tfServing.probes.startup.failureThreshold',
    'Startup checks before a restart; the budget grows with modelSizeBytes.',
  ],
  ['tfServing.probes.startup.timeoutSeconds', 'Seconds a startup check may take.'],
  ['tfServing.probes.liveness.periodSeconds', 'Seconds between liveness checks (TCP on the gRPC port).'],
  ['tfServing.probes.liveness.failureThreshold', 'Failed liveness checks before a restart.'],
  ['tfServing.probes.liveness.timeoutSeconds', 'Seconds a liveness check may take.'],
  ['sync', 'The model sync sidecar: copies complete, verified versions from S3 into /models.'],
  [
    'sync.image.registry',
    'Sidecar image registry (override it, or global.imageRegistry, to pull from an ECR mirror).',
  ],
  ['sync.image.repository', 'Sidecar image repository.'],
  ['sync.image.tag', 'Sidecar image tag: the @catwalk/registry version.'],
  ['sync.image.digest', 'Sidecar image digest; when set it wins over the tag.'],
  ['sync.image.pullPolicy', 'Image pull policy.'],
  ['sync.source', "S3 folder holding the model's versions."],
  ['sync.region', 'AWS region of the bucket.'],
  ['sync.endpoint', 'S3-compatible endpoint URL; empty for AWS S3.'],
  [
    'sync.intervalSeconds',
    'Seconds between polls of S3 for a new release (TF Serving polls its config as often).',
  ],
  [
    'sync.port',
    'Port of the sidecar: /healthz, /readyz, /ready/serving (pod readiness, load balancer health check), /metrics, /status.',
  ],
  [
    'sync.mainTrack',
    "What the main pods follow: stable (the version the stable label points to; the spec's policy while the release has no such label) or all. The same with or without an experiment, so starting or ending one never restarts the main pods.",
  ],
  [
    'sync.volumeSizeLimit',
    'Size limit of the /models volume (three model versions); also its ephemeral-storage request.',
  ],
  ['sync.resources', 'Sidecar CPU and memory.'],
  [
    'sync.initResources',
    'CPU and memory of the init container that fills /models before TF Serving starts (it downloads at full speed).',
  ],
  [
    'sync.readiness.periodSeconds',
    'Seconds between readiness checks (GET /ready/serving: a version is AVAILABLE in TF Serving).',
  ],
  [
    'sync.readiness.timeoutSeconds',
    'Seconds a readiness check may take (the sidecar asks TF Serving within it).',
  ],
  [
    'sync.readiness.failureThreshold',
    'Failed readiness checks before the pod leaves the Service and the load balancer.',
  ],
  [
    'credentials.mode',
    'How the pods get AWS credentials for S3: irsa (IAM Roles for Service Accounts), podIdentity (an EKS Pod Identity association made outside the chart) or node (the node role, through the instance metadata service). The NetworkPolicy opens exactly what the mode needs.',
  ],
  ['credentials.roleArn', 'IAM role the pods assume with irsa; see iam-policy.json for what it needs.'],
  ['autoscaling.minReplicas', 'Fewest pods (at least 2 unless allowSingleReplica).'],
  ['autoscaling.maxReplicas', 'Most pods: enough for the expected peak at the CPU target.'],
  [
    'autoscaling.targetCPUUtilizationPercentage',
    'Average CPU utilisation the autoscaler aims for; 0 scales on extraMetrics alone.',
  ],
  ['autoscaling.allowSingleReplica', 'Allow minReplicas 1 (no redundancy).'],
  [
    'autoscaling.extraMetrics',
    'More HPA metrics (autoscaling/v2 MetricSpec), e.g. requests per second per pod from Prometheus Adapter or Datadog; see the README.',
  ],
  ['autoscaling.behavior', 'HPA scale-up and scale-down behaviour (autoscaling/v2).'],
  [
    'experiment.enabled',
    'Run an A/B test: a canary Deployment, weighted load balancing of unaddressed requests, addressed ones routed by track.',
  ],
  ['experiment.stableVersion', 'Version the stable label points to during the test (main pods).'],
  ['experiment.canaryVersion', 'Version the canary label points to (canary pods).'],
  [
    'experiment.weights.stable',
    'Percent of unaddressed requests to the main pods (the two weights add up to 100).',
  ],
  [
    'experiment.weights.canary',
    'Percent of unaddressed requests to the canary pods; start at 0 until the canary is ready. Its autoscaling bounds follow this weight.',
  ],
  [
    'experiment.minReplicas.stable',
    'Fewest main pods while catwalk experiment moves traffic (0: from the weight alone); raises the weight-derived minimum, never above autoscaling.maxReplicas.',
  ],
  [
    'experiment.minReplicas.canary',
    'Fewest canary pods while catwalk experiment moves traffic (0: from the weight alone); raises the weight-derived minimum, never above autoscaling.maxReplicas.',
  ],
  ['service.httpPort', 'REST port of TF Serving and the Service.'],
  ['service.grpcPort', 'gRPC port of TF Serving and the Service.'],
  ['service.annotations', 'Extra Service annotations.'],
  [
    'loadBalancer',
    'Settings of the whole load balancer group (one ALB): every chart in the group must have the same values here, because the controller applies them to the shared ALB.',
  ],
  ['loadBalancer.group', 'Load balancer group; empty means catwalk-<environment>.'],
  ['loadBalancer.scheme', 'internal or internet-facing.'],
  ['loadBalancer.tls.enabled', 'HTTPS listener on 443 (REST and gRPC); gRPC needs it.'],
  ['loadBalancer.tls.sslPolicy', 'TLS policy of the HTTPS listener.'],
  ['loadBalancer.tls.redirectHttp', 'Also listen on HTTP 80, answering with a redirect to 443 only.'],
  ['loadBalancer.attributes', 'Load balancer attributes (key: value), e.g. idle_timeout.timeout_seconds.'],
  ['ingress.enabled', 'Expose the model through the AWS Load Balancer Controller.'],
  ['ingress.className', 'Ingress class.'],
  ['ingress.host', 'Host name of the REST endpoint; empty for any host.'],
  [
    'ingress.certificateArns',
    "ACM certificates for this model's host names (merged into the group's HTTPS listener); empty lets the controller discover them by host name.",
  ],
  ['ingress.grpc.enabled', 'Also expose gRPC, on its own host name (gRPC routes by host).'],
  ['ingress.grpc.host', 'Host name of the gRPC endpoint.'],
  ['ingress.annotations', 'Extra Ingress annotations; they win over the ones the chart sets.'],
  ['serviceAccount.create', 'Create the service account the pods run as.'],
  ['serviceAccount.name', 'Its name; empty means the full name.'],
  ['serviceAccount.annotations', 'Extra service account annotations.'],
  [
    'podDisruptionBudget.maxUnavailable',
    'Pods a voluntary disruption may take down at once: a number, or a percentage for large fleets.',
  ],
  [
    'networkPolicy.enabled',
    'Allow traffic in only to the model and sidecar ports, and out only to DNS, S3 and the credential source.',
  ],
  ['networkPolicy.egressPorts', 'TCP ports the pods may connect out to (HTTPS and the S3 endpoint).'],
  ['metrics.path', "TF Serving's Prometheus path on the REST port."],
  [
    'metrics.serviceMonitor.enabled',
    'Create a ServiceMonitor (needs the Prometheus Operator CRDs; rendered whatever helm knows of the cluster).',
  ],
  ['metrics.serviceMonitor.interval', 'Scrape interval.'],
  [
    'metrics.serviceMonitor.labels',
    'Labels the Prometheus Operator selects ServiceMonitors by, e.g. release: kube-prometheus-stack.',
  ],
  [
    'metrics.datadog.enabled',
    'Add Datadog autodiscovery annotations (OpenMetrics checks of TF Serving and the sidecar) and unified service tags.',
  ],
  [
    'metrics.datadog.metrics',
    'TF Serving metrics the check collects (each one is billed as custom metrics).',
  ],
  ['metrics.datadog.syncMetrics', 'Sidecar metrics the check collects.'],
  [
    'monitoring.prometheusRule.enabled',
    "Create a PrometheusRule with the model's recording rules and alerts (monitoring/prometheus-rules.yaml, thresholds from spec.monitoring.slo): true, false, or auto (where helm sees the Prometheus Operator API).",
  ],
  [
    'monitoring.prometheusRule.labels',
    "Labels the Prometheus Operator's ruleSelector selects rules by, e.g. release: kube-prometheus-stack.",
  ],
  [
    'monitoring.grafanaDashboard.enabled',
    'Create a ConfigMap holding the Grafana dashboard (monitoring/grafana-dashboard.json), labelled grafana_dashboard: "1" for the Grafana sidecar to load.',
  ],
  ['monitoring.grafanaDashboard.labels', "Extra labels of the dashboard's ConfigMap."],
  [
    'monitoring.grafanaDashboard.annotations',
    "Annotations of the dashboard's ConfigMap, e.g. grafana_folder: Models for the sidecar's folder annotation.",
  ],
  [
    'gpu.nodeSelector',
    'Node labels GPU pods are scheduled on. The default is the GPU Feature Discovery label, which plain EKS GPU nodes and Karpenter may not set: replace it (set it to null, since Helm merges maps) with e.g. karpenter.k8s.aws/instance-gpu-manufacturer: nvidia or an instance-type label.',
  ],
  ['gpu.tolerations', 'Tolerations GPU pods get.'],
  [
    'rollout.minReadySeconds',
    'Seconds a new pod stays Ready before it counts as available, so the rollout waits for the load balancer to send it traffic.',
  ],
  ['rollout.maxSurge', 'Extra pods a rollout may start at once (capacity never drops: maxUnavailable is 0).'],
  [
    'termination.drainSeconds',
    'Seconds a stopping pod keeps serving while the load balancer drains it: the preStop sleep and the target group deregistration delay.',
  ],
  [
    'termination.gracePeriodSeconds',
    'Seconds a pod has to stop: the drain, then TF Serving finishing its requests.',
  ],
  ['podSecurity.runAsUser', 'User id of every container.'],
  ['podSecurity.runAsGroup', 'Group id of every container.'],
  ['podSecurity.fsGroup', 'Group owning the volumes.'],
  ['podLabels', 'Extra pod labels.'],
  ['podAnnotations', 'Extra pod annotations.'],
  ['priorityClassName', 'Priority class of the pods.'],
  ['runtimeClassName', 'Runtime class of the pods (e.g. nvidia).'],
  ['extraEnv', 'Extra environment variables of the TF Serving container.'],
  ['extraVolumes', 'Extra pod volumes.'],
  ['extraVolumeMounts', 'Extra volume mounts of the TF Serving container.'],
  ['nodeSelector', 'Node labels for every pod.'],
  ['tolerations', 'Tolerations for every pod.'],
  ['affinity', 'Affinity rules for every pod.'],
]);

export type ChartValues = ReturnType<typeof chartValues>;

/** Thread-pool flags the chart derives from the CPU: a spec that sets one sets the matching value instead. */
const THREAD_FLAGS = {
  tensorflow_intra_op_parallelism: 'intraOp',
  tensorflow_inter_op_parallelism: 'interOp',
  rest_api_num_threads: 'restApi',
} as const;

/** The spec's extra flags, with the thread-pool ones moved to tfServing.threads. */
function splitExtraArgs(extraArgs: readonly string[]) {
  const threads = { intraOp: 0, interOp: 0, restApi: 0 };
  const rest: string[] = [];
  for (const arg of extraArgs) {
    const match = /^--([a-z_]+)=([0-9]+)$/.exec(arg);
    const key = match ? THREAD_FLAGS[match[1] as keyof typeof THREAD_FLAGS] : undefined;
    if (key) threads[key] = Number(match![2]);
    else rest.push(arg);
  }
  return { threads, rest };
}

/** Everything values.yaml holds; VALUE_DOCS documents each key. */
export function chartValues(model: ResolvedModel, options: ChartOptions = {}) {
  const version = options.catwalkVersion ?? CATWALK_VERSION;
  const image = splitImage(model.serving.image);
  const syncImage = splitImage(options.syncImage ?? `${SYNC_IMAGE_REPOSITORY}:${version}`);
  const files = Object.fromEntries(tfServingFiles(model).map((f) => [f.name, f.contents]));
  const sizeBytes = model.resources.modelSizeBytes;
  const startupBudget = startupBudgetSeconds(sizeBytes);
  // Room for two versions side by side while a new one syncs, plus the temp copy being verified.
  const volumeGi = Math.max(1, Math.ceil(((sizeBytes ?? 0) * 3) / 2 ** 30));
  const experiment = model.experiment;
  const labels = model.serving.versionLabels;
  const extra = splitExtraArgs(model.serving.extraArgs);
  const values = {
    global: { imageRegistry: '' },
    nameOverride: '',
    fullnameOverride: '',
    environment: options.environment ?? 'default',
    model: {
      name: model.name,
      team: model.team,
      description: model.description,
      labels: { ...model.labels },
      specHash: specHash(model),
    },
    imagePullSecrets: [] as string[],
    tfServing: {
      image: { ...image, pullPolicy: 'IfNotPresent' },
      command: ['/usr/bin/tensorflow_model_server'],
      extraArgs: extra.rest,
      threads: extra.threads,
      config: files,
      resources: {
        requests: { cpu: model.resources.requests.cpu, memory: model.resources.requests.memory },
        limits: { cpu: model.resources.limits.cpu, memory: model.resources.limits.memory },
      },
      gpu: model.resources.gpu,
      probes: {
        startup: { periodSeconds: 10, failureThreshold: Math.ceil(startupBudget / 10), timeoutSeconds: 5 },
        liveness: { periodSeconds: 10, failureThreshold: 6, timeoutSeconds: 5 },
      },
    },
    sync: {
      image: { ...syncImage, pullPolicy: 'IfNotPresent' },
      source: model.source.uri,
      region: model.source.region,
      endpoint: model.source.endpoint ?? '',
      intervalSeconds: model.serving.pollSeconds,
      port: 9102,
      // Main pods follow the stable label whenever the model is labelled or tested, so an
      // experiment starting or ending changes the release in S3, never these pods' arguments.
      mainTrack: experiment || labels.stable !== undefined ? 'stable' : 'all',
      volumeSizeLimit: `${volumeGi}Gi`,
      resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } },
      initResources: { requests: { cpu: '500m', memory: '256Mi' }, limits: { cpu: '2', memory: '512Mi' } },
      readiness: { periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
    },
    credentials: { mode: model.access.roleArn ? 'irsa' : 'node', roleArn: model.access.roleArn ?? '' },
    autoscaling: {
      minReplicas: model.scaling.minReplicas,
      maxReplicas: model.scaling.maxReplicas,
      targetCPUUtilizationPercentage: model.scaling.targetCPUUtilization,
      allowSingleReplica: model.scaling.allowSingleReplica,
      extraMetrics: [] as Record<string, unknown>[],
      behavior: {
        // Add capacity fast; give it back slowly, one step a minute, so a dip between bursts keeps the pods.
        scaleUp: { stabilizationWindowSeconds: 0 },
        scaleDown: {
          stabilizationWindowSeconds: 300,
          policies: [{ type: 'Percent', value: 20, periodSeconds: 60 }],
        },
      },
    },
    experiment: {
      enabled: experiment !== undefined,
      stableVersion: experiment?.stableVersion ?? labels.stable ?? 0,
      canaryVersion: experiment?.canaryVersion ?? labels.canary ?? 0,
      weights: { stable: experiment?.stableWeight ?? 100, canary: experiment?.canaryWeight ?? 0 },
      // Set by catwalk experiment while it moves traffic, then back to 0.
      minReplicas: { stable: 0, canary: 0 },
    },
    service: { httpPort: ports.http, grpcPort: ports.grpc, annotations: {} },
    loadBalancer: {
      group: model.endpoint.group ?? '',
      scheme: model.endpoint.scheme,
      tls: {
        enabled: model.endpoint.tls.enabled,
        sslPolicy: model.endpoint.tls.sslPolicy,
        redirectHttp: true,
      },
      attributes: {},
    },
    ingress: {
      enabled: true,
      className: model.endpoint.ingressClassName,
      host: model.endpoint.host ?? '',
      certificateArns: [...model.endpoint.tls.certificateArns],
      grpc: {
        enabled: model.endpoint.grpc,
        host: model.endpoint.grpc && model.endpoint.host ? grpcHost(model.name, model.endpoint.host) : '',
      },
      annotations: {},
    },
    serviceAccount: { create: true, name: '', annotations: {} },
    podDisruptionBudget: { maxUnavailable: 1 as number | string },
    networkPolicy: { enabled: true, egressPorts: egressPorts(model.source.endpoint) },
    metrics: {
      path: model.monitoring.path,
      serviceMonitor: {
        enabled: (model.monitoring.prometheus ? 'auto' : false) as boolean | 'auto',
        interval: '30s',
        labels: {},
      },
      datadog: {
        enabled: model.monitoring.datadog,
        metrics: DATADOG_TF_SERVING_METRICS.map((m) => ({ [m.raw]: m.name })),
        syncMetrics: DATADOG_SYNC_METRICS.map((m) => ({ [m.raw]: m.name })),
      },
    },
    monitoring: {
      prometheusRule: {
        enabled: (model.monitoring.prometheus ? 'auto' : false) as boolean | 'auto',
        labels: {},
      },
      grafanaDashboard: { enabled: model.monitoring.prometheus, labels: {}, annotations: {} },
    },
    gpu: {
      nodeSelector: { 'nvidia.com/gpu.present': 'true' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    },
    rollout: { minReadySeconds: 10, maxSurge: '25%' },
    termination: { drainSeconds: 30, gracePeriodSeconds: 60 },
    podSecurity: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
    podLabels: {},
    podAnnotations: {},
    priorityClassName: '',
    runtimeClassName: '',
    extraEnv: [] as Record<string, unknown>[],
    extraVolumes: [] as Record<string, unknown>[],
    extraVolumeMounts: [] as Record<string, unknown>[],
    nodeSelector: {},
    tolerations: [] as Record<string, unknown>[],
    affinity: {},
  };
  return values;
}

/** gRPC routes by host name, so each model gets its own: <name>.grpc.<host> (a wildcard label stays in front). */
export function grpcHost(name: string, host: string): string {
  return host.startsWith('*.') ? `${name}.grpc.${host.slice(2)}` : `${name}.grpc.${host}`;
}
