// The HTTP server on http.address: a fixed table of GET paths, nothing else. Handlers are small
// functions that return a status and a body; a handler that throws answers 500, never crashes.
// Protected paths (/metrics, /status) need an authorized bearer token when an authorizer is set
// (any bind that is not loopback-only, see auth.ts). A cached route's body is serialized (and
// gzipped) once per change and shared by every request; heavy routes have a concurrency limit;
// header, request and idle timeouts and a connection cap bound what slow or many clients can hold.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { parseHttpAddress } from '../config/http-address.js';
import { ConfigError, errorMessage } from '../errors.js';
import type { RequestAuthorizer } from './auth.js';
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
    let authorized = authorizer === undefined;
    if (authorizer && (route.protected || req.headers.authorization !== undefined)) {
      const decision = await authorizer.check(req.headers.authorization, path);
      authorized = decision.status === 200;
      if (route.protected && !authorized) {
        logger.debug({ path, status: decision.status, reason: decision.reason }, 'HTTP request refused');
        const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain; charset=utf-8' };
        if (decision.status === 401) headers['www-authenticate'] = 'Bearer';
        if (decision.status === 503) headers['retry-after'] = '5';
        res.writeHead(decision.status, headers).end(`${decision.reason}\n`);
        return;
      }
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
  const server = http.createServer(
    { connectionsCheckingInterval: Math.min(1000, headersTimeout) },
    (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const route = table.get(path);
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
      if (route.heavy) {
        if (heavyInFlight >= heavyLimit) {
          res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('busy, retry\n');
          return;
        }
        heavyInFlight += 1;
        res.once('close', () => (heavyInFlight -= 1));
      }
      answer(path, route, req, res).catch((err: unknown) => {
        logger.error({ path, err: errorMessage(err) }, 'HTTP handler failed');
        if (res.headersSent) res.destroy();
        else
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`internal error: ${errorMessage(err)}\n`);
      });
    },
  );
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
    { address, port, authentication: authorizer ? 'TokenReview+SubjectAccessReview' : 'none (loopback)' },
    `serving /healthz /readyz /metrics /version /status on ${address}`,
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
