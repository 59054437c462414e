// A Kubernetes API server test double that speaks the real HTTP protocol, for tests and `cosmolet lab`.
// This file is its public API and routes requests; each job is a file beside it (store.ts,
// list.ts, watch.ts, routes.ts, discovery.ts, auth.ts, faults.ts, lab-endpoints.ts, tables.ts,
// certs.ts). What it does is checked against a real kube-apiserver by the shared conformance cases
// (test/conformance/kube-api.ts); where it still differs is listed in docs/design.md.
//
// Implements, for Services, EndpointSlices, Nodes, Pods, Events, Leases and Namespaces:
// - one global resourceVersion (etcd's revision); every write bumps it;
// - LIST with labelSelector (=, ==, !=, exists, !exists, in, notin), fieldSelector (metadata.name,
//   metadata.namespace on namespaced resources), resourceVersion (unset / NotOlderThan: now; Exact:
//   the state then, 410 once compacted; 0: the whole list, as the watch cache ignores limit; too
//   large: 504 ResourceVersionTooLarge), limit/continue with pages read at the first page's
//   resourceVersion (a snapshot rebuilt from the history) and remainingItemCount, a continue token
//   older than the compacted revision -> 410 Expired carrying a token to go on inconsistently; list
//   items without kind/apiVersion;
// - WATCH (?watch=1): headers flushed at once, synthetic ADDED for a watch without resourceVersion (or
//   "0"), replay from a resourceVersion, ERROR 410 in the stream when it is compacted (or HTTP 410,
//   see `goneMode`), allowWatchBookmarks (a BOOKMARK every interval and 2 s before timeoutSeconds),
//   timeoutSeconds (clean close), and selector transitions (an object that stops matching is sent as
//   DELETED, one that starts as ADDED);
// - GET/POST/PUT/PATCH (merge-patch; strategic-merge treated as merge-patch)/DELETE of single objects,
//   resourceVersion preconditions (409 Conflict), generateName, Status objects for every error with
//   kube-apiserver's messages and details (name, group, kind);
// - discovery (/version, /api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>) in the legacy
//   (non-aggregated) form, which kubectl accepts; no OpenAPI;
// - a bearer-token check (when a token is configured); /healthz, /readyz, /livez need none; tokens
//   can rotate (setToken) and more users can be added (addToken), with full access to resources or
//   none (403 as RBAC words it); TokenReview and SubjectAccessReview (non-resource URLs only: path +
//   verb, granted with allow()), so delegated authentication and authorization of cosmolet's HTTP
//   endpoints can be tested;
// - fault injection (programmatic, and POST /_lab/faults): drop watches (clean or abrupt), stall
//   watches, fail the next N requests with a status and Retry-After, compact the history, expire
//   watches (in-stream 410), restart the listener with or without resourceVersion continuity;
// - a request log (programmatic, and GET /_lab/requests), and a bulk upsert (POST /_lab/objects, YAML
//   or JSON: one object, a List, or several documents);
// - server-side printing (Table, as kubectl asks for it) with kubectl's usual columns for Services,
//   EndpointSlices, Nodes, Pods and Events, also in watches.
// Not implemented: JSON patch, server-side apply, deleteCollection, dry-run, protobuf, subresources
// (/status), field managers, finalizers and graceful deletion, admission/validation beyond name and
// namespace (no ClusterIP allocation, no defaulting), RBAC rules per resource, OpenAPI and aggregated
// discovery, the "too large resourceVersion" wait on a watch (a watch from the future gets 410 here),
// a history per resource.
//
// kubectl (v1.32) works against it: get (with TYPE, CLUSTER-IP... columns), get -o json/yaml/name,
// get -w, get --raw (also ?watch=1), label, annotate, patch, delete;
// create and apply need --validate=false because they download OpenAPI for validation.
//
// Transport: https by default, with a throwaway self-signed certificate made once per process by the
// openssl CLI (no npm dependency can make one); the kubeconfig it writes carries that certificate as
// certificate-authority-data. Why not plain http: kubectl (client-go) never sends a bearer token over
// http, so kubectl against a token-checking http double always gets 401. `tls: false` serves http and
// writes insecure-skip-tls-verify: true (client-node refuses http:// otherwise); pair it with no token
// when kubectl must work.
// Why one file of this length: it is the double's public API (the methods tests call) and its
// request router; every job behind them is its own file beside it.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { stringify as yamlStringify } from 'yaml';
import { SelectorError } from 'cosmolet/errors';
import type { KubeObject } from 'cosmolet/model/objects';
import type { Logger } from 'cosmolet/logger';
import { silentLogger } from 'cosmolet/observe/log';
import { Auth, type DoubleUser } from './auth.js';
import { makeSelfSigned, type TlsMaterial } from './certs.js';
import { discoveryDocument } from './discovery.js';
import { FailRules, type FailRule } from './faults.js';
import {
  HttpError,
  objectDetails,
  qualifiedResource,
  readBody,
  sendError,
  sendJson,
  sendStatus,
} from './http.js';
import { serveLabEndpoint } from './lab-endpoints.js';
import { RequestLog, type RequestLogEntry } from './request-log.js';
import type { ResourceName } from './resources.js';
import { parseResourcePath, serveResource, type ResourceRoute } from './routes.js';
import { ObjectStore } from './store.js';
import { Watches } from './watch.js';

export interface ApiServerOptions {
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** Required bearer token; undefined = no authentication. */
  token?: string;
  /** Serve https with a self-signed certificate (default true); false = plain http. */
  tls?: boolean;
  /** How many events the watch history keeps before compacting the oldest. Default 100,000. */
  historyLimit?: number;
  /** Interval of BOOKMARK events on watches that asked for them. Default 60 s (like the API server). */
  bookmarkIntervalMs?: number;
  /** How a watch from a compacted resourceVersion fails: in-stream ERROR (like kube-apiserver) or HTTP 410. */
  goneMode?: 'stream' | 'http';
  logger?: Logger;
  requestLogLimit?: number;
}

/**
 * The double: an HTTP(S) listener that routes each request (health, authentication, reviews, the
 * lab's endpoints, injected failures, discovery, resources) to the pieces beside it, and the
 * programmatic API tests use.
 */
export class FakeApiServer {
  private readonly auth = new Auth();
  readonly host: string;
  private server: http.Server | https.Server | undefined;
  private portNumber = 0;
  private readonly tlsMaterial: TlsMaterial | undefined;
  private readonly objects: ObjectStore;
  private readonly watches: Watches;
  private readonly failRules = new FailRules();
  private readonly sockets = new Set<Socket>();
  private readonly log: RequestLog;
  private readonly logger: Logger;
  /** Called for every request before it is served (tests inject faults at exact moments). */
  onRequest: ((entry: RequestLogEntry) => void) | undefined;

  private constructor(options: ApiServerOptions) {
    if (options.token !== undefined) this.setToken(options.token);
    this.host = options.host ?? '127.0.0.1';
    this.portNumber = options.port ?? 0;
    this.objects = new ObjectStore(options.historyLimit ?? 100_000, (entry) => this.watches.publish(entry));
    this.watches = new Watches(this.objects, {
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
      goneMode: options.goneMode ?? 'stream',
    });
    this.log = new RequestLog(options.requestLogLimit ?? 100_000);
    this.logger = options.logger ?? silentLogger();
    this.tlsMaterial = (options.tls ?? true) ? makeSelfSigned(this.host) : undefined;
  }

  static async start(options: ApiServerOptions = {}): Promise<FakeApiServer> {
    const s = new FakeApiServer(options);
    await s.listen();
    return s;
  }

  get port(): number {
    return this.portNumber;
  }

  get url(): string {
    const h = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `${this.tlsMaterial ? 'https' : 'http'}://${h}:${this.portNumber}`;
  }

  /** The current global resourceVersion. */
  get resourceVersion(): number {
    return this.objects.resourceVersion;
  }

  get activeWatches(): number {
    return this.watches.size;
  }

  /** How a watch from a compacted resourceVersion fails: in-stream ERROR (like kube-apiserver) or HTTP 410. */
  get goneMode(): 'stream' | 'http' {
    return this.watches.goneMode;
  }

  set goneMode(mode: 'stream' | 'http') {
    this.watches.goneMode = mode;
  }

  // ---- authentication and authorization ----

  /** TokenReview and SubjectAccessReview requests answered (tests check caching). */
  get reviews(): { tokenReviews: number; subjectAccessReviews: number } {
    return this.auth.reviews;
  }

  /** The token written in the kubeconfig (cosmolet's service account); undefined = no authentication. */
  get token(): string | undefined {
    return this.auth.token;
  }

  /** Rotates the service account token: the previous one is refused from now on. */
  setToken(token: string, options: { keepPrevious?: boolean } = {}): void {
    this.auth.setToken(token, options);
  }

  /** Another user's token (a Prometheus service account, an operator). */
  addToken(token: string, user: DoubleUser): void {
    this.auth.addToken(token, user);
  }

  revokeToken(token: string): void {
    this.auth.revokeToken(token);
  }

  /** RBAC for non-resource URLs: `subject` (a user or group name) may `verb` on `path`. */
  allow(subject: string, verb: string, path: string): void {
    this.auth.allow(subject, verb, path);
  }

  // ---- listener ----

  private async listen(): Promise<void> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger.error({ err }, 'apiserver double: handler failed');
        if (!res.headersSent) sendStatus(res, 500, 'InternalError', String(err));
        else res.destroy();
      });
    };
    const server = this.tlsMaterial
      ? https.createServer({ key: this.tlsMaterial.key, cert: this.tlsMaterial.cert }, handler)
      : http.createServer(handler);
    const track = (socket: Socket): void => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    };
    server.on('connection', track);
    server.on('secureConnection', track);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.portNumber, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.portNumber = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.watches.drop({ clean: false });
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- kubeconfig ----

  kubeconfig(): string {
    const cluster: Record<string, unknown> = { server: this.url };
    if (this.tlsMaterial)
      cluster['certificate-authority-data'] = Buffer.from(this.tlsMaterial.cert).toString('base64');
    else cluster['insecure-skip-tls-verify'] = true;
    const user: Record<string, unknown> = this.token ? { token: this.token } : {};
    return yamlStringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'cosmolet-lab', cluster }],
      users: [{ name: 'cosmolet-lab', user }],
      contexts: [{ name: 'cosmolet-lab', context: { cluster: 'cosmolet-lab', user: 'cosmolet-lab' } }],
      'current-context': 'cosmolet-lab',
    });
  }

  writeKubeconfig(path: string): void {
    writeFileSync(path, this.kubeconfig(), { mode: 0o600 });
  }

  // ---- programmatic object operations ----

  get<T extends KubeObject>(
    resource: ResourceName,
    namespace: string | undefined,
    name: string,
  ): T | undefined {
    return this.objects.get<T>(resource, namespace, name);
  }

  /** All objects of a resource (in a namespace), sorted by key. */
  list<T extends KubeObject>(resource: ResourceName, namespace?: string): T[] {
    return this.objects.list<T>(resource, namespace);
  }

  create<T extends KubeObject>(resource: ResourceName, obj: T): T {
    return this.objects.create(resource, obj);
  }

  update<T extends KubeObject>(resource: ResourceName, obj: T): T {
    return this.objects.update(resource, obj);
  }

  upsert<T extends KubeObject>(resource: ResourceName, obj: T): T {
    return this.objects.upsert(resource, obj);
  }

  /**
   * Upserts objects of any supported kind (by `kind`); returns those of other kinds. `owned`: the
   * caller hands the objects over (freshly parsed ones), so they are stored without copying.
   */
  load(objects: KubeObject[], options: { owned?: boolean } = {}): { loaded: number; skipped: KubeObject[] } {
    return this.objects.load(objects, options);
  }

  /** Deletes; returns false when the object did not exist. */
  delete(resource: ResourceName, namespace: string | undefined, name: string): boolean {
    return this.objects.delete(resource, namespace, name);
  }

  // ---- fault injection ----

  /** Ends every open watch: cleanly (end of the chunked body) or abruptly (socket reset). */
  dropWatches(options: { clean?: boolean } = {}): number {
    return this.watches.drop(options);
  }

  /** Open watches stop sending anything (events, bookmarks, timeouts), like a black-holed connection. */
  stallWatches(options: { newWatches?: boolean } = {}): number {
    return this.watches.stall(options);
  }

  /** Stops stalling new watches (already stalled ones stay stalled until the client gives up). */
  unstallWatches(): void {
    this.watches.unstall();
  }

  /** The next `count` matching requests fail with `status` (a Status body) and optional Retry-After. */
  failNext(count: number, status: number, options: Omit<FailRule, 'remaining' | 'status'> = {}): void {
    this.failRules.add(count, status, options);
  }

  clearFaults(): void {
    this.failRules.clear();
    this.watches.unstall();
  }

  /** Forgets the watch history up to now: watches and continue tokens from older versions get 410. */
  compact(): void {
    this.objects.compact();
  }

  /** Writes a raw line (e.g. malformed JSON) to every open watch. */
  injectWatchLine(line: string): number {
    return this.watches.injectLine(line);
  }

  /** Sends an in-stream ERROR 410 to every open watch and ends it. */
  expireWatches(): number {
    return this.watches.expire();
  }

  /**
   * Closes the listener and every connection, then listens again on the same port after `downMs`.
   * Without continuity the history is lost and every object gets a new resourceVersion (numbered on
   * from a gap above the old counter, so no old and new version can be mistaken for each other):
   * every resourceVersion a client holds, and every continue token, is then answered with 410.
   * (A real etcd restore can also move versions backwards; no client can detect that, so the double
   * does not simulate it.)
   */
  async restart(options: { keepResourceVersion?: boolean; downMs?: number } = {}): Promise<void> {
    await this.close();
    if (!(options.keepResourceVersion ?? true)) this.objects.renumber();
    if (options.downMs) await new Promise((r) => setTimeout(r, options.downMs));
    await this.listen();
  }

  // ---- request log ----

  get requests(): readonly RequestLogEntry[] {
    return this.log.entries;
  }

  clearRequestLog(): void {
    this.log.clear();
  }

  // ---- HTTP ----

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double');
    const query = Object.fromEntries(url.searchParams.entries());
    const method = req.method ?? 'GET';
    const isWatch = method === 'GET' && (query.watch === '1' || query.watch === 'true');
    const entry: RequestLogEntry = {
      time: Date.now(),
      method,
      path: url.pathname,
      query,
      status: 0,
      watch: isWatch,
    };
    this.log.add(entry);
    this.onRequest?.(entry);
    res.on('finish', () => {
      if (entry.status === 0) entry.status = res.statusCode;
    });
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const body = method === 'GET' || method === 'DELETE' ? '' : await readBody(req);
    try {
      if (path === '/healthz' || path === '/readyz' || path === '/livez') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok');
        return;
      }
      if (!this.auth.authenticates(req.headers.authorization)) {
        throw new HttpError(401, 'Unauthorized', 'Unauthorized');
      }
      if (method === 'POST' && path === '/apis/authentication.k8s.io/v1/tokenreviews') {
        sendJson(res, 201, this.auth.tokenReview(body));
        return;
      }
      if (method === 'POST' && path === '/apis/authorization.k8s.io/v1/subjectaccessreviews') {
        sendJson(res, 201, this.auth.subjectAccessReview(body));
        return;
      }
      const tokenFor = /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts\/([^/]+)\/token$/.exec(path);
      if (method === 'POST' && tokenFor) {
        const [ns, sa] = [decodeURIComponent(tokenFor[1] ?? ''), decodeURIComponent(tokenFor[2] ?? '')];
        if (!this.objects.get('serviceaccounts', ns, sa))
          throw new HttpError(404, 'NotFound', `serviceaccounts "${sa}" not found`);
        const answer = this.auth.tokenRequest(ns, sa, body);
        if (typeof answer === 'string') throw new HttpError(422, 'Invalid', answer);
        sendJson(res, 201, answer);
        return;
      }
      if (path.startsWith('/_lab/')) {
        serveLabEndpoint(this, this.logger, method, path, body, res);
        return;
      }
      const failure = this.failRules.take(method, isWatch, url.pathname);
      if (failure) throw failure;
      const document = discoveryDocument(path, `${this.host}:${this.portNumber}`);
      if (document !== undefined) {
        sendJson(res, 200, document);
        return;
      }
      const route = parseResourcePath(path);
      if (!route)
        throw new HttpError(404, 'NotFound', `the server could not find the requested resource (${path})`);
      const user = this.auth.user(req.headers.authorization);
      if (user?.resources === 'none') throw forbidden(user.username, route, method, isWatch);
      serveResource(this.objects, this.watches, { route, method, query, body, isWatch }, req, res);
      // A watch stays open: log its status once the headers are out.
      if (res.headersSent && entry.status === 0) entry.status = res.statusCode;
    } catch (err) {
      if (err instanceof HttpError) {
        sendError(res, err);
      } else if (err instanceof SelectorError) {
        sendStatus(res, 400, 'BadRequest', err.message);
      } else {
        throw err;
      }
    }
  }
}

/** 403 as RBAC answers a user without a rule for the request (message and details as kube-apiserver's). */
function forbidden(username: string, route: ResourceRoute, method: string, isWatch: boolean): HttpError {
  const verbs: Record<string, string> = {
    GET: route.name === undefined ? (isWatch ? 'watch' : 'list') : isWatch ? 'watch' : 'get',
    POST: 'create',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: route.name === undefined ? 'deletecollection' : 'delete',
  };
  const verb = verbs[method] ?? method.toLowerCase();
  const what = `${qualifiedResource(route.info)}${route.name === undefined ? '' : ` "${route.name}"`}`;
  const scope =
    route.info.namespaced && route.namespace !== undefined
      ? `in the namespace "${route.namespace}"`
      : 'at the cluster scope';
  return new HttpError(
    403,
    'Forbidden',
    `${what} is forbidden: User "${username}" cannot ${verb} resource "${route.info.name}" in API group "${route.info.group}" ${scope}`,
    undefined,
    objectDetails(route.info, route.name),
  );
}
