// The one place that touches @kubernetes/client-node: KubeConfig for loading kubeconfigs and
// applyToHTTPSOptions for TLS and auth. Requests themselves go through node:http/node:https.
// Auth is applied afresh for every request, so rotating token files and exec plugins keep working.
import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { delimiter } from 'node:path';
import type { Readable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { CosmoletError, ErrorCodes, errorMessage } from '../errors.js';

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
}

export interface KubeClient {
  /** The API server base URL, e.g. https://10.96.0.1:443. */
  readonly server: string;
  request(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<KubeResponse>;
  /** A GET whose body is streamed (watches). Resolves once the response headers arrive. */
  stream(path: string, options?: { signal?: AbortSignal }): Promise<KubeStream>;
}

export interface LoadKubeClientOptions {
  kubeconfigPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Where the in-cluster service account lives (tests point it elsewhere). */
  serviceAccountDir?: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

function missing(message: string): CosmoletError {
  return new CosmoletError(ErrorCodes.KUBECONFIG_MISSING, message);
}

/**
 * Finds the API server: `kubeconfigPath` (--kubeconfig), then $KUBECONFIG, then in-cluster
 * (KUBERNETES_SERVICE_HOST/PORT and the service account token), else KUBECONFIG_MISSING.
 * Never client-node's loadFromDefault, which silently falls back to http://localhost:8080.
 */
export function loadKubeConfig(options: LoadKubeClientOptions = {}): KubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  if (options.kubeconfigPath) {
    loadFile(kc, options.kubeconfigPath, '--kubeconfig');
  } else if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(delimiter).filter((f) => f !== '');
    const first = files[0];
    if (first === undefined) throw missing('$KUBECONFIG is set but names no file');
    loadFile(kc, first, '$KUBECONFIG');
    // Like kubectl, later files add clusters/users/contexts; the first file's names win.
    for (const f of files.slice(1)) {
      if (!existsSync(f)) continue;
      const more = new KubeConfig();
      loadFile(more, f, '$KUBECONFIG');
      for (const c of more.clusters) if (!kc.getCluster(c.name)) kc.addCluster(c);
      for (const u of more.users) if (!kc.getUser(u.name)) kc.addUser(u);
      for (const c of more.contexts) if (!kc.getContextObject(c.name)) kc.addContext(c);
      if (!kc.currentContext) kc.setCurrentContext(more.currentContext);
    }
  } else if (env.KUBERNETES_SERVICE_HOST) {
    loadInCluster(kc, env, options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
  } else {
    throw missing(
      'no Kubernetes API configured: pass --kubeconfig FILE, set $KUBECONFIG, or run in a cluster ' +
        '(KUBERNETES_SERVICE_HOST and a service account token)',
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw missing(`kubeconfig: current context "${kc.currentContext}" names no cluster`);
  if (!/^https?:\/\//.test(cluster.server)) {
    throw missing(
      `kubeconfig: cluster "${cluster.name}" has no http(s) server URL (got "${cluster.server}")`,
    );
  }
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    // client-node refuses plain http unless insecure-skip-tls-verify is set; say so up front.
    throw missing(
      `kubeconfig: cluster "${cluster.name}" uses plain http (${cluster.server}); ` +
        'set insecure-skip-tls-verify: true for it or use https',
    );
  }
  return kc;
}

function loadFile(kc: KubeConfig, path: string, from: string): void {
  if (!existsSync(path)) throw missing(`kubeconfig ${path} (from ${from}) does not exist`);
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw new CosmoletError(
      ErrorCodes.KUBECONFIG_MISSING,
      `kubeconfig ${path} (from ${from}) cannot be read: ${errorMessage(err)}`,
      { cause: err },
    );
  }
}

function loadInCluster(kc: KubeConfig, env: NodeJS.ProcessEnv, dir: string): void {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const tokenFile = `${dir}/token`;
  if (!existsSync(tokenFile)) {
    throw missing(`in-cluster: KUBERNETES_SERVICE_HOST is set but ${tokenFile} does not exist`);
  }
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const caFile = `${dir}/ca.crt`;
  // The tokenFile auth provider re-reads the (rotating, projected) token every 60 s.
  kc.loadFromOptions({
    clusters: [
      { name: 'in-cluster', server, caFile: existsSync(caFile) ? caFile : undefined, skipTLSVerify: false },
    ],
    users: [{ name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile } } }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster' }],
    currentContext: 'in-cluster',
  });
}

export async function loadKubeClient(options: LoadKubeClientOptions = {}): Promise<KubeClient> {
  const kc = loadKubeConfig(options);
  const client = new HttpKubeClient(kc);
  // Apply auth once now so a broken exec plugin or unreadable CA fails at start, clearly.
  try {
    await client.prepare();
  } catch (err) {
    throw new CosmoletError(
      ErrorCodes.KUBECONFIG_MISSING,
      `kubeconfig: cannot set up TLS/auth: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
  return client;
}

export function kubeClientFromConfig(kc: KubeConfig): KubeClient {
  return new HttpKubeClient(kc);
}

interface PreparedRequest {
  options: https.RequestOptions;
  mod: typeof http | typeof https;
}

class HttpKubeClient implements KubeClient {
  readonly server: string;
  private readonly base: URL;

  constructor(private readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    this.server = (cluster?.server ?? '').replace(/\/+$/, '');
    this.base = new URL(this.server);
  }

  async prepare(): Promise<PreparedRequest> {
    const options: https.RequestOptions = { headers: {} };
    // Fresh per request: reads rotated token files, runs/caches exec plugins, builds the agent.
    await this.kc.applyToHTTPSOptions(options);
    const cluster = this.kc.getCurrentCluster();
    if (cluster?.skipTLSVerify) options.rejectUnauthorized = false;
    if (cluster?.tlsServerName) options.servername = cluster.tlsServerName;
    return { options, mod: this.base.protocol === 'http:' ? http : https };
  }

  private async open(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
    let prepared: PreparedRequest;
    try {
      prepared = await this.prepare();
    } catch (err) {
      throw new CosmoletError(ErrorCodes.KUBE_UNREACHABLE, `kubernetes auth failed: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    const basePath = this.base.pathname.replace(/\/+$/, '');
    const opts: https.RequestOptions = {
      ...prepared.options,
      method,
      protocol: this.base.protocol,
      hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
      port: this.base.port || (this.base.protocol === 'http:' ? 80 : 443),
      path: basePath + path,
      headers: {
        ...(prepared.options.headers as Record<string, string>),
        Accept: 'application/json',
        ...headers,
      },
    };
    if (signal?.aborted) throw unreachable(method, path, new Error('aborted'));
    return await new Promise((resolve, reject) => {
      const req = prepared.mod.request(opts, (res) => resolve({ req, res }));
      const onAbort = (): void => {
        req.destroy(new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal?.removeEventListener('abort', onAbort));
      req.on('error', (err) => reject(unreachable(method, path, err)));
      if (body !== undefined) req.end(body);
      else req.end();
    });
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
    return await new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const onAbort = (): void => {
        res.destroy(new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      res.on('data', (c: Buffer) => chunks.push(c));
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
