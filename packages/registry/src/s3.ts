// The S3 edge: client construction (defaults in one place) and the few
// calls the registry makes, with S3's error shapes turned into plain answers.

import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ConditionalWritesUnsupportedError, ConflictError } from './errors';
import { recordTransferLimits } from './s3-direct';

export interface S3InputConfig {
  /** S3-compatible endpoint, e.g. http://127.0.0.1:4568. @default AWS's regional endpoint */
  readonly endpoint?: string;
  /** @default process.env.AWS_REGION, else us-east-1 */
  readonly region?: string;
  /** Path-style URLs (bucket in the path), needed by most S3-compatible servers. @default true when endpoint is set */
  readonly forcePathStyle?: boolean;
  /**
   * Attempts per request, including the first, with backoff between them and
   * one retry budget per client (see BoundedRetries). This is the registry's
   * one retry layer for requests: push adds none on top. @default 20
   */
  readonly maxAttempts?: number;
  /** Static credentials; otherwise the SDK's default chain (env, IRSA, instance profile). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Time allowed to open a connection. @default 5000 */
  readonly connectionTimeoutMs?: number;
  /**
   * A request whose socket sends and receives nothing for this long fails (and is retried
   * like any network error), so a server that stops answering never hangs a command or the
   * sidecar. An idle limit, not a total one: big transfers that keep moving are unaffected.
   * @default 30000
   */
  readonly socketTimeoutMs?: number;
}

/**
 * Enough for a 200 MiB push (some 40 requests, eight at a time) to finish when
 * 60% of all requests fail (503s, resets, cut-off bodies): with requests
 * interleaved, one request's attempts fail about independently, 0.6^20 (4 in
 * 100,000) per request, so about 1 push in 700 at worst. Backoff is capped
 * (BACKOFF_CAP_MS), so a server that is down for good is given up on in about
 * half a minute.
 */
export const DEFAULT_ATTEMPTS = 20;

/** The longest wait between two attempts (before jitter). */
const BACKOFF_CAP_MS = 4_000;

/**
 * Attempts when nothing answers at all: a refused connection or a name that
 * does not resolve is a wrong endpoint or a stopped server far more often than
 * a blip, and a user should hear so in a second, not after every retry.
 */
const UNREACHABLE_ATTEMPTS = 3;
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

/** Retries a client may owe at once: each retry takes one, each success gives one back. */
export const RETRY_BUDGET = 200;

interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

const retryToken = (count: number, delay: number): RetryToken => ({
  getRetryCount: () => count,
  getRetryDelay: () => delay,
});

/**
 * The registry's one retry layer for S3 requests, in the SDK's retry-strategy
 * shape: up to `maxAttempts` sends per request with exponential backoff and
 * full jitter (longer for throttling), and one budget per client: a retry
 * spends a token and a success returns one, so a network that fails nearly
 * everything stops being retried instead of multiplying its load. The SDK's
 * own standard quota charges 14 tokens per retry of 500 and refunds only the
 * last, so a long push on a flaky link ran dry halfway.
 */
class BoundedRetries {
  readonly mode = 'standard';
  private tokens = RETRY_BUDGET;
  constructor(private readonly maxAttempts: number) {}

  async acquireInitialRetryToken(): Promise<RetryToken> {
    return retryToken(0, 0);
  }

  async refreshRetryTokenForRetry(
    token: RetryToken,
    error: { errorType: string; error?: unknown },
  ): Promise<RetryToken> {
    const count = token.getRetryCount() + 1;
    const retryable = ['TRANSIENT', 'THROTTLING', 'SERVER_ERROR'].includes(error.errorType);
    const unreachable = UNREACHABLE_CODES.has(String((error.error as { code?: unknown } | undefined)?.code));
    const limit = unreachable ? Math.min(this.maxAttempts, UNREACHABLE_ATTEMPTS) : this.maxAttempts;
    if (!retryable || count >= limit || this.tokens <= 0) {
      throw new Error('no retry left'); // the SDK then throws the request's own error
    }
    this.tokens--;
    const base = error.errorType === 'THROTTLING' ? 500 : 100;
    return retryToken(count, Math.random() * Math.min(BACKOFF_CAP_MS, base * 2 ** (count - 1)));
  }

  recordSuccess(): void {
    this.tokens = Math.min(RETRY_BUDGET, this.tokens + 1);
  }
}

/**
 * A process with no HOME whose uid has no passwd entry (a container's
 * runAsUser, `docker run --user`) has no home directory: os.homedir() throws,
 * and the AWS SDK calls it on every shared-config lookup, so every request
 * failed. Without a home there are no ~/.aws files to read anyway, so HOME
 * is set to /nonexistent, the conventional home of users who have none
 * (only root can create it): the SDK finds no files there and takes
 * credentials from the environment, IRSA or IMDS.
 */
function withoutHomeDirectory(): void {
  if (process.env.HOME || process.env.USERPROFILE || process.env.HOMEPATH) return;
  try {
    os.homedir();
  } catch {
    process.env.HOME = '/nonexistent';
  }
}

export function createS3Client(config: S3InputConfig = {}): S3Client {
  withoutHomeDirectory();
  const limits = {
    connectionTimeoutMs: config.connectionTimeoutMs ?? 5000,
    socketTimeoutMs: config.socketTimeoutMs ?? 30_000,
  };
  const client = new S3Client({
    region: config.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle ?? config.endpoint !== undefined,
    maxAttempts: config.maxAttempts ?? DEFAULT_ATTEMPTS,
    retryStrategy: new BoundedRetries(config.maxAttempts ?? DEFAULT_ATTEMPTS),
    ...(config.credentials ? { credentials: config.credentials } : {}),
    requestHandler: {
      connectionTimeout: limits.connectionTimeoutMs,
      socketTimeout: limits.socketTimeoutMs,
    },
    // We verify content with our own sha256 from the manifest. The SDK's
    // default flexible checksums make some S3-compatible servers store the
    // aws-chunked framing inside the object (silently corrupt).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  // Sync's GETs bypass the SDK's handler (s3-direct.ts) and keep the same limits.
  recordTransferLimits(client, limits);
  return client;
}

export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
  readonly lastModified?: Date;
}

interface S3ErrorShape {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

const statusOf = (error: unknown): number | undefined => (error as S3ErrorShape)?.$metadata?.httpStatusCode;

export function isNotFound(error: unknown): boolean {
  const e = error as S3ErrorShape;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || statusOf(error) === 404;
}

export function isPreconditionFailed(error: unknown): boolean {
  const e = error as S3ErrorShape;
  // 409 ConditionalRequestConflict: a concurrent conditional write to the same key is in flight.
  return e?.name === 'PreconditionFailed' || statusOf(error) === 412 || statusOf(error) === 409;
}

/** Every object below `prefix` (all pages). */
export async function listAll(client: S3Client, bucket: string, prefix: string): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      if (o.Key)
        out.push({
          key: o.Key,
          size: o.Size ?? 0,
          ...(o.ETag ? { etag: o.ETag } : {}),
          ...(o.LastModified ? { lastModified: o.LastModified } : {}),
        });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

export interface Fetched {
  readonly text: string;
  readonly etag: string;
}

/** A small object's text and ETag, or undefined when it does not exist. */
export async function getText(client: S3Client, bucket: string, key: string): Promise<Fetched | undefined> {
  try {
    const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = (await r.Body?.transformToString('utf8')) ?? '';
    if (r.ContentLength !== undefined && Buffer.byteLength(text) !== r.ContentLength) {
      throw new Error(
        `s3://${bucket}/${key}: body truncated (${Buffer.byteLength(text)} of ${r.ContentLength} bytes)`,
      );
    }
    return { text, etag: r.ETag ?? '' };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export async function headObject(
  client: S3Client,
  bucket: string,
  key: string,
): Promise<{ size: number; metadata: Record<string, string>; etag: string } | undefined> {
  try {
    const r = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { size: r.ContentLength ?? 0, metadata: r.Metadata ?? {}, etag: r.ETag ?? '' };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export type WriteCondition = { readonly ifNoneMatch: '*' } | { readonly ifMatch: string } | undefined;

/**
 * Writes a small JSON document. With a condition, a lost race throws
 * ConflictError (412 Precondition Failed) and the caller decides what it means.
 */
export async function putJson(
  client: S3Client,
  bucket: string,
  key: string,
  value: unknown,
  condition?: WriteCondition,
): Promise<string> {
  try {
    const r = await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: `${JSON.stringify(value, null, 2)}\n`,
        ContentType: 'application/json',
        ...(condition && 'ifNoneMatch' in condition ? { IfNoneMatch: condition.ifNoneMatch } : {}),
        ...(condition && 'ifMatch' in condition ? { IfMatch: condition.ifMatch } : {}),
      }),
    );
    return r.ETag ?? '';
  } catch (error) {
    if (condition && isPreconditionFailed(error)) {
      throw new ConflictError(`s3://${bucket}/${key} was changed by someone else`);
    }
    throw error;
  }
}

/** Server-side copy inside one bucket (metadata travels with the object). */
export async function copyObject(client: S3Client, bucket: string, from: string, to: string): Promise<void> {
  const source = `${bucket}/${from}`.split('/').map(encodeURIComponent).join('/');
  await client.send(new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: source }));
}

/** Deletes keys, 1000 per request. */
export async function deleteKeys(client: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const chunk = keys.slice(i, i + 1000);
    const r = await client.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    if (r.Errors?.length) {
      const first = r.Errors[0]!;
      throw new Error(
        `could not delete s3://${bucket}/${first.Key}: ${first.Code} ${first.Message ?? ''}`.trim(),
      );
    }
  }
}

const probed = new WeakMap<S3Client, Map<string, Promise<void>>>();

/**
 * Makes sure the server honours If-None-Match on PUT, once per client and
 * bucket: writes a probe key twice and expects the second write to fail.
 * Servers that ignore the header would let two pushes or two releases
 * overwrite each other without anyone noticing, so we refuse to go on.
 */
export function requireConditionalWrites(client: S3Client, bucket: string, prefix: string): Promise<void> {
  const perBucket = probed.get(client) ?? new Map<string, Promise<void>>();
  probed.set(client, perBucket);
  const cached = perBucket.get(bucket);
  if (cached) return cached;
  const check = (async () => {
    const key = [prefix, `.catwalk-probe-${randomUUID()}`].filter(Boolean).join('/');
    await putJson(client, bucket, key, { probe: true }, { ifNoneMatch: '*' });
    let honoured = false;
    try {
      await putJson(client, bucket, key, { probe: true }, { ifNoneMatch: '*' });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      honoured = true;
    }
    await deleteKeys(client, bucket, [key]);
    if (!honoured) {
      throw new ConditionalWritesUnsupportedError(
        `the S3 server for bucket '${bucket}' ignores If-None-Match on PUT (conditional writes), so ` +
          'concurrent pushes and releases could overwrite each other. Use AWS S3 or a server that supports ' +
          "conditional writes (MinIO, or Catwalk's embedded S3: packages/registry/tools/embedded-s3.cjs).",
      );
    }
  })();
  perBucket.set(bucket, check);
  check.catch(() => perBucket.delete(bucket));
  return check;
}
