// The model spec, defined once. The TypeScript types (Static<>) and the
// published JSON Schema (draft 2020-12) both come from these TypeBox
// definitions, so editors, `catwalk validate` and the code cannot disagree.
// Descriptions double as the "how to fix" text in validation messages.

import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { patterns } from './patterns';

export const API_VERSION = 'catwalk/v1';
export const KIND = 'Model';
export const SCHEMA_ID = 'urn:catwalk:schema:model:v1';

export { patterns };

const MAX_VERSION = Number.MAX_SAFE_INTEGER;

/** A quantity may be written bare in YAML (`cpu: 2`), so numbers are accepted too. */
const Quantity = (description: string) =>
  Type.Unsafe<string | number>({ type: ['string', 'number'], pattern: patterns.quantity, description });

const Version = (description: string) => Type.Integer({ minimum: 0, maximum: MAX_VERSION, description });

const strict = { additionalProperties: false } as const;

export const Metadata = Type.Object(
  {
    name: Type.String({
      pattern: patterns.modelName,
      minLength: 1,
      maxLength: 40,
      description:
        "The model's name: lowercase letters, digits and '-', starting with a letter, at most 40 characters. " +
        'It names the Kubernetes objects and the endpoint path /v1/models/<name>.',
    }),
    team: Type.String({
      pattern: patterns.labelValue,
      minLength: 1,
      maxLength: 63,
      description:
        "The owning team, written as a Kubernetes label value (letters, digits, '-', '_', '.'; at most 63 characters). " +
        'Used for labels, IAM scoping and cost tags.',
    }),
    description: Type.Optional(
      Type.String({ maxLength: 1024, description: 'What the model does, for humans.' }),
    ),
    labels: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description:
          'Extra Kubernetes labels for every object of this model. Keys are [prefix/]name label keys, values label values.',
      }),
    ),
  },
  { ...strict, description: 'Who the model is and who owns it.' },
);

export const Source = Type.Object(
  {
    uri: Type.String({
      pattern: '^s3://',
      description:
        "The model's folder in S3, holding numeric version subfolders: s3://<bucket>/<prefix>, e.g. s3://catwalk-models/marketplace/pricing.",
    }),
    region: Type.Optional(
      Type.String({ pattern: patterns.awsRegion, description: 'AWS region of the bucket, e.g. eu-west-1.' }),
    ),
    endpoint: Type.Optional(
      Type.String({
        pattern: '^https?://',
        description:
          'An S3-compatible endpoint URL (http:// or https://), for MinIO, s3rver or a VPC endpoint.',
      }),
    ),
  },
  { ...strict, description: 'Where the model versions live.' },
);

export const VersionPolicy = Type.Object(
  {
    latest: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, description: 'Serve the N highest version numbers present.' }),
    ),
    specific: Type.Optional(
      Type.Array(Version('A version number to serve.'), {
        minItems: 1,
        uniqueItems: true,
        description: 'Serve exactly these version numbers.',
      }),
    ),
    all: Type.Optional(Type.Literal(true, { description: 'Serve every version present.' })),
  },
  {
    ...strict,
    minProperties: 1,
    maxProperties: 1,
    description:
      'Which versions TF Serving loads: exactly one of {latest: N}, {specific: [..]} or {all: true}.',
  },
);

export const Batching = Type.Object(
  {
    maxBatchSize: Type.Integer({
      minimum: 1,
      description: 'Largest batch the server forms (max_batch_size).',
    }),
    batchTimeoutMicros: Type.Integer({
      minimum: 0,
      maximum: 10_000_000,
      description: 'How long to wait to fill a batch, in microseconds (batch_timeout_micros).',
    }),
    numBatchThreads: Type.Integer({
      minimum: 1,
      maximum: 1024,
      description:
        'Threads processing batches in parallel (num_batch_threads); about the number of CPU cores.',
    }),
    maxEnqueuedBatches: Type.Integer({
      minimum: 1,
      description: 'Queue length in batches before requests are refused with 503 (max_enqueued_batches).',
    }),
    allowedBatchSizes: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1 }), {
        minItems: 1,
        description:
          'Batch sizes to pad to, increasing; the last must equal maxBatchSize (allowed_batch_sizes).',
      }),
    ),
    padVariableLengthInputs: Type.Optional(
      Type.Boolean({
        description: 'Pad inputs of different lengths in one batch (pad_variable_length_inputs).',
      }),
    ),
  },
  { ...strict, description: "Server-side request batching (TF Serving's BatchingParameters)." },
);

export const Serving = Type.Object(
  {
    image: Type.Optional(
      Type.String({
        pattern: '^[^\\s]+$',
        description:
          'TF Serving image with a pinned tag or digest, e.g. tensorflow/serving:2.19.0 (default) or tensorflow/serving:2.19.0-gpu.',
      }),
    ),
    allowCustomGpuImage: Type.Optional(
      Type.Boolean({
        description:
          'The image is a CUDA build of TF Serving although its tag has no -gpu (a custom image): lets resources.gpu go with it. Default false.',
      }),
    ),
    versionPolicy: Type.Optional(VersionPolicy),
    versionLabels: Type.Optional(
      Type.Record(Type.String(), Version('The version this label points to.'), {
        description: 'Names for versions, e.g. {stable: 3, canary: 4}; callers address /labels/<name>.',
      }),
    ),
    batching: Type.Optional(Batching),
    pollSeconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 3600,
        description:
          'How often TF Serving re-reads its config and version folders, and the sidecar polls S3 (default 10).',
      }),
    ),
    extraArgs: Type.Optional(
      Type.Array(Type.String({ pattern: patterns.extraArg }), {
        description: 'Extra tensorflow_model_server flags (--name=value) for flags Catwalk does not manage.',
      }),
    ),
    signatures: Type.Optional(
      Type.Array(
        Type.String({
          pattern: '^[^\\s]+$',
          description: 'A signature name as the SavedModel defines it, e.g. explain (no spaces).',
        }),
        {
          uniqueItems: true,
          description:
            'Signatures callers depend on besides serving_default, e.g. [explain]: catwalk release refuses a version that removes or breaks one of them, as it does for serving_default.',
        },
      ),
    ),
  },
  { ...strict, description: 'How TF Serving serves the model.' },
);

const ResourceLimits = Type.Object(
  {
    cpu: Type.Optional(Quantity('CPU limit (Kubernetes quantity). Default: twice the request.')),
    memory: Type.Optional(Quantity('Memory limit (Kubernetes quantity). Default: the request.')),
  },
  { ...strict, description: 'Container limits, when the derived ones do not fit.' },
);

export const Resources = Type.Object(
  {
    cpu: Type.Optional(
      Quantity('CPU request per pod (Kubernetes quantity, e.g. "2" or "500m"). Default "1".'),
    ),
    memory: Type.Optional(Quantity('Memory request per pod (Kubernetes quantity, e.g. 4Gi). Default 2Gi.')),
    gpu: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 16, description: 'NVIDIA GPUs per pod (default 0).' }),
    ),
    modelSizeBytes: Type.Optional(
      Quantity(
        'Size of one model version in memory (Kubernetes quantity, e.g. 500Mi); checked against the memory limit.',
      ),
    ),
    limits: Type.Optional(ResourceLimits),
  },
  { ...strict, description: 'What one serving pod needs.' },
);

export const Traffic = Type.Object(
  {
    expectedPeakRps: Type.Number({
      exclusiveMinimum: 0,
      description: 'Requests per second at peak, for all pods together.',
    }),
    replicaRps: Type.Number({
      exclusiveMinimum: 0,
      description: 'Requests per second one pod sustains at full CPU (measure it with a load test).',
    }),
  },
  { ...strict, description: 'Expected load; replica counts are derived from it.' },
);

export const Scaling = Type.Object(
  {
    minReplicas: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, description: 'Fewest pods (at least 2).' }),
    ),
    maxReplicas: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, description: 'Most pods the autoscaler may run.' }),
    ),
    targetCPUUtilization: Type.Optional(
      Type.Integer({
        minimum: 10,
        maximum: 95,
        description: 'Average CPU percent the autoscaler aims for (default 70).',
      }),
    ),
    allowSingleReplica: Type.Optional(
      Type.Boolean({ description: 'Allow minReplicas: 1 (no redundancy; for development only).' }),
    ),
  },
  { ...strict, description: 'Overrides of the replica counts derived from traffic.' },
);

export const Endpoint = Type.Object(
  {
    host: Type.Optional(
      Type.String({
        pattern: patterns.host,
        maxLength: 253,
        description: 'Host name the load balancer answers for.',
      }),
    ),
    grpc: Type.Optional(
      Type.Boolean({ description: 'Also expose gRPC (port 8500) through the load balancer.' }),
    ),
    ingressClassName: Type.Optional(
      Type.String({
        pattern: patterns.modelName,
        maxLength: 63,
        description: 'Ingress class (default alb).',
      }),
    ),
    group: Type.Optional(
      Type.String({
        pattern: patterns.loadBalancerGroup,
        maxLength: 63,
        description:
          'Load balancer group (one ALB) the model joins (default catwalk-<environment>). Models of one group must agree on scheme and tls.',
      }),
    ),
    scheme: Type.Optional(
      Type.Union([Type.Literal('internal'), Type.Literal('internet-facing')], {
        description: 'internal (default) or internet-facing; the same for every model of the group.',
      }),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(
            Type.Boolean({
              description:
                'Serve HTTPS on 443 and redirect HTTP to it (default: true when host or certificateArns is set).',
            }),
          ),
          certificateArns: Type.Optional(
            Type.Array(Type.String({ pattern: patterns.certificateArn }), {
              maxItems: 25,
              uniqueItems: true,
              description:
                "ACM certificate ARNs for the model's host names; without them the load balancer controller discovers certificates by host name.",
            }),
          ),
          sslPolicy: Type.Optional(
            Type.String({
              pattern: '^ELBSecurityPolicy-[A-Za-z0-9-]+$',
              description:
                'TLS policy of the HTTPS listener (default ELBSecurityPolicy-TLS13-1-2-2021-06); the same for every model of the group.',
            }),
          ),
        },
        { ...strict, description: 'HTTPS on the load balancer.' },
      ),
    ),
  },
  { ...strict, description: 'How callers reach the model: /v1/models/<name> on this host.' },
);

export const ExperimentAnalysis = Type.Object(
  {
    maxErrorRateIncrease: Type.Optional(
      Type.Number({
        minimum: 0,
        exclusiveMaximum: 1,
        description:
          "How much the canary's error rate may exceed the stable's, as a share (default 0.005: half a percentage point).",
      }),
    ),
    maxP99LatencyRatio: Type.Optional(
      Type.Number({
        minimum: 1,
        description: "The canary's p99 latency may be at most this multiple of the stable's (default 1.5).",
      }),
    ),
    minRequests: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          'Requests each track needs since the experiment started before any verdict (default 500).',
      }),
    ),
  },
  {
    ...strict,
    description:
      'When the automated analysis aborts an experiment: thresholds tested with a sequential test on TF Serving metrics.',
  },
);

export const Experiment = Type.Object(
  {
    canaryVersion: Type.Optional(
      Version(
        'A fixed A/B test run by the chart: the version tested against versionLabels.stable (with canaryWeight). Leave it out to run tests with catwalk experiment.',
      ),
    ),
    canaryWeight: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 99,
        description: 'Percent of traffic sent to the fixed canary (1-99; with canaryVersion).',
      }),
    ),
    analysis: Type.Optional(ExperimentAnalysis),
  },
  { ...strict, description: 'An A/B test between the stable version and a canary version.' },
);

export const Slo = Type.Object(
  {
    availability: Type.Optional(
      Type.Number({
        minimum: 90,
        exclusiveMaximum: 100,
        description:
          'Percent of requests answered without a server error over 30 days, from 90 to below 100 (default 99.9); 100 would leave no error budget to alert on.',
      }),
    ),
    p99LatencyMs: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 600000,
        description:
          'Milliseconds 99% of requests take at most, as TF Serving measures them (default 500); a positive number up to 600000.',
      }),
    ),
  },
  {
    ...strict,
    description:
      'Service level objectives the generated alerts measure against (availability, p99LatencyMs).',
  },
);

export const Monitoring = Type.Object(
  {
    prometheus: Type.Optional(
      Type.Boolean({ description: "Expose TF Serving's Prometheus metrics (default true)." }),
    ),
    datadog: Type.Optional(
      Type.Boolean({ description: 'Add Datadog autodiscovery annotations (default false).' }),
    ),
    path: Type.Optional(
      Type.String({
        pattern: '^/[^\\s\\u0000-\\u001f\\u007f-\\u009f]*$',
        description: 'Metrics path (default /monitoring/prometheus/metrics).',
      }),
    ),
    slo: Type.Optional(Slo),
  },
  { ...strict, description: 'Metrics.' },
);

export const Access = Type.Object(
  {
    roleArn: Type.Optional(
      Type.String({
        pattern: patterns.roleArn,
        description: 'IAM role the pods assume (IRSA), e.g. arn:aws:iam::123456789012:role/catwalk-pricing.',
      }),
    ),
  },
  { ...strict, description: 'Cloud permissions of the serving pods.' },
);

export const ModelSpecBody = Type.Object(
  {
    source: Source,
    serving: Type.Optional(Serving),
    resources: Type.Optional(Resources),
    traffic: Type.Optional(Traffic),
    scaling: Type.Optional(Scaling),
    endpoint: Type.Optional(Endpoint),
    experiment: Type.Optional(Experiment),
    monitoring: Type.Optional(Monitoring),
    access: Type.Optional(Access),
  },
  { ...strict, description: 'What the model needs to be served.' },
);

export const ModelSpecSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'Path or URL of this JSON Schema, for editors.' })),
    apiVersion: Type.Literal(API_VERSION, { description: `Always ${API_VERSION}.` }),
    kind: Type.Literal(KIND, { description: `Always ${KIND}.` }),
    metadata: Metadata,
    spec: ModelSpecBody,
  },
  {
    ...strict,
    $id: SCHEMA_ID,
    title: 'Catwalk model spec',
    description: 'One TensorFlow SavedModel served by Catwalk: where it lives and how it is served.',
  },
);

export type ModelSpec = Static<typeof ModelSpecSchema>;
export type VersionPolicySpec = Static<typeof VersionPolicy>;
export type BatchingSpec = Static<typeof Batching>;
export type ExperimentAnalysisSpec = Static<typeof ExperimentAnalysis>;

/** The spec's JSON Schema as a plain object, with TypeBox's private symbols dropped. */
export function modelJsonSchema(): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(ModelSpecSchema as TSchema)) as Record<string, unknown>;
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...plain };
}
