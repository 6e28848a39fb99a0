// Rules a JSON Schema cannot express: fields that must agree with each other
// and with the systems the spec feeds (TF Serving, Kubernetes, S3). Each rule
// reads the raw value defensively, since it also runs on specs that failed
// structural validation, so one run reports every problem at once.

import type { Finding } from './diagnostics';
import { imageProblem, labelKeyProblem, labelValueProblem, parseImageReference, parseS3Uri } from './names';
import { patterns } from './patterns';
import { cpuToMillis, describeBytes, formatBytes, formatCpu, parseQuantity } from './quantity';
import { defaults, peakReplicas } from './resolve';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
const int = (v: unknown): number | undefined => (Number.isInteger(v) ? (v as number) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const quantity = (v: unknown): number | undefined =>
  typeof v === 'string' || typeof v === 'number' ? parseQuantity(v) : undefined;

/** tensorflow_model_server flags Catwalk writes itself; extraArgs may not set them. */
export const MANAGED_FLAGS = [
  'port',
  'rest_api_port',
  'model_name',
  'model_base_path',
  'model_config_file',
  'model_config_file_poll_wait_seconds',
  'file_system_poll_wait_seconds',
  'monitoring_config_file',
  'enable_batching',
  'batching_parameters_file',
  'allow_version_labels_for_unavailable_models',
  'enable_grpc_healthcheck_service',
] as const;

/** Most pods a model may run; the spec's maxReplicas has the same bound. */
const MAX_REPLICAS = 1000;

/** Label prefixes the generated objects use; users may not set them. */
const RESERVED_LABEL_PREFIXES = ['app.kubernetes.io/', 'catwalk.dev/'];

interface Ctx {
  readonly root: Obj;
  readonly findings: Finding[];
}

export function semanticFindings(value: unknown): Finding[] {
  const root = obj(value);
  if (!root) return [];
  const ctx: Ctx = { root, findings: [] };
  checkUnicode(ctx, root, []);
  checkLabels(ctx);
  checkSource(ctx);
  checkServing(ctx);
  checkResources(ctx);
  checkScaling(ctx);
  checkEndpoint(ctx);
  checkMonitoring(ctx);
  return ctx.findings;
}

/** A lone UTF-16 surrogate (possible through a JSON \ud800 escape) is no character at all. */
function checkUnicode(ctx: Ctx, value: unknown, path: (string | number)[]): void {
  if (typeof value === 'string') {
    if (/\p{Cs}/u.test(value)) {
      ctx.findings.push({
        code: 'invalid-unicode',
        path,
        message: 'the text holds a lone UTF-16 surrogate, which is not a character',
        fix: 'remove the \\ud800-\\udfff escape, or write the whole character',
      });
    }
  } else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) checkUnicode(ctx, item, [...path, i]);
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) checkUnicode(ctx, item, [...path, key]);
  }
}

function spec(ctx: Ctx, section: string): Obj | undefined {
  return obj(obj(ctx.root.spec)?.[section]);
}

function checkLabels({ root, findings }: Ctx): void {
  const labels = obj(obj(root.metadata)?.labels);
  for (const [key, value] of Object.entries(labels ?? {})) {
    const path = ['metadata', 'labels', key];
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) {
      findings.push({
        code: 'label-key-invalid',
        path,
        atKey: true,
        message: `label key '${key}' is invalid: ${keyProblem}`,
        fix: 'use a key like tier or example.com/tier',
      });
    } else if (RESERVED_LABEL_PREFIXES.some((prefix) => key.startsWith(prefix))) {
      findings.push({
        code: 'label-reserved',
        path,
        atKey: true,
        message: `label key '${key}' uses a prefix Catwalk sets itself (${RESERVED_LABEL_PREFIXES.join(', ')})`,
        fix: 'choose a key outside those prefixes',
      });
    }
    const text = str(value);
    const valueProblem = text === undefined ? undefined : labelValueProblem(text);
    if (valueProblem) {
      findings.push({
        code: 'label-value-invalid',
        path,
        message: `label value '${text}' is invalid: ${valueProblem}`,
        fix: 'shorten it or replace other characters with -',
      });
    }
  }
}

function checkSource(ctx: Ctx): void {
  const source = spec(ctx, 'source');
  const uri = str(source?.uri);
  if (uri?.startsWith('s3://')) {
    const { location, problem } = parseS3Uri(uri);
    if (problem) {
      ctx.findings.push({
        code: 's3-uri-invalid',
        path: ['spec', 'source', 'uri'],
        message: `'${uri}' is not a usable S3 location: ${problem}`,
        fix: 'write s3://<bucket>/<team>/<model>, e.g. s3://catwalk-models/marketplace/pricing',
      });
    } else if (location && location.prefix === '') {
      ctx.findings.push({
        severity: 'warning',
        code: 's3-uri-bucket-root',
        path: ['spec', 'source', 'uri'],
        message: `'${uri}' names only a bucket, so this model's versions would sit at the bucket root`,
        fix: 'give the model its own folder, e.g. s3://<bucket>/<team>/<model>',
      });
    }
  }
  const endpoint = str(source?.endpoint);
  if (endpoint && /^https?:\/\//.test(endpoint)) {
    let problem: string | undefined;
    try {
      const url = new URL(endpoint);
      if (url.pathname !== '/' || url.search || url.hash)
        problem = 'it must be a bare origin with no path or query';
    } catch {
      problem = 'it is not a valid URL';
    }
    if (problem)
      ctx.findings.push({
        code: 'endpoint-url-invalid',
        path: ['spec', 'source', 'endpoint'],
        message: `'${endpoint}' is not a usable S3 endpoint: ${problem}`,
        fix: 'write the endpoint as scheme://host[:port], e.g. https://s3.example.internal',
      });
  }
}

function formatPolicy(policy: Obj): string {
  if (Array.isArray(policy.specific)) return `{specific: [${policy.specific.join(', ')}]}`;
  if (policy.all !== undefined) return '{all: true}';
  return `{latest: ${String(policy.latest ?? 1)}}`;
}

function checkServing(ctx: Ctx): void {
  const serving = spec(ctx, 'serving') ?? {};
  const findings = ctx.findings;
  const gpu = int(spec(ctx, 'resources')?.gpu) ?? 0;

  const image = str(serving.image) ?? defaults.image;
  const imageIssue = imageProblem(image);
  if (imageIssue) {
    findings.push({ code: 'image-not-pinned', path: ['spec', 'serving', 'image'], ...imageIssue });
  } else {
    const tag = parseImageReference(image).tag ?? '';
    // An error, not a warning: the pod would hold a GPU node and never use the GPU.
    if (gpu > 0 && tag && !tag.includes('gpu') && serving.allowCustomGpuImage !== true) {
      findings.push({
        severity: 'error',
        code: 'gpu-image',
        path: ['spec', 'serving', 'image'],
        message: `resources.gpu is ${gpu} but the image tag '${tag}' is the CPU build, which never uses the GPU`,
        fix: `use the -gpu build, e.g. tensorflow/serving:${tag}-gpu; or, for a custom image built with CUDA whose tag lacks -gpu, set spec.serving.allowCustomGpuImage: true`,
      });
    } else if (gpu === 0 && tag.includes('gpu')) {
      findings.push({
        severity: 'warning',
        code: 'gpu-image',
        path: ['spec', 'serving', 'image'],
        message: `the image '${image}' is a GPU build but resources.gpu is 0`,
        fix: 'set resources.gpu, or use the CPU image',
      });
    }
  }

  const policy = obj(serving.versionPolicy) ?? { latest: defaults.versionPolicy.latest };
  const specific = Array.isArray(policy.specific)
    ? policy.specific.filter(Number.isInteger).map(Number)
    : undefined;
  const latest = specific ? undefined : policy.all === undefined ? (int(policy.latest) ?? 1) : undefined;
  const policyText = formatPolicy(policy);
  const labels = obj(serving.versionLabels) ?? {};
  const labelRegex = new RegExp(patterns.versionLabel);

  for (const [label, raw] of Object.entries(labels)) {
    const path = ['spec', 'serving', 'versionLabels', label];
    if (!labelRegex.test(label) || label.length > 63) {
      findings.push({
        code: 'version-label-invalid',
        path,
        atKey: true,
        message: `version label '${label}' is invalid: use letters, digits, '_' and '-', starting with a letter or digit, at most 63 characters`,
        fix: 'rename it, e.g. stable or canary',
      });
    }
    const version = int(raw);
    if (version === undefined) continue;
    if (specific && !specific.includes(version)) {
      findings.push({
        code: 'label-not-served',
        path,
        message: `label '${label}' points to version ${version}, which versionPolicy ${policyText} never serves`,
        fix: `point '${label}' at one of ${specific.join(', ')}, or add ${version} to spec.serving.versionPolicy.specific`,
      });
    } else if (latest !== undefined) {
      findings.push({
        severity: 'warning',
        code: 'label-may-unload',
        path,
        message: `label '${label}' pins version ${version}, but versionPolicy ${policyText} serves whichever ${latest === 1 ? 'version is' : `${latest} versions are`} newest; once newer versions arrive, version ${version} is unloaded and /labels/${label} stops answering`,
        fix: 'use versionPolicy {specific: [...]} listing the labelled versions',
      });
    }
  }

  const experiment = spec(ctx, 'experiment');
  if (experiment && (experiment.canaryVersion === undefined) !== (experiment.canaryWeight === undefined)) {
    const missing = experiment.canaryVersion === undefined ? 'canaryVersion' : 'canaryWeight';
    findings.push({
      code: 'experiment-incomplete',
      path: ['spec', 'experiment', missing],
      message: `a fixed A/B test needs both canaryVersion and canaryWeight; ${missing} is missing`,
      fix: `add spec.experiment.${missing}, or remove the other one to run tests with catwalk experiment (experiment.analysis may stay)`,
    });
  }
  const canary = int(experiment?.canaryVersion);
  if (experiment && canary !== undefined) {
    const stable = int(labels.stable);
    const path = ['spec', 'experiment', 'canaryVersion'];
    if (stable === undefined) {
      findings.push({
        code: 'experiment-needs-stable',
        path: ['spec', 'experiment'],
        message:
          "an experiment splits traffic between the 'stable' label and the canary, but versionLabels has no 'stable'",
        fix: 'add spec.serving.versionLabels.stable: <version the canary is compared with>',
      });
    } else if (stable === canary) {
      findings.push({
        code: 'experiment-same-version',
        path,
        message: `the canary version ${canary} is also the stable version, so the experiment compares a version with itself`,
        fix: 'set canaryVersion to the new version under test',
      });
    }
    if (specific && !specific.includes(canary)) {
      findings.push({
        code: 'canary-not-served',
        path,
        message: `canary version ${canary} is not served: versionPolicy ${policyText} does not include it`,
        fix: `add ${canary} to spec.serving.versionPolicy.specific`,
      });
    } else if (latest !== undefined) {
      findings.push({
        severity: 'warning',
        code: 'canary-may-unload',
        path,
        message: `versionPolicy ${policyText} may not include canary version ${canary}`,
        fix: 'list the stable and canary versions in versionPolicy {specific: [...]}',
      });
    }
    const canaryLabel = int(labels.canary);
    if (canaryLabel !== undefined && canaryLabel !== canary) {
      findings.push({
        code: 'canary-label-mismatch',
        path: ['spec', 'serving', 'versionLabels', 'canary'],
        message: `label 'canary' points to version ${canaryLabel} but experiment.canaryVersion is ${canary}`,
        fix: 'make them the same version',
      });
    }
  }

  checkBatching(ctx, obj(serving.batching));

  const extraArgs = Array.isArray(serving.extraArgs) ? serving.extraArgs : [];
  const seen = new Set<string>();
  extraArgs.forEach((arg, index) => {
    const flag = str(arg)?.match(/^--([a-z_][a-z0-9_]*)/)?.[1];
    if (!flag) return;
    const path = ['spec', 'serving', 'extraArgs', index];
    if ((MANAGED_FLAGS as readonly string[]).includes(flag)) {
      findings.push({
        code: 'extra-arg-managed',
        path,
        message: `--${flag} is set by Catwalk from the spec`,
        fix: 'remove it; set the corresponding spec field instead',
      });
    } else if (seen.has(flag)) {
      findings.push({
        code: 'extra-arg-repeated',
        path,
        message: `--${flag} is given twice`,
        fix: 'keep one',
      });
    }
    seen.add(flag);
  });
}

function checkBatching(ctx: Ctx, batching: Obj | undefined): void {
  if (!batching) return;
  const path = ['spec', 'serving', 'batching'];
  const max = int(batching.maxBatchSize);
  const sizes = Array.isArray(batching.allowedBatchSizes) ? batching.allowedBatchSizes.map(int) : [];
  if (sizes.length && sizes.every((s) => s !== undefined)) {
    const list = sizes as number[];
    const unordered = list.findIndex((s, i) => i > 0 && s <= list[i - 1]!);
    if (unordered > 0) {
      ctx.findings.push({
        code: 'batching-sizes-order',
        path: [...path, 'allowedBatchSizes', unordered],
        message: `allowedBatchSizes must increase, but ${list[unordered]} follows ${list[unordered - 1]}`,
        fix: 'sort the sizes and drop repeats',
      });
    }
    const last = list[list.length - 1]!;
    if (max !== undefined && last !== max) {
      ctx.findings.push({
        code: 'batching-sizes-last',
        path: [...path, 'allowedBatchSizes', list.length - 1],
        message: `the last allowed batch size (${last}) must equal maxBatchSize (${max}); TF Serving refuses the config otherwise`,
        fix: `end the list with ${max}, or set maxBatchSize: ${last}`,
      });
    }
  }
  const threads = int(batching.numBatchThreads);
  const cpu = quantity(spec(ctx, 'resources')?.cpu ?? defaults.cpu);
  if (threads !== undefined && cpu !== undefined && cpu > 0 && threads > Math.ceil(cpu) * 4) {
    ctx.findings.push({
      severity: 'warning',
      code: 'batching-threads',
      path: [...path, 'numBatchThreads'],
      message: `${threads} batch threads for ${formatCpu(cpuToMillis(cpu))} CPU: threads beyond the cores only contend`,
      fix: `use about ${Math.max(1, Math.ceil(cpu))}`,
    });
  }
  const timeout = int(batching.batchTimeoutMicros);
  if (timeout !== undefined && timeout > 100_000) {
    ctx.findings.push({
      severity: 'warning',
      code: 'batching-timeout',
      path: [...path, 'batchTimeoutMicros'],
      message: `a ${timeout / 1000} ms batch timeout can add that much latency to every request`,
      fix: 'most models use 0-10 ms (0-10000)',
    });
  }
}

function checkResources(ctx: Ctx): void {
  const resources = spec(ctx, 'resources') ?? {};
  const limits = obj(resources.limits) ?? {};
  const base = ['spec', 'resources'];
  const amount = (field: 'cpu' | 'memory', section: Obj, path: string[]) => {
    const raw = section[field];
    if (raw === undefined) return undefined;
    const value = quantity(raw);
    if (value !== undefined && value <= 0) {
      ctx.findings.push({
        code: 'quantity-not-positive',
        path: [...path, field],
        message: `${field} must be more than zero, found ${String(raw)}`,
        fix: field === 'cpu' ? 'e.g. "500m" or "2"' : 'e.g. 512Mi or 4Gi',
      });
      return undefined;
    }
    return value;
  };
  const cpu = amount('cpu', resources, base) ?? quantity(defaults.cpu)!;
  const memory = amount('memory', resources, base) ?? quantity(defaults.memory)!;
  const cpuLimit = amount('cpu', limits, [...base, 'limits']);
  const memoryLimit = amount('memory', limits, [...base, 'limits']);
  if (cpuLimit !== undefined && cpuLimit < cpu) {
    ctx.findings.push({
      code: 'limit-below-request',
      path: [...base, 'limits', 'cpu'],
      message: `the CPU limit ${String(limits.cpu)} is below the request ${formatCpu(cpuToMillis(cpu))}`,
      fix: 'raise the limit or lower the request',
    });
  }
  if (memoryLimit !== undefined && memoryLimit < memory) {
    ctx.findings.push({
      code: 'limit-below-request',
      path: [...base, 'limits', 'memory'],
      message: `the memory limit ${String(limits.memory)} is below the request ${formatBytes(memory)}`,
      fix: 'raise the limit or lower the request',
    });
  }
  const modelSize = quantity(resources.modelSizeBytes);
  const effectiveLimit = memoryLimit ?? memory;
  if (modelSize !== undefined && modelSize > 0 && effectiveLimit < 2 * modelSize) {
    const field = memoryLimit !== undefined ? [...base, 'limits', 'memory'] : [...base, 'memory'];
    ctx.findings.push({
      code: 'memory-below-model',
      path: field,
      message: `the memory limit ${formatBytes(effectiveLimit)} is less than twice modelSizeBytes (${describeBytes(modelSize)}): TF Serving loads a new version beside the old one before unloading it`,
      fix: `set ${field.join('.')} to at least ${formatBytes(Math.ceil((2 * modelSize) / 2 ** 20) * 2 ** 20)}`,
    });
  }
}

function checkScaling(ctx: Ctx): void {
  const scaling = spec(ctx, 'scaling') ?? {};
  const path = ['spec', 'scaling'];
  const min = int(scaling.minReplicas);
  const max = int(scaling.maxReplicas);
  const allowSingle = scaling.allowSingleReplica === true;
  if (min !== undefined && max !== undefined && min > max) {
    ctx.findings.push({
      code: 'replicas-order',
      path: [...path, 'minReplicas'],
      message: `minReplicas ${min} is more than maxReplicas ${max}`,
      fix: 'make minReplicas <= maxReplicas',
    });
  }
  for (const [field, value] of [
    ['minReplicas', min],
    ['maxReplicas', max],
  ] as const) {
    if (value !== undefined && value < 2 && !allowSingle) {
      ctx.findings.push({
        code: 'single-replica',
        path: [...path, field],
        message: `${field} ${value} leaves no second pod to serve during a rollout or node drain`,
        fix: `set ${field}: 2 or more, or set spec.scaling.allowSingleReplica: true if this is not production`,
      });
    }
  }
  const traffic = spec(ctx, 'traffic');
  const peakRps = num(traffic?.expectedPeakRps);
  const replicaRps = num(traffic?.replicaRps);
  const target = int(scaling.targetCPUUtilization) ?? defaults.targetCPUUtilization;
  if (peakRps !== undefined && replicaRps !== undefined && peakRps > 0 && replicaRps > 0) {
    const needed = peakReplicas(peakRps, replicaRps, target);
    if (max === undefined && needed > MAX_REPLICAS) {
      ctx.findings.push({
        code: 'replicas-too-many',
        path: ['spec', 'traffic'],
        message: `expectedPeakRps ${peakRps} at ${replicaRps} rps per pod and ${target}% CPU takes ${needed} pods, more than the ${MAX_REPLICAS} one model may run`,
        fix: 'check replicaRps (what one pod serves per second, from a load test), or set spec.scaling.maxReplicas',
      });
    }
    if (max !== undefined && max < needed) {
      ctx.findings.push({
        severity: 'warning',
        code: 'capacity-short',
        path: [...path, 'maxReplicas'],
        message: `maxReplicas ${max} cannot carry expectedPeakRps ${peakRps}: at ${replicaRps} rps per pod and ${target}% CPU that takes ${needed} pods`,
        fix: `raise maxReplicas to ${needed}, or check spec.traffic`,
      });
    }
  }
}

function checkEndpoint(ctx: Ctx): void {
  const endpoint = spec(ctx, 'endpoint');
  if (endpoint?.grpc === true && !str(endpoint.host)) {
    ctx.findings.push({
      code: 'grpc-needs-host',
      path: ['spec', 'endpoint', 'grpc'],
      message: 'gRPC through the shared load balancer is routed by host name, and endpoint.host is not set',
      fix: 'set spec.endpoint.host (the model answers gRPC at <name>.grpc.<host>), or set grpc: false',
    });
  }
  const tls = endpoint?.tls as Record<string, unknown> | undefined;
  const certificates = Array.isArray(tls?.certificateArns) ? tls.certificateArns.length : 0;
  if (tls?.enabled === true && !str(endpoint?.host) && certificates === 0) {
    ctx.findings.push({
      code: 'tls-needs-certificate',
      path: ['spec', 'endpoint', 'tls'],
      message:
        'HTTPS needs a certificate, and there is neither a host to discover one by nor a certificate ARN',
      fix: 'set spec.endpoint.tls.certificateArns, or spec.endpoint.host (the load balancer controller finds its ACM certificate)',
    });
  }
  if (endpoint?.grpc === true && tls?.enabled === false) {
    ctx.findings.push({
      code: 'grpc-needs-tls',
      path: ['spec', 'endpoint', 'tls', 'enabled'],
      message: 'an ALB serves gRPC only on an HTTPS listener, and tls.enabled is false',
      fix: 'remove tls.enabled: false (HTTPS is on by default with a host), or set grpc: false',
    });
  }
}

function checkMonitoring(ctx: Ctx): void {
  const path = str(spec(ctx, 'monitoring')?.path);
  if (path && /^\/v1(\/|$)/i.test(path)) {
    ctx.findings.push({
      code: 'metrics-path-reserved',
      path: ['spec', 'monitoring', 'path'],
      message: `'${path}' is under /v1/, which TF Serving routes to its REST API`,
      fix: `use ${defaults.metricsPath}`,
    });
  }
}
