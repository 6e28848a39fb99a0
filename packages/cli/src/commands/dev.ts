// `catwalk dev s3`: the embedded S3 (s3rver with conditional writes, from
// @catwalk/registry) on loopback for trying the registry commands locally. It
// runs in this process until Ctrl-C or SIGTERM and says exactly what to export
// in another shell.
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { displayPath } from '../files';
import { exitCodes, type Io, UserError } from '../io';

export interface DevS3Options {
  readonly dir: string;
  readonly port: string;
  readonly bucket: readonly string[];
  /** Where the export lines are written for `source`; removed on stop. */
  readonly envFile: string;
  /** The port was not asked for: when it is taken, any free one will do. */
  readonly portIsDefault?: boolean;
}

/** The bucket `catwalk init` puts new models in unless told otherwise. */
export const defaultDevBucket = 'catwalk-models';

/** s3rver accepts any key pair; these are the ones it documents, so copies of the lines just work. */
const credentials = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

interface EmbeddedS3 {
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}
type StartEmbeddedS3 = (options: { dir: string; port: number; buckets: string[] }) => Promise<EmbeddedS3>;

/** The lines a user pastes into another shell (or evaluates) to point Catwalk and the AWS SDKs at `endpoint`. */
export function devS3Environment(endpoint: string): string[] {
  return [
    `export AWS_ENDPOINT_URL_S3=${endpoint}`,
    `export AWS_ACCESS_KEY_ID=${credentials.AWS_ACCESS_KEY_ID}`,
    `export AWS_SECRET_ACCESS_KEY=${credentials.AWS_SECRET_ACCESS_KEY}`,
    'export AWS_REGION=us-east-1',
  ];
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new UserError(
      `--port '${text}' is not a port number: give 1-65535, or 0 for any free port (see catwalk dev s3 --help)`,
      exitCodes.usage,
    );
  }
  return port;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Starts the server and resolves with the exit code once `waitForStop()`
 * settles (by default on SIGINT or SIGTERM).
 */
export async function devS3Command(
  options: DevS3Options,
  io: Io,
  waitForStop: () => Promise<unknown> = signalled,
): Promise<number> {
  const port = parsePort(options.port);
  const buckets = options.bucket.length > 0 ? [...options.bucket] : [defaultDevBucket];
  for (const bucket of buckets) {
    if (!BUCKET_NAME.test(bucket)) {
      throw new UserError(
        `--bucket '${bucket}' is not an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-'`,
        exitCodes.usage,
      );
    }
  }
  const dir = path.resolve(io.cwd, options.dir);
  await fs.mkdir(dir, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    throw new UserError(`cannot create --dir '${options.dir}': ${error.message}`, exitCodes.invalid);
  });

  // Loaded here, not at the top: only this command needs s3rver and its dependencies.
  const { startEmbeddedS3 } = require('@catwalk/registry/tools/embedded-s3.cjs') as {
    startEmbeddedS3: StartEmbeddedS3;
  };
  // Look first: a taken default port falls back to a free one instead of failing.
  let listenOn = port;
  let note = '';
  if (port !== 0 && !(await portAvailable(port))) {
    if (!options.portIsDefault) {
      throw new UserError(
        `port ${port} on 127.0.0.1 is in use (another dev s3?); stop that one or pick another with --port`,
        exitCodes.invalid,
      );
    }
    listenOn = 0;
  }
  let s3: EmbeddedS3;
  try {
    s3 = await startEmbeddedS3({ dir, port: listenOn, buckets });
  } catch (error) {
    throw new UserError(`the local S3 did not start: ${(error as Error).message}`, exitCodes.invalid);
  }
  if (listenOn !== port) {
    note = `port ${port} is in use, so this one listens on port ${s3.port}: use the lines below\n`;
  }

  const shown = displayPath(dir, io.cwd) || '.';
  const envFile = path.resolve(io.cwd, options.envFile);
  const shownEnvFile = displayPath(envFile, io.cwd);
  const exportLines = devS3Environment(s3.endpoint);
  try {
    await fs.mkdir(path.dirname(envFile), { recursive: true });
    await fs.writeFile(envFile, `${exportLines.join('\n')}\n`);
  } catch (error) {
    await s3.close();
    throw new UserError(
      `cannot write --env-file '${options.envFile}': ${(error as Error).message}`,
      exitCodes.invalid,
    );
  }
  io.stdout.write(
    [
      `${note}local S3 at ${s3.endpoint}, data in ${shown}, bucket${buckets.length === 1 ? '' : 's'} ${buckets.join(', ')}`,
      '',
      `In another shell, point catwalk (and any AWS SDK or CLI) at it: source ${shownEnvFile}, or`,
      '',
      ...exportLines.map((line) => `  ${line}`),
      '',
      'Stop it with Ctrl-C; the data stays in the folder for the next start.',
      '',
    ].join('\n'),
  );
  await waitForStop();
  await fs.rm(envFile, { force: true }); // its endpoint is gone: never leave it to mislead
  await s3.close();
  io.stdout.write('local S3 stopped\n');
  return exitCodes.ok;
}

/** Whether nothing listens on 127.0.0.1:`port` (checked by listening on it for a moment). */
function portAvailable(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EADDRINUSE' ? resolve(false) : reject(error),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** Resolves on the first Ctrl-C or SIGTERM; the handlers go away with it. */
function signalled(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
