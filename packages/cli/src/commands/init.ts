import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { defaults, formatDiagnostic, validateSpecText } from '@catwalk/schema';
import { describeFsError, displayPath } from '../files';
import { exitCodes, type Io, UserError } from '../io';

export interface InitOptions {
  readonly team?: string;
  readonly source?: string;
  readonly dir?: string;
  readonly force?: boolean;
  /** Expected peak requests per second, and what one pod sustains: both or neither. */
  readonly peakRps?: string;
  readonly replicaRps?: string;
}

export interface InitialTraffic {
  readonly expectedPeakRps: number;
  readonly replicaRps: number;
}

/** A starting spec: every section present, optional ones commented out with their defaults. */
export function initialSpec(name: string, team: string, source: string, traffic?: InitialTraffic): string {
  const trafficLine = traffic
    ? `  traffic: { expectedPeakRps: ${traffic.expectedPeakRps}, replicaRps: ${traffic.replicaRps} }`
    : '  # traffic: { expectedPeakRps: 100, replicaRps: 50 }';
  return `# Catwalk model spec. Check it with: catwalk validate ${name}.yaml
# Editor completion: catwalk schema --out model.schema.json, then keep the next line.
# yaml-language-server: $schema=model.schema.json
apiVersion: catwalk/v1
kind: Model
metadata:
  name: ${name}
  team: ${team}
  description: ""
  # labels: { tier: critical }
spec:
  source:
    # The model's folder; each version is a numeric subfolder holding a SavedModel.
    uri: ${source}
    region: ${defaults.region}
    # endpoint: https://s3.example.internal   # S3-compatible server, if not AWS
  serving:
    image: ${defaults.image}
    versionPolicy: { latest: 1 }              # or { specific: [3, 4] } or { all: true }
    # versionLabels: { stable: 3, canary: 4 } # needs versionPolicy.specific listing them
    # batching: { maxBatchSize: 32, batchTimeoutMicros: 2000, numBatchThreads: 2, maxEnqueuedBatches: 100 }
    pollSeconds: ${defaults.pollSeconds}
  resources:
    cpu: "${defaults.cpu}"
    memory: ${defaults.memory}
    # modelSizeBytes: 500Mi   # memory must hold two versions while a new one loads
  # Replica counts are derived from traffic: maxReplicas carries expectedPeakRps at
  # ${defaults.targetCPUUtilization}% CPU, minReplicas keeps a quarter of that warm (at least ${defaults.minReplicas}).
  # Without traffic: ${defaults.minReplicas} to ${defaults.maxReplicasWithoutTraffic} replicas. Measure replicaRps (what one pod sustains) with a load test.
${trafficLine}
  # Explicit counts win over the derived ones; catwalk explain shows what is in use.
  # scaling: { minReplicas: ${defaults.minReplicas}, maxReplicas: ${defaults.maxReplicasWithoutTraffic} }
  endpoint:
    # host: models.example.com
    grpc: false
  # experiment: { canaryVersion: 4, canaryWeight: 10 }  # A/B test against versionLabels.stable
  monitoring: { prometheus: true, datadog: false }
  # access: { roleArn: "arn:aws:iam::123456789012:role/catwalk-${name}" }
`;
}

export async function initCommand(name: string, options: InitOptions, io: Io): Promise<number> {
  const team = options.team ?? 'my-team';
  const source = options.source ?? `s3://catwalk-models/${team}/${name}`;
  const file = path.resolve(io.cwd, options.dir ?? '.', `${name}.yaml`);
  const shown = displayPath(file, io.cwd);
  const text = initialSpec(name, team, source, trafficFrom(options));
  // Never write a spec that would not validate: report the offending argument instead.
  const check = validateSpecText({ file: shown, text });
  const errors = check.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) {
    const hint = errors.map((d) => formatDiagnostic(d).replace(/^[^ ]+: error: /, '  ')).join('\n');
    throw new UserError(`cannot create a spec from these arguments:\n${hint}`, exitCodes.usage);
  }
  await fs.mkdir(path.dirname(file), { recursive: true });
  try {
    await fs.writeFile(file, text, { flag: options.force ? 'w' : 'wx' });
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    if (err.code === 'EEXIST') {
      throw new UserError(
        `${shown} already exists; not overwriting it (use --force to replace it)`,
        exitCodes.invalid,
      );
    }
    throw new UserError(`cannot write ${shown}: ${describeFsError(err)}`, exitCodes.invalid);
  }
  io.stdout.write(`created ${shown}\nnext: edit it, then run: catwalk validate ${shown}\n`);
  return exitCodes.ok;
}

function positiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(value > 0)) {
    throw new UserError(
      `${flag} '${text}' is not a positive number of requests per second (see catwalk init --help)`,
      exitCodes.usage,
    );
  }
  return value;
}

/** Traffic from --peak-rps and --replica-rps; replica counts are then derived from it. */
function trafficFrom(options: InitOptions): InitialTraffic | undefined {
  const { peakRps, replicaRps } = options;
  if (peakRps === undefined && replicaRps === undefined) return undefined;
  if (peakRps === undefined || replicaRps === undefined) {
    throw new UserError(
      `${peakRps === undefined ? '--replica-rps needs --peak-rps' : '--peak-rps needs --replica-rps'} too: the replica counts follow from both (see catwalk init --help)`,
      exitCodes.usage,
    );
  }
  return {
    expectedPeakRps: positiveNumber('--peak-rps', peakRps),
    replicaRps: positiveNumber('--replica-rps', replicaRps),
  };
}
