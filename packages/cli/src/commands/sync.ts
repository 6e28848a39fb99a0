import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  type ConfigSource,
  createSyncLogger,
  initialFromConfig,
  LOG_FORMATS,
  type LogFormat,
  runSidecar,
  SyncFailedError,
  type Track,
} from '@catwalk/registry';
import { parseDuration } from '../duration';
import { exitCodes, type Io, UserError } from '../io';
import {
  resolveTarget,
  type S3Flags,
  toUserError,
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
  servingUrl?: string;
  servingPollSeconds?: string;
  pollDeadline?: string;
  staleAfter?: string;
  logLevel?: string;
  logFormat?: string;
}

/** --log-format: json or text; undefined leaves the choice to the terminal test (text on a TTY). */
export function parseLogFormat(text: string | undefined): LogFormat | undefined {
  if (text === undefined) return undefined;
  if (!(LOG_FORMATS as readonly string[]).includes(text)) {
    throw new UserError(`--log-format '${text}': use json or text`, exitCodes.usage);
  }
  return text as LogFormat;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new UserError(
      `--port '${text}': give a port number from 0 to 65535 (0 picks a free one)`,
      exitCodes.usage,
    );
  }
  return port;
}

function parseHttpUrl(text: string, flag: string, example: string): string {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UserError(`${flag} '${text}' is not a URL: write it as ${example}`, exitCodes.usage);
  }
  return text;
}

function parseSeconds(text: string, flag: string): number {
  if (!/^\d+(\.\d+)?$/.test(text.trim())) {
    throw new UserError(`${flag} '${text}': give a number of seconds, e.g. ${flag} 10`, exitCodes.usage);
  }
  return Number(text) * 1000;
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
  const logFormat = parseLogFormat(flags.logFormat);
  if (flags.logLevel !== undefined && !LOG_LEVELS.includes(flags.logLevel)) {
    throw new UserError(`--log-level '${flags.logLevel}': use ${LOG_LEVELS.join(', ')}`, exitCodes.usage);
  }
  const intervalMs = parseDuration(flags.interval ?? '10s', '--interval');
  const port = flags.port !== undefined ? parsePort(flags.port) : flags.once ? undefined : 9102;
  const pollDeadlineMs = parseDuration(flags.pollDeadline ?? '10m', '--poll-deadline');
  // Unset, the sidecar picks the longer of 5 minutes and three polls: a fixed 5m default here would call a slow poller stale.
  const staleAfterMs =
    flags.staleAfter === undefined ? undefined : parseDuration(flags.staleAfter, '--stale-after');
  const servingUrl =
    flags.servingUrl === undefined
      ? undefined
      : parseHttpUrl(flags.servingUrl, '--serving-url', 'http://127.0.0.1:8501/v1/models/<model>');
  const servingPollFlag =
    flags.servingPollSeconds === undefined
      ? undefined
      : parseSeconds(flags.servingPollSeconds, '--serving-poll-seconds');
  const target = await resolveTarget(flags.source, flags, io);
  // An init container (--once) fills an empty folder nobody serves from yet: nothing to wait for.
  const servingPollMs = flags.once
    ? undefined
    : // The chart polls S3 as often as TF Serving polls its config (both from the spec's pollSeconds).
      (servingPollFlag ?? (target.model ? target.model.serving.pollSeconds * 1000 : intervalMs));
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
  const logger = createSyncLogger(io.stdout, flags.logLevel ?? 'info', logFormat);
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
          pollDeadlineMs,
          staleAfterMs,
          logger,
          signal,
          describeFailure: (error) => {
            const explained = toUserError(error, {
              location: target.location,
              ...(target.endpoint ? { endpoint: target.endpoint } : {}),
            });
            return explained instanceof UserError ? explained.message : undefined;
          },
          ...(servingUrl ? { servingUrl } : {}),
          ...(servingPollMs !== undefined ? { servingPollMs } : {}),
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
