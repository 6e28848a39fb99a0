// resolve(): a valid spec in, every default filled in out. Pure and
// deterministic (same spec, same result, keys in a fixed order), so
// everything derived from a ResolvedModel can be snapshot-tested.

import { parseS3Uri } from './names';
import { cpuToMillis, formatBytes, formatCpu, parseQuantity } from './quantity';
import type { ModelSpec, VersionPolicySpec } from './spec';
import { API_VERSION, KIND } from './spec';

/** Defaults, in one place. The README's tables are written from these. */
export const defaults = {
  image: 'tensorflow/serving:2.19.0',
  region: 'us-east-1',
  cpu: '1',
  memory: '2Gi',
  /** CPU limit = request x this: TF Serving bursts while loading a new version. */
  cpuLimitFactor: 2,
  pollSeconds: 10,
  minReplicas: 2,
  /** Without traffic figures, the autoscaler may grow to this many pods. */
  maxReplicasWithoutTraffic: 4,
  /** min = max / this when derived from traffic: a warm share of peak capacity while the autoscaler reacts. */
  minShareOfMax: 4,
  targetCPUUtilization: 70,
  ingressClassName: 'alb',
  // TLS 1.3 and 1.2 with forward secrecy only: the policy AWS recommends for new listeners.
  sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
  metricsPath: '/monitoring/prometheus/metrics',
  /** Targets of the generated alerts: percent of requests without a server error, and p99 latency. */
  slo: { availability: 99.9, p99LatencyMs: 500 },
  versionPolicy: { latest: 1 },
  /** experiment.analysis: when the automated analysis aborts an experiment. */
  experimentAnalysis: { maxErrorRateIncrease: 0.005, maxP99LatencyRatio: 1.5, minRequests: 500 },
} as const;

export interface ResolvedAnalysisThresholds {
  readonly maxErrorRateIncrease: number;
  readonly maxP99LatencyRatio: number;
  readonly minRequests: number;
}

/** experiment.analysis of a spec, defaults filled in (the spec may have no experiment block at all). */
export function analysisThresholds(spec: Pick<ModelSpec, 'spec'>): ResolvedAnalysisThresholds {
  const given = spec.spec.experiment?.analysis ?? {};
  return { ...defaults.experimentAnalysis, ...given };
}

/** Where things are inside the serving pod; the chart and the sidecar use the same paths. */
export const podPaths = {
  /** The emptyDir the sync sidecar fills; one folder per model below it. */
  modelRoot: '/models',
  /** Generated configs, mounted from the chart's ConfigMap. */
  configDir: '/etc/catwalk',
  /** The live models.config the sidecar rewrites on every release change. */
  liveModelsConfig: '/models/models.config',
} as const;

export const ports = { grpc: 8500, http: 8501 } as const;

export type ResolvedVersionPolicy =
  | { readonly kind: 'latest'; readonly count: number }
  | { readonly kind: 'specific'; readonly versions: readonly number[] }
  | { readonly kind: 'all' };

export interface ResolvedBatching {
  readonly maxBatchSize: number;
  readonly batchTimeoutMicros: number;
  readonly numBatchThreads: number;
  readonly maxEnqueuedBatches: number;
  readonly allowedBatchSizes: readonly number[];
  readonly padVariableLengthInputs: boolean;
}

export interface ResolvedQuantities {
  readonly cpu: string;
  readonly memory: string;
  /** Base units: millicores and bytes. */
  readonly cpuMillis: number;
  readonly memoryBytes: number;
}

export interface ResolvedModel {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: typeof KIND;
  readonly name: string;
  readonly team: string;
  readonly description: string;
  /** User labels, sorted by key. */
  readonly labels: Readonly<Record<string, string>>;
  readonly source: {
    readonly uri: string;
    readonly bucket: string;
    readonly prefix: string;
    readonly region: string;
    readonly endpoint?: string;
  };
  readonly serving: {
    readonly image: string;
    readonly versionPolicy: ResolvedVersionPolicy;
    /** Sorted by label name. */
    readonly versionLabels: Readonly<Record<string, number>>;
    readonly batching?: ResolvedBatching;
    readonly pollSeconds: number;
    /** The folder TF Serving watches: <modelRoot>/<name>. */
    readonly basePath: string;
    readonly extraArgs: readonly string[];
    /** Signatures the release check protects besides serving_default; absent when the spec lists none. */
    readonly signatures?: readonly string[];
  };
  readonly resources: {
    readonly requests: ResolvedQuantities;
    readonly limits: ResolvedQuantities;
    readonly gpu: number;
    readonly modelSizeBytes?: number;
  };
  readonly traffic?: { readonly expectedPeakRps: number; readonly replicaRps: number };
  readonly scaling: {
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly targetCPUUtilization: number;
    readonly allowSingleReplica: boolean;
    /** Pods needed at expectedPeakRps with each pod at the CPU target; absent without traffic. */
    readonly peakReplicas?: number;
  };
  readonly endpoint: {
    readonly host?: string;
    readonly path: string;
    readonly grpc: boolean;
    readonly ingressClassName: string;
    /** The load balancer group; absent means the environment's default group. */
    readonly group?: string;
    readonly scheme: 'internal' | 'internet-facing';
    readonly tls: {
      readonly enabled: boolean;
      readonly certificateArns: readonly string[];
      readonly sslPolicy: string;
    };
  };
  readonly experiment?: {
    readonly stableVersion: number;
    readonly canaryVersion: number;
    readonly canaryWeight: number;
    readonly stableWeight: number;
  };
  readonly monitoring: {
    readonly prometheus: boolean;
    readonly datadog: boolean;
    readonly path: string;
    readonly slo: { readonly availability: number; readonly p99LatencyMs: number };
  };
  readonly access: { readonly roleArn?: string };
}

/** A short form of a version policy for tables and tags: "3,4", "all", "latest 2". */
export function describeVersionPolicy(policy: ResolvedVersionPolicy): string {
  switch (policy.kind) {
    case 'specific':
      return policy.versions.join(',');
    case 'all':
      return 'all';
    case 'latest':
      return `latest ${policy.count}`;
  }
}

/** Pods needed to carry `peakRps` with every pod at `targetPercent` of its capacity. */
export function peakReplicas(peakRps: number, replicaRps: number, targetPercent: number): number {
  // Round away float noise first: 800 / (100 * 0.6) must be 13.33.., not 13.3334 -> 14 by accident of binary.
  return Math.ceil(Number((peakRps / (replicaRps * (targetPercent / 100))).toFixed(6)));
}

/**
 * Replica counts: explicit `scaling` values win; otherwise
 *   max = max(2, peakReplicas), min = max(2, ceil(max / 4)).
 * Without traffic: min 2, max 4 (or min, when min is larger).
 */
export function resolveScaling(spec: ModelSpec['spec']): ResolvedModel['scaling'] {
  const scaling = spec.scaling ?? {};
  const target = scaling.targetCPUUtilization ?? defaults.targetCPUUtilization;
  const allowSingleReplica = scaling.allowSingleReplica ?? false;
  const peak = spec.traffic
    ? peakReplicas(spec.traffic.expectedPeakRps, spec.traffic.replicaRps, target)
    : undefined;
  const floor = defaults.minReplicas;
  const derivedMax =
    peak !== undefined
      ? Math.max(floor, peak)
      : Math.max(scaling.minReplicas ?? floor, defaults.maxReplicasWithoutTraffic);
  const maxReplicas = scaling.maxReplicas ?? Math.max(derivedMax, scaling.minReplicas ?? 0);
  const derivedMin =
    peak !== undefined ? Math.max(floor, Math.ceil(maxReplicas / defaults.minShareOfMax)) : floor;
  const minReplicas = scaling.minReplicas ?? Math.min(derivedMin, Math.max(maxReplicas, 1));
  return {
    minReplicas,
    maxReplicas,
    targetCPUUtilization: target,
    allowSingleReplica,
    ...(peak !== undefined ? { peakReplicas: peak } : {}),
  };
}

export function resolveVersionPolicy(policy: VersionPolicySpec | undefined): ResolvedVersionPolicy {
  if (policy?.specific) return { kind: 'specific', versions: [...policy.specific].sort((a, b) => a - b) };
  if (policy?.all) return { kind: 'all' };
  return { kind: 'latest', count: policy?.latest ?? defaults.versionPolicy.latest };
}

function quantities(cpu: string | number, memory: string | number): ResolvedQuantities {
  const cpuMillis = cpuToMillis(parseQuantity(cpu) ?? Number.NaN);
  const memoryBytes = Math.ceil(parseQuantity(memory) ?? Number.NaN);
  return { cpu: formatCpu(cpuMillis), memory: formatBytes(memoryBytes), cpuMillis, memoryBytes };
}

function sortedRecord<T>(record: Readonly<Record<string, T>> | undefined): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(record ?? {}).sort()) out[key] = record![key]!;
  return out;
}

/**
 * Fills every default of a spec that `validate` accepted. Given an invalid
 * spec the result is unspecified; validate first.
 */
export function resolve(model: ModelSpec): ResolvedModel {
  const { metadata, spec } = model;
  const serving = spec.serving ?? {};
  const resources = spec.resources ?? {};
  const location = parseS3Uri(spec.source.uri).location ?? { bucket: '', prefix: '' };

  const requests = quantities(resources.cpu ?? defaults.cpu, resources.memory ?? defaults.memory);
  const limits = quantities(
    resources.limits?.cpu ?? formatCpu(requests.cpuMillis * defaults.cpuLimitFactor),
    resources.limits?.memory ?? requests.memory,
  );
  const modelSizeBytes =
    resources.modelSizeBytes !== undefined
      ? Math.ceil(parseQuantity(resources.modelSizeBytes) ?? 0)
      : undefined;

  const batching: ResolvedBatching | undefined = serving.batching
    ? {
        maxBatchSize: serving.batching.maxBatchSize,
        batchTimeoutMicros: serving.batching.batchTimeoutMicros,
        numBatchThreads: serving.batching.numBatchThreads,
        maxEnqueuedBatches: serving.batching.maxEnqueuedBatches,
        allowedBatchSizes: [...(serving.batching.allowedBatchSizes ?? [])],
        padVariableLengthInputs: serving.batching.padVariableLengthInputs ?? false,
      }
    : undefined;

  const versionLabels = sortedRecord(serving.versionLabels);
  // Only a fixed test (canaryVersion with canaryWeight) is the chart's; analysis alone configures catwalk experiment.
  const fixed = spec.experiment;
  const experiment =
    fixed?.canaryVersion !== undefined && fixed.canaryWeight !== undefined
      ? {
          stableVersion: versionLabels.stable ?? Number.NaN,
          canaryVersion: fixed.canaryVersion,
          canaryWeight: fixed.canaryWeight,
          stableWeight: 100 - fixed.canaryWeight,
        }
      : undefined;

  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: metadata.name,
    team: metadata.team,
    description: metadata.description ?? '',
    labels: sortedRecord(metadata.labels),
    source: {
      uri: `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ''}`,
      bucket: location.bucket,
      prefix: location.prefix,
      region: spec.source.region ?? defaults.region,
      ...(spec.source.endpoint ? { endpoint: spec.source.endpoint } : {}),
    },
    serving: {
      image: serving.image ?? defaults.image,
      versionPolicy: resolveVersionPolicy(serving.versionPolicy),
      versionLabels,
      ...(batching ? { batching } : {}),
      pollSeconds: serving.pollSeconds ?? defaults.pollSeconds,
      basePath: `${podPaths.modelRoot}/${metadata.name}`,
      extraArgs: [...(serving.extraArgs ?? [])],
      ...(serving.signatures ? { signatures: [...serving.signatures] } : {}),
    },
    resources: {
      requests,
      limits,
      gpu: resources.gpu ?? 0,
      ...(modelSizeBytes !== undefined ? { modelSizeBytes } : {}),
    },
    ...(spec.traffic ? { traffic: { ...spec.traffic } } : {}),
    scaling: resolveScaling(spec),
    endpoint: {
      ...(spec.endpoint?.host ? { host: spec.endpoint.host } : {}),
      path: `/v1/models/${metadata.name}`,
      grpc: spec.endpoint?.grpc ?? false,
      ingressClassName: spec.endpoint?.ingressClassName ?? defaults.ingressClassName,
      ...(spec.endpoint?.group ? { group: spec.endpoint.group } : {}),
      scheme: spec.endpoint?.scheme ?? 'internal',
      tls: {
        enabled:
          spec.endpoint?.tls?.enabled ??
          (!!spec.endpoint?.host || (spec.endpoint?.tls?.certificateArns?.length ?? 0) > 0),
        certificateArns: [...(spec.endpoint?.tls?.certificateArns ?? [])],
        sslPolicy: spec.endpoint?.tls?.sslPolicy ?? defaults.sslPolicy,
      },
    },
    ...(experiment ? { experiment } : {}),
    monitoring: {
      prometheus: spec.monitoring?.prometheus ?? true,
      datadog: spec.monitoring?.datadog ?? false,
      path: spec.monitoring?.path ?? defaults.metricsPath,
      slo: {
        availability: spec.monitoring?.slo?.availability ?? defaults.slo.availability,
        p99LatencyMs: spec.monitoring?.slo?.p99LatencyMs ?? defaults.slo.p99LatencyMs,
      },
    },
    access: spec.access?.roleArn ? { roleArn: spec.access.roleArn } : {},
  };
}
