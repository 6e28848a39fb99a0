// The sync sidecar: a poll loop around syncOnce, with the endpoints a pod
// needs (/healthz, /readyz, /metrics), JSON logs and a clean stop.
//
// While S3 is unreachable the loop logs, counts the error and tries again
// next poll; the versions already in dest keep serving.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { describeError, errorKind } from './retry';
import { cleanLeftovers, type SyncOptions, type SyncReport, syncOnce } from './sync';

export interface SidecarOptions extends SyncOptions {
  /** Time between polls; 200 ms while a newer push is in progress. @default 10000 */
  readonly intervalMs?: number;
  /** Stop after the first complete sync (init container); throw if none is possible. */
  readonly once?: boolean;
  /** With once: polls tried before giving up. @default 3 */
  readonly onceAttempts?: number;
  /** Port of /healthz, /readyz and /metrics; undefined: no HTTP server. 0: any free port. */
  readonly port?: number;
  /** @default 0.0.0.0 */
  readonly host?: string;
  /** @default pino to stdout */
  readonly logger?: Logger;
  /** Called once the HTTP server listens. */
  readonly onListening?: (port: number) => void;
  /** Called after each poll (tests, the CLI's --once output). */
  readonly onSync?: (report: SyncReport) => void;
}

/** JSON-lines logger for the sidecar; `destination` defaults to stdout. */
export function createSyncLogger(destination?: { write(line: string): unknown }, level = 'info'): Logger {
  const options = { base: { component: 'catwalk-sync' }, level };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}

export class SyncFailedError extends Error {
  override readonly name = 'SyncFailedError';
}

export function createMetrics(registry = new Registry()) {
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
      help: 'Unix time of the last complete sync',
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

/** Runs until `signal` aborts (or, with once, until the first complete sync). */
export async function runSidecar(options: SidecarOptions): Promise<SyncReport | undefined> {
  const log = options.logger ?? createSyncLogger();
  const metrics = createMetrics();
  const interval = options.intervalMs ?? 10_000;
  let ready = false;
  let last: SyncReport | undefined;
  const server =
    options.port === undefined
      ? undefined
      : await listen(options.port, options.host ?? '0.0.0.0', async (url) => {
          if (url === '/healthz') return { status: 200, body: 'ok\n' };
          if (url === '/readyz')
            return ready ? { status: 200, body: 'ready\n' } : { status: 503, body: 'no complete sync yet\n' };
          if (url === '/metrics')
            return {
              status: 200,
              body: await metrics.registry.metrics(),
              type: metrics.registry.contentType,
            };
          return { status: 404, body: 'not found\n' };
        });
  if (server) options.onListening?.((server.address() as AddressInfo).port);

  const syncOptions: SyncOptions = {
    manifestCache: new Map(),
    ...options,
    onRetry: (error, what) => {
      metrics.errors.inc({ kind: errorKind(error) });
      log.warn({ err: describeError(error), kind: errorKind(error), file: what }, 'retrying download');
      options.onRetry?.(error, what);
    },
  };
  const where = `s3://${options.location.bucket}/${options.location.prefix}`;
  log.info(
    { source: where, dest: options.dest, track: options.track ?? 'all', intervalMs: interval },
    'sync starting',
  );
  let lastError: string | undefined;
  let attempts = 0;
  try {
    await cleanLeftovers(options.dest);
    while (!options.signal?.aborted) {
      const stop = metrics.duration.startTimer();
      attempts++;
      try {
        const report = await syncOnce(syncOptions, (n) => metrics.bytes.inc(n));
        last = report;
        metrics.versions.set(report.present.length);
        metrics.generation.set(report.generation);
        if (report.downloaded.length || report.removed.length || report.configChanged) {
          log.info(
            {
              generation: report.generation,
              downloaded: report.downloaded,
              removed: report.removed,
              present: report.present,
              bytes: report.bytes,
            },
            'sync applied the release',
          );
        }
        for (const m of report.missing) log.warn({ version: m.version }, m.reason);
        if (report.complete) {
          metrics.lastSuccess.set(Date.now() / 1000);
          ready = true;
          lastError = undefined;
        } else {
          metrics.errors.inc({ kind: 'incomplete' });
          lastError = report.missing.map((m) => m.reason).join('; ') || 'no version to serve';
        }
        options.onSync?.(report);
      } catch (error) {
        if (options.signal?.aborted) break;
        metrics.errors.inc({ kind: errorKind(error) });
        lastError = describeError(error);
        log.error(
          { err: lastError, kind: errorKind(error) },
          'sync failed; the versions already present keep serving',
        );
      } finally {
        stop();
      }
      if (options.once) {
        if (last?.complete && !lastError) break;
        if (attempts >= (options.onceAttempts ?? 3)) {
          throw new SyncFailedError(`no complete sync of ${where} into ${options.dest}: ${lastError}`);
        }
      }
      // While a push is running, look again sooner: its version is wanted the moment its manifest lands.
      const soon = options.once || last?.pushInProgress === true;
      await sleep(soon ? Math.min(interval, options.once ? 1000 : 200) : interval, options.signal);
    }
    if (options.once && !last?.complete) {
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
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
