// values.schema.json: Helm checks every install and upgrade against it, so a
// bad `--set` fails with a message naming the value. Field rules come from
// @catwalk/schema (the same patterns and ranges the spec is validated with);
// rules that span several values live in the chart's catwalk.validate helper.

import { ModelSpecSchema, patterns } from '@catwalk/schema';
import { type TSchema, Type } from '@sinclair/typebox';

const spec = ModelSpecSchema.properties.spec.properties;
const strict = { additionalProperties: false } as const;

const Quantity = (description: string) =>
  Type.Unsafe<string | number>({ type: ['string', 'number'], pattern: patterns.quantity, description });
const StringMap = (description: string) => Type.Record(Type.String(), Type.String(), { description });
const Port = (description: string) => Type.Integer({ minimum: 1, maximum: 65535, description });
const Replicas = (description: string) => Type.Integer({ minimum: 1, maximum: 1000, description });
const Weight = (description: string) => Type.Integer({ minimum: 0, maximum: 100, description });
const Version = Type.Integer({ minimum: 0, description: 'A model version number.' });
const Image = Type.Object(
  {
    repository: Type.String({ minLength: 1, pattern: '^[^\\s:@]+(:[0-9]+)?(/[^\\s:@]+)*$' }),
    tag: Type.String({ pattern: '^[\\w][\\w.-]{0,127}$|^$' }),
    digest: Type.String({ pattern: '^(sha256:[a-f0-9]{64})?$' }),
    pullPolicy: Type.Union([Type.Literal('Always'), Type.Literal('IfNotPresent'), Type.Literal('Never')]),
  },
  strict,
);
const Resources = Type.Object(
  {
    requests: Type.Object({ cpu: Quantity('CPU request.'), memory: Quantity('Memory request.') }, strict),
    limits: Type.Object({ cpu: Quantity('CPU limit.'), memory: Quantity('Memory limit.') }, strict),
  },
  strict,
);
const Probe = Type.Object(
  { periodSeconds: Type.Integer({ minimum: 1 }), failureThreshold: Type.Integer({ minimum: 1 }) },
  strict,
);

export const ValuesSchema = Type.Object(
  {
    // Helm passes `global` to every chart used as a subchart of another.
    global: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'Values shared with a parent chart.' }),
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
    tfServing: Type.Object(
      {
        image: Image,
        command: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
        args: Type.Array(Type.String({ pattern: '^--' }), { minItems: 1 }),
        config: Type.Record(Type.String(), Type.String(), { description: 'Config files by name.' }),
        resources: Resources,
        gpu: Type.Integer({ minimum: 0, maximum: 16 }),
        probes: Type.Object({ startup: Probe, readiness: Probe, liveness: Probe }, strict),
      },
      strict,
    ),
    sync: Type.Object(
      {
        image: Image,
        source: Type.String({ pattern: '^s3://[a-z0-9][a-z0-9.-]+[a-z0-9](/.*)?$' }),
        region: Type.String({ pattern: patterns.awsRegion }),
        endpoint: Type.String({ pattern: '^(https?://[^\\s]+)?$' }),
        intervalSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
        port: Port('Sidecar port.'),
        volumeSizeLimit: Quantity('Size limit of /models.'),
        resources: Resources,
      },
      strict,
    ),
    autoscaling: Type.Object(
      {
        minReplicas: Replicas('Fewest pods.'),
        maxReplicas: Replicas('Most pods.'),
        targetCPUUtilizationPercentage: spec.scaling.properties.targetCPUUtilization,
        allowSingleReplica: Type.Boolean(),
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
        canaryReplicas: Type.Object(
          { minReplicas: Replicas('Fewest canary pods.'), maxReplicas: Replicas('Most canary pods.') },
          strict,
        ),
      },
      strict,
    ),
    service: Type.Object({ httpPort: Port('REST port.'), grpcPort: Port('gRPC port.') }, strict),
    ingress: Type.Object(
      {
        enabled: Type.Boolean(),
        className: Type.String({ minLength: 1 }),
        scheme: Type.Union([Type.Literal('internal'), Type.Literal('internet-facing')]),
        host: Type.String({ pattern: `${patterns.host}|^$` }),
        groupName: Type.String({ pattern: '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$', maxLength: 63 }),
        groupOrder: Type.Integer({ minimum: -1000, maximum: 1000 }),
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
    podDisruptionBudget: Type.Object({ maxUnavailable: Type.Integer({ minimum: 1 }) }, strict),
    networkPolicy: Type.Object(
      { enabled: Type.Boolean(), egressPorts: Type.Array(Port('Port.'), { uniqueItems: true }) },
      strict,
    ),
    metrics: Type.Object(
      {
        path: Type.String({ pattern: '^/[^\\s]*$' }),
        versionTag: Type.String(),
        serviceMonitor: Type.Object(
          { enabled: Type.Boolean(), interval: Type.String({ pattern: '^[0-9]+(ms|s|m|h)$' }) },
          strict,
        ),
        datadog: Type.Object({ enabled: Type.Boolean() }, strict),
      },
      strict,
    ),
    gpu: Type.Object(
      {
        nodeSelector: StringMap('GPU node labels.'),
        tolerations: Type.Array(Type.Record(Type.String(), Type.Unknown())),
      },
      strict,
    ),
    termination: Type.Object(
      {
        gracePeriodSeconds: Type.Integer({ minimum: 0, maximum: 3600 }),
        preStopSleepSeconds: Type.Integer({ minimum: 0, maximum: 3600 }),
      },
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
    podAnnotations: StringMap('Extra pod annotations.'),
    nodeSelector: StringMap('Node labels.'),
    tolerations: Type.Array(Type.Record(Type.String(), Type.Unknown())),
    affinity: Type.Record(Type.String(), Type.Unknown()),
  },
  { ...strict, title: 'Values of a Catwalk model chart' },
);

/** The schema as plain JSON (draft-07 keywords only, which is what Helm's validator reads). */
export function valuesJsonSchema(): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(ValuesSchema as TSchema)) as Record<string, unknown>;
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...plain };
}
