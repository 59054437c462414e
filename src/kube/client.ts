// Requests to the Kubernetes API over node:http/node:https, with credentials that refresh
// (src/kube/credentials.ts): on a 401 the credential is dropped and fetched again (token file
// re-read, exec plugin re-run) and the request is sent once more before the caller sees the 401.
// In a pod the transport is built from the service account alone (src/kube/in-cluster.ts);
// @kubernetes/client-node (about 70 MB of RSS) is loaded only to read a kubeconfig file.
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { CosmoletError, ErrorCodes, OversizeError, errorMessage } from '../errors.js';
import { buildInfo } from '../version.js';
import type { Auth } from './credentials.js';
import { missing, type LoadKubeClientOptions, type Transport } from './transport.js';

export interface KubeResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An open streaming response (a watch): read `stream`, call `close()` to abort it. */
export interface KubeStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  stream: Readable;
  close(): void;
}

export interface RequestOptions {
  /** Content-Type of the body; JSON by default. */
  contentType?: string;
  /** Abort the whole request after this many ms (not used for streams). Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Fail (OversizeError) once the response body grows past this many bytes. */
  maxBytes?: number;
  /**
   * Takes the body of a 200 as it arrives instead of buffering it (the response's body is then '');
   * what it throws fails the request. Other statuses are buffered as usual, for their Status message.
   */
  sink?: (chunk: Buffer) => void;
}

export interface KubeClient {
  /** The API server base URL, e.g. https://10.96.0.1:443. */
  readonly server: string;
  /** What the operator should know about the connection's safety (insecure-skip-tls-verify...). */
  readonly warnings?: readonly string[];
  request(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<KubeResponse>;
  /** A GET whose body is streamed (watches). Resolves once the response headers arrive. */
  stream(path: string, options?: { signal?: AbortSignal }): Promise<KubeStream>;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Finds the API server: `kubeconfigPath` (--kubeconfig), then $KUBECONFIG, then in-cluster
 * (KUBERNETES_SERVICE_HOST/PORT and the service account token), else KUBECONFIG_MISSING.
 * Never client-node's loadFromDefault, which silently falls back to http://localhost:8080.
 */
export async function loadTransport(options: LoadKubeClientOptions = {}): Promise<Transport> {
  const env = options.env ?? process.env;
  if (options.kubeconfigPath || env.KUBECONFIG) {
    // Loaded only here: a pod using its service account never pays for client-node.
    const { kubeconfigTransport } = await import('./kubeconfig.js');
    return kubeconfigTransport(options, env);
  }
  if (env.KUBERNETES_SERVICE_HOST) {
    const { inClusterTransport } = await import('./in-cluster.js');
    return inClusterTransport(env, options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR, options.tokenReloadMs);
  }
  throw missing(
    'no Kubernetes API configured: pass --kubeconfig FILE, set $KUBECONFIG, or run in a cluster ' +
      '(KUBERNETES_SERVICE_HOST and a service account token)',
  );
}

export async function loadKubeClient(options: LoadKubeClientOptions = {}): Promise<KubeClient> {
  const transport = await loadTransport(options);
  // Fetch the credential once now so a broken exec plugin or token file fails at start, clearly,
  // and so does a token that would go over plain http.
  let auth: Auth;
  try {
    auth = await transport.credentials.get();
  } catch (err) {
    throw new CosmoletError(ErrorCodes.KUBECONFIG_MISSING, `kubernetes credentials: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (auth.authorization && transport.server.startsWith('http://'))
    throw new CosmoletError(
      ErrorCodes.KUBECONFIG_MISSING,
      `kubernetes credentials: refusing to send a bearer token or password to ${transport.server} over plain http: use https`,
    );
  return new HttpKubeClient(transport);
}

export function kubeClientFromTransport(transport: Transport): KubeClient {
  return new HttpKubeClient(transport);
}

class HttpKubeClient implements KubeClient {
  readonly server: string;
  readonly warnings: readonly string[];
  private readonly base: URL;
  private readonly mod: typeof http | typeof https;
  private readonly basePath: string;

  constructor(private readonly transport: Transport) {
    this.server = transport.server.replace(/\/+$/, '');
    this.warnings = transport.warnings ?? [];
    this.base = new URL(this.server);
    this.mod = this.base.protocol === 'http:' ? http : https;
    this.basePath = this.base.pathname.replace(/\/+$/, '');
  }

  private async auth(): Promise<Auth> {
    let auth: Auth;
    try {
      auth = await this.transport.credentials.get();
    } catch (err) {
      if (err instanceof CosmoletError) throw err;
      throw new CosmoletError(ErrorCodes.KUBE_AUTH, `kubernetes credentials: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    // As client-go: a bearer token or password never crosses plain http, where anyone can read it.
    if (auth.authorization && this.mod === http)
      throw new CosmoletError(
        ErrorCodes.KUBE_AUTH,
        `refusing to send a bearer token or password to ${this.server} over plain http: use https`,
      );
    return auth;
  }

  private send(
    method: string,
    path: string,
    auth: Auth,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal | undefined,
    retried = false,
  ): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
    const tls = this.transport.tls;
    const opts: https.RequestOptions = {
      method,
      protocol: this.base.protocol,
      hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
      port: this.base.port || (this.base.protocol === 'http:' ? 80 : 443),
      path: this.basePath + path,
      headers: {
        Accept: 'application/json',
        'User-Agent': userAgent(),
        ...(auth.authorization ? { Authorization: auth.authorization } : {}),
        ...headers,
      },
    };
    if (this.mod === https) {
      opts.rejectUnauthorized = tls.rejectUnauthorized;
      if (tls.ca) opts.ca = tls.ca;
      if (tls.servername) opts.servername = tls.servername;
      if (auth.cert && auth.key) {
        opts.cert = auth.cert;
        opts.key = auth.key;
      }
    }
    if (signal?.aborted) return Promise.reject(unreachable(method, path, new Error('aborted')));
    return new Promise((resolve, reject) => {
      let req: http.ClientRequest;
      try {
        req = this.mod.request(opts, (res) => resolve({ req, res }));
      } catch (err) {
        // e.g. a header value the credential made invalid: never a crash
        reject(unreachable(method, path, err instanceof Error ? err : new Error(String(err))));
        return;
      }
      const onAbort = (): void => {
        req.destroy(new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal?.removeEventListener('abort', onAbort));
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive connection the server had already closed (it restarted, or timed the idle
        // socket out): a GET is sent again once on a new connection, as Go's transport does.
        const stale = req.reusedSocket && (err.code === 'ECONNRESET' || err.message === 'socket hang up');
        if (stale && !retried && (method === 'GET' || method === 'HEAD') && !signal?.aborted) {
          this.send(method, path, auth, headers, body, signal, true).then(resolve, reject);
          return;
        }
        reject(unreachable(method, path, err));
      });
      if (body !== undefined) req.end(body);
      else req.end();
    });
  }

  /** Sends the request; on a 401, drops the credential, fetches a fresh one and sends it once more. */
  private async open(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
    const first = await this.send(method, path, await this.auth(), headers, body, signal);
    if (first.res.statusCode !== 401) return first;
    first.res.resume();
    first.req.destroy();
    this.transport.credentials.invalidate();
    return this.send(method, path, await this.auth(), headers, body, signal);
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<KubeResponse> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (payload !== undefined) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 60_000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const { res } = await this.open(method, path, headers, payload, signal);
    const sink = res.statusCode === 200 ? options.sink : undefined;
    return await new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onAbort = (): void => {
        res.destroy(new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      let failed = false;
      const fail = (err: Error): void => {
        failed = true;
        signal.removeEventListener('abort', onAbort);
        res.destroy();
        reject(err);
      };
      res.on('data', (c: Buffer) => {
        if (failed) return;
        size += c.length;
        if (options.maxBytes !== undefined && size > options.maxBytes) {
          fail(new OversizeError(`${method} ${path}: the response is larger than ${options.maxBytes} bytes`));
          return;
        }
        if (!sink) {
          chunks.push(c);
          return;
        }
        try {
          sink(c);
        } catch (err) {
          fail(err instanceof Error ? err : new Error(String(err)));
        }
      });
      res.on('error', (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(unreachable(method, path, err));
      });
      res.on('end', () => {
        signal.removeEventListener('abort', onAbort);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
  }

  async stream(path: string, options: { signal?: AbortSignal } = {}): Promise<KubeStream> {
    const { req, res } = await this.open('GET', path, {}, undefined, options.signal);
    // Keep-alive probes so a dead peer (not a quiet one) is noticed by the kernel.
    res.socket?.setKeepAlive(true, 30_000);
    return {
      status: res.statusCode ?? 0,
      headers: res.headers,
      stream: res,
      close: () => {
        req.destroy();
        res.destroy();
      },
    };
  }
}

function unreachable(method: string, path: string, err: Error): CosmoletError {
  return new CosmoletError(ErrorCodes.KUBE_UNREACHABLE, `${method} ${path}: ${err.message}`, { cause: err });
}

/**
 * How cosmolet names itself to the API server, as client-go does (`<name>/<version> (<os>/<arch>)`):
 * kube-apiserver takes the default field manager of a write (managedFields) from the part before the
 * first `/`, and its audit log records the whole string. Without it both said "unknown".
 */
export function userAgent(): string {
  return `cosmolet/${buildInfo().version} (${process.platform}/${process.arch})`;
}

/** Reads Retry-After (seconds form) from a response. */
export function retryAfterSeconds(headers: http.IncomingHttpHeaders): number | undefined {
  const v = headers['retry-after'];
  if (typeof v !== 'string') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** The message of a Kubernetes Status body, or the raw body when it is not one. */
export function statusMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { kind?: unknown; message?: unknown };
    if (parsed.kind === 'Status' && typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON: fall through
  }
  return body.slice(0, 200);
}
