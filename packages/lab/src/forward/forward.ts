// A byte-level forwarder between a TCP address and a unix socket, in either direction. Network
// namespaces do not share loopback, but they share the file system: the lab puts the simulated API
// server in one namespace and cosmolet in another, and joins them through a unix socket with this.
import net from 'node:net';
import { rmSync } from 'node:fs';

export type Endpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** `tcp:HOST:PORT`, `tcp:[V6]:PORT` or `unix:/path`. */
export function parseEndpoint(s: string): Endpoint | undefined {
  if (s.startsWith('unix:') && s.length > 5) return { kind: 'unix', path: s.slice(5) };
  const m = /^tcp:(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { kind: 'tcp', host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

export interface Forwarder {
  /** The TCP port listened on (when listening on TCP; useful with port 0). */
  port: number | undefined;
  close(): Promise<void>;
}

export async function startForwarder(listen: Endpoint, target: Endpoint): Promise<Forwarder> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = target.kind === 'tcp' ? net.connect(target.port, target.host) : net.connect(target.path);
    sockets.add(client).add(upstream);
    const done = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  if (listen.kind === 'unix') rmSync(listen.path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const ready = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (listen.kind === 'unix') server.listen(listen.path, ready);
    else server.listen(listen.port, listen.host, ready);
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : undefined,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
