// Log lines for the sync sidecar and the CLI's long-running commands: one
// JSON object per line (level, time, msg, then the fields) for log shippers,
// or the same content as text for a person at a terminal.
//
//   {"level":"info","time":"2026-11-29T14:02:03.004Z","component":"catwalk-sync","pod":"pricing-7d9c-x2x",
//    "model":"pricing","track":"stable","generation":4,"version":3,"msg":"version 3 downloaded and verified"}

import * as os from 'node:os';
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

export type LogFormat = 'json' | 'text';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'text'];

export interface LogDestination {
  write(line: string): unknown;
  /** Set on a terminal: the default format is text there, JSON elsewhere. */
  readonly isTTY?: boolean | undefined;
}

export interface LoggerOptions {
  /** @default process.stdout */
  readonly destination?: LogDestination;
  /** @default "text" on a terminal, else "json" */
  readonly format?: LogFormat;
  /** pino level: trace, debug, info, warn, error, fatal or silent. @default "info" */
  readonly level?: string;
  /** Fields on every line, e.g. { component: 'catwalk-sync' }. */
  readonly fields?: Readonly<Record<string, string | number>>;
}

/**
 * The pod this process runs in: POD_NAME when set (from the downward API's
 * metadata.name), else the host name, which Kubernetes sets to the pod's
 * name unless the pod spec overrides it.
 */
export function podName(env: NodeJS.ProcessEnv = process.env): string {
  return env.POD_NAME?.trim() || os.hostname();
}

/** The default format for a destination: text for a person at a terminal, JSON for everything else. */
export function defaultLogFormat(destination: LogDestination | undefined): LogFormat {
  return (destination ?? process.stdout).isTTY === true ? 'text' : 'json';
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stdout;
  const format = options.format ?? defaultLogFormat(destination);
  const stream: pino.DestinationStream =
    format === 'text' ? { write: (line: string) => destination.write(toText(line)) } : destination;
  return pino(
    {
      level: options.level ?? 'info',
      // No pid/hostname: the pod says where a line comes from.
      base: { ...options.fields },
      timestamp: pino.stdTimeFunctions.isoTime,
      // "info" rather than 30: what Filebeat, Datadog and people read without a lookup table.
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

/** One JSON line as `time LEVEL msg key=value ...`. */
export function toText(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line);
  } catch {
    return line;
  }
  const { time, level, msg, ...fields } = record;
  const pairs = Object.entries(fields)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => `${key}=${textValue(value)}`);
  const head = `${String(time ?? '')} ${String(level ?? '')
    .toUpperCase()
    .padEnd(5)} ${String(msg ?? '')}`;
  return `${pairs.length ? `${head}  ${pairs.join(' ')}` : head}\n`;
}

function textValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}
