// values.schema.json: Helm checks every install and upgrade against it, so a
// bad `--set` fails with a message naming the value. Field rules come from
// @catwalk/schema (the same patterns and ranges the spec is validated with);
// rules that span several values live in the chart's catwalk.validate helper.

import { ModelSpecSchema, patterns } from '@catwalk/schema';
import { type TSchema, Type } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;

// Kubernetes quantities without a sign: a negative CPU, memory or volume size is never meant.
const UNSIGNED_QUANTITY = patterns.quantity.replace('^[+-]?', '^');
const Quantity = (description: string) =>
  Type.Unsafe<string | number>({
    type: ['string', 'number'],
    pattern: UNSIGNED_QUANTITY,
    minimum: 0,
    description,
  });
/**
 * A switch that is on, off, or on where helm sees the API it needs. One enum,
 * so a bad value is told the three choices (a union reports only its last branch).
 */
const TriState = Type.Unsafe<boolean | 'auto'>({
  enum: [true, false, 'auto'],
  description: 'true, false or auto (on where the cluster serves the API).',
});
const StringMap = (description: string) => Type.Record(Type.String(), Type.String(), { description });
const AnyList = (description: string) =>
  Type.Array(Type.Record(Type.String(), Type.Unknown()), { description });
const Port = (description: string) => Type.Integer({ minimum: 1, maximum: 65535, description });
const Replicas = (description: string) => Type.Integer({ minimum: 1, maximum: 1000, description });
const Weight = (description: string) => Type.Integer({ minimum: 0, maximum: 100, description });
const Seconds = (minimum: number, maximum: number) => Type.Integer({ minimum, maximum });
const Version = Type.Integer({ minimum: 0, description: 'A model version number.' });
const Image = (tag: TSchema) =>
  Type.Object(
    {
      registry: Type.String({ pattern: '^([^\\s/@]+(/[^\\s:@]+)*)?$' }),
      repository: Type.String({ minLength: 1, pattern: '^[^\\s:@]+(/[^\\s:@]+)*$' }),
      tag,
      digest: Type.String({ pattern: '^(sha256:[a-f0-9]{64})?$' }),
      pullPolicy: Type.Union([Type.Literal('Always'), Type.Literal('IfNotPresent'), Type.Literal('Never')]),
    },
    strict,
  );
const Tag = Type.String({ pattern: '^[\\w][\\w.-]{0,127}$|^$' });
// `latest` moves under a running Deployment (the spec refuses it for the same reason).
const PinnedTag = Type.Unsafe<string>({
  ...Tag,
  not: { const: 'latest' },
  description: 'An image tag other than latest.',
});
const Resources = (extra: Record<string, TSchema> = {}) =>
  Type.Object(
    {
      requests: Type.Object(
        { cpu: Quantity('CPU request.'), memory: Quantity('Memory request.'), ...extra },
        strict,
      ),
      limits: Type.Object({ cpu: Quantity('CPU limit.'), memory: Quantity('Memory limit.') }, strict),
    },
    strict,
  );
// An OpenMetrics check entry: a metric name (or pattern), or {name: renamed}.
const DatadogMetric = Type.Union(
  [
    Type.String({ minLength: 1 }),
    Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), {
      minProperties: 1,
      maxProperties: 1,
    }),
  ],
  { description: 'A metric name, or a one-key mapping {name: renamed}.' },
);
const Probe = Type.Object(
  {
    periodSeconds: Seconds(1, 3600),
    failureThreshold: Type.Integer({ minimum: 1 }),
    timeoutSeconds: Seconds(1, 600),
  },
  strict,
);

export const ValuesSchema = Type.Object(
  {
    // Helm passes `global` to every chart used as a subchart of another.
    global: Type.Optional(
      Type.Object(
        { imageRegistry: Type.Optional(Type.String({ pattern: '^([^\\s/@]+(/[^\\s:@]+)*)?$' })) },
        { additionalProperties: true, description: 'Values shared with a parent chart.' },
      ),
    ),
    nameOverride: Type.String({ maxLength: 63 }),
    fullnameOverride: Type.String({ maxLength: 63 }),
    environment: Type.String({
      pattern: patterns.modelName,
      maxLength: 20,
      description: 'Environment name.',
    }),
    model: Type.Object(
      {
        name: ModelSpecSchema.properties.metadata.properties.name,
        team: ModelSpecSchema.properties.metadata.properties.team,
        description: Type.String(),
        labels: StringMap('Extra labels.'),
        specHash: Type.String({ pattern: '^[a-f0-9]{64}$' }),
      },
      strict,
    ),
    imagePullSecrets: Type.Array(Type.String({ minLength: 1 }), { uniqueItems: true }),
    tfServing: Type.Object(
      {
        image: Image(PinnedTag),
        command: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
        extraArgs: Type.Array(Type.String({ pattern: '^--[a-z_][a-z0-9_]*(=.*)?$' })),
        threads: Type.Object(
          {
            intraOp: Type.Integer({ minimum: 0, maximum: 1024 }),
            interOp: Type.Integer({ minimum: 0, maximum: 1024 }),
            restApi: Type.Integer({ minimum: 0, maximum: 4096 }),
          },
          strict,
        ),
        config: Type.Record(Type.String(), Type.String(), { description: 'Config files by name.' }),
        resources: Resources({ 'ephemeral-storage': Type.Optional(Quantity('Scratch space.')) }),
        gpu: Type.Integer({ minimum: 0, maximum: 16 }),
        probes: Type.Object({ startup: Probe, liveness: Probe }, strict),
      },
      strict,
    ),
    sync: Type.Object(
      {
        image: Image(Tag),
        source: Type.String({ pattern: '^s3://[a-z0-9][a-z0-9.-]+[a-z0-9](/.*)?$' }),
        region: Type.String({ pattern: patterns.awsRegion }),
        endpoint: Type.String({ pattern: '^(https?://[^\\s]+)?$' }),
        intervalSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
        port: Port('Sidecar port.'),
        mainTrack: Type.Union([Type.Literal('stable'), Type.Literal('all')]),
        volumeSizeLimit: Quantity('Size limit of /models.'),
        resources: Resources(),
        initResources: Resources(),
        readiness: Probe,
      },
      strict,
    ),
    credentials: Type.Object(
      {
        mode: Type.Union([Type.Literal('irsa'), Type.Literal('podIdentity'), Type.Literal('node')], {
          description: 'irsa, podIdentity or node.',
        }),
        roleArn: Type.String({ pattern: `${patterns.roleArn}|^$` }),
      },
      strict,
    ),
    autoscaling: Type.Object(
      {
        minReplicas: Replicas('Fewest pods.'),
        maxReplicas: Replicas('Most pods.'),
        targetCPUUtilizationPercentage: Type.Integer({ minimum: 0, maximum: 100 }),
        allowSingleReplica: Type.Boolean(),
        extraMetrics: AnyList('HPA metrics.'),
        behavior: Type.Record(Type.String(), Type.Unknown()),
      },
      strict,
    ),
    experiment: Type.Object(
      {
        enabled: Type.Boolean(),
        stableVersion: Version,
        canaryVersion: Version,
        weights: Type.Object(
          { stable: Weight('Percent to stable.'), canary: Weight('Percent to canary.') },
          strict,
        ),
        minReplicas: Type.Object(
          {
            stable: Type.Integer({
              minimum: 0,
              maximum: 1000,
              description: 'Fewest main pods while traffic moves; 0: from the weight alone.',
            }),
            canary: Type.Integer({
              minimum: 0,
              maximum: 1000,
              description: 'Fewest canary pods while traffic moves; 0: from the weight alone.',
            }),
          },
          strict,
        ),
      },
      strict,
    ),
    service: Type.Object(
      {
        httpPort: Port('REST port.'),
        grpcPort: Port('gRPC port.'),
        annotations: StringMap('Service annotations.'),
      },
      strict,
    ),
    loadBalancer: Type.Object(
      {
        group: Type.String({ pattern: `${patterns.loadBalancerGroup}|^$`, maxLength: 63 }),
        scheme: Type.Union([Type.Literal('internal'), Type.Literal('internet-facing')]),
        tls: Type.Object(
          {
            enabled: Type.Boolean(),
            sslPolicy: Type.String({ pattern: '^ELBSecurityPolicy-[A-Za-z0-9-]+$' }),
            redirectHttp: Type.Boolean(),
          },
          strict,
        ),
        attributes: Type.Record(
          Type.String({ pattern: '^[a-z0-9_.]+$' }),
          Type.Union([Type.String(), Type.Number(), Type.Boolean()]),
        ),
      },
      strict,
    ),
    ingress: Type.Object(
      {
        enabled: Type.Boolean(),
        className: Type.String({ minLength: 1 }),
        host: Type.String({ pattern: `${patterns.host}|^$` }),
        certificateArns: Type.Array(Type.String({ pattern: patterns.certificateArn }), { uniqueItems: true }),
        grpc: Type.Object(
          { enabled: Type.Boolean(), host: Type.String({ pattern: `${patterns.host}|^$` }) },
          strict,
        ),
        annotations: StringMap('Extra Ingress annotations.'),
      },
      strict,
    ),
    serviceAccount: Type.Object(
      {
        create: Type.Boolean(),
        name: Type.String({ pattern: '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$', maxLength: 253 }),
        annotations: StringMap('Service account annotations.'),
      },
      strict,
    ),
    podDisruptionBudget: Type.Object(
      {
        maxUnavailable: Type.Union([
          Type.Integer({ minimum: 1 }),
          Type.String({ pattern: '^([1-9][0-9]?|100)%$' }),
        ]),
      },
      strict,
    ),
    networkPolicy: Type.Object(
      { enabled: Type.Boolean(), egressPorts: Type.Array(Port('Port.'), { uniqueItems: true }) },
      strict,
    ),
    metrics: Type.Object(
      {
        path: Type.String({ pattern: '^/[^\\s]*$' }),
        serviceMonitor: Type.Object(
          {
            enabled: TriState,
            interval: Type.String({ pattern: '^[0-9]+(ms|s|m|h)$' }),
            labels: StringMap('ServiceMonitor labels.'),
          },
          strict,
        ),
        datadog: Type.Object(
          {
            enabled: Type.Boolean(),
            metrics: Type.Array(DatadogMetric, { minItems: 1 }),
            syncMetrics: Type.Array(DatadogMetric),
          },
          strict,
        ),
      },
      strict,
    ),
    monitoring: Type.Object(
      {
        prometheusRule: Type.Object(
          {
            enabled: TriState,
            labels: StringMap('PrometheusRule labels (the ruleSelector of the Prometheus Operator).'),
          },
          strict,
        ),
        grafanaDashboard: Type.Object(
          {
            enabled: Type.Boolean(),
            labels: StringMap('Extra ConfigMap labels.'),
            annotations: StringMap('ConfigMap annotations.'),
          },
          strict,
        ),
      },
      strict,
    ),
    gpu: Type.Object(
      {
        nodeSelector: StringMap('GPU node labels.'),
        tolerations: AnyList('GPU tolerations.'),
      },
      strict,
    ),
    rollout: Type.Object(
      {
        minReadySeconds: Seconds(0, 3600),
        maxSurge: Type.Union([
          Type.Integer({ minimum: 1 }),
          Type.String({ pattern: '^([1-9][0-9]?|100)%$' }),
        ]),
      },
      strict,
    ),
    termination: Type.Object(
      { drainSeconds: Seconds(0, 3600), gracePeriodSeconds: Seconds(1, 3600) },
      strict,
    ),
    podSecurity: Type.Object(
      {
        runAsUser: Type.Integer({ minimum: 1 }),
        runAsGroup: Type.Integer({ minimum: 1 }),
        fsGroup: Type.Integer({ minimum: 1 }),
      },
      strict,
    ),
    podLabels: StringMap('Extra pod labels.'),
    podAnnotations: StringMap('Extra pod annotations.'),
    priorityClassName: Type.String({ pattern: '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$', maxLength: 253 }),
    runtimeClassName: Type.String({ pattern: '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$', maxLength: 253 }),
    extraEnv: AnyList('Extra environment variables.'),
    extraVolumes: AnyList('Extra volumes.'),
    extraVolumeMounts: AnyList('Extra volume mounts.'),
    nodeSelector: StringMap('Node labels.'),
    tolerations: AnyList('Tolerations.'),
    affinity: Type.Record(Type.String(), Type.Unknown()),
  },
  { ...strict, title: 'Values of a Catwalk model chart' },
);

/** The schema as plain JSON (draft-07 keywords only, which is what Helm's validator reads). */
export function valuesJsonSchema(): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(ValuesSchema as TSchema)) as Record<string, unknown>;
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...plain };
}
