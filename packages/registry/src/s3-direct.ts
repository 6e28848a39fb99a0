// Sync's downloads and push's single-request uploads: object GETs and plain
// PUTs signed and sent here instead of through the AWS SDK's per-request
// stack. The SDK spent 2 to 4 ms of CPU on each request (its middleware,
// serde and retry wrappers), about 900 ms for the 206 GETs of a 200 MiB
// model under load, while the same requests through node:http cost a third
// of that. Only GETs of version files and manifests and unconditional PUTs
// of version files come here; LIST, HEAD, DELETE, multipart uploads and
// every conditional write (claims, manifests, release.json) stay on the SDK.
//
// Nothing AWS-specific is decided here: the endpoint comes from the client's
// own endpoint rules (virtual-hosted or path style, custom endpoints, FIPS,
// dual-stack), the credentials from the client's own provider (env, IRSA,
// instance profile, with their refresh and session token), the signature from
// the SDK's SigV4 signer, the retries from the client's retry strategy (one
// layer, one budget, shared with the SDK's requests) and the limits from the
// options the client was created with.

import * as http from 'node:http';
import * as https from 'node:https';
import { GetObjectCommand, PutObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { getEndpointFromInstructions } from '@smithy/core/endpoints';
import { extendedEncodeURIComponent } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import { isAbort, retriesSpent } from './retry';

/** What the client was created with (createS3Client records them), for the requests sent beside it. */
export interface TransferLimits {
  readonly connectionTimeoutMs: number;
  readonly socketTimeoutMs: number;
}

const DEFAULT_LIMITS: TransferLimits = { connectionTimeoutMs: 5000, socketTimeoutMs: 30_000 };
const limitsByClient = new WeakMap<S3Client, TransferLimits>();

export function recordTransferLimits(client: S3Client, limits: TransferLimits): void {
  limitsByClient.set(client, limits);
}

/** A GET's answer: the body still to be read, and what its headers said. */
export interface ObjectResponse {
  readonly body: NodeJS.ReadableStream;
  /** Content-Length, when the server sent one. */
  readonly contentLength: number | undefined;
  /** User metadata (x-amz-meta-*), lowercase names without the prefix. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly etag: string;
}

/** Where and how a bucket's GETs go, resolved once per client and bucket. */
export interface GetRoute {
  /** The endpoint for the bucket: object keys are appended to its path. */
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly signingRegion: string;
  readonly signingName: string;
}

interface Sender extends GetRoute {
  readonly signer: SignatureV4;
  readonly agent: http.Agent;
  readonly limits: TransferLimits;
  /** Bodies of at least this many bytes wait for S3's 100 Continue before they are sent (the client's expectContinueHeader). */
  readonly expectContinueBytes: number;
}

/** The SDK's defaults: bodies of 2 MiB and up ask for 100 Continue, and are sent anyway after 6 s without it. */
const EXPECT_CONTINUE_BYTES = 2 * 1024 * 1024;
const CONTINUE_WAIT_MS = 6_000;

/** The client's expectContinueHeader (false: never; true: always; a number: from that body size) in bytes. */
function expectContinueBytes(client: S3Client): number {
  const setting = (client.config as { expectContinueHeader?: boolean | number }).expectContinueHeader;
  if (setting === false) return Number.POSITIVE_INFINITY;
  if (setting === true) return 0;
  return typeof setting === 'number' ? setting : EXPECT_CONTINUE_BYTES;
}

const senders = new WeakMap<S3Client, Map<string, Promise<Sender | undefined>>>();

/**
 * The endpoint and signing scope the SDK would use for a GetObject in `bucket`,
 * from the client's own endpoint rules. Undefined when those rules ask for
 * anything but plain SigV4 (S3 Express, multi-region access points): such
 * buckets are read through the SDK.
 */
export async function resolveGetRoute(client: S3Client, bucket: string): Promise<GetRoute | undefined> {
  // Key takes no part in S3's endpoint rules beyond being present; a placeholder resolves the bucket's endpoint.
  const endpoint = await getEndpointFromInstructions(
    { Bucket: bucket, Key: 'key' },
    GetObjectCommand as unknown as Parameters<typeof getEndpointFromInstructions>[1],
    { ...(client.config as unknown as Parameters<typeof getEndpointFromInstructions>[2]) },
  );
  const schemes = (endpoint.properties?.authSchemes ?? []) as Array<{
    name?: string;
    signingRegion?: string;
    signingName?: string;
  }>;
  const scheme = schemes[0];
  if (scheme && scheme.name !== 'sigv4') return undefined;
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(endpoint.headers ?? {})) headers[name] = values.join(',');
  return {
    url: new URL(endpoint.url.href),
    headers,
    signingRegion: scheme?.signingRegion ?? (await client.config.region()),
    signingName: scheme?.signingName ?? 's3',
  };
}

function senderFor(client: S3Client, bucket: string): Promise<Sender | undefined> {
  const perBucket = senders.get(client) ?? new Map<string, Promise<Sender | undefined>>();
  senders.set(client, perBucket);
  const cached = perBucket.get(bucket);
  if (cached) return cached;
  const made = resolveGetRoute(client, bucket).then((route) => {
    if (!route) return undefined;
    const limits = limitsByClient.get(client) ?? DEFAULT_LIMITS;
    const secure = route.url.protocol === 'https:';
    // Keep-alive sockets, as the SDK's handler keeps: each new TCP (and TLS) connection costs a round trip or more.
    const agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    const signer = new SignatureV4({
      credentials: client.config.credentials,
      region: route.signingRegion,
      service: route.signingName,
      sha256: client.config.sha256,
      // S3 signs the path as sent (no second encoding), as the endpoint rules say (disableDoubleEncoding).
      uriEscapePath: false,
    });
    return { ...route, signer, agent, limits, expectContinueBytes: expectContinueBytes(client) };
  });
  perBucket.set(bucket, made);
  made.catch(() => perBucket.delete(bucket));
  return made;
}

/** sha256 of an empty body: what S3 checks a GET's (absent) payload against. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const THROTTLING_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'ProvisionedThroughputExceededException',
]);

/** Refusals that mean the request's clock is off: retried once the offset has been corrected, as the SDK does. */
const CLOCK_SKEW_CODES = new Set([
  'AuthFailure',
  'InvalidSignatureException',
  'RequestExpired',
  'RequestInTheFuture',
  'RequestTimeTooSkewed',
  'SignatureDoesNotMatch',
]);

/** A skew the server's clock corrected by at least this much makes a clock-skew refusal worth retrying. */
const SKEW_CORRECTION_MS = 240_000;

/** The SDK's clock offset (server time minus local time), which it keeps on the client config for signing. */
interface ClockConfig {
  systemClockOffset?: number;
}

/**
 * Learns the server's clock from a response's Date header, as the SDK does
 * after every request (not from a cached answer, which carries an Age header,
 * nor from one that took over 15 minutes). Returns the new offset.
 */
function sampleClock(config: ClockConfig, headers: http.IncomingHttpHeaders, sentAt: number): number {
  const before = config.systemClockOffset ?? 0;
  const date = headers.date;
  if (headers.age !== undefined || typeof date !== 'string') return before;
  const serverTime = Date.parse(date);
  const now = Date.now();
  if (Number.isNaN(serverTime) || now - sentAt > 900_000) return before;
  config.systemClockOffset = serverTime - now;
  return config.systemClockOffset;
}

/** The retry strategy's words for an error, as the SDK classifies them. */
function errorType(error: unknown): string {
  if (error instanceof S3ServiceException) {
    const status = error.$metadata.httpStatusCode ?? 0;
    if ((error.$metadata as { clockSkewCorrected?: boolean }).clockSkewCorrected) return 'TRANSIENT';
    if (status === 429 || THROTTLING_CODES.has(error.name)) return 'THROTTLING';
    if (status >= 500) return 'SERVER_ERROR';
    // S3's 400 RequestTimeout: the body came too slowly; sending it again is the fix (the SDK retries it too).
    if (status === 408 || error.name === 'RequestTimeout') return 'TRANSIENT';
    return 'CLIENT_ERROR';
  }
  return 'TRANSIENT'; // no answer at all: a reset, a refused connection, a timeout
}

/** The text between <Tag> and </Tag> in S3's XML error body, unescaped. */
function xmlField(xml: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return match?.[1]
    ?.replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/**
 * S3's error answer as the SDK reports it (an S3ServiceException named by
 * S3's code, with the HTTP status), so that isNotFound, errorKind and the
 * CLI's messages read it the same whichever way it came.
 */
function serviceError(status: number, headers: http.IncomingHttpHeaders, xml: string): S3ServiceException {
  const code = xmlField(xml, 'Code') ?? (status === 404 ? 'NotFound' : 'Unknown');
  const message = xmlField(xml, 'Message') ?? (code === 'Unknown' ? 'UnknownError' : code);
  const requestId = headers['x-amz-request-id'];
  const extendedRequestId = headers['x-amz-id-2'];
  return new S3ServiceException({
    name: code,
    message,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: {
      httpStatusCode: status,
      ...(typeof requestId === 'string' ? { requestId } : {}),
      ...(typeof extendedRequestId === 'string' ? { extendedRequestId } : {}),
    },
  });
}

/** A socket that went quiet, worded as the SDK's handler words it, and counted as a network error. */
function timeoutError(what: string, ms: number): Error {
  return Object.assign(new Error(`${what}: the request socket timed out after ${ms} ms of inactivity`), {
    name: 'TimeoutError',
    code: 'ETIMEDOUT',
  });
}

/** A socket error (reset, refused, hang-up) naming the request, with Node's code kept for retries and metrics. */
function networkError(what: string, error: NodeJS.ErrnoException): Error {
  return Object.assign(new Error(`${what}: ${error.message}`, { cause: error }), {
    name: error.name,
    ...(error.code ? { code: error.code } : {}),
  });
}

function connectTimeoutError(what: string, ms: number): Error {
  return Object.assign(new Error(`${what}: no connection within ${ms} ms`), {
    name: 'TimeoutError',
    code: 'ETIMEDOUT',
  });
}

/** One request: a GET, or a PUT of a body whose sha256 the caller already has. */
interface Exchange {
  readonly method: 'GET' | 'PUT';
  readonly key: string;
  /** The operation's own headers (content-type, x-amz-meta-*), signed with the rest. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  /** Hex sha256 of the body: what SigV4 signs and S3 checks the body against. */
  readonly payloadSha256: string;
}

/** One signed request, no retry: the response once its headers are in (2xx), or the error. */
async function sendOnce(
  sender: Sender,
  clock: ClockConfig,
  bucket: string,
  exchange: Exchange,
  signal?: AbortSignal,
): Promise<http.IncomingMessage> {
  const { method, key, body } = exchange;
  const { url, limits } = sender;
  const base = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
  const requestPath = `${base}${key.split('/').map(extendedEncodeURIComponent).join('/')}`;
  const host = url.port ? `${url.hostname}:${url.port}` : url.hostname;
  const offset = clock.systemClockOffset ?? 0;
  const sentAt = Date.now();
  const signed = await sender.signer.sign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: requestPath,
      query: {},
      headers: {
        ...sender.headers,
        ...exchange.headers,
        ...(body ? { 'content-length': String(body.length) } : {}),
        host,
        'x-amz-content-sha256': exchange.payloadSha256,
      },
    },
    {
      signingRegion: sender.signingRegion,
      signingService: sender.signingName,
      signingDate: new Date(sentAt + offset),
    },
  );
  const what = `${method} s3://${bucket}/${key}`;
  // A large body waits for S3's go-ahead: a refusal (credentials, clock skew) then arrives as itself,
  // not as a reset in the middle of megabytes S3 never meant to read.
  const expectContinue = body !== undefined && body.length > 0 && body.length >= sender.expectContinueBytes;
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = transport.request({
      agent: sender.agent,
      // URL keeps an IPv6 address in brackets (right for the Host header, signed above); the socket wants it bare.
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port || undefined,
      method,
      path: requestPath,
      // Expect is never signed (SigV4 leaves it out), so it is added after signing.
      headers: expectContinue ? { ...signed.headers, expect: '100-continue' } : signed.headers,
      ...(signal ? { signal } : {}),
    });
    let connectTimer: NodeJS.Timeout | undefined;
    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      connectTimer = setTimeout(
        () => req.destroy(connectTimeoutError(what, limits.connectionTimeoutMs)),
        limits.connectionTimeoutMs,
      );
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    // An idle limit for the whole exchange, body included: a transfer that keeps moving is never cut.
    req.setTimeout(limits.socketTimeoutMs, () => {
      const error = timeoutError(what, limits.socketTimeoutMs);
      if (response) response.destroy(error);
      req.destroy(error);
    });
    let response: http.IncomingMessage | undefined;
    req.on('error', (error) => {
      clearTimeout(connectTimer);
      reject(isAbort(error) || error.message.startsWith(what) ? error : networkError(what, error));
    });
    req.on('response', (res) => {
      clearTimeout(connectTimer);
      response = res;
      const status = res.statusCode ?? 0;
      const corrected = sampleClock(clock, res.headers, sentAt);
      if (status >= 200 && status < 300) {
        resolve(res);
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        // Refused before the body was sent (100-continue): the request never ends, so its socket goes.
        if (!req.writableEnded) req.destroy();
        const error = serviceError(status, res.headers, Buffer.concat(chunks).toString('utf8'));
        if (
          CLOCK_SKEW_CODES.has(error.name) &&
          corrected !== offset &&
          Math.abs(corrected) >= SKEW_CORRECTION_MS
        ) {
          (error.$metadata as { clockSkewCorrected?: boolean }).clockSkewCorrected = true;
        }
        reject(error);
      });
    });
    if (!expectContinue) {
      req.end(body);
      return;
    }
    // As the SDK: send the body on 100 Continue, or after a wait in case the server ignores Expect.
    const sendBody = () => {
      clearTimeout(continueTimer);
      if (!req.writableEnded && !req.destroyed && !response) req.end(body);
    };
    const continueTimer = setTimeout(sendBody, CONTINUE_WAIT_MS);
    req.once('continue', sendBody);
    req.once('response', () => clearTimeout(continueTimer));
    req.once('close', () => clearTimeout(continueTimer));
    req.flushHeaders();
  });
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}
interface RetryStrategy {
  acquireInitialRetryToken(scope: string): Promise<RetryToken>;
  refreshRetryTokenForRetry(
    token: RetryToken,
    error: { errorType: string; error?: unknown },
  ): Promise<RetryToken>;
  recordSuccess(token: RetryToken): void;
}

/**
 * Runs `attempt` under the client's own retry strategy, as the SDK retries a
 * request: network errors, 5xx and throttling, never 403 or 404.
 */
async function withClientRetries<T>(
  client: S3Client,
  bucket: string,
  signal: AbortSignal | undefined,
  attempt: () => Promise<T>,
): Promise<T> {
  const strategy = (await (client.config.retryStrategy as () => Promise<RetryStrategy>)()) as RetryStrategy;
  let token = await strategy.acquireInitialRetryToken(bucket);
  for (;;) {
    try {
      const result = await attempt();
      strategy.recordSuccess(token);
      return result;
    } catch (error) {
      if (signal?.aborted || isAbort(error)) throw signal?.reason ?? error;
      try {
        token = await strategy.refreshRetryTokenForRetry(token, { errorType: errorType(error), error });
      } catch {
        throw error; // no retry left: the request's own error
      }
      await delay(token.getRetryDelay(), signal);
    }
  }
}

/**
 * GETs an object: the response once its headers are in (the body is the
 * caller's to read and check), retried by the client's retry strategy. What
 * it throws has had those attempts, and is marked so (retriesSpent): a
 * caller's own retry loop does not send it again.
 */
export function getObject(
  client: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): Promise<ObjectResponse> {
  return requestObject(client, bucket, key, signal).catch((error: unknown) => {
    throw retriesSpent(error);
  });
}

async function requestObject(
  client: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): Promise<ObjectResponse> {
  const sender = await senderFor(client, bucket);
  if (!sender) return getThroughSdk(client, bucket, key, signal);
  const clock = client.config as ClockConfig;
  const res = await withClientRetries(client, bucket, signal, () =>
    sendOnce(sender, clock, bucket, { method: 'GET', key, payloadSha256: EMPTY_SHA256 }, signal),
  );
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (name.startsWith('x-amz-meta-') && typeof value === 'string') metadata[name.slice(11)] = value;
  }
  const length = res.headers['content-length'];
  return {
    body: res,
    contentLength: length === undefined ? undefined : Number(length),
    metadata,
    etag: res.headers.etag ?? '',
  };
}

/** What an unconditional PUT of one whole object carries besides its bytes. */
export interface PutObjectInput {
  /** Hex sha256 of the body, already computed by the caller: signed as the payload hash, never recomputed. */
  readonly sha256: string;
  readonly contentType: string;
  /** User metadata (sent as x-amz-meta-<name>). */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * PUTs a whole object in one request, unconditionally (never for a write
 * that must not overwrite: those use the SDK's conditional PutObject).
 * Retried by the client's retry strategy; an answer lost after S3 stored the
 * object is retried like any other failure, which rewrites the same bytes.
 * Returns the ETag.
 */
export async function putObject(
  client: S3Client,
  bucket: string,
  key: string,
  body: Buffer,
  input: PutObjectInput,
  signal?: AbortSignal,
): Promise<string> {
  const sender = await senderFor(client, bucket);
  if (!sender) return putThroughSdk(client, bucket, key, body, input, signal);
  const clock = client.config as ClockConfig;
  const headers: Record<string, string> = { 'content-type': input.contentType };
  for (const [name, value] of Object.entries(input.metadata)) headers[`x-amz-meta-${name}`] = value;
  return withClientRetries(client, bucket, signal, async () => {
    const res = await sendOnce(
      sender,
      clock,
      bucket,
      { method: 'PUT', key, headers, body, payloadSha256: input.sha256 },
      signal,
    );
    // Read the (empty) answer to its end, so the socket goes back to the pool and a cut answer is retried.
    await new Promise<void>((resolve, reject) => {
      res.on('error', reject);
      res.on('end', resolve);
      res.resume();
    });
    return res.headers.etag ?? '';
  });
}

/** The SDK's PutObject, for buckets whose endpoint rules ask for more than SigV4. */
async function putThroughSdk(
  client: S3Client,
  bucket: string,
  key: string,
  body: Buffer,
  input: PutObjectInput,
  signal?: AbortSignal,
): Promise<string> {
  const put = new PutObjectCommand({
    Bucket: bucket,
    Key: key,
    ContentType: input.contentType,
    Metadata: { ...input.metadata },
    Body: body,
  });
  // The signer hashes the body itself unless the header is set: hand it the sha256 we have.
  put.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['x-amz-content-sha256'] = input.sha256;
      return next(args);
    },
    { step: 'build', name: 'catwalkPayloadSha256' },
  );
  const r = await client.send(put, signal ? { abortSignal: signal } : {});
  return r.ETag ?? '';
}

/** The SDK's GetObject, for buckets whose endpoint rules ask for more than SigV4. */
async function getThroughSdk(
  client: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): Promise<ObjectResponse> {
  const r = await client.send(
    new GetObjectCommand({ Bucket: bucket, Key: key }),
    signal ? { abortSignal: signal } : {},
  );
  return {
    body: r.Body as NodeJS.ReadableStream,
    contentLength: r.ContentLength,
    metadata: r.Metadata ?? {},
    etag: r.ETag ?? '',
  };
}

/** A whole small object (a manifest): its bytes, and the length the server announced. */
export async function getObjectBytes(
  client: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): Promise<{ bytes: Buffer; contentLength: number | undefined; etag: string }> {
  const response = await getObject(client, bucket, key, signal);
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk as Buffer);
  return { bytes: Buffer.concat(chunks), contentLength: response.contentLength, etag: response.etag };
}
