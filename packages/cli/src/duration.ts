// One reading of every duration flag: 500ms, 90s, 10m, 1h, or plain seconds.

import { exitCodes, UserError } from './io';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** A duration flag's value in milliseconds; refuses anything else, and 0, naming the flag. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const ms = match ? Number(match[1]) * UNIT_MS[(match[2] ?? 's') as keyof typeof UNIT_MS] : Number.NaN;
  if (!(ms > 0)) {
    throw new UserError(
      `${flag} '${text}': give seconds or a duration such as 500ms, 90s, 10m or 1h (more than 0)`,
      exitCodes.usage,
    );
  }
  return ms;
}

/** The same, in whole seconds (rounded up), for what counts in seconds. */
export const parseDurationSeconds = (text: string, flag: string): number =>
  Math.ceil(parseDuration(text, flag) / 1000);
