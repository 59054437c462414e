// A Kubernetes API server test double that speaks the real HTTP protocol, for tests and `cosmolet lab`.
//
// Implements, for Services, EndpointSlices, Nodes, Pods, Events, Leases and Namespaces:
// - one global resourceVersion (etcd's revision); every write bumps it;
// - LIST with labelSelector (=, ==, !=, exists, !exists, in, notin), fieldSelector (metadata.name,
//   metadata.namespace), limit/continue (a continue token older than the compacted revision -> 410
//   Expired); list pages are read from the live store (not a snapshot): changes between pages show up
//   when watching from the list's resourceVersion, which is what a reflector does anyway;
// - WATCH (?watch=1): headers flushed at once, synthetic ADDED for a watch without resourceVersion (or
//   "0"), replay from a resourceVersion, ERROR 410 in the stream when it is compacted (or HTTP 410,
//   see `goneMode`), allowWatchBookmarks (periodic BOOKMARK), timeoutSeconds (clean close), and
//   selector transitions (an object that stops matching is sent as DELETED, one that starts as ADDED);
// - GET/POST/PUT/PATCH (merge-patch; strategic-merge treated as merge-patch)/DELETE of single objects,
//   resourceVersion preconditions (409 Conflict), generateName, Status objects for every error;
// - discovery (/version, /api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>) in the legacy
//   (non-aggregated) form, which kubectl accepts; no OpenAPI;
// - a bearer-token check (when a token is configured); /healthz, /readyz, /livez need none; tokens
//   can rotate (setToken) and more users can be added (addToken); TokenReview and
//   SubjectAccessReview (non-resource URLs only: path + verb, granted with allow()), so delegated
//   authentication and authorization of cosmolet's HTTP endpoints can be tested;
// - fault injection (programmatic, and POST /_lab/faults): drop watches (clean or abrupt), stall
//   watches, fail the next N requests with a status and Retry-After, compact the history, expire
//   watches (in-stream 410), restart the listener with or without resourceVersion continuity;
// - a request log (programmatic, and GET /_lab/requests), and a bulk upsert (POST /_lab/objects, YAML
//   or JSON: one object, a List, or several documents);
// - server-side printing (Table, as kubectl asks for it) with kubectl's usual columns for Services,
//   EndpointSlices, Nodes, Pods and Events, also in watches.
// Not implemented: JSON patch, server-side apply, deleteCollection, dry-run, protobuf, subresources
// (/status), field managers, finalizers and graceful deletion, admission/validation beyond name and
// namespace, OpenAPI and aggregated discovery, the "too large resourceVersion" wait (a resourceVersion
// from the future gets 410 here), consistent list snapshots across pages, a history per resource.
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
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify as yamlStringify } from 'yaml';
import { CosmoletError, ErrorCodes, SelectorError } from '../errors.js';
import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  type FieldRequirement,
  type LabelSelector,
} from '../model/selector.js';
import type { KubeObject } from '../model/objects.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../observe/log.js';

export interface ResourceInfo {
  /** Plural name used in URLs. */
  name: string;
  group: string; // '' = core
  version: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
}

export const RESOURCES: readonly ResourceInfo[] = [
  { name: 'services', group: '', version: 'v1', kind: 'Service', namespaced: true, shortNames: ['svc'] },
  { name: 'nodes', group: '', version: 'v1', kind: 'Node', namespaced: false, shortNames: ['no'] },
  { name: 'pods', group: '', version: 'v1', kind: 'Pod', namespaced: true, shortNames: ['po'] },
  { name: 'events', group: '', version: 'v1', kind: 'Event', namespaced: true, shortNames: ['ev'] },
  { name: 'namespaces', group: '', version: 'v1', kind: 'Namespace', namespaced: false, shortNames: ['ns'] },
  {
    name: 'endpointslices',
    group: 'discovery.k8s.io',
    version: 'v1',
    kind: 'EndpointSlice',
    namespaced: true,
    shortNames: [],
  },
  {
    name: 'leases',
    group: 'coordination.k8s.io',
    version: 'v1',
    kind: 'Lease',
    namespaced: true,
    shortNames: [],
  },
];

export type ResourceName =
  'services' | 'nodes' | 'pods' | 'events' | 'namespaces' | 'endpointslices' | 'leases';

function resourceInfo(name: string): ResourceInfo {
  const r = RESOURCES.find((x) => x.name === name);
  if (!r) throw new CosmoletError(ErrorCodes.KUBE_API, `unknown resource ${name}`);
  return r;
}

/** Objects from YAML/JSON text: one object, a List, or several YAML documents (JSON is YAML). */
export function parseObjects(text: string, source = 'input'): KubeObject[] {
  const out: KubeObject[] = [];
  // JSON is YAML, but JSON.parse is two orders of magnitude faster on the large Lists benchmarks load.
  if (/^\s*[[{]/.test(text)) {
    let parsed: unknown;
    let isJson = true;
    try {
      parsed = JSON.parse(text);
    } catch {
      isJson = false;
    }
    if (isJson) {
      collectObjects(parsed, out);
      return out;
    }
  }
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]?.message ?? 'YAML error'}`);
    collectObjects(doc.toJS(), out);
  }
  return out;
}

function collectObjects(v: unknown, out: KubeObject[]): void {
  if (v === null || typeof v !== 'object') return;
  const o = v as KubeObject & { items?: unknown };
  if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items)) {
    for (const item of o.items) collectObjects(item, out);
  } else out.push(o);
}

export function resourceForKind(kind: string | undefined): ResourceInfo | undefined {
  return RESOURCES.find((x) => x.kind === kind);
}

function apiVersionOf(r: ResourceInfo): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

export interface RequestLogEntry {
  time: number;
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  watch: boolean;
}

export interface FailRule {
  remaining: number;
  status: number;
  retryAfterSeconds?: number;
  method?: string;
  /** Only requests that are (true) or are not (false) watches. */
  watch?: boolean;
  /** Only requests whose path contains this. */
  pathIncludes?: string;
}

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

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface HistoryEntry {
  rv: number;
  resource: string;
  type: EventType;
  object: KubeObject;
  previous: KubeObject | undefined;
}

interface Watcher {
  resource: string;
  namespace: string | undefined;
  labels: LabelSelector;
  fields: FieldRequirement[];
  res: http.ServerResponse;
  socket: Socket;
  stalled: boolean;
  bookmarks: boolean;
  /** kubectl asked for server-side printing: events carry one-row Tables. */
  table: TableOptions | undefined;
  timers: NodeJS.Timeout[];
}

interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  code: number;
  details?: Record<string, unknown>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

function statusBody(code: number, reason: string, message: string): StatusBody {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Index of the first key greater than `after` in sorted `keys`. */
function firstAfter(keys: readonly string[], after: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] ?? '') <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const base: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete base[k];
    else base[k] = mergePatch(base[k], v);
  }
  return base;
}

const certCache = new Map<string, { key: string; cert: string }>();

function makeSelfSigned(host: string): { key: string; cert: string } {
  const cached = certCache.get(host);
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-apiserver-tls-'));
  try {
    const san = /^[\d.]+$|:/.test(host) ? `IP:${host},DNS:localhost` : `DNS:${host},IP:127.0.0.1`;
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=cosmolet-apiserver-double',
        '-addext',
        `subjectAltName=${san}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore', timeout: 20_000 },
    );
    const made = {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
    certCache.set(host, made);
    return made;
  } catch (err) {
    throw new CosmoletError(
      ErrorCodes.LAB_PREREQUISITE,
      'cannot make a TLS certificate (is openssl installed?)',
      {
        cause: err,
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Who a token belongs to, as TokenReview reports it. */
export interface DoubleUser {
  username: string;
  groups?: string[];
}

/** The identity of the double's first token: cosmolet's service account. */
export const SERVICE_ACCOUNT_USER: DoubleUser = {
  username: 'system:serviceaccount:kube-system:cosmolet',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
};

interface Grant {
  subject: string;
  verb: string;
  path: string;
}

export class FakeApiServer {
  private primaryToken: string | undefined;
  private readonly tokens = new Map<string, DoubleUser>();
  private readonly grants: Grant[] = [];
  /** TokenReview and SubjectAccessReview requests answered (tests check caching). */
  readonly reviews = { tokenReviews: 0, subjectAccessReviews: 0 };
  readonly host: string;
  private server: http.Server | https.Server | undefined;
  private portNumber = 0;
  private readonly tlsMaterial: { key: string; cert: string } | undefined;
  private readonly stores = new Map<string, Map<string, KubeObject>>();
  /**
   * JSON text of stored objects for list pages: a write stores a new object rather than changing
   * one, so the text stays valid as long as the object lives (a restart without continuity, which
   * renumbers every object in place, starts a new cache).
   */
  private jsonCache = new WeakMap<KubeObject, string>();
  /** Sorted keys per resource for list pages, dropped when a key comes or goes (not on updates). */
  private readonly sortedKeys = new Map<string, string[]>();
  private rv = 1;
  private compactedRv = 0;
  private history: HistoryEntry[] = [];
  private readonly historyLimit: number;
  private readonly bookmarkIntervalMs: number;
  goneMode: 'stream' | 'http';
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private failRules: FailRule[] = [];
  private stallNew = false;
  private readonly log: RequestLogEntry[] = [];
  private readonly requestLogLimit: number;
  private readonly logger: Logger;
  /** Called for every request before it is served (tests inject faults at exact moments). */
  onRequest: ((entry: RequestLogEntry) => void) | undefined;

  private constructor(options: ApiServerOptions) {
    if (options.token !== undefined) this.setToken(options.token);
    this.host = options.host ?? '127.0.0.1';
    this.portNumber = options.port ?? 0;
    this.historyLimit = options.historyLimit ?? 100_000;
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000;
    this.goneMode = options.goneMode ?? 'stream';
    this.requestLogLimit = options.requestLogLimit ?? 100_000;
    this.logger = options.logger ?? silentLogger();
    this.tlsMaterial = (options.tls ?? true) ? makeSelfSigned(this.host) : undefined;
    for (const r of RESOURCES) this.stores.set(r.name, new Map());
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
    return this.rv;
  }

  get activeWatches(): number {
    return this.watchers.size;
  }

  /** The token written in the kubeconfig (cosmolet's service account); undefined = no authentication. */
  get token(): string | undefined {
    return this.primaryToken;
  }

  /** Rotates the service account token: the previous one is refused from now on. */
  setToken(token: string, options: { keepPrevious?: boolean } = {}): void {
    if (this.primaryToken !== undefined && !options.keepPrevious) this.tokens.delete(this.primaryToken);
    this.primaryToken = token;
    this.tokens.set(token, SERVICE_ACCOUNT_USER);
  }

  /** Another user's token (a Prometheus service account, an operator). */
  addToken(token: string, user: DoubleUser): void {
    this.tokens.set(token, user);
  }

  revokeToken(token: string): void {
    this.tokens.delete(token);
  }

  /** RBAC for non-resource URLs: `subject` (a user or group name) may `verb` on `path`. */
  allow(subject: string, verb: string, path: string): void {
    this.grants.push({ subject, verb, path });
  }

  private async listen(): Promise<void> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger.error({ err }, 'apiserver double: handler failed');
        if (!res.headersSent) this.sendStatus(res, 500, 'InternalError', String(err));
        else res.destroy();
      });
    };
    const server = this.tlsMaterial
      ? https.createServer({ key: this.tlsMaterial.key, cert: this.tlsMaterial.cert }, handler)
      : http.createServer(handler);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('secureConnection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
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
    for (const w of [...this.watchers]) this.endWatcher(w, false);
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

  private store(resource: string): Map<string, KubeObject> {
    const s = this.stores.get(resource);
    if (!s) throw new CosmoletError(ErrorCodes.KUBE_API, `unknown resource ${resource}`);
    return s;
  }

  get<T extends KubeObject>(
    resource: ResourceName,
    namespace: string | undefined,
    name: string,
  ): T | undefined {
    const o = this.store(resource).get(keyOf(namespace, name));
    return o ? (clone(o) as T) : undefined;
  }

  /** All objects of a resource (in a namespace), sorted by key. */
  list<T extends KubeObject>(resource: ResourceName, namespace?: string): T[] {
    const out: T[] = [];
    for (const [k, o] of [...this.store(resource).entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (namespace === undefined || o.metadata?.namespace === namespace) out.push(clone(o) as T);
      void k;
    }
    return out;
  }

  create<T extends KubeObject>(resource: ResourceName, obj: T): T {
    return this.doCreate(resource, clone(obj)) as T;
  }

  update<T extends KubeObject>(resource: ResourceName, obj: T): T {
    return this.doUpdate(resource, clone(obj), false) as T;
  }

  upsert<T extends KubeObject>(resource: ResourceName, obj: T): T {
    return this.upsertOwned(resource, clone(obj), true) as T;
  }

  /** Upserts an object nobody else holds (kept as it is); returns a copy only when asked. */
  private upsertOwned(resource: ResourceName, obj: KubeObject, copy: boolean): KubeObject {
    const info = resourceInfo(resource);
    const k = keyOf(info.namespaced ? obj.metadata?.namespace : undefined, obj.metadata?.name ?? '');
    if (obj.metadata) delete obj.metadata.resourceVersion;
    return this.store(resource).has(k)
      ? this.doUpdate(resource, obj, false, undefined, copy)
      : this.doCreate(resource, obj, undefined, copy);
  }

  /**
   * Upserts objects of any supported kind (by `kind`); returns those of other kinds. `owned`: the
   * caller hands the objects over (freshly parsed ones), so they are stored without copying, which
   * makes loading 150,000 objects three times faster.
   */
  load(objects: KubeObject[], options: { owned?: boolean } = {}): { loaded: number; skipped: KubeObject[] } {
    const skipped: KubeObject[] = [];
    let loaded = 0;
    for (const o of objects) {
      const r = resourceForKind(o.kind);
      if (!r) skipped.push(o);
      else {
        if (options.owned) this.upsertOwned(r.name as ResourceName, o, false);
        else this.upsert(r.name as ResourceName, o);
        loaded++;
      }
    }
    return { loaded, skipped };
  }

  /** Deletes; returns false when the object did not exist. */
  delete(resource: ResourceName, namespace: string | undefined, name: string): boolean {
    try {
      this.doDelete(resource, namespace, name);
      return true;
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) return false;
      throw err;
    }
  }

  private doCreate(resource: string, obj: KubeObject, pathNamespace?: string, copy = true): KubeObject {
    const info = resourceInfo(resource);
    const meta = (obj.metadata ??= {});
    if (info.namespaced) {
      if (pathNamespace && meta.namespace && meta.namespace !== pathNamespace) {
        throw new HttpError(
          400,
          'BadRequest',
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      meta.namespace = pathNamespace ?? meta.namespace ?? 'default';
    } else {
      delete meta.namespace;
    }
    if (!meta.name && typeof meta.generateName === 'string') {
      meta.name = meta.generateName + randomBytes(3).toString('hex').slice(0, 5);
    }
    if (!meta.name)
      throw new HttpError(422, 'Invalid', `${info.kind} is invalid: metadata.name: Required value`);
    const key = keyOf(meta.namespace, meta.name);
    const store = this.store(resource);
    if (store.has(key)) {
      throw new HttpError(409, 'AlreadyExists', `${info.name} "${meta.name}" already exists`);
    }
    obj.apiVersion = apiVersionOf(info);
    obj.kind = info.kind;
    meta.uid = randomUUID();
    meta.creationTimestamp = new Date().toISOString();
    const rv = this.bump();
    meta.resourceVersion = String(rv);
    store.set(key, obj);
    this.sortedKeys.delete(resource);
    this.record(rv, resource, 'ADDED', obj, undefined);
    return copy ? clone(obj) : obj;
  }

  private doUpdate(
    resource: string,
    obj: KubeObject,
    checkRv: boolean,
    pathNamespace?: string,
    copy = true,
  ): KubeObject {
    const info = resourceInfo(resource);
    const meta = (obj.metadata ??= {});
    if (info.namespaced) meta.namespace = pathNamespace ?? meta.namespace ?? 'default';
    else delete meta.namespace;
    const key = keyOf(meta.namespace, meta.name ?? '');
    const store = this.store(resource);
    const old = store.get(key);
    if (!old) throw new HttpError(404, 'NotFound', `${info.name} "${meta.name ?? ''}" not found`);
    if (checkRv && meta.resourceVersion && meta.resourceVersion !== old.metadata?.resourceVersion) {
      throw new HttpError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${info.name} "${meta.name ?? ''}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    obj.apiVersion = apiVersionOf(info);
    obj.kind = info.kind;
    meta.uid = old.metadata?.uid;
    meta.creationTimestamp = old.metadata?.creationTimestamp;
    const rv = this.bump();
    meta.resourceVersion = String(rv);
    store.set(key, obj);
    this.record(rv, resource, 'MODIFIED', obj, old);
    return copy ? clone(obj) : obj;
  }

  private doDelete(resource: string, namespace: string | undefined, name: string): KubeObject {
    const info = resourceInfo(resource);
    const key = keyOf(info.namespaced ? namespace : undefined, name);
    const store = this.store(resource);
    const old = store.get(key);
    if (!old) throw new HttpError(404, 'NotFound', `${info.name} "${name}" not found`);
    store.delete(key);
    this.sortedKeys.delete(resource);
    const rv = this.bump();
    // The DELETED event carries the last state with the deletion's resourceVersion.
    const gone = clone(old);
    (gone.metadata ??= {}).resourceVersion = String(rv);
    this.record(rv, resource, 'DELETED', gone, old);
    return clone(gone);
  }

  private bump(): number {
    this.rv += 1;
    return this.rv;
  }

  private record(
    rv: number,
    resource: string,
    type: EventType,
    object: KubeObject,
    previous: KubeObject | undefined,
  ): void {
    const entry: HistoryEntry = { rv, resource, type, object, previous };
    this.history.push(entry);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      const last = dropped[dropped.length - 1];
      if (last) this.compactedRv = Math.max(this.compactedRv, last.rv);
    }
    for (const w of this.watchers) {
      if (w.resource === resource) this.deliver(w, entry);
    }
  }

  // ---- fault injection ----

  /** Ends every open watch: cleanly (end of the chunked body) or abruptly (socket reset). */
  dropWatches(options: { clean?: boolean } = {}): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) this.endWatcher(w, options.clean ?? false);
    return n;
  }

  /** Open watches stop sending anything (events, bookmarks, timeouts), like a black-holed connection. */
  stallWatches(options: { newWatches?: boolean } = {}): number {
    for (const w of this.watchers) w.stalled = true;
    if (options.newWatches !== undefined) this.stallNew = options.newWatches;
    return this.watchers.size;
  }

  /** Stops stalling new watches (already stalled ones stay stalled until the client gives up). */
  unstallWatches(): void {
    this.stallNew = false;
  }

  /** The next `count` matching requests fail with `status` (a Status body) and optional Retry-After. */
  failNext(count: number, status: number, options: Omit<FailRule, 'remaining' | 'status'> = {}): void {
    this.failRules.push({ remaining: count, status, ...options });
  }

  clearFaults(): void {
    this.failRules = [];
    this.stallNew = false;
  }

  /** Forgets the watch history up to now: watches and continue tokens from older versions get 410. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /** Writes a raw line (e.g. malformed JSON) to every open watch. */
  injectWatchLine(line: string): number {
    for (const w of this.watchers) if (!w.stalled) w.res.write(line + '\n');
    return this.watchers.size;
  }

  /** Sends an in-stream ERROR 410 to every open watch and ends it. */
  expireWatches(): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) {
      if (!w.stalled) this.writeEvent(w, 'ERROR', this.goneStatus('too old resource version'));
      this.endWatcher(w, true);
    }
    return n;
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
    if (!(options.keepResourceVersion ?? true)) {
      this.rv += 1000;
      for (const store of this.stores.values()) {
        for (const o of store.values()) (o.metadata ??= {}).resourceVersion = String(++this.rv);
      }
      this.jsonCache = new WeakMap();
      this.compactedRv = this.rv;
      this.history = [];
    }
    if (options.downMs) await new Promise((r) => setTimeout(r, options.downMs));
    await this.listen();
  }

  // ---- request log ----

  get requests(): readonly RequestLogEntry[] {
    return this.log;
  }

  clearRequestLog(): void {
    this.log.length = 0;
  }

  private logRequest(entry: RequestLogEntry): void {
    this.log.push(entry);
    if (this.log.length > this.requestLogLimit) this.log.splice(0, this.log.length - this.requestLogLimit);
  }

  // ---- HTTP ----

  private jsonOf(o: KubeObject): string {
    let text = this.jsonCache.get(o);
    if (text === undefined) {
      text = JSON.stringify(o);
      this.jsonCache.set(o, text);
    }
    return text;
  }

  private sendJson(
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    this.sendText(res, status, JSON.stringify(body), headers);
  }

  private sendText(
    res: http.ServerResponse,
    status: number,
    text: string,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(text);
  }

  private sendStatus(
    res: http.ServerResponse,
    code: number,
    reason: string,
    message: string,
    retryAfter?: number,
  ): void {
    const headers: Record<string, string> =
      retryAfter !== undefined ? { 'Retry-After': String(retryAfter) } : {};
    const body = statusBody(code, reason, message);
    if (retryAfter !== undefined) body.details = { retryAfterSeconds: retryAfter };
    this.sendJson(res, code, body, headers);
  }

  private goneStatus(message: string): StatusBody {
    return statusBody(410, 'Expired', message);
  }

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
    this.logRequest(entry);
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
      if (this.primaryToken !== undefined) {
        const auth = req.headers.authorization ?? '';
        if (!auth.startsWith('Bearer ') || !this.tokens.has(auth.slice(7))) {
          throw new HttpError(401, 'Unauthorized', 'Unauthorized');
        }
      }
      if (method === 'POST' && path === '/apis/authentication.k8s.io/v1/tokenreviews') {
        this.reviews.tokenReviews += 1;
        const review = parseJson(body) as { spec?: { token?: unknown } };
        const user = typeof review.spec?.token === 'string' ? this.tokens.get(review.spec.token) : undefined;
        this.sendJson(res, 201, {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          status: user
            ? { authenticated: true, user: { username: user.username, groups: user.groups ?? [] } }
            : { authenticated: false, error: 'invalid bearer token' },
        });
        return;
      }
      if (method === 'POST' && path === '/apis/authorization.k8s.io/v1/subjectaccessreviews') {
        this.reviews.subjectAccessReviews += 1;
        const review = parseJson(body) as {
          spec?: {
            user?: unknown;
            groups?: unknown;
            nonResourceAttributes?: { path?: unknown; verb?: unknown };
          };
        };
        const spec = review.spec ?? {};
        const groups: unknown[] = Array.isArray(spec.groups) ? (spec.groups as unknown[]) : [];
        const subjects = new Set<unknown>([spec.user, ...groups]);
        const nr = spec.nonResourceAttributes;
        const allowed =
          nr !== undefined &&
          this.grants.some((g) => subjects.has(g.subject) && g.verb === nr.verb && g.path === nr.path);
        this.sendJson(res, 201, {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          status: allowed ? { allowed: true } : { allowed: false, reason: 'no RBAC rule allows it' },
        });
        return;
      }
      if (path.startsWith('/_lab/')) {
        this.handleLab(method, path, body, res);
        return;
      }
      const rule = this.failRules.find(
        (r) =>
          r.remaining > 0 &&
          (r.method === undefined || r.method === method) &&
          (r.watch === undefined || r.watch === isWatch) &&
          (r.pathIncludes === undefined || url.pathname.includes(r.pathIncludes)),
      );
      if (rule) {
        rule.remaining -= 1;
        this.failRules = this.failRules.filter((r) => r.remaining > 0);
        throw new HttpError(
          rule.status,
          reasonFor(rule.status),
          `injected failure (${rule.status})`,
          rule.retryAfterSeconds,
        );
      }
      if (this.handleDiscovery(path, res)) return;
      const route = parseResourcePath(path);
      if (!route)
        throw new HttpError(404, 'NotFound', `the server could not find the requested resource (${path})`);
      this.handleResource(route, method, query, body, req, res, isWatch);
      // A watch stays open: log its status once the headers are out.
      if (res.headersSent && entry.status === 0) entry.status = res.statusCode;
    } catch (err) {
      if (err instanceof HttpError) {
        this.sendStatus(res, err.status, err.reason, err.message, err.retryAfterSeconds);
      } else if (err instanceof SelectorError) {
        this.sendStatus(res, 400, 'BadRequest', err.message);
      } else {
        throw err;
      }
    }
  }

  private handleLab(method: string, path: string, body: string, res: http.ServerResponse): void {
    if (path === '/_lab/requests' && method === 'GET') {
      this.sendJson(res, 200, { requests: this.log });
      return;
    }
    if (path === '/_lab/objects' && method === 'POST') {
      // Bulk upsert for the lab: YAML or JSON, one object, a List or several documents.
      let objects: KubeObject[];
      try {
        objects = parseObjects(body, 'body');
      } catch (err) {
        throw new HttpError(400, 'BadRequest', err instanceof Error ? err.message : String(err));
      }
      const { loaded, skipped } = this.load(objects, { owned: true });
      this.sendJson(res, 200, {
        loaded,
        skipped: skipped.map((o) => `${String(o.kind)}/${o.metadata?.name ?? ''}`),
      });
      return;
    }
    if (path === '/_lab/faults' && method === 'POST') {
      const f = parseJson(body) as Record<string, unknown>;
      const action = f.action;
      let result: unknown = null;
      switch (action) {
        case 'dropWatches':
          result = this.dropWatches({ clean: f.clean === true });
          break;
        case 'stallWatches':
          result = this.stallWatches({ newWatches: f.newWatches === true });
          break;
        case 'unstallWatches':
          this.unstallWatches();
          break;
        case 'failNext':
          this.failNext(Number(f.count ?? 1), Number(f.status ?? 500), {
            ...(typeof f.retryAfterSeconds === 'number' ? { retryAfterSeconds: f.retryAfterSeconds } : {}),
            ...(typeof f.method === 'string' ? { method: f.method } : {}),
            ...(typeof f.watch === 'boolean' ? { watch: f.watch } : {}),
            ...(typeof f.pathIncludes === 'string' ? { pathIncludes: f.pathIncludes } : {}),
          });
          break;
        case 'clearFaults':
          this.clearFaults();
          break;
        case 'compact':
          this.compact();
          break;
        case 'expireWatches':
          result = this.expireWatches();
          break;
        case 'restart':
          // Answer first: the restart closes this very connection.
          this.sendJson(res, 202, { ok: true });
          setImmediate(() => {
            this.restart({
              keepResourceVersion: f.keepResourceVersion !== false,
              downMs: typeof f.downMs === 'number' ? f.downMs : 0,
            }).catch((err: unknown) => this.logger.error({ err }, 'apiserver double: restart failed'));
          });
          return;
        default:
          throw new HttpError(400, 'BadRequest', `unknown fault action ${String(action)}`);
      }
      this.sendJson(res, 200, { ok: true, result, resourceVersion: this.rv });
      return;
    }
    throw new HttpError(404, 'NotFound', `no lab endpoint ${method} ${path}`);
  }

  private handleDiscovery(path: string, res: http.ServerResponse): boolean {
    const groups = [...new Set(RESOURCES.filter((r) => r.group !== '').map((r) => r.group))];
    const groupBody = (g: string): Record<string, unknown> => {
      const v = RESOURCES.find((r) => r.group === g)?.version ?? 'v1';
      const gv = { groupVersion: `${g}/${v}`, version: v };
      return { kind: 'APIGroup', apiVersion: 'v1', name: g, versions: [gv], preferredVersion: gv };
    };
    const resourceList = (group: string, version: string): Record<string, unknown> => ({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group === '' ? version : `${group}/${version}`,
      resources: RESOURCES.filter((r) => r.group === group && r.version === version).map((r) => ({
        name: r.name,
        singularName: r.kind.toLowerCase(),
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
        shortNames: r.shortNames,
      })),
    });
    if (path === '/version') {
      this.sendJson(res, 200, {
        major: '1',
        minor: '32',
        gitVersion: 'v1.32.0-cosmolet-double',
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2026-01-01T00:00:00Z',
        goVersion: 'go1.23',
        compiler: 'gc',
        platform: 'linux/amd64',
      });
      return true;
    }
    if (path === '/api') {
      this.sendJson(res, 200, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [
          { clientCIDR: '0.0.0.0/0', serverAddress: `${this.host}:${this.portNumber}` },
        ],
      });
      return true;
    }
    if (path === '/api/v1') {
      this.sendJson(res, 200, resourceList('', 'v1'));
      return true;
    }
    if (path === '/apis') {
      this.sendJson(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupBody) });
      return true;
    }
    const m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    if (m && groups.includes(m[1] ?? '')) {
      const group = m[1] ?? '';
      if (m[2] === undefined) this.sendJson(res, 200, groupBody(group));
      else if (RESOURCES.some((r) => r.group === group && r.version === m[2])) {
        this.sendJson(res, 200, resourceList(group, m[2]));
      } else return false;
      return true;
    }
    return false;
  }

  private handleResource(
    route: ResourceRoute,
    method: string,
    query: Record<string, string>,
    body: string,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    isWatch: boolean,
  ): void {
    const info = route.info;
    if (route.namespace !== undefined && !info.namespaced) {
      throw new HttpError(404, 'NotFound', `the server could not find the requested resource`);
    }
    if (route.name === undefined) {
      if (method === 'GET' && isWatch) return this.startWatch(info, route.namespace, query, req, res);
      if (method === 'GET') {
        const page = this.listPage(info, route.namespace, query);
        const table = tableOptions(req, query);
        if (table) return this.sendJson(res, 200, toTable(info, page.items, page.metadata, table));
        // The same text as JSON.stringify(page), from each object's cached text.
        const items = page.items.map((o) => this.jsonOf(o)).join(',');
        return this.sendText(
          res,
          200,
          `{"kind":${JSON.stringify(page.kind)},"apiVersion":${JSON.stringify(page.apiVersion)},"metadata":${JSON.stringify(page.metadata)},"items":[${items}]}`,
        );
      }
      if (method === 'POST') {
        const created = this.doCreate(info.name, this.parseObject(body, info), route.namespace);
        return this.sendJson(res, 201, created);
      }
      throw new HttpError(
        405,
        'MethodNotAllowed',
        `${method} is not supported on a collection by this double`,
      );
    }
    const ns = info.namespaced ? route.namespace : undefined;
    const key = keyOf(ns, route.name);
    const current = this.store(info.name).get(key);
    switch (method) {
      case 'GET':
        if (isWatch) {
          query.fieldSelector = [query.fieldSelector, `metadata.name=${route.name}`]
            .filter(Boolean)
            .join(',');
          return this.startWatch(info, route.namespace, query, req, res);
        }
        if (!current) throw new HttpError(404, 'NotFound', `${info.name} "${route.name}" not found`);
        return this.sendJson(res, 200, current);
      case 'PUT': {
        const obj = this.parseObject(body, info);
        if (obj.metadata?.name !== route.name) {
          throw new HttpError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
        }
        return this.sendJson(res, 200, this.doUpdate(info.name, obj, true, ns));
      }
      case 'PATCH': {
        const ct = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
        if (ct !== 'application/merge-patch+json' && ct !== 'application/strategic-merge-patch+json') {
          throw new HttpError(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unsupported content type ${ct}`,
          );
        }
        if (!current) throw new HttpError(404, 'NotFound', `${info.name} "${route.name}" not found`);
        const patch = parseJson(body);
        const merged = mergePatch(current, patch) as KubeObject;
        const meta = (merged.metadata ??= {});
        meta.name = route.name;
        if (ns !== undefined) meta.namespace = ns;
        // A resourceVersion in the patch is a precondition; otherwise it is the current one.
        return this.sendJson(res, 200, this.doUpdate(info.name, merged, true, ns));
      }
      case 'DELETE':
        return this.sendJson(res, 200, this.doDelete(info.name, ns, route.name));
      default:
        throw new HttpError(405, 'MethodNotAllowed', `${method} is not supported`);
    }
  }

  private parseObject(body: string, info: ResourceInfo): KubeObject {
    const v = parseJson(body);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new HttpError(400, 'BadRequest', 'the request body is not a JSON object');
    }
    const obj = v as KubeObject;
    if (obj.kind !== undefined && obj.kind !== info.kind) {
      throw new HttpError(400, 'BadRequest', `kind ${String(obj.kind)} does not match ${info.name}`);
    }
    return obj;
  }

  private matcher(info: ResourceInfo, namespace: string | undefined, query: Record<string, string>) {
    const labels = parseLabelSelector(query.labelSelector);
    const fields = parseFieldSelector(query.fieldSelector);
    return {
      labels,
      fields,
      match: (o: KubeObject): boolean =>
        (!info.namespaced || namespace === undefined || o.metadata?.namespace === namespace) &&
        matchesLabels(labels, o.metadata?.labels) &&
        matchesFields(fields, o),
    };
  }

  private keysSorted(resource: string): string[] {
    let keys = this.sortedKeys.get(resource);
    if (!keys) {
      keys = [...this.store(resource).keys()].sort();
      this.sortedKeys.set(resource, keys);
    }
    return keys;
  }

  private listPage(
    info: ResourceInfo,
    namespace: string | undefined,
    query: Record<string, string>,
  ): { kind: string; apiVersion: string; metadata: Record<string, unknown>; items: KubeObject[] } {
    const { match } = this.matcher(info, namespace, query);
    let listRv = this.rv;
    let after: string | undefined;
    if (query.continue) {
      const token = decodeContinue(query.continue);
      if (!token) throw new HttpError(400, 'BadRequest', 'invalid continue token');
      if (token.rv < this.compactedRv) {
        throw new HttpError(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      }
      listRv = token.rv;
      after = token.after;
    }
    const limit = query.limit ? Number(query.limit) : 0;
    const keys = this.keysSorted(info.name);
    const items: KubeObject[] = [];
    let next: string | undefined;
    // Each page starts after the last key of the previous one: found by bisection, so listing
    // 100,000 objects in pages is not quadratic.
    for (let i = after === undefined ? 0 : firstAfter(keys, after); i < keys.length; i++) {
      const k = keys[i] ?? '';
      const o = this.store(info.name).get(k);
      if (!o || !match(o)) continue;
      if (limit > 0 && items.length >= limit) {
        next = encodeContinue({ rv: listRv, after: objKey(items[items.length - 1]) });
        break;
      }
      items.push(o);
    }
    const metadata: Record<string, unknown> = { resourceVersion: String(listRv) };
    if (next) metadata.continue = next;
    return { kind: `${info.kind}List`, apiVersion: apiVersionOf(info), metadata, items };
  }

  private startWatch(
    info: ResourceInfo,
    namespace: string | undefined,
    query: Record<string, string>,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): void {
    const { labels, fields, match } = this.matcher(info, namespace, query);
    const fromRaw = query.resourceVersion;
    const from = fromRaw === undefined || fromRaw === '' || fromRaw === '0' ? undefined : Number(fromRaw);
    if (from !== undefined && !Number.isFinite(from)) {
      throw new HttpError(400, 'BadRequest', `invalid resourceVersion ${fromRaw ?? ''}`);
    }
    const gone = from !== undefined && (from < this.compactedRv || from > this.rv);
    if (gone && this.goneMode === 'http') {
      throw new HttpError(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`);
    }
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-cache',
    });
    res.flushHeaders();
    const w: Watcher = {
      resource: info.name,
      namespace: info.namespaced ? namespace : undefined,
      labels,
      fields,
      res,
      socket: req.socket,
      stalled: this.stallNew,
      bookmarks: query.allowWatchBookmarks === 'true' || query.allowWatchBookmarks === '1',
      table: tableOptions(req, query),
      timers: [],
    };
    if (gone) {
      if (!w.stalled)
        this.writeEvent(
          w,
          'ERROR',
          this.goneStatus(`too old resource version: ${from} (${this.compactedRv})`),
        );
      if (!w.stalled) res.end();
      return;
    }
    this.watchers.add(w);
    const cleanup = (): void => {
      this.watchers.delete(w);
      for (const t of w.timers) clearTimeout(t);
    };
    res.on('close', cleanup);
    req.on('close', cleanup);
    if (from === undefined) {
      // No resourceVersion: the current state as synthetic ADDED events, then changes.
      for (const o of [...this.store(info.name).values()]) if (match(o)) this.writeEvent(w, 'ADDED', o);
    } else {
      for (const e of this.history) if (e.rv > from && e.resource === info.name) this.deliver(w, e);
    }
    const timeoutSeconds = query.timeoutSeconds ? Number(query.timeoutSeconds) : 0;
    if (timeoutSeconds > 0) {
      w.timers.push(
        setTimeout(() => {
          if (!w.stalled) this.endWatcher(w, true);
        }, timeoutSeconds * 1000),
      );
    }
    if (w.bookmarks) {
      const tick = (): void => {
        if (!this.watchers.has(w)) return;
        if (!w.stalled) {
          this.writeEvent(w, 'BOOKMARK', {
            kind: info.kind,
            apiVersion: apiVersionOf(info),
            metadata: { resourceVersion: String(this.rv) },
          });
        }
        w.timers.push(setTimeout(tick, this.bookmarkIntervalMs));
      };
      w.timers.push(setTimeout(tick, this.bookmarkIntervalMs));
    }
  }

  private deliver(w: Watcher, e: HistoryEntry): void {
    const m = (o: KubeObject | undefined): boolean =>
      o !== undefined &&
      (w.namespace === undefined || o.metadata?.namespace === w.namespace) &&
      matchesLabels(w.labels, o.metadata?.labels) &&
      matchesFields(w.fields, o);
    const now = m(e.object);
    const before = m(e.previous);
    if (e.type === 'DELETED') {
      if (before) this.writeEvent(w, 'DELETED', e.object);
    } else if (e.type === 'ADDED') {
      if (now) this.writeEvent(w, 'ADDED', e.object);
    } else if (now && before) this.writeEvent(w, 'MODIFIED', e.object);
    else if (now) this.writeEvent(w, 'ADDED', e.object);
    else if (before) this.writeEvent(w, 'DELETED', e.object);
  }

  private writeEvent(w: Watcher, type: string, object: unknown): void {
    if (w.stalled || w.res.writableEnded || w.res.destroyed) return;
    if (w.table && type !== 'ERROR') {
      if (type === 'BOOKMARK') return;
      object = toTable(resourceInfo(w.resource), [object as KubeObject], {}, w.table);
    }
    w.res.write(JSON.stringify({ type, object }) + '\n');
  }

  private endWatcher(w: Watcher, clean: boolean): void {
    this.watchers.delete(w);
    for (const t of w.timers) clearTimeout(t);
    if (clean) w.res.end();
    else {
      w.res.destroy();
      w.socket.destroy();
    }
  }
}

// ---- server-side printing (kubectl's Accept: application/json;as=Table;g=meta.k8s.io) ----

interface TableOptions {
  includeObject: 'None' | 'Metadata' | 'Object';
}

function tableOptions(req: http.IncomingMessage, query: Record<string, string>): TableOptions | undefined {
  const accept = req.headers.accept ?? '';
  if (!/as=Table/.test(accept) || !/g=meta\.k8s\.io/.test(accept)) return undefined;
  const inc = query.includeObject;
  return { includeObject: inc === 'None' || inc === 'Object' ? inc : 'Metadata' };
}

function age(o: KubeObject): string {
  const created = Date.parse(str(o.metadata?.creationTimestamp ?? ''));
  if (!Number.isFinite(created)) return '<unknown>';
  const s = Math.max(0, Math.floor((Date.now() - created) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

type Row = Record<string, unknown>;

/** Printable scalars only: an unexpected nested object prints as empty, not "[object Object]". */
function str(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

function ports(list: unknown): string {
  if (!Array.isArray(list) || list.length === 0) return '<none>';
  return (list as Row[])
    .map((p) => `${str(p.port ?? '')}${p.nodePort ? `:${str(p.nodePort)}` : ''}/${str(p.protocol ?? 'TCP')}`)
    .join(',');
}

const COLUMNS: Record<string, { names: string[]; cells: (o: Row & KubeObject) => unknown[] }> = {
  services: {
    names: ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age'],
    cells: (o) => {
      const spec = (o.spec ?? {}) as Row;
      const status = (o.status ?? {}) as { loadBalancer?: { ingress?: Row[] } };
      const ext = [
        ...((spec.externalIPs as string[] | undefined) ?? []),
        ...(status.loadBalancer?.ingress ?? []).map((i) => str(i.ip ?? i.hostname ?? '')),
      ];
      const type = str(spec.type ?? 'ClusterIP');
      return [
        o.metadata?.name,
        type,
        spec.clusterIP ?? '<none>',
        ext.length > 0 ? ext.join(',') : type === 'LoadBalancer' ? '<pending>' : '<none>',
        ports(spec.ports),
        age(o),
      ];
    },
  },
  endpointslices: {
    names: ['Name', 'AddressType', 'Ports', 'Endpoints', 'Age'],
    cells: (o) => {
      const eps = (Array.isArray(o.endpoints) ? o.endpoints : []) as { addresses?: string[] }[];
      const addrs = eps.flatMap((e) => e.addresses ?? []);
      const shown = addrs.slice(0, 3).join(',') + (addrs.length > 3 ? ` + ${addrs.length - 3} more...` : '');
      const p = Array.isArray(o.ports) ? (o.ports as Row[]).map((x) => str(x.port ?? '')).join(',') : '';
      return [o.metadata?.name, o.addressType ?? '', p || '<unset>', shown || '<unset>', age(o)];
    },
  },
  nodes: {
    names: ['Name', 'Status', 'Age'],
    cells: (o) => {
      const conds = (((o.status ?? {}) as Row).conditions ?? []) as Row[];
      const ready = conds.find((c) => c.type === 'Ready');
      let status = ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown';
      if (((o.spec ?? {}) as Row).unschedulable === true) status += ',SchedulingDisabled';
      return [o.metadata?.name, status, age(o)];
    },
  },
  pods: {
    names: ['Name', 'Status', 'IP', 'Node', 'Age'],
    cells: (o) => {
      const status = (o.status ?? {}) as Row;
      return [
        o.metadata?.name,
        str(status.phase ?? 'Pending'),
        str(status.podIP ?? '') || '<none>',
        str(((o.spec ?? {}) as Row).nodeName ?? '') || '<none>',
        age(o),
      ];
    },
  },
  events: {
    names: ['Last Seen', 'Type', 'Reason', 'Object', 'Message'],
    cells: (o) => {
      const inv = (o.involvedObject ?? {}) as Row;
      const last = { metadata: { creationTimestamp: o.lastTimestamp ?? o.metadata?.creationTimestamp } };
      return [
        age(last),
        o.type ?? '',
        o.reason ?? '',
        `${str(inv.kind ?? '').toLowerCase()}/${str(inv.name ?? '')}`,
        o.message ?? '',
      ];
    },
  },
};

function toTable(
  info: ResourceInfo,
  items: KubeObject[],
  metadata: Record<string, unknown>,
  opts: TableOptions,
): unknown {
  const cols = COLUMNS[info.name] ?? {
    names: ['Name', 'Age'],
    cells: (o: KubeObject) => [o.metadata?.name, age(o)],
  };
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: cols.names.map((name, i) => ({
      name,
      type: 'string',
      format: i === 0 && name === 'Name' ? 'name' : '',
      description: '',
      priority: 0,
    })),
    rows: items.map((o) => {
      const row: Row = { cells: cols.cells(o as Row & KubeObject) };
      if (opts.includeObject === 'Object') row.object = o;
      else if (opts.includeObject === 'Metadata') {
        row.object = {
          kind: 'PartialObjectMetadata',
          apiVersion: 'meta.k8s.io/v1',
          metadata: o.metadata ?? {},
        };
      }
      return row;
    }),
  };
}

interface ResourceRoute {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string | undefined;
}

/** /api/v1[/namespaces/NS]/RES[/NAME] and /apis/G/V[/namespaces/NS]/RES[/NAME]. */
function parseResourcePath(path: string): ResourceRoute | undefined {
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  let group = '';
  let rest: string[];
  if (parts[0] === 'api' && parts[1] === 'v1') rest = parts.slice(2);
  else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1] ?? '';
    rest = parts.slice(3);
  } else return undefined;
  const version = parts[0] === 'api' ? 'v1' : (parts[2] ?? '');
  let namespace: string | undefined;
  // /api/v1/namespaces/NS (a Namespace object) vs /api/v1/namespaces/NS/services.
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 2) return undefined;
  const info = RESOURCES.find((r) => r.group === group && r.version === version && r.name === rest[0]);
  if (!info) return undefined;
  return { info, namespace, name: rest[1] };
}

function objKey(o: KubeObject | undefined): string {
  return keyOf(o?.metadata?.namespace, o?.metadata?.name ?? '');
}

function encodeContinue(t: { rv: number; after: string }): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeContinue(s: string): { rv: number; after: string } | undefined {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as { rv?: unknown; after?: unknown };
    if (typeof t.rv === 'number' && typeof t.after === 'string') return { rv: t.rv, after: t.after };
  } catch {
    // fall through
  }
  return undefined;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new HttpError(400, 'BadRequest', 'the request body is not valid JSON');
  }
}

function reasonFor(status: number): string {
  const reasons: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    409: 'Conflict',
    410: 'Expired',
    429: 'TooManyRequests',
    500: 'InternalError',
    503: 'ServiceUnavailable',
    504: 'Timeout',
  };
  return reasons[status] ?? 'Unknown';
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
