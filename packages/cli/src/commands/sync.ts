import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  type ConfigSource,
  createSyncLogger,
  initialFromConfig,
  runSidecar,
  SyncFailedError,
  type Track,
} from '@catwalk/registry';
import { exitCodes, type Io, UserError } from '../io';
import {
  parseVersion,
  resolveTarget,
  type S3Flags,
  withRegistryErrors,
  withSignals,
} from '../registry-target';

export interface SyncFlags extends S3Flags {
  source: string;
  dest: string;
  interval?: string;
  once?: boolean;
  track?: string;
  configTemplate?: string;
  configOut?: string;
  port?: string;
  logLevel?: string;
}

/** "10s", "500ms", "1m", or plain seconds. */
export function parseInterval(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match || Number(match[1]) <= 0) {
    throw new UserError(`--interval '${text}': write a duration such as 10s, 500ms or 1m`, exitCodes.usage);
  }
  const unit = match[2] ?? 's';
  return Number(match[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000);
}

const TRACKS: readonly Track[] = ['all', 'stable', 'canary'];

export async function syncCommand(flags: SyncFlags, io: Io): Promise<number> {
  const track = (flags.track ?? 'all') as Track;
  if (!TRACKS.includes(track)) {
    throw new UserError(`--track '${flags.track}': use all, stable or canary`, exitCodes.usage);
  }
  if (
    Boolean(flags.configTemplate) !== Boolean(flags.configOut) &&
    !(flags.configOut && flags.source.match(/\.(ya?ml|json)$/))
  ) {
    throw new UserError(
      '--config-template and --config-out go together (with a spec file as --source, --config-out alone is enough)',
      exitCodes.usage,
    );
  }
  const intervalMs = parseInterval(flags.interval ?? '10s');
  const port = flags.port !== undefined ? parseVersion(flags.port, '--port') : flags.once ? undefined : 9102;
  const target = await resolveTarget(flags.source, flags, io);
  let config: { out: string; source: ConfigSource } | undefined;
  if (flags.configTemplate) {
    const file = path.resolve(io.cwd, flags.configTemplate);
    const text = await fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new UserError(
        `cannot read --config-template '${flags.configTemplate}': ${error.code ?? error.message}`,
      );
    });
    config = {
      out: path.resolve(io.cwd, flags.configOut!),
      source: { kind: 'template', text, file: flags.configTemplate, modelName: target.location.name },
    };
  } else if (flags.configOut && target.model) {
    config = { out: path.resolve(io.cwd, flags.configOut), source: { kind: 'model', model: target.model } };
  }
  const initial = config
    ? await withRegistryErrors(async () => initialFromConfig(config!.source))
    : target.initial;
  const logger = createSyncLogger(io.stdout, flags.logLevel ?? 'info');
  try {
    await withSignals((signal) =>
      withRegistryErrors(() =>
        runSidecar({
          client: target.client,
          location: target.location,
          dest: path.resolve(io.cwd, flags.dest),
          track,
          initial,
          intervalMs,
          logger,
          signal,
          ...(config ? { config } : {}),
          ...(flags.once ? { once: true } : {}),
          ...(port !== undefined ? { port } : {}),
        }),
      ),
    );
  } catch (error) {
    if (error instanceof SyncFailedError) throw new UserError(error.message, exitCodes.invalid);
    throw error;
  }
  return exitCodes.ok;
}
