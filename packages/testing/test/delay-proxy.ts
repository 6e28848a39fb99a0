// A TCP proxy for fault tests: it forwards bytes both ways and holds back
// each client-to-server chunk that matches for `delayMs` (order kept), so a
// test sees what a slow network or a slow server does to the caller.
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';

export interface DelayProxy {
  /** host:port to connect to instead of the target. */
  readonly address: string;
  /** Delay applied to each matching client-to-server chunk; change it at any time. */
  delayMs: number;
  /** Chunks sent through the proxy that matched. */
  readonly matched: number;
  close(): Promise<void>;
}

export async function startDelayProxy(
  target: string,
  options: { delayMs: number; match?: (chunk: Buffer) => boolean },
): Promise<DelayProxy> {
  const [host, port] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.slice(target.lastIndexOf(':') + 1)),
  ];
  const sockets = new Set<Socket>();
  let matched = 0;
  const state = { delayMs: options.delayMs };
  const server: Server = createServer((client) => {
    const upstream = connect(port, host);
    sockets.add(client).add(upstream);
    let queue = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      const hold = options.match === undefined || options.match(chunk);
      if (hold) matched++;
      const wait = hold ? state.delayMs : 0;
      queue = queue.then(
        () =>
          new Promise<void>((resolve) => {
            const send = () => {
              if (!upstream.destroyed) upstream.write(chunk);
              resolve();
            };
            if (wait > 0) setTimeout(send, wait).unref();
            else send();
          }),
      );
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!client.destroyed) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    address,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    get matched() {
      return matched;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
