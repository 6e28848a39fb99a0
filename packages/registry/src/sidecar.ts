// The sync sidecar: a poll loop around syncOnce, with the endpoints a pod
// needs, JSON logs and a clean stop.
//
//   /healthz         the process is alive
//   /readyz          sync health: the last good sync is recent enough (JSON detail)
//   /ready/serving   TF Serving has a version AVAILABLE (what pod readiness and the ALB check)
//   /status          what this pod serves and why, for `catwalk status`
//   /metrics         Prometheus
//
// While S3 is unreachable the loop logs, counts the error and tries again
// next poll; the versions already in dest keep serving, and /readyz turns
// unready only once the last good sync is older than staleAfterMs.

import { setMaxListeners } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { createLogger, type LogDestination, type LogFormat, type Logger, podName } from './log';
import { describeError, errorKind, isAbort } from './retry';
import { cleanLeftovers, newSyncState, type SyncOptions, type SyncReport, syncOnce } from './sync';

export interface SidecarOptions extends SyncOptions {
  /** Time between polls; 200 ms while a newer push is in progress. @default 10000 */
  readonly intervalMs?: number;
  /** Stop after the first good sync (init container); throw if none is possible. */
  readonly once?: boolean;
  /** With once: polls tried before giving up. @default 3 */
  readonly onceAttempts?: number;
  /** Port of the HTTP endpoints; undefined: no HTTP server. 0: any free port. */
  readonly port?: number;
  /** @default 0.0.0.0 */
  readonly host?: string;
  /** Every line gets pod, model and track, and the release generation once one is read. @default createSyncLogger() */
  readonly logger?: Logger;
  /** Called once the HTTP server listens. */
  readonly onListening?: (port: number) => void;
  /** Called after each poll that ran to its end (tests, the CLI's --once output). */
  readonly onSync?: (report: SyncReport) => void;
  /**
   * A poll still running after this long is abandoned (its requests aborted, nothing
   * more written) and counted in catwalk_sync_poll_overruns_total. It must leave room to
   * download the largest version. @default 600000
   */
  readonly pollDeadlineMs?: number;
  /** /readyz turns 503 once the last good sync is older than this. @default max(300000, 3 polls) */
  readonly staleAfterMs?: number;
  /**
   * TF Serving's --model_config_file_poll_wait_seconds, in ms: a version models.config no
   * longer names stays on disk this long plus a margin, so TF Serving drops it from its
   * config before its folder goes. @default 0 (remove at once: nothing reads the folder yet)
   */
  readonly servingPollMs?: number;
  /** TF Serving's REST model-status URL (http://127.0.0.1:8501/v1/models/<name>), for /ready/serving. */
  readonly servingUrl?: string;
  /** A failed poll's error as one sentence naming the bucket and the fix, when the caller knows one (the CLI's). */
  readonly describeFailure?: (error: unknown) => string | undefined;
}

/** Extra time on top of TF Serving's poll before a dropped version's folder goes. */
export const removalMarginMs = (servingPollMs: number): number => Math.max(2000, servingPollMs / 2);

/** The sidecar's logger: JSON lines (text on a terminal unless `format` says), to stdout by default. */
export function createSyncLogger(destination?: LogDestination, level = 'info', format?: LogFormat): Logger {
  return createLogger({
    ...(destination ? { destination } : {}),
    ...(format ? { format } : {}),
    level,
    fields: { component: 'catwalk-sync' },
  });
}

export class SyncFailedError extends Error {
  override readonly name = 'SyncFailedError';
}

/** What a poll records; prom-client's metrics when /metrics is served, else nothing. */
interface SyncMetrics {
  readonly duration: { startTimer(): () => unknown };
  readonly bytes: { inc(value?: number): void };
  readonly overruns: { inc(value?: number): void };
  readonly errors: { inc(labels: { kind: string }): void };
  readonly lastSuccess: { set(value: number): void };
  readonly versions: { set(value: number): void };
  readonly generation: { set(value: number): void };
  readonly failed: { set(value: number): void };
  readonly fallback: { set(value: number): void };
}

const ignore = () => undefined;
/** A sidecar without a port (`sync --once`, an init container) has no one to show metrics to. */
const unrecordedMetrics: SyncMetrics = {
  duration: { startTimer: () => ignore },
  bytes: { inc: ignore },
  overruns: { inc: ignore },
  errors: { inc: ignore },
  lastSuccess: { set: ignore },
  versions: { set: ignore },
  generation: { set: ignore },
  failed: { set: ignore },
  fallback: { set: ignore },
};

export function createMetrics(given?: Registry) {
  // Loaded here, not at import: prom-client costs about 25 ms of start-up, which
  // `sync --once` (an init container, no --port) would pay for nothing.
  const { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } =
    require('prom-client') as typeof import('prom-client');
  const registry = given ?? new Registry();
  // Process metrics too (memory, CPU, event loop lag): a sidecar's own footprint is part of the pod's.
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    duration: new Histogram({
      name: 'catwalk_sync_duration_seconds',
      help: 'Time taken by one sync poll, successful or not',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    bytes: new Counter({
      name: 'catwalk_sync_bytes_total',
      help: 'Bytes downloaded from S3',
      registers: [registry],
    }),
    lastSuccess: new Gauge({
      name: 'catwalk_sync_last_success_timestamp_seconds',
      help: 'Unix time of the last good sync (S3 read, release applied, at least one version served)',
      registers: [registry],
    }),
    versions: new Gauge({
      name: 'catwalk_sync_versions_present',
      help: 'Version folders present in the destination',
      registers: [registry],
    }),
    generation: new Gauge({
      name: 'catwalk_sync_release_generation',
      help: 'Generation of the release last applied (0: the spec default, no release.json yet)',
      registers: [registry],
    }),
    errors: new Counter({
      name: 'catwalk_sync_errors_total',
      help: 'Failed polls and retried requests, by kind (throttled, server, network, ChecksumMismatchError, ...)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    failed: new Gauge({
      name: 'catwalk_sync_versions_failed',
      help: 'Released versions this pod cannot serve: corrupt in S3 or failing their sha256 check',
      registers: [registry],
    }),
    overruns: new Counter({
      name: 'catwalk_sync_poll_overruns_total',
      help: 'Polls abandoned because they ran past their deadline',
      registers: [registry],
    }),
    fallback: new Gauge({
      name: 'catwalk_sync_track_fallback',
      help: "1 while the release lacks the label this pod's --track follows and the spec's policy is served instead",
      registers: [registry],
    }),
  };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** A local file system error (dest, --config-out): the pod's volume, not S3. */
function isLocalFileError(error: unknown): boolean {
  const e = error as { code?: unknown; syscall?: unknown; path?: unknown };
  return typeof e?.code === 'string' && typeof e.syscall === 'string' && typeof e.path === 'string';
}

const kindOf = (error: unknown): string => (isLocalFileError(error) ? 'local_file' : errorKind(error));

class PollDeadlineError extends Error {
  override readonly name = 'PollDeadlineError';
}

/** Runs until `signal` aborts (or, with once, until the first good sync). */
export async function runSidecar(options: SidecarOptions): Promise<SyncReport | undefined> {
  const root = options.logger ?? createSyncLogger();
  // Who says it, on every line: what log pipelines group and filter by.
  const who = { pod: podName(), model: options.location.name, track: options.track ?? 'all' };
  let log = root.child(who);
  let loggedGeneration: number | undefined;
  const exposed = options.port === undefined ? undefined : createMetrics();
  const metrics: SyncMetrics = exposed ?? unrecordedMetrics;
  const interval = options.intervalMs ?? 10_000;
  const deadline = options.pollDeadlineMs ?? 600_000;
  const staleAfter = options.staleAfterMs ?? Math.max(300_000, 3 * interval);
  const removeAfterMs =
    options.servingPollMs !== undefined ? options.servingPollMs + removalMarginMs(options.servingPollMs) : 0;
  const where = `s3://${options.location.bucket}/${options.location.prefix}`;
  let last: SyncReport | undefined;
  let lastGoodAt: number | undefined;
  let lastError: string | undefined;

  const readiness = () => {
    const age = lastGoodAt === undefined ? undefined : (Date.now() - lastGoodAt) / 1000;
    const ready = age !== undefined && age * 1000 <= staleAfter;
    const reason =
      age === undefined
        ? `no good sync yet${lastError ? `: ${lastError}` : ''}`
        : ready
          ? undefined
          : `last good sync ${age.toFixed(1)} s ago, over the ${staleAfter / 1000} s limit${lastError ? `; last error: ${lastError}` : ''}`;
    return {
      ready,
      ...(reason ? { reason } : {}),
      lastGoodSyncAt: lastGoodAt === undefined ? null : new Date(lastGoodAt).toISOString(),
      lastGoodSyncAgeSeconds: age === undefined ? null : Number(age.toFixed(3)),
      staleAfterSeconds: staleAfter / 1000,
      generation: last?.generation ?? null,
      servedVersions: last?.served.versions ?? [],
      failedVersions: last?.failed ?? [],
      fallback: last?.fallback ?? null,
      lastError: lastError ?? null,
    };
  };
  const json = (status: number, body: unknown) => ({
    status,
    body: `${JSON.stringify(body)}\n`,
    type: 'application/json',
  });
  const server =
    options.port === undefined
      ? undefined
      : await listen(options.port, options.host ?? '0.0.0.0', async (url) => {
          if (url === '/healthz') return { status: 200, body: 'ok\n' };
          if (url === '/readyz') {
            const r = readiness();
            return json(r.ready ? 200 : 503, r);
          }
          if (url === '/ready/serving') {
            const r = await servingReadiness(options.servingUrl);
            return json(r.ready ? 200 : 503, r);
          }
          if (url === '/status') {
            const r = readiness();
            return json(200, {
              model: options.location.name,
              source: where,
              track: options.track ?? 'all',
              generation: r.generation,
              servedVersions: r.servedVersions,
              labels: last?.served.labels ?? {},
              onDisk: last?.onDisk ?? [],
              failedVersions: r.failedVersions,
              lastGoodSyncAt: r.lastGoodSyncAt,
              lastGoodSyncAgeSeconds: r.lastGoodSyncAgeSeconds,
              lastError: r.lastError,
              fallback: r.fallback,
            });
          }
          if (url === '/metrics')
            return {
              status: 200,
              body: await exposed!.registry.metrics(),
              type: exposed!.registry.contentType,
            };
          return { status: 404, body: 'not found\n' };
        });
  if (server) options.onListening?.((server.address() as AddressInfo).port);

  const syncOptions: SyncOptions = {
    manifestCache: new Map(),
    state: newSyncState(),
    removeAfterMs,
    ...options,
    onRetry: (error, what) => {
      metrics.errors.inc({ kind: kindOf(error) });
      log.warn({ err: describeError(error), kind: kindOf(error), file: what }, 'retrying download');
      options.onRetry?.(error, what);
    },
  };
  log.info(
    {
      source: where,
      dest: options.dest,
      intervalMs: interval,
      pollDeadlineMs: deadline,
      staleAfterMs: staleAfter,
      removeAfterMs,
    },
    'sync starting',
  );
  let attempts = 0;
  let lastFallback: string | null = null;
  let lastFailed = '';
  try {
    await cleanLeftovers(options.dest);
    while (!options.signal?.aborted) {
      const stop = metrics.duration.startTimer();
      attempts++;
      try {
        const report = await pollWithDeadline(
          syncOptions,
          deadline,
          (n) => metrics.bytes.inc(n),
          () => {
            // Counted when it happens, not when the abandoned poll has wound down.
            metrics.overruns.inc();
            metrics.errors.inc({ kind: 'deadline' });
            lastError = `a poll ran past its ${deadline / 1000} s deadline and was abandoned`;
            log.error({ kind: 'deadline', pollDeadlineMs: deadline }, lastError);
          },
        );
        last = report;
        if (report.generation !== loggedGeneration) {
          loggedGeneration = report.generation;
          log = root.child({ ...who, generation: report.generation });
        }
        metrics.versions.set(report.present.length);
        metrics.generation.set(report.generation);
        metrics.failed.set(report.failed.length);
        metrics.fallback.set(report.fallback ? 1 : 0);
        for (const v of report.downloaded) log.info({ version: v }, `version ${v} downloaded and verified`);
        for (const v of report.removed)
          log.info({ version: v }, `version ${v} removed: the release no longer serves it`);
        if (report.downloaded.length || report.removed.length || report.configChanged) {
          log.info(
            {
              downloaded: report.downloaded,
              removed: report.removed,
              present: report.present,
              served: report.served.versions,
              bytes: report.bytes,
            },
            'sync applied the release',
          );
        }
        for (const v of report.replaced) {
          // TF Serving knows versions by number: one it has loaded stays in memory as it was.
          log.warn(
            { version: v },
            `version ${v} on disk was replaced by the different version ${v} now in S3; TF Serving keeps the copy it ` +
              'loaded until it unloads that version (restart the pod, or release another version and back)',
          );
        }
        if (report.fallback !== lastFallback) {
          if (report.fallback) log.warn(report.fallback);
          else log.info('the release has the label this pod follows again');
          lastFallback = report.fallback;
        }
        const failedNow = JSON.stringify(report.failed);
        for (const f of report.failed) {
          metrics.errors.inc({ kind: 'version_failed' });
          // Loud while it lasts, but once per change rather than every poll.
          if (failedNow !== lastFailed)
            log.error(
              { version: f.version, served: report.served.versions },
              `version ${f.version} of the release cannot be served: ${f.reason}; the versions that verify keep serving`,
            );
        }
        lastFailed = failedNow;
        const failedVersions = new Set(report.failed.map((f) => f.version));
        for (const m of report.missing) {
          if (m.version === undefined || !failedVersions.has(m.version))
            log.warn({ version: m.version }, m.reason);
        }
        if (report.served.versions.length > 0) {
          lastGoodAt = Date.now();
          metrics.lastSuccess.set(lastGoodAt / 1000);
          lastError = report.complete
            ? undefined
            : report.missing.map((m) => m.reason).join('; ') || undefined;
        } else {
          metrics.errors.inc({ kind: 'incomplete' });
          lastError = report.missing.map((m) => m.reason).join('; ') || 'no version to serve';
        }
        options.onSync?.(report);
      } catch (error) {
        if (options.signal?.aborted) break;
        if (!(error instanceof PollDeadlineError)) {
          metrics.errors.inc({ kind: kindOf(error) });
          lastError = isLocalFileError(error)
            ? `cannot write ${(error as { path: string }).path} (${describeError(error)}): ` +
              'check that --dest and --config-out are writable folders on this pod'
            : (options.describeFailure?.(error) ?? describeError(error));
          log.error(
            { err: lastError, kind: kindOf(error) },
            'sync failed; the versions already present keep serving',
          );
        }
      } finally {
        stop();
      }
      if (options.once) {
        if (lastGoodAt !== undefined) break;
        if (attempts >= (options.onceAttempts ?? 3)) {
          throw new SyncFailedError(`no complete sync of ${where} into ${options.dest}: ${lastError}`);
        }
      }
      // While a push is running, look again sooner: its version is wanted the moment its manifest lands.
      const soon = options.once || last?.pushInProgress === true;
      await sleep(soon ? Math.min(interval, options.once ? 1000 : 200) : interval, options.signal);
    }
    if (options.once && lastGoodAt === undefined) {
      throw new SyncFailedError(
        `stopped before a complete sync of ${where}${lastError ? `: ${lastError}` : ''}`,
      );
    }
    return last;
  } finally {
    await cleanLeftovers(options.dest).catch(() => undefined);
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    log.info('sync stopped');
  }
}

/**
 * One poll that gives up at `deadlineMs`: its signal aborts (downloads stop,
 * nothing more is written to dest), and the loop waits for it to wind down
 * (S3 requests end at the client's socket timeout at the latest) so two
 * polls never work on one folder at once.
 */
async function pollWithDeadline(
  options: SyncOptions,
  deadlineMs: number,
  onBytes: (n: number) => void,
  onOverrun: () => void,
): Promise<SyncReport> {
  // The poll stops when the sidecar stops or when its deadline passes. (Forwarded by hand rather than
  // with AbortSignal.any, which keeps a reference per poll on the sidecar's long-lived signal.)
  const controller = new AbortController();
  const stop = () => controller.abort();
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener('abort', stop, { once: true });
  // Every download in flight (and each retry) listens on it: more than Node's default of 10.
  setMaxListeners(256, controller.signal);
  const poll = syncOnce({ ...options, signal: controller.signal }, onBytes);
  let timer: NodeJS.Timeout | undefined;
  const overran = new Promise<'overran'>((resolve) => {
    timer = setTimeout(() => resolve('overran'), deadlineMs);
  });
  try {
    const first = await Promise.race([poll, overran]);
    if (first !== 'overran') return first;
    controller.abort();
    onOverrun();
    await poll.catch(() => undefined);
    throw new PollDeadlineError(`the poll ran past its ${deadlineMs / 1000} s deadline and was abandoned`);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', stop);
  }
}

export interface ServingReadiness {
  readonly ready: boolean;
  readonly versions: ReadonlyArray<{ readonly version: number; readonly state: string }>;
  readonly error?: string;
}

/** Asks TF Serving's model-status endpoint whether a version is AVAILABLE (LOADING and END are not). */
export async function servingReadiness(url: string | undefined, timeoutMs = 2000): Promise<ServingReadiness> {
  if (!url) {
    return { ready: false, versions: [], error: 'no --serving-url given: the sidecar cannot ask TF Serving' };
  }
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let body: { model_version_status?: Array<{ version?: unknown; state?: unknown }>; error?: unknown };
    try {
      body = JSON.parse(text);
    } catch {
      return { ready: false, versions: [], error: `${url} answered HTTP ${response.status} with no JSON` };
    }
    const versions = (body.model_version_status ?? []).map((s) => ({
      version: Number(s.version),
      state: String(s.state),
    }));
    const ready = response.ok && versions.some((v) => v.state === 'AVAILABLE');
    const error = ready
      ? undefined
      : typeof body.error === 'string'
        ? body.error
        : `no version is AVAILABLE (${versions.map((v) => `${v.version}: ${v.state}`).join(', ') || 'none listed'})`;
    return { ready, versions, ...(error ? { error } : {}) };
  } catch (error) {
    const reason =
      isAbort(error) || (error as Error).name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : describeError(error);
    return { ready: false, versions: [], error: `${url}: ${reason}` };
  }
}

type Handler = (url: string) => Promise<{ status: number; body: string; type?: string }>;

function listen(port: number, host: string, handler: Handler): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    handler((req.url ?? '/').split('?')[0]!).then(
      ({ status, body, type }) => {
        res.writeHead(status, { 'content-type': type ?? 'text/plain; charset=utf-8' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => {
        res.writeHead(500).end();
      },
    );
  });
  server.keepAliveTimeout = 1000;
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(
          new SyncFailedError(
            `port ${port} on ${host} is already in use, so the sidecar cannot serve /healthz, /readyz and /metrics there: ` +
              'stop whatever listens on it, or give --port another port (0 picks a free one)',
          ),
        );
      } else if (error.code === 'EACCES') {
        reject(
          new SyncFailedError(
            `not allowed to listen on port ${port} on ${host} (ports below 1024 need privileges): give --port 1024 or above`,
          ),
        );
      } else {
        reject(error);
      }
    });
    server.listen(port, host, () => resolve(server));
  });
}
