// The HTTP server on http.address: a fixed table of GET paths, nothing else. Handlers are small
// functions that return a status and a body; a handler that throws answers 500, never crashes.
// Protected paths (/metrics, /status) need an authorized bearer token when an authorizer is set
// (any bind that is not loopback-only, see auth.ts); no other path ever starts a review, whatever
// headers it carries. A cached route's body is serialized (and gzipped) once per change and shared
// by every request; heavy routes have a concurrency limit, taken only once the caller is authorized.
// What one client can hold is bounded: header, request and idle timeouts, a header size cap, no
// request bodies, one request at a time per connection (Node would start every pipelined request
// at once), and connection caps in total and per source address.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { parseHttpAddress } from '../config/http-address.js';
import { ConfigError, errorMessage } from '../errors.js';
import type { RequestAuthorizer } from './auth.js';
import { createServer, type TlsFiles } from './tls.js';
import type { Logger } from '../logger.js';

const gzip = promisify(gzipCallback);

export interface HttpAnswer {
  status: number;
  body: string | object;
  contentType?: string;
}

export interface RequestContext {
  /** The caller may see details: no authorizer, or a token authorized for this path. */
  authorized: boolean;
}

export interface HttpRoute {
  handler: (ctx: RequestContext) => HttpAnswer | Promise<HttpAnswer>;
  /** Refused (401/403) unless the bearer token is authorized for this path. */
  protected?: boolean;
  /** Counts against the concurrency limit of heavy routes. */
  heavy?: boolean;
  /**
   * The answer depends only on these values (compared with Object.is): while they stay the same the
   * serialized body is reused, without calling the handler.
   */
  cacheKey?: () => readonly unknown[];
}

export type HttpRoutes = Record<string, HttpRoute | HttpRoute['handler']>;

export interface HttpServerOptions {
  /** Set for any bind that is not loopback-only. */
  authorizer?: RequestAuthorizer;
  /** Heavy requests in flight at once; more are answered 503 with Retry-After. Default 4. */
  heavyConcurrency?: number;
  maxConnections?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** A socket idle (nothing read or written) this long is closed. */
  idleTimeoutMs?: number;
  /** Connections from one source address; more are closed at once. Default 32. */
  maxConnectionsPerSource?: number;
  /** Serve HTTPS with this certificate and key (http.tls), re-read when they change (tls.ts). */
  tls?: TlsFiles;
}

export interface RunningHttpServer {
  /** The port actually bound (useful with port 0 in tests). */
  port: number;
  close(): Promise<void>;
}

interface Serialized {
  key: readonly unknown[];
  status: number;
  type: string;
  body: Buffer;
  gzipped: Promise<Buffer> | undefined;
}

const GZIP_MIN_BYTES = 1024;
/** Room for a bearer token of several KiB (bound service account tokens are about 1 KiB). */
export const MAX_HEADER_BYTES = 16 * 1024;
/**
 * Requests a connection may have waiting behind the one being answered. No scraper or browser
 * pipelines; a client that sends more is an attack on memory, and its connection is closed.
 */
export const MAX_PIPELINED = 8;
/** One client (one address) may not take the whole connection budget from the others. */
export const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 32;

/** The requests of one connection, answered one after another. */
interface ConnectionQueue {
  busy: boolean;
  waiting: (() => void)[];
}

function sameKey(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

function serialize(a: HttpAnswer, compact: boolean): { status: number; type: string; body: Buffer } {
  const text =
    typeof a.body === 'string' ? a.body : JSON.stringify(a.body, null, compact ? undefined : 2) + '\n';
  const type =
    a.contentType ?? (typeof a.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json');
  return { status: a.status, type, body: Buffer.from(text) };
}

export async function startHttpServer(
  address: string,
  routes: HttpRoutes,
  logger: Logger,
  options: HttpServerOptions = {},
): Promise<RunningHttpServer> {
  const parsed = parseHttpAddress(address, true);
  if (typeof parsed === 'string')
    throw new ConfigError('http.address', `http.address: ${address}: ${parsed}`);
  const table = new Map<string, HttpRoute>(
    Object.entries(routes).map(([p, r]) => [p, typeof r === 'function' ? { handler: r } : r]),
  );
  const heavyLimit = options.heavyConcurrency ?? 4;
  let heavyInFlight = 0;
  const cache = new Map<string, Serialized>();
  const authorizer = options.authorizer;

  const send = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    s: { status: number; type: string; body: Buffer },
    gzipped: () => Promise<Buffer>,
  ): Promise<void> => {
    const headers: http.OutgoingHttpHeaders = { 'content-type': s.type, 'cache-control': 'no-store' };
    let body = s.body;
    if (body.length >= GZIP_MIN_BYTES && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      body = await gzipped();
      headers['content-encoding'] = 'gzip';
      headers.vary = 'Accept-Encoding';
    }
    headers['content-length'] = body.length;
    res.writeHead(s.status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const answer = async (
    path: string,
    route: HttpRoute,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> => {
    // Only a protected path asks the API server: a token on /healthz is never reviewed.
    let authorized = authorizer === undefined;
    if (authorizer && route.protected) {
      const decision = await authorizer.check(req.headers.authorization, path);
      authorized = decision.status === 200;
      if (!authorized) {
        logger.debug({ path, status: decision.status, reason: decision.reason }, 'HTTP request refused');
        const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain; charset=utf-8' };
        if (decision.status === 401) headers['www-authenticate'] = 'Bearer';
        if (decision.status === 503) headers['retry-after'] = '5';
        if (decision.status === 429) headers['retry-after'] = '1';
        res.writeHead(decision.status, headers).end(`${decision.reason}\n`);
        return;
      }
    }
    // After authorization: a caller waiting for its review holds no heavy slot.
    if (route.heavy) {
      if (heavyInFlight >= heavyLimit) {
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('busy, retry\n');
        return;
      }
      heavyInFlight += 1;
      res.once('close', () => (heavyInFlight -= 1));
    }
    if (route.cacheKey && authorized) {
      const key = route.cacheKey();
      let entry = cache.get(path);
      if (!entry || !sameKey(entry.key, key)) {
        entry = { key, ...serialize(await route.handler({ authorized }), true), gzipped: undefined };
        cache.set(path, entry);
      }
      const e = entry;
      await send(req, res, e, () => (e.gzipped ??= gzip(e.body)));
      return;
    }
    const s = serialize(await route.handler({ authorized }), false);
    await send(req, res, s, () => gzip(s.body));
  };

  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  // Node checks the header and request timeouts on this interval (30 s by default).
  const server = createServer(
    options.tls,
    logger,
    { connectionsCheckingInterval: Math.min(1000, headersTimeout), maxHeaderSize: MAX_HEADER_BYTES },
    (req, res) => {
      // Node starts every request it parses, pipelined or not: take them one at a time.
      const socket = req.socket;
      if (socket.destroyed) return;
      let queue = queues.get(socket);
      if (!queue) {
        queue = { busy: false, waiting: [] };
        queues.set(socket, queue);
      }
      const q = queue;
      const run = (): void => {
        // A client that went away leaves nothing to answer (and no review to start).
        if (socket.destroyed) return;
        q.busy = true;
        res.once('close', () => {
          q.busy = false;
          q.waiting.shift()?.();
        });
        handle(req, res);
      };
      if (!q.busy) run();
      else if (q.waiting.length < MAX_PIPELINED) q.waiting.push(run);
      else {
        q.waiting.length = 0;
        socket.destroy();
      }
    },
  );
  const queues = new WeakMap<object, ConnectionQueue>();

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = table.get(path);
    // No path reads a body: refuse one rather than buffer or drain it, and close the connection.
    const length = req.headers['content-length'];
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) {
      res
        .writeHead(413, { 'content-type': 'text/plain', connection: 'close' })
        .end('a request body is not accepted\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (!route) {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end(`not found; paths: ${[...table.keys()].join(' ')}\n`);
      return;
    }
    answer(path, route, req, res).catch((err: unknown) => {
      logger.error({ path, err: errorMessage(err) }, 'HTTP handler failed');
      if (res.headersSent) res.destroy();
      else res.writeHead(500, { 'content-type': 'text/plain' }).end(`internal error: ${errorMessage(err)}\n`);
    });
  };

  // Per source address, on the raw TCP connection (before any TLS handshake).
  const perSourceLimit = options.maxConnectionsPerSource ?? DEFAULT_MAX_CONNECTIONS_PER_SOURCE;
  const perSource = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const source = socket.remoteAddress ?? '';
    const n = perSource.get(source) ?? 0;
    if (n >= perSourceLimit) {
      socket.destroy();
      return;
    }
    perSource.set(source, n + 1);
    socket.once('close', () => {
      const left = (perSource.get(source) ?? 1) - 1;
      if (left === 0) perSource.delete(source);
      else perSource.set(source, left);
    });
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = headersTimeout;
  server.requestTimeout = options.requestTimeoutMs ?? 30_000;
  server.maxHeadersCount = 64;
  server.maxConnections = options.maxConnections ?? 256;
  server.setTimeout(options.idleTimeoutMs ?? 30_000, (socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: parsed.port, host: parsed.host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info(
    {
      address,
      port,
      tls: options.tls !== undefined,
      authentication: authorizer ? 'TokenReview+SubjectAccessReview' : 'none (loopback)',
    },
    `serving ${[...table.keys()].join(' ')} on ${address}`,
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
