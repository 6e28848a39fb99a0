// What the registry commands share: turning `<model>` (a spec file or an
// s3:// folder) into an S3 client, a model location and the spec's initial
// release, and turning registry failures into one-line user errors.

import { setMaxListeners } from 'node:events';
import * as path from 'node:path';
import {
  createS3Client,
  defaultInitialRelease,
  describeError,
  type InitialRelease,
  MAX_VERSION,
  type ModelLocation,
  parseModelUri,
  RegistryError,
  UsageError as RegistryUsageError,
} from '@catwalk/registry';
import type { ResolvedModel } from '@catwalk/schema';
import { loadModels } from './commands/load';
import { exitCodes, type Io, UserError } from './io';

export interface S3Flags {
  endpoint?: string;
  region?: string;
}

export interface Target {
  readonly client: ReturnType<typeof createS3Client>;
  readonly location: ModelLocation;
  readonly initial: InitialRelease;
  readonly model?: ResolvedModel;
  /** How to show it: the uri, or spec file (uri). */
  readonly display: string;
  /** The S3 endpoint in use, when not AWS's own. */
  readonly endpoint?: string;
}

/** --endpoint, else the spec's source.endpoint, else $AWS_ENDPOINT_URL_S3 / $AWS_ENDPOINT_URL, else AWS. */
function endpointFor(flags: S3Flags, model?: ResolvedModel): string | undefined {
  return (
    flags.endpoint ??
    model?.source.endpoint ??
    process.env.AWS_ENDPOINT_URL_S3 ??
    process.env.AWS_ENDPOINT_URL
  );
}

export async function resolveTarget(model: string, flags: S3Flags, io: Io): Promise<Target> {
  if (model.startsWith('s3://')) {
    const location = guard(() => parseModelUri(model));
    const endpoint = endpointFor(flags);
    return {
      client: createS3Client({
        ...(endpoint ? { endpoint } : {}),
        ...(flags.region ? { region: flags.region } : {}),
      }),
      location,
      initial: defaultInitialRelease,
      display: model,
      ...(endpoint ? { endpoint } : {}),
    };
  }
  if (!/\.(ya?ml|json)$/.test(model)) {
    throw new UserError(
      `'${model}' is neither a spec file (.yaml, .yml, .json) nor an s3:// folder; give one of those`,
      exitCodes.usage,
    );
  }
  const [loaded] = await loadModels([path.resolve(io.cwd, model)], io);
  const resolved = loaded!.model;
  const endpoint = endpointFor(flags, resolved);
  return {
    client: createS3Client({
      ...(endpoint ? { endpoint } : {}),
      region: flags.region ?? resolved.source.region,
    }),
    location: { bucket: resolved.source.bucket, prefix: resolved.source.prefix, name: resolved.name },
    initial: { versionPolicy: resolved.serving.versionPolicy, versionLabels: resolved.serving.versionLabels },
    model: resolved,
    display: `${loaded!.file} (${resolved.source.uri})`,
    ...(endpoint ? { endpoint } : {}),
  };
}

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw toUserError(error);
  }
}

/** Where a command was talking to, so an S3 failure can name the bucket and the endpoint. */
export interface S3Context {
  readonly location: ModelLocation;
  readonly endpoint?: string;
}

const NETWORK = /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)\b/;

/** An S3 failure as one sentence naming the bucket and the fix, when it is one we know. */
function describeS3Failure(error: unknown, context: S3Context): string | undefined {
  const e = error as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const bucket = `bucket '${context.location.bucket}'`;
  const where = context.endpoint ?? 'AWS S3';
  const status = e?.$metadata?.httpStatusCode;
  if (e?.name === 'NoSuchBucket') {
    return `S3: ${bucket} does not exist at ${where}; create it or fix the model's s3:// location (source.uri)`;
  }
  if (e?.name === 'AccessDenied' || status === 403) {
    return (
      `S3: access to ${bucket} denied (${describeError(error)}); check the credentials in use ` +
      '(AWS_PROFILE, AWS_ACCESS_KEY_ID, the pod role) and that its policy allows s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on the bucket'
    );
  }
  if (e?.name === 'InvalidAccessKeyId' || e?.name === 'SignatureDoesNotMatch') {
    return `S3: the credentials were refused for ${bucket} (${e.name}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE`;
  }
  const code = typeof e?.code === 'string' ? e.code : NETWORK.exec(String(e?.message))?.[1];
  if (code && NETWORK.test(code)) {
    return (
      `S3: cannot reach S3 at ${where} (${bucket}): ${code}; check --endpoint (or the spec's source.endpoint, ` +
      '$AWS_ENDPOINT_URL_S3) and the network'
    );
  }
  return undefined;
}

/** Registry refusals and S3 failures become one-line messages; anything else is a bug and keeps its stack. */
export function toUserError(error: unknown, context?: S3Context): unknown {
  if (error instanceof UserError) return error;
  if (error instanceof RegistryUsageError) return new UserError(error.message, exitCodes.usage);
  if (error instanceof RegistryError) return new UserError(error.message, exitCodes.invalid);
  const e = error as { $metadata?: unknown; code?: string; name?: string };
  const known = context ? describeS3Failure(error, context) : undefined;
  if (known) return new UserError(known, exitCodes.invalid);
  if (e?.$metadata || (typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code)) || e?.name === 'AbortError') {
    return new UserError(
      `S3: ${describeError(error)}${context ? ` (bucket '${context.location.bucket}')` : ''}`,
      exitCodes.invalid,
    );
  }
  if (e?.name === 'CredentialsProviderError') {
    return new UserError(
      `S3: no credentials (${describeError(error)}); set AWS_PROFILE or AWS_ACCESS_KEY_ID`,
      exitCodes.invalid,
    );
  }
  return error;
}

export async function withRegistryErrors<T>(fn: () => Promise<T>, context?: S3Context): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toUserError(error, context);
  }
}

/** "3,4" -> [3, 4], refusing anything that is not a version number. */
export function parseVersionList(text: string, flag: string): number[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new UserError(
      `${flag} '${text}': give version numbers separated by commas, e.g. ${flag} 3,4`,
      exitCodes.usage,
    );
  }
  return parts.map((p) => parseVersion(p, flag));
}

export function parseVersion(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new UserError(`${flag} '${text}' is not a version number`, exitCodes.usage);
  // Checked as a whole number first: Number('9007199254740993') silently rounds to ...992.
  if (BigInt(text) > BigInt(MAX_VERSION)) {
    throw new UserError(
      `${flag} ${text} is larger than ${MAX_VERSION} (2^53 - 1), the largest version number Catwalk keeps exactly; use a smaller one`,
      exitCodes.usage,
    );
  }
  return Number(text);
}

/** Cancels `run` on Ctrl-C / SIGTERM; the handlers are removed afterwards. */
export async function withSignals<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  // Every request in flight listens on the signal: 8 files at once plus multipart parts is more than Node's default 10.
  setMaxListeners(256, controller.signal);
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await run(controller.signal);
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}

export const isTty = (stream: unknown): boolean => (stream as { isTTY?: boolean }).isTTY === true;
