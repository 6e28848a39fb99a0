import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  findExports,
  formatUri,
  IdenticalExportError,
  type PushProgress,
  type PushResult,
  push,
  type WarmupRequests,
} from '@catwalk/registry';
import { WARMUP_FILE } from '@catwalk/savedmodel';
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
  force?: boolean;
  json?: boolean;
  concurrency?: string;
  /** A JSON file of requests TF Serving replays when it loads the version. */
  warmup?: string;
  /** The signature the warm-up requests call (default serving_default). */
  warmupSignature?: string;
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
  let lastFiles = -1;
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
      // Every tenth of the bytes, and once more when the last file is done, so the display ends at the full count.
      const last = p.phase === 'done' && lastFiles !== p.filesTotal;
      if ((p.phase === 'uploading' && tenth > lastTenth) || last) {
        lastTenth = tenth;
        lastFiles = p.filesDone;
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
  const dir = path.resolve(io.cwd, exportDir);
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    // The same exit code as a missing spec file: a path on the command line that is not there.
    throw new UserError(`export folder ${exportDir} does not exist or is not a folder`, exitCodes.usage);
  }
  const target = await resolveTarget(flags.model, flags, io);
  const exports = await withRegistryErrors(() => findExports(dir));
  const version = flags.version !== undefined ? parseVersion(flags.version, '--version') : undefined;
  if (version !== undefined && exports.length > 1) {
    throw new UserError(
      `${exportDir} holds ${exports.length} version folders; --version applies to one export only. Push them without --version.`,
      exitCodes.usage,
    );
  }
  const concurrency = flags.concurrency !== undefined ? parseConcurrency(flags.concurrency) : undefined;
  const warmup = flags.warmup !== undefined ? await readWarmup(flags.warmup, flags, io) : undefined;
  if (warmup === undefined && flags.warmupSignature !== undefined) {
    throw new UserError(
      '--warmup-signature names the signature of --warmup requests; give --warmup too',
      exitCodes.usage,
    );
  }
  const results: PushResult[] = [];
  const identical: Array<{ dir: string; version: number; uri: string }> = [];
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
            onWarning: (message) => io.stderr.write(`${label}: warning: ${message}\n`),
            refuseIdentical: flags.force !== true,
            ...(version !== undefined
              ? { version }
              : found.version !== undefined
                ? { preferredVersion: found.version }
                : {}),
            ...(concurrency ? { concurrency } : {}),
            ...(warmup ? { warmup } : {}),
            tool: 'catwalk push',
          });
          results.push(result);
          progress.stop();
          if (found.version !== undefined && result.preferredVersionTaken && !flags.json) {
            io.stderr.write(
              `${label}: ${path.basename(found.dir)} names version ${found.version}, which is taken ` +
                `(${result.preferredVersionTaken}); pushed it as version ${result.version}\n`,
            );
          }
          if (!flags.json) io.stdout.write(summary(result, (Date.now() - started) / 1000));
          if (!flags.json && warmup) {
            io.stdout.write(
              `  with ${(warmup.requests as unknown[]).length} warm-up request${(warmup.requests as unknown[]).length === 1 ? '' : 's'} in ${WARMUP_FILE}\n`,
            );
          }
        } catch (error) {
          progress.stop();
          if (error instanceof IdenticalExportError) {
            identical.push({
              dir: found.dir,
              version: error.version,
              uri: formatUri(target.location, error.version),
            });
            if (!flags.json) io.stdout.write(`${label}: ${error.message}\n`);
            continue;
          }
          if (signal.aborted) {
            throw new UserError(
              'push interrupted: no version was completed; run the same command again to resume',
            );
          }
          throw error;
        }
      }
    }, target),
  );
  if (flags.json) {
    const pushed = results.map((r) => ({
      version: r.version,
      uri: r.uri,
      files: r.files,
      bytes: r.bytes,
      uploadedBytes: r.uploadedBytes,
      skippedFiles: r.skippedFiles,
      resumed: r.resumed,
      ...(r.resumedFrom !== undefined ? { resumedFrom: r.resumedFrom } : {}),
      signatures: r.manifest.signatures
        ? {
            fingerprint: r.manifest.signatures.fingerprint,
            names: Object.keys(r.manifest.signatures.signatures),
          }
        : null,
      ...(warmup ? { warmupRequests: (warmup.requests as unknown[]).length } : {}),
    }));
    const skipped = identical.map((i) => ({ identicalTo: i.version, uri: i.uri, pushed: false }));
    io.stdout.write(`${JSON.stringify([...pushed, ...skipped], null, 2)}\n`);
  }
  return exitCodes.ok;
}

/** --warmup: a JSON list of requests, each the inputs by name as `catwalk predict --input` takes them. */
async function readWarmup(file: string, flags: PushFlags, io: Io): Promise<WarmupRequests> {
  const text = await fs.promises
    .readFile(path.resolve(io.cwd, file), 'utf8')
    .catch((error: NodeJS.ErrnoException) => {
      throw new UserError(
        `--warmup ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`,
        exitCodes.usage,
      );
    });
  let requests: unknown;
  try {
    requests = JSON.parse(text);
  } catch (error) {
    throw new UserError(`--warmup ${file} is not JSON (${(error as Error).message})`);
  }
  return {
    requests,
    source: file,
    ...(flags.warmupSignature !== undefined ? { signatureName: flags.warmupSignature } : {}),
  };
}

/** Files uploaded at once: 0 used to fall back to the default silently, and any size was taken. */
function parseConcurrency(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= 64)) {
    throw new UserError(
      `--concurrency '${text}': give a whole number of files from 1 to 64`,
      exitCodes.usage,
    );
  }
  return n;
}
