import { prune } from '@catwalk/registry';
import { describeBytes } from '@catwalk/schema';
import { exitCodes, type Io } from '../io';
import { parseVersion, resolveTarget, type S3Flags, withRegistryErrors } from '../registry-target';

export async function pruneCommand(
  model: string,
  flags: S3Flags & { keep: string; dryRun?: boolean; json?: boolean },
  io: Io,
): Promise<number> {
  const keep = parseVersion(flags.keep, '--keep');
  const target = await resolveTarget(model, flags, io);
  const result = await withRegistryErrors(
    () =>
      prune({
        client: target.client,
        location: target.location,
        ...(target.model ? { initial: target.initial } : {}),
        keep,
        ...(flags.dryRun ? { dryRun: true } : {}),
      }),
    target,
  );
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ ...result, dryRun: flags.dryRun === true }, null, 2)}\n`);
    return exitCodes.ok;
  }
  const verb = flags.dryRun ? 'would delete' : 'deleted';
  io.stdout.write(
    result.deleted.length
      ? `${verb} version${result.deleted.length > 1 ? 's' : ''} ${result.deleted.join(', ')} (${describeBytes(result.freedBytes)}); kept ${result.kept.join(', ') || 'none'}\n`
      : `nothing to prune: kept ${result.kept.join(', ') || 'none'} (served, labelled or among the newest ${keep})\n`,
  );
  return exitCodes.ok;
}
