// values.yaml: every setting of the chart, derived from the resolved model,
// each key documented. The same documentation feeds the README's parameter
// table, so the two cannot drift apart.

import { createHash } from 'node:crypto';
import {
  describeVersionPolicy,
  parseImageReference,
  ports,
  type ResolvedModel,
  tfServingArgs,
  tfServingFiles,
} from '@catwalk/schema';

export interface ChartOptions {
  /** Image of the model sync sidecar. @default catwalk/model-sync */
  readonly syncImageRepository?: string;
  /** Its tag. @default the Catwalk version */
  readonly syncImageTag?: string;
  /** Version written into Chart.yaml and the default sidecar tag. @default 0.1.0 */
  readonly catwalkVersion?: string;
  /** Names the shared load balancer group, catwalk-<environment>. @default default */
  readonly environment?: string;
}

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

/** ALB rule priority within the shared group: deterministic per model, so apply order never matters. */
export function ingressGroupOrder(name: string): number {
  const digest = createHash('sha256').update(name).digest();
  return 100 + (digest.readUInt32BE(0) % 900);
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

/** Fewest and most canary pods: a share of the fleet matching the canary's share of traffic, never below 2. */
function canaryReplicas(model: ResolvedModel): { minReplicas: number; maxReplicas: number } {
  const floor = model.scaling.allowSingleReplica ? 1 : 2;
  const weight = model.experiment?.canaryWeight ?? 0;
  const max = Math.max(floor, Math.ceil((model.scaling.maxReplicas * weight) / 100));
  return { minReplicas: Math.min(floor, max), maxReplicas: max };
}

/** Documentation of every values.yaml key, in file order; the README's parameter table reads it too. */
export const VALUE_DOCS: ReadonlyMap<string, string> = new Map([
  ['nameOverride', 'Replaces the chart name in object names.'],
  ['fullnameOverride', 'Replaces the full object name (release-chart).'],
  [
    'environment',
    'Environment name; models of one environment share the load balancer group catwalk-<environment>.',
  ],
  ['model', 'The model this chart serves, as its spec describes it.'],
  ['model.name', 'Model name: the endpoint is /v1/models/<name>.'],
  ['model.team', 'Owning team, written into labels and metrics tags.'],
  ['model.description', 'What the model does.'],
  ['model.labels', 'Extra labels on every object.'],
  ['model.specHash', 'SHA-256 of the resolved spec this chart was generated from.'],
  ['tfServing', 'The TensorFlow Serving container.'],
  ['tfServing.image.repository', 'TF Serving image repository.'],
  ['tfServing.image.tag', 'TF Serving image tag (also the chart appVersion).'],
  ['tfServing.image.digest', 'Image digest; when set it wins over the tag.'],
  ['tfServing.image.pullPolicy', 'Image pull policy.'],
  ['tfServing.command', 'The server binary in the image (the entrypoint script is bypassed).'],
  ['tfServing.args', 'tensorflow_model_server flags, derived from the spec.'],
  [
    'tfServing.config',
    'TF Serving config files, mounted at /etc/catwalk; the sidecar turns models.config into the live copy.',
  ],
  ['tfServing.resources.requests', 'CPU and memory requests.'],
  ['tfServing.resources.limits', 'CPU and memory limits.'],
  ['tfServing.gpu', 'NVIDIA GPUs per pod (0 for CPU models).'],
  ['tfServing.probes.startup.periodSeconds', 'Seconds between startup checks.'],
  [
    'tfServing.probes.startup.failureThreshold',
    'Startup checks before a restart; the budget grows with modelSizeBytes.',
  ],
  ['tfServing.probes.readiness.periodSeconds', 'Seconds between readiness checks (GET /v1/models/<name>).'],
  [
    'tfServing.probes.readiness.failureThreshold',
    'Failed readiness checks before the pod leaves the load balancer.',
  ],
  ['tfServing.probes.liveness.periodSeconds', 'Seconds between liveness checks (TCP on the gRPC port).'],
  ['tfServing.probes.liveness.failureThreshold', 'Failed liveness checks before a restart.'],
  ['sync', 'The model sync sidecar: copies complete, verified versions from S3 into /models.'],
  ['sync.image.repository', 'Sidecar image repository.'],
  ['sync.image.tag', 'Sidecar image tag.'],
  ['sync.image.digest', 'Sidecar image digest; when set it wins over the tag.'],
  ['sync.image.pullPolicy', 'Image pull policy.'],
  ['sync.source', "S3 folder holding the model's versions."],
  ['sync.region', 'AWS region of the bucket.'],
  ['sync.endpoint', 'S3-compatible endpoint URL; empty for AWS S3.'],
  ['sync.intervalSeconds', 'Seconds between polls of S3 for a new release.'],
  ['sync.port', 'Port of the sidecar health and metrics endpoints.'],
  ['sync.volumeSizeLimit', 'Size limit of the /models volume: three model versions.'],
  ['sync.resources', 'Sidecar CPU and memory.'],
  ['autoscaling.minReplicas', 'Fewest pods (at least 2 unless allowSingleReplica).'],
  ['autoscaling.maxReplicas', 'Most pods.'],
  ['autoscaling.targetCPUUtilizationPercentage', 'Average CPU utilisation the autoscaler aims for.'],
  ['autoscaling.allowSingleReplica', 'Allow minReplicas 1 (no redundancy).'],
  ['experiment.enabled', 'Run an A/B test: a canary Deployment and weighted load balancing.'],
  ['experiment.stableVersion', 'Version the main Deployment serves during the test.'],
  ['experiment.canaryVersion', 'Version the canary Deployment serves.'],
  ['experiment.weights.stable', 'Percent of requests to the stable version (the two weights add up to 100).'],
  ['experiment.weights.canary', 'Percent of requests to the canary version.'],
  ['experiment.canaryReplicas.minReplicas', 'Fewest canary pods.'],
  ['experiment.canaryReplicas.maxReplicas', 'Most canary pods.'],
  ['service.httpPort', 'REST port of TF Serving and the Service.'],
  ['service.grpcPort', 'gRPC port of TF Serving and the Service.'],
  ['ingress.enabled', 'Expose the model through the AWS Load Balancer Controller.'],
  ['ingress.className', 'Ingress class.'],
  ['ingress.scheme', 'internal or internet-facing.'],
  ['ingress.host', 'Host name of the REST endpoint; empty for any host.'],
  ['ingress.groupName', 'Load balancer group; empty means catwalk-<environment>.'],
  ['ingress.groupOrder', "This model's rule order in the group (derived from the name, so it is stable)."],
  ['ingress.grpc.enabled', 'Also expose gRPC, on its own host name (gRPC routes by host).'],
  ['ingress.grpc.host', 'Host name of the gRPC endpoint.'],
  ['ingress.annotations', 'Extra Ingress annotations.'],
  ['serviceAccount.create', 'Create the service account the pods run as.'],
  ['serviceAccount.name', 'Its name; empty means the full name.'],
  [
    'credentials.mode',
    'How the pods get AWS credentials for S3: irsa (IAM Roles for Service Accounts), podIdentity (EKS Pod Identity association made outside the chart) or node (the node instance role, through the instance metadata service). The NetworkPolicy opens exactly what the mode needs.',
  ],
  ['credentials.roleArn', 'IAM role the pods assume with irsa; see iam-policy.json for what it needs.'],
  ['podDisruptionBudget.maxUnavailable', 'Pods a voluntary disruption may take down at once.'],
  ['networkPolicy.enabled', 'Allow traffic in only to the model ports, and out only to DNS and S3.'],
  ['networkPolicy.egressPorts', 'TCP ports the pods may connect out to (HTTPS and the S3 endpoint).'],
  ['metrics.path', "TF Serving's Prometheus path on the REST port."],
  ['metrics.versionTag', 'Version tag of the main track in metrics.'],
  ['metrics.serviceMonitor.enabled', 'Create a ServiceMonitor when the cluster has the Prometheus Operator.'],
  ['metrics.serviceMonitor.interval', 'Scrape interval.'],
  ['metrics.datadog.enabled', 'Add Datadog autodiscovery annotations (OpenMetrics check).'],
  ['gpu.nodeSelector', 'Node labels GPU pods are scheduled on.'],
  ['gpu.tolerations', 'Tolerations GPU pods get.'],
  ['termination.gracePeriodSeconds', 'Seconds a pod has to stop.'],
  [
    'termination.preStopSleepSeconds',
    'Seconds a stopping pod keeps serving while the load balancer drains it.',
  ],
  ['podSecurity.runAsUser', 'User id of every container.'],
  ['podSecurity.runAsGroup', 'Group id of every container.'],
  ['podSecurity.fsGroup', 'Group owning the volumes.'],
  ['podAnnotations', 'Extra pod annotations.'],
  ['nodeSelector', 'Node labels for every pod.'],
  ['tolerations', 'Tolerations for every pod.'],
  ['affinity', 'Affinity rules for every pod.'],
]);

export type ChartValues = ReturnType<typeof chartValues>;

/** Everything values.yaml holds; VALUE_DOCS documents each key. */
export function chartValues(model: ResolvedModel, options: ChartOptions = {}) {
  const version = options.catwalkVersion ?? CATWALK_VERSION;
  const image = parseImageReference(model.serving.image);
  const files = Object.fromEntries(tfServingFiles(model).map((f) => [f.name, f.contents]));
  const sizeBytes = model.resources.modelSizeBytes;
  const startupBudget = startupBudgetSeconds(sizeBytes);
  // Room for two versions side by side while a new one syncs, plus the temp copy being verified.
  const volumeGi = Math.max(1, Math.ceil(((sizeBytes ?? 0) * 3) / 2 ** 30));
  const experiment = model.experiment;
  const values = {
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
    tfServing: {
      image: {
        repository: image.repository,
        tag: image.tag ?? '',
        digest: image.digest ?? '',
        pullPolicy: 'IfNotPresent',
      },
      command: ['/usr/bin/tensorflow_model_server'],
      args: tfServingArgs(model),
      config: files,
      resources: {
        requests: { cpu: model.resources.requests.cpu, memory: model.resources.requests.memory },
        limits: { cpu: model.resources.limits.cpu, memory: model.resources.limits.memory },
      },
      gpu: model.resources.gpu,
      probes: {
        startup: { periodSeconds: 10, failureThreshold: Math.ceil(startupBudget / 10) },
        readiness: { periodSeconds: 5, failureThreshold: 3 },
        liveness: { periodSeconds: 10, failureThreshold: 6 },
      },
    },
    sync: {
      image: {
        repository: options.syncImageRepository ?? 'catwalk/model-sync',
        tag: options.syncImageTag ?? version,
        digest: '',
        pullPolicy: 'IfNotPresent',
      },
      source: model.source.uri,
      region: model.source.region,
      endpoint: model.source.endpoint ?? '',
      intervalSeconds: model.serving.pollSeconds,
      port: 9102,
      volumeSizeLimit: `${volumeGi}Gi`,
      resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } },
    },
    autoscaling: {
      minReplicas: model.scaling.minReplicas,
      maxReplicas: model.scaling.maxReplicas,
      targetCPUUtilizationPercentage: model.scaling.targetCPUUtilization,
      allowSingleReplica: model.scaling.allowSingleReplica,
    },
    experiment: {
      enabled: experiment !== undefined,
      stableVersion: experiment?.stableVersion ?? 0,
      canaryVersion: experiment?.canaryVersion ?? 0,
      weights: { stable: experiment?.stableWeight ?? 100, canary: experiment?.canaryWeight ?? 0 },
      canaryReplicas: canaryReplicas(model),
    },
    service: { httpPort: ports.http, grpcPort: ports.grpc },
    ingress: {
      enabled: true,
      className: model.endpoint.ingressClassName,
      scheme: 'internal',
      host: model.endpoint.host ?? '',
      groupName: '',
      groupOrder: ingressGroupOrder(model.name),
      grpc: {
        enabled: model.endpoint.grpc,
        host: model.endpoint.grpc && model.endpoint.host ? grpcHost(model.name, model.endpoint.host) : '',
      },
      annotations: {},
    },
    serviceAccount: { create: true, name: '' },
    credentials: { mode: model.access.roleArn ? 'irsa' : 'node', roleArn: model.access.roleArn ?? '' },
    podDisruptionBudget: { maxUnavailable: 1 },
    networkPolicy: { enabled: true, egressPorts: egressPorts(model.source.endpoint) },
    metrics: {
      path: model.monitoring.path,
      versionTag:
        model.serving.versionLabels.stable?.toString() ??
        describeVersionPolicy(model.serving.versionPolicy).replace(' ', '-'),
      serviceMonitor: { enabled: model.monitoring.prometheus, interval: '30s' },
      datadog: { enabled: model.monitoring.datadog },
    },
    gpu: {
      nodeSelector: { 'nvidia.com/gpu.present': 'true' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    },
    termination: { gracePeriodSeconds: 60, preStopSleepSeconds: 15 },
    podSecurity: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
    podAnnotations: {},
    nodeSelector: {},
    tolerations: [],
    affinity: {},
  };
  return values;
}

/** gRPC routes by host name, so each model gets its own: <name>.grpc.<host> (a wildcard label stays in front). */
export function grpcHost(name: string, host: string): string {
  return host.startsWith('*.') ? `${name}.grpc.${host.slice(2)}` : `${name}.grpc.${host}`;
}
