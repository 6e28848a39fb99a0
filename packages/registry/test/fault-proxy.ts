// A fault-injecting HTTP proxy for races and lost responses. Beyond the
// errors of helpers.ts's proxy, it can hold a matching request until the
// test lets it go (so two clients interleave in exactly the order a test
// wants, with no sleeps), forward a request and then drop its response (the
// server did the write, the client never hears so), and tell a test when a
// matching request has arrived.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  readonly method: string;
  /** Decoded path and query, e.g. /models/team/m/1/catwalk-claim.json?x-id=PutObject */
  readonly url: string;
  /** The decoded path without the query. */
  readonly path: string;
  /** Path and query exactly as they came on the wire (still percent-encoded). */
  readonly rawUrl: string;
  readonly headers: http.IncomingHttpHeaders;
}

export type ProxyAction =
  | 'pass'
  /** Close the connection before forwarding: the server never sees the request. */
  | 'reset'
  /** Forward the request, let the server answer, then close the connection: the client sees no response. */
  | 'drop-response'
  | { readonly status: number; readonly code: string }
  /** Forward, but cut the response body after this many bytes. */
  | { readonly truncateAfter: number }
  /** Wait for `hold` before doing `next` (default 'pass'). */
  | { readonly hold: Promise<unknown>; readonly next?: ProxyAction };

export type ProxyRule = (req: ProxiedRequest) => ProxyAction;

export interface FaultProxy {
  readonly endpoint: string;
  /** Every request seen, in arrival order, with the action taken and whether its exchange has ended. */
  readonly seen: Array<ProxiedRequest & { action: string; done: boolean }>;
  /** How many requests matching `match` are in flight right now. */
  inFlight(match: (req: ProxiedRequest) => boolean): number;
  setRule(rule: ProxyRule): void;
  /** Resolves once a request matching `match` arrives (counting requests already seen when `past` is true). */
  arrival(match: (req: ProxiedRequest) => boolean, past?: boolean): Promise<ProxiedRequest>;
  close(): Promise<void>;
}

const actionName = (a: ProxyAction): string =>
  typeof a === 'string' ? a : 'hold' in a ? 'hold' : 'status' in a ? `status ${a.status}` : 'truncate';

/** A gate a test opens when it wants: `gate.open()` lets every request held on `gate.opened` go. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/**
 * The heavy fault plan of the reliability runs, by request count:
 * every 3rd request gets 503 SlowDown, every 4th a reset, every 5th a cut body.
 */
export function faultPlan(plan: ReadonlyArray<readonly [number, ProxyAction]>, applies: ProxyRule) {
  let n = 0;
  return (req: ProxiedRequest): ProxyAction => {
    if (applies(req) === 'pass') return 'pass';
    n++;
    for (const [every, action] of plan) if (n % every === 0) return action;
    return 'pass';
  };
}

export async function startProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  let rule: ProxyRule = () => 'pass';
  const seen: Array<ProxiedRequest & { action: string; done: boolean }> = [];
  const waiters: Array<{ match: (r: ProxiedRequest) => boolean; resolve: (r: ProxiedRequest) => void }> = [];

  const act = async (
    action: ProxyAction,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> => {
    if (typeof action === 'object' && 'hold' in action) {
      await action.hold;
      return act(action.next ?? 'pass', req, res);
    }
    if (action === 'reset') {
      req.socket.destroy();
      return;
    }
    if (typeof action === 'object' && 'status' in action) {
      req.resume();
      req.on('end', () => {
        res.writeHead(action.status, { 'content-type': 'application/xml', connection: 'close' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${action.code}</Code><Message>injected</Message></Error>`,
        );
      });
      return;
    }
    const forward = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (action === 'drop-response') {
          // The server has done the work; make sure it finished, then leave the client with nothing.
          up.resume();
          up.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (typeof action === 'object' && 'truncateAfter' in action) {
          let sent = 0;
          up.on('data', (chunk: Buffer) => {
            const room = action.truncateAfter - sent;
            sent += chunk.length;
            if (sent < action.truncateAfter) {
              res.write(chunk);
              return;
            }
            up.destroy();
            // Close only once the headers and those bytes have left: the client must see a 2xx whose body
            // stops short, not a connection closed before any answer (a different fault, retried elsewhere).
            res.write(chunk.subarray(0, room), () => res.socket?.destroy());
          });
          up.on('end', () => res.end());
          return;
        }
        up.pipe(res);
      },
    );
    forward.on('error', () => res.socket?.destroy());
    req.pipe(forward);
  };

  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '/');
    const request: ProxiedRequest = {
      method: req.method ?? 'GET',
      url,
      path: url.split('?')[0]!,
      rawUrl: req.url ?? '/',
      headers: req.headers,
    };
    // Hold the body until the action is known (a held request must not be half-forwarded).
    req.pause();
    const action = rule(request);
    const entry = { ...request, action: actionName(action), done: false };
    seen.push(entry);
    res.on('close', () => {
      entry.done = true;
    });
    for (const w of waiters.splice(0)) {
      if (w.match(request)) w.resolve(request);
      else waiters.push(w);
    }
    act(action, req, res).catch(() => req.socket.destroy());
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    inFlight: (match) => seen.filter((r) => !r.done && match(r)).length,
    setRule(next) {
      rule = next;
    },
    arrival(match, past = false) {
      const already = past ? seen.find(match) : undefined;
      if (already) return Promise.resolve(already);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Request matchers by S3 operation and key suffix. */
export const is = {
  put: (suffix: string) => (r: ProxiedRequest) => r.method === 'PUT' && r.path.endsWith(suffix),
  get: (suffix: string) => (r: ProxiedRequest) => r.method === 'GET' && r.path.endsWith(suffix),
  /** A PUT of SavedModel data (a file or a part), not one of the registry's own records. */
  dataPut: (r: ProxiedRequest) =>
    r.method === 'PUT' && !r.path.includes('/catwalk-') && !r.path.includes('.catwalk-probe'),
};
