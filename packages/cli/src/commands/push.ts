import * as path from 'node:path';
import { findExports, type PushProgress, type PushResult, push } from '@catwalk/registry';
import { describeBytes } from '@catwalk/schema';
import { SingleBar } from 'cli-progress';
import { exitCodes, type Io, UserError } from '../io';
import {
  isTty,
  parseVersion,
  resolveTarget,
  type S3Flags,
  withRegistryErrors,
  withSignals,
} from '../registry-target';

export interface PushFlags extends S3Flags {
  model: string;
  version?: string;
  json?: boolean;
  concurrency?: string;
}

/** A progress bar on a terminal; one line per phase and per 10% otherwise; nothing with --json. */
function progressReporter(io: Io, label: string, json: boolean) {
  if (json) return { update: () => undefined, stop: () => undefined };
  const started = Date.now();
  if (isTty(io.stderr)) {
    const bar = new SingleBar({
      stream: io.stderr as NodeJS.WriteStream,
      format: `${label} [{bar}] {percentage}% | {files} files | {done}/{size} | {rate}/s | ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
    });
    let begun = false;
    return {
      update: (p: PushProgress) => {
        if (p.phase !== 'uploading') return;
        const rate = p.bytesDone / Math.max(0.001, (Date.now() - started) / 1000);
        const payload = {
          files: `${p.filesDone}/${p.filesTotal}`,
          done: describeBytes(p.bytesDone),
          size: describeBytes(p.bytesTotal),
          rate: describeBytes(Math.round(rate)),
        };
        if (!begun) bar.start(Math.max(1, p.bytesTotal), p.bytesDone, payload);
        else bar.update(p.bytesDone, payload);
        begun = true;
      },
      stop: () => bar.stop(),
    };
  }
  let lastTenth = -1;
  let lastPhase = '';
  return {
    update: (p: PushProgress) => {
      if (p.phase !== lastPhase) {
        lastPhase = p.phase;
        if (p.phase === 'uploading')
          io.stderr.write(
            `${label}: uploading ${p.filesTotal} files (${describeBytes(p.bytesTotal)}) as version ${p.version}\n`,
          );
      }
      const tenth = Math.floor((10 * p.bytesDone) / Math.max(1, p.bytesTotal));
      if (p.phase === 'uploading' && tenth > lastTenth) {
        lastTenth = tenth;
        const seconds = (Date.now() - started) / 1000;
        io.stderr.write(
          `${label}: ${p.filesDone}/${p.filesTotal} files, ${describeBytes(p.bytesDone)} of ${describeBytes(p.bytesTotal)}` +
            ` (${describeBytes(Math.round(p.bytesDone / Math.max(0.001, seconds)))}/s)\n`,
        );
      }
    },
    stop: () => undefined,
  };
}

function summary(result: PushResult, seconds: number): string {
  const resumed = result.resumed
    ? `, resumed an interrupted push (${result.skippedFiles} file${result.skippedFiles === 1 ? '' : 's'} already there)`
    : '';
  return `pushed ${result.uri}/ : ${result.files} files, ${describeBytes(result.bytes)} in ${seconds.toFixed(1)} s${resumed}\n`;
}

export async function pushCommand(exportDir: string, flags: PushFlags, io: Io): Promise<number> {
  const target = await resolveTarget(flags.model, flags, io);
  const dir = path.resolve(io.cwd, exportDir);
  const exports = await withRegistryErrors(() => findExports(dir));
  const version = flags.version !== undefined ? parseVersion(flags.version, '--version') : undefined;
  if (version !== undefined && exports.length > 1) {
    throw new UserError(
      `${exportDir} holds ${exports.length} version folders; --version applies to one export only. Push them without --version.`,
      exitCodes.usage,
    );
  }
  const concurrency =
    flags.concurrency !== undefined ? parseVersion(flags.concurrency, '--concurrency') : undefined;
  const results: PushResult[] = [];
  await withSignals((signal) =>
    withRegistryErrors(async () => {
      for (const found of exports) {
        const label = path.relative(io.cwd, found.dir) || '.';
        const progress = progressReporter(io, label, flags.json === true);
        const started = Date.now();
        try {
          const result = await push({
            client: target.client,
            location: target.location,
            dir: found.dir,
            signal,
            onProgress: progress.update,
            ...(version !== undefined ? { version } : {}),
            ...(concurrency ? { concurrency } : {}),
            tool: 'catwalk push',
          });
          results.push(result);
          progress.stop();
          if (!flags.json) io.stdout.write(summary(result, (Date.now() - started) / 1000));
        } catch (error) {
          progress.stop();
          if (signal.aborted) {
            throw new UserError(
              'push interrupted: no version was completed; run the same command again to resume',
            );
          }
          throw error;
        }
      }
    }),
  );
  if (flags.json) {
    io.stdout.write(
      `${JSON.stringify(
        results.map((r) => ({
          version: r.version,
          uri: r.uri,
          files: r.files,
          bytes: r.bytes,
          uploadedBytes: r.uploadedBytes,
          skippedFiles: r.skippedFiles,
          resumed: r.resumed,
        })),
        null,
        2,
      )}\n`,
    );
  }
  return exitCodes.ok;
}
