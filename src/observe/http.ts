// The HTTP server on http.address: a fixed table of GET paths, nothing else. Handlers are small
// functions that return a status and a body; a handler that throws answers 500, never crashes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseHttpAddress } from '../config/http-address.js';
import { ConfigError, errorMessage } from '../errors.js';
import type { Logger } from './log.js';

export interface HttpAnswer {
  status: number;
  body: string | object;
  contentType?: string;
}

export type HttpRoutes = Record<string, () => HttpAnswer | Promise<HttpAnswer>>;

export interface RunningHttpServer {
  /** The port actually bound (useful with port 0 in tests). */
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(
  address: string,
  routes: HttpRoutes,
  logger: Logger,
): Promise<RunningHttpServer> {
  const parsed = parseHttpAddress(address, true);
  if (typeof parsed === 'string')
    throw new ConfigError('http.address', `http.address: ${address}: ${parsed}`);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routes[path];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (!route) {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end(`not found; paths: ${Object.keys(routes).join(' ')}\n`);
      return;
    }
    Promise.resolve()
      .then(route)
      .then(
        (a) => {
          const body = typeof a.body === 'string' ? a.body : JSON.stringify(a.body, null, 2) + '\n';
          const type =
            a.contentType ?? (typeof a.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json');
          res.writeHead(a.status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
        },
        (err: unknown) => {
          logger.error({ path, err }, 'HTTP handler failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`internal error: ${errorMessage(err)}\n`);
        },
      );
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: parsed.port, host: parsed.host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ address, port }, `serving /healthz /readyz /metrics /version /status on ${address}`);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
