import { describeState, type ReleaseResult, release, rollback } from '@catwalk/registry';
import { exitCodes, type Io, UserError } from '../io';
import {
  parseVersion,
  parseVersionList,
  resolveTarget,
  type S3Flags,
  withRegistryErrors,
} from '../registry-target';

export interface ReleaseFlags extends S3Flags {
  serve?: string;
  label?: string[];
  ifGeneration?: string;
  /** --no-verify sets it false. */
  verify?: boolean;
  json?: boolean;
}

/** "stable=3" -> ['stable', 3]; "canary=" -> ['canary', null] (remove). */
function parseLabel(text: string): [string, number | null] {
  const match = /^([^=/:\s]+)=(\d*)$/.exec(text);
  if (!match) {
    throw new UserError(
      `--label '${text}': write label=version (e.g. stable=3), or label= to remove it`,
      exitCodes.usage,
    );
  }
  return [match[1]!, match[2] === '' ? null : Number(match[2])];
}

export function printRelease(result: ReleaseResult, what: string, json: boolean | undefined, io: Io): void {
  if (json) {
    io.stdout.write(`${JSON.stringify(result.release, null, 2)}\n`);
    return;
  }
  io.stdout.write(
    `${what}: generation ${result.release.generation}: ${describeState(result.release)}\n` +
      `  was: ${describeState(result.previous)}\n`,
  );
}

export async function releaseCommand(model: string, flags: ReleaseFlags, io: Io): Promise<number> {
  const serve = flags.serve !== undefined ? parseVersionList(flags.serve, '--serve') : undefined;
  const labels = Object.fromEntries((flags.label ?? []).map(parseLabel));
  const target = await resolveTarget(model, flags, io);
  const result = await withRegistryErrors(
    () =>
      release({
        client: target.client,
        location: target.location,
        ...(target.model ? { initial: target.initial } : {}),
        request: { ...(serve ? { serve } : {}), labels },
        ...(flags.ifGeneration !== undefined
          ? { expectGeneration: parseVersion(flags.ifGeneration, '--if-generation') }
          : {}),
        ...(flags.verify === false ? { verify: false } : {}),
      }),
    target,
  );
  printRelease(result, `released ${target.location.name}`, flags.json, io);
  return exitCodes.ok;
}

export async function rollbackCommand(
  model: string,
  flags: S3Flags & { to?: string; ifGeneration?: string; verify?: boolean; json?: boolean },
  io: Io,
): Promise<number> {
  const to = flags.to !== undefined ? parseVersion(flags.to, '--to') : undefined;
  const target = await resolveTarget(model, flags, io);
  const result = await withRegistryErrors(
    () =>
      rollback({
        client: target.client,
        location: target.location,
        ...(target.model ? { initial: target.initial } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(flags.ifGeneration !== undefined
          ? { expectGeneration: parseVersion(flags.ifGeneration, '--if-generation') }
          : {}),
        ...(flags.verify === false ? { verify: false } : {}),
      }),
    target,
  );
  printRelease(
    result,
    `rolled ${target.location.name} back from ${result.from} to ${result.to}`,
    flags.json,
    io,
  );
  return exitCodes.ok;
}
