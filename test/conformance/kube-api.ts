// The Kubernetes API behaviours cosmolet's client and reflector rely on, as test cases run against
// any server: the API double (test/unit/kube/conformance-double.test.ts) and a real kube-apiserver
// (test/e2e/kube/conformance-real.test.ts). A case that passes on the real server and fails on the
// double is a difference to fix in the double (packages/kube-double); docs/design.md lists the ones
// found. No *.test.ts here: scripts/run-tests.mjs runs only the two runners.
//
// The objects follow the real server's rules: every case works in a namespace of its own (created
// first), Services have no selector and ask for ClusterIPs from 10.96.0.0/16 that no other case uses,
// EndpointSlices are written under our own endpointslice.kubernetes.io/managed-by, Nodes carry a
// label per case and are deleted at the end.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { loadKubeClient, type KubeClient } from '../../src/kube/client.js';
import {
  Reflector,
  type ReflectedResource,
  type ReflectorChange,
  type ReflectorTimers,
  type WatchRestartReason,
} from '../../src/kube/reflector.js';
import { waitFor } from '@cosmolet/lab/wait';
import type { KubeObject } from '../../src/model/objects.js';
import { silentLogger } from '../../src/observe/log.js';

/** A server the cases run against, made by a runner's factory. */
export interface ConformanceServer {
  /** The client with full access (a new one after `expireHistory`, which may restart the server). */
  client(): KubeClient;
  /** A client whose user the server authenticates but that may do nothing on resources. */
  forbiddenClient(): Promise<KubeClient>;
  /** The user name `forbiddenClient` authenticates as. */
  readonly forbiddenUser: string;
  /** A client with a token the server does not know. */
  unauthenticatedClient(): Promise<KubeClient>;
  /** How often the server sends a BOOKMARK on a watch whose version it has moved past (kube-apiserver: 60 s). */
  readonly bookmarkIntervalMs: number;
  /**
   * Makes every resourceVersion and continue token handed out so far too old and ends the open
   * watches: the double compacts its history and drops its watches; the real control plane compacts
   * etcd and restarts kube-apiserver, whose watch cache then starts at the compacted revision (a
   * compaction alone does not reach the watch cache's own history).
   */
  expireHistory(): Promise<void>;
  close(): Promise<void>;
}

export type ServerFactory = () => Promise<ConformanceServer>;

export const MANAGED_BY = 'conformance.cosmolet.io';

/**
 * A client that authenticates with `token`, as a pod's service account does (no kubeconfig); the
 * token and CA files are written below `dir` (the caller removes it), where the client re-reads them.
 */
export async function tokenClient(
  serverUrl: string,
  caPem: string | Buffer,
  token: string,
  dir: string,
): Promise<KubeClient> {
  const sa = mkdtempSync(join(dir, 'sa-'));
  writeFileSync(join(sa, 'token'), token);
  writeFileSync(join(sa, 'ca.crt'), caPem);
  const url = new URL(serverUrl);
  return loadKubeClient({
    env: { KUBERNETES_SERVICE_HOST: url.hostname.replace(/^\[|\]$/g, ''), KUBERNETES_SERVICE_PORT: url.port },
    serviceAccountDir: sa,
  });
}

// ---- objects ----

interface Status {
  kind?: string;
  apiVersion?: string;
  metadata?: { continue?: string };
  status?: string;
  message?: string;
  reason?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string }[];
    retryAfterSeconds?: number;
  };
  code?: number;
}

interface List {
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items?: KubeObject[];
}

function service(name: string, ip: string, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, labels },
    spec: {
      type: 'ClusterIP',
      clusterIP: ip,
      clusterIPs: [ip],
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
    },
  } as KubeObject;
}

function endpointSlice(name: string, svc: string, addresses: string[], ready = true): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      labels: { 'kubernetes.io/service-name': svc, 'endpointslice.kubernetes.io/managed-by': MANAGED_BY },
    },
    addressType: 'IPv4',
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready } })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  } as KubeObject;
}

function node(name: string, labels: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels } };
}

const SERVICES = (ns: string): string => `/api/v1/namespaces/${ns}/services`;
const SLICES = (ns: string): string => `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;
const NODES = '/api/v1/nodes';

async function call(
  c: KubeClient,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; headers: Record<string, unknown>; json: unknown }> {
  const r = await c.request(
    method,
    path,
    body,
    method === 'PATCH' ? { contentType: 'application/merge-patch+json' } : {},
  );
  let json: unknown;
  try {
    json = JSON.parse(r.body);
  } catch {
    json = r.body;
  }
  return { status: r.status, headers: r.headers, json };
}

async function must<T = KubeObject>(
  s: ConformanceServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const r = await call(s.client(), method, path, body);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as T;
}

async function list(s: ConformanceServer, path: string): Promise<{ status: number; body: List & Status }> {
  const r = await call(s.client(), 'GET', path);
  return { status: r.status, body: r.json as List & Status };
}

function names(l: List): string[] {
  return (l.items ?? []).map((o) => o.metadata?.name ?? '');
}

function rvOf(o: KubeObject | undefined): number {
  return Number(o?.metadata?.resourceVersion ?? NaN);
}

async function namespace(s: ConformanceServer, name: string): Promise<string> {
  const r = await call(s.client(), 'POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name },
  });
  assert.ok(r.status === 201 || r.status === 409, `namespace ${name}: ${r.status}`);
  return name;
}

/** A write anywhere, so that every resourceVersion handed out so far is older than the server's. */
async function bumpRevision(s: ConformanceServer): Promise<void> {
  const name = `conformance-bump-${Date.now()}`;
  await must(s, 'POST', NODES, node(name, {}));
  await must(s, 'DELETE', `${NODES}/${name}`);
}

// ---- watches ----

interface Line {
  at: number;
  type: string;
  object: KubeObject & Status;
}

interface OpenWatch {
  status: number;
  lines: Line[];
  /** Resolves with the time the stream ended (ms after it opened). */
  ended: Promise<number>;
  close(): void;
}

/**
 * Opens a watch and collects its lines. A 429 (the real server's watch cache is still starting after
 * a restart: "storage is (re)initializing", with Retry-After) is retried until `deadlineMs`.
 */
async function openWatch(
  t: TestContext,
  s: ConformanceServer,
  path: string,
  deadlineMs = 15_000,
): Promise<OpenWatch> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const opened = Date.now();
    const w = await s.client().stream(path);
    if (w.status === 429 && Date.now() < until) {
      w.close();
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    t.after(() => w.close());
    const lines: Line[] = [];
    let buf = '';
    w.stream.setEncoding('utf8');
    w.stream.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const text = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (text === '') continue;
        const ev = JSON.parse(text) as { type: string; object: KubeObject & Status };
        lines.push({ at: Date.now() - opened, type: ev.type, object: ev.object });
      }
    });
    const ended = new Promise<number>((resolve) => {
      w.stream.on('end', () => resolve(Date.now() - opened));
      w.stream.on('close', () => resolve(Date.now() - opened));
      w.stream.on('error', () => resolve(Date.now() - opened));
    });
    return { status: w.status, lines, ended, close: () => w.close() };
  }
}

function summary(lines: readonly Line[]): string[] {
  return lines.map((l) => `${l.type} ${l.object.metadata?.name ?? ''}`.trim());
}

// ---- reflectors ----

const TIMERS: Partial<ReflectorTimers> = { backoffInitialMs: 50, backoffMaxMs: 500, shortWatchMs: 0 };

interface Reflected {
  r: Reflector;
  changes: string[];
  restarts: WatchRestartReason[];
  relists: number;
  events: string[];
  /** Called when a watch counts as the API answering (its first line, or a probe found it quiet). */
  opened: () => void;
}

function reflect(
  t: TestContext,
  s: ConformanceServer,
  resource: ReflectedResource,
  options: {
    namespace?: string;
    labelSelector?: string;
    fieldSelector?: string;
    timers?: Partial<ReflectorTimers>;
  },
): Reflected {
  const out: Reflected = {
    r: undefined as unknown as Reflector,
    changes: [],
    restarts: [],
    relists: 0,
    events: [],
    opened: () => undefined,
  };
  // The reflector keeps the client it was given; the real server's restart leaves it a stale
  // keep-alive socket, which the client's GET retry handles (as it must in production).
  out.r = new Reflector({
    client: s.client(),
    resource,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
    ...(options.fieldSelector ? { fieldSelector: options.fieldSelector } : {}),
    logger: silentLogger(),
    timers: { ...TIMERS, ...options.timers },
    onChange: (c: ReflectorChange<KubeObject>) => {
      out.changes.push(`${c.type} ${c.key}`);
    },
    hooks: {
      relist: () => out.relists++,
      watchRestart: (_r, reason) => out.restarts.push(reason),
      event: (_r, type) => out.events.push(type),
      watchOpened: () => out.opened(),
    },
  });
  t.after(() => out.r.stop());
  out.r.start();
  return out;
}

function storeKeys(r: Reflector): string[] {
  return r
    .items()
    .map((o) => `${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? ''}`)
    .sort();
}

// ---- the cases ----

export interface ConformanceCase {
  name: string;
  run(s: ConformanceServer, t: TestContext): Promise<void>;
}

/** Each case's namespace and ClusterIPs (10.96.<100 + n>.x) are its own. */
function ip(n: number, host: number): string {
  return `10.96.${100 + n}.${host}`;
}

export const CASES: ConformanceCase[] = [
  {
    name: 'list: limit/continue pages read at the first page resourceVersion (a snapshot), remainingItemCount, items without kind',
    async run(s) {
      const ns = await namespace(s, 'conformance-1');
      for (let i = 0; i < 5; i++)
        await must(s, 'POST', SERVICES(ns), service(`s${i}`, ip(1, i + 1), { tier: 'x' }));
      const p1 = await list(s, `${SERVICES(ns)}?limit=2`);
      assert.equal(p1.status, 200);
      assert.equal(p1.body.kind, 'ServiceList');
      assert.deepEqual(names(p1.body), ['s0', 's1']);
      assert.equal(p1.body.metadata?.remainingItemCount, 3);
      assert.ok(p1.body.metadata?.continue);
      // List items carry no kind or apiVersion (the List does); a GET's object does.
      assert.deepEqual(
        (p1.body.items ?? []).map((o) => [o.kind, o.apiVersion]),
        [
          [undefined, undefined],
          [undefined, undefined],
        ],
      );
      const one = await must(s, 'GET', `${SERVICES(ns)}/s0`);
      assert.deepEqual([one.kind, one.apiVersion], ['Service', 'v1']);
      // Writes between pages do not show in the later pages.
      await must(s, 'DELETE', `${SERVICES(ns)}/s2`);
      await must(s, 'POST', SERVICES(ns), service('s5', ip(1, 6)));
      await must(s, 'PATCH', `${SERVICES(ns)}/s4`, { metadata: { labels: { tier: 'y' } } });
      const p2 = await list(s, `${SERVICES(ns)}?limit=2&continue=${p1.body.metadata?.continue ?? ''}`);
      assert.equal(p2.status, 200);
      assert.deepEqual(names(p2.body), ['s2', 's3']);
      assert.equal(p2.body.metadata?.resourceVersion, p1.body.metadata?.resourceVersion);
      assert.equal(p2.body.metadata?.remainingItemCount, 1);
      const p3 = await list(s, `${SERVICES(ns)}?limit=2&continue=${p2.body.metadata?.continue ?? ''}`);
      assert.deepEqual(names(p3.body), ['s4']);
      assert.equal(p3.body.items?.[0]?.metadata?.labels?.tier, 'x', 's4 as it was at the first page');
      assert.equal(p3.body.metadata?.continue, undefined);
      assert.equal(p3.body.metadata?.remainingItemCount, undefined);
      assert.deepEqual(names((await list(s, SERVICES(ns))).body), ['s0', 's1', 's3', 's4', 's5']);
      // With a selector the server cannot count what is left: no remainingItemCount.
      const selected = await list(s, `${SERVICES(ns)}?limit=1&labelSelector=tier`);
      assert.ok(selected.body.metadata?.continue);
      assert.equal(selected.body.metadata?.remainingItemCount, undefined);
    },
  },
  {
    name: 'list: resourceVersion unset, NotOlderThan, Exact, 0, too large, and resourceVersionMatch without a version',
    async run(s) {
      const ns = await namespace(s, 'conformance-2');
      const a = await must(s, 'POST', SERVICES(ns), service('a', ip(2, 1)));
      const b = await must(s, 'POST', SERVICES(ns), service('b', ip(2, 2)));
      const latest = await list(s, SERVICES(ns));
      assert.ok(Number(latest.body.metadata?.resourceVersion) >= rvOf(b), 'unset: at least the last write');
      assert.deepEqual(names(latest.body), ['a', 'b']);
      for (const q of [
        `resourceVersion=${rvOf(a)}`,
        `resourceVersion=${rvOf(a)}&resourceVersionMatch=NotOlderThan`,
      ]) {
        const r = await list(s, `${SERVICES(ns)}?${q}`);
        assert.equal(r.status, 200, q);
        assert.ok(Number(r.body.metadata?.resourceVersion) >= rvOf(a), q);
        assert.ok(names(r.body).includes('a'), q);
      }
      const exact = await list(s, `${SERVICES(ns)}?resourceVersion=${rvOf(a)}&resourceVersionMatch=Exact`);
      assert.equal(exact.status, 200);
      assert.equal(exact.body.metadata?.resourceVersion, String(rvOf(a)));
      assert.deepEqual(names(exact.body), ['a'], 'the state at that version');
      // resourceVersion=0 is served from the watch cache, which ignores limit.
      await waitFor(
        'resourceVersion=0 to list both, whole',
        async () => {
          const zero = await list(s, `${SERVICES(ns)}?resourceVersion=0&limit=1`);
          assert.equal(zero.status, 200);
          assert.equal(zero.body.metadata?.continue, undefined);
          return names(zero.body).join() === 'a,b';
        },
        5000,
      );
      const future = Number(latest.body.metadata?.resourceVersion) + 1_000_000;
      const tooLarge = await call(s.client(), 'GET', `${SERVICES(ns)}?resourceVersion=${future}`);
      assert.equal(tooLarge.status, 504);
      const st = tooLarge.json as Status;
      assert.equal(st.reason, 'Timeout');
      assert.match(st.message ?? '', /Too large resource version/);
      assert.equal(st.details?.causes?.[0]?.reason, 'ResourceVersionTooLarge');
      assert.equal(st.details?.retryAfterSeconds, 1);
      const noVersion = await list(s, `${SERVICES(ns)}?resourceVersionMatch=Exact`);
      assert.equal(noVersion.status, 422);
      assert.equal(noVersion.body.reason, 'Invalid');
    },
  },
  {
    name: 'watch: without a resourceVersion, synthetic ADDED; from a list resourceVersion, ADDED, MODIFIED, DELETED in order',
    async run(s, t) {
      const ns = await namespace(s, 'conformance-3');
      await must(s, 'POST', SERVICES(ns), service('pre', ip(3, 1)));
      const fresh = await openWatch(t, s, `${SERVICES(ns)}?watch=1&timeoutSeconds=30`);
      assert.equal(fresh.status, 200);
      await waitFor('the synthetic ADDED', () => fresh.lines.length >= 1, 10_000);
      assert.deepEqual(summary(fresh.lines), ['ADDED pre']);
      fresh.close();

      const l = await list(s, SERVICES(ns));
      const w = await openWatch(
        t,
        s,
        `${SERVICES(ns)}?watch=1&resourceVersion=${l.body.metadata?.resourceVersion ?? ''}&timeoutSeconds=30`,
      );
      const created = await must(s, 'POST', SERVICES(ns), service('a', ip(3, 2)));
      const patched = await must(s, 'PATCH', `${SERVICES(ns)}/a`, { metadata: { labels: { x: '1' } } });
      await must(s, 'DELETE', `${SERVICES(ns)}/a`);
      await waitFor('three events', () => w.lines.length >= 3, 10_000);
      assert.deepEqual(summary(w.lines), ['ADDED a', 'MODIFIED a', 'DELETED a']);
      const [added, modified, deleted] = w.lines.map((x) => x.object);
      assert.deepEqual([added?.kind, added?.apiVersion], ['Service', 'v1'], 'watch objects carry kind');
      assert.equal(rvOf(added), rvOf(created));
      assert.equal(rvOf(modified), rvOf(patched));
      assert.equal(modified?.metadata?.labels?.x, '1');
      assert.ok(rvOf(deleted) > rvOf(modified), 'DELETED carries the deletion resourceVersion');
    },
  },
  {
    name: 'watch: allowWatchBookmarks brings a BOOKMARK before timeoutSeconds; none unless asked; a clean end at the timeout',
    async run(s, t) {
      const ns = await namespace(s, 'conformance-4');
      const l = await list(s, SERVICES(ns));
      const rv = l.body.metadata?.resourceVersion ?? '';
      const w = await openWatch(
        t,
        s,
        `${SERVICES(ns)}?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true&timeoutSeconds=6`,
      );
      const plain = await openWatch(t, s, `${SERVICES(ns)}?watch=1&resourceVersion=${rv}&timeoutSeconds=6`);
      // A write after the watch's version: the real watch cache sends bookmarks only once its version
      // has moved past the watch's.
      const x = await must(s, 'POST', SERVICES(ns), service('x', ip(4, 1)));
      // ... so a watch opened at that latest version gets none while nothing more is written.
      const quiet = await openWatch(
        t,
        s,
        `${SERVICES(ns)}?watch=1&resourceVersion=${rvOf(x)}&allowWatchBookmarks=true&timeoutSeconds=6`,
      );
      const [endedAt, plainEndedAt, quietEndedAt] = await Promise.all([w.ended, plain.ended, quiet.ended]);
      assert.ok(quietEndedAt >= 5500, `${quietEndedAt} ms`);
      assert.deepEqual(
        summary(quiet.lines),
        [],
        'no bookmark while the version has not moved past the watch',
      );
      assert.ok(endedAt >= 5500 && endedAt < 9000, `the watch ended at its timeout (${endedAt} ms)`);
      assert.ok(plainEndedAt >= 5500, `${plainEndedAt} ms`);
      assert.equal(w.lines[0]?.type, 'ADDED');
      const bookmarks = w.lines.filter((l2) => l2.type === 'BOOKMARK');
      assert.ok(bookmarks.length >= 1, `a BOOKMARK arrived: ${summary(w.lines).join(', ')}`);
      // kube-apiserver sends it 2 s before the deadline, give or take its 1 s buckets.
      assert.ok((bookmarks[0]?.at ?? 0) >= 2000, `first BOOKMARK at ${bookmarks[0]?.at ?? 0} ms`);
      for (const b of bookmarks) {
        assert.deepEqual(
          [b.object.kind, b.object.apiVersion, b.object.metadata?.name],
          ['Service', 'v1', undefined],
        );
        assert.ok(rvOf(b.object) >= rvOf(x), `bookmark ${rvOf(b.object)} >= ${rvOf(x)}`);
      }
      assert.deepEqual(summary(plain.lines), ['ADDED x'], 'no bookmark unless asked for');
    },
  },
  {
    name: 'too old: a watch from a compacted resourceVersion ends with an in-stream ERROR 410; a continue token and an Exact list get 410',
    async run(s, t) {
      const ns = await namespace(s, 'conformance-5');
      for (let i = 0; i < 3; i++) await must(s, 'POST', SERVICES(ns), service(`s${i}`, ip(5, i + 1)));
      const page = await list(s, `${SERVICES(ns)}?limit=1`);
      const rv = page.body.metadata?.resourceVersion ?? '';
      await bumpRevision(s);
      await s.expireHistory();
      await must(s, 'POST', SERVICES(ns), service('s3', ip(5, 4)));

      // The real server answers 200 and sends the 410 as an ERROR event, then ends the stream.
      const w = await openWatch(t, s, `${SERVICES(ns)}?watch=1&resourceVersion=${rv}&timeoutSeconds=30`);
      assert.equal(w.status, 200);
      const endedAt = await w.ended;
      assert.ok(endedAt < 5000, `the stream ends at once (${endedAt} ms)`);
      assert.deepEqual(
        w.lines.map((l) => l.type),
        ['ERROR'],
      );
      const err = w.lines[0]?.object;
      assert.deepEqual(
        {
          kind: err?.kind,
          apiVersion: err?.apiVersion,
          status: err?.status,
          reason: err?.reason,
          code: err?.code,
        },
        { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410 },
      );
      assert.match(err?.message ?? '', /too old/i);

      const expired = await list(s, `${SERVICES(ns)}?limit=1&continue=${page.body.metadata?.continue ?? ''}`);
      assert.equal(expired.status, 410);
      assert.deepEqual(
        {
          kind: expired.body.kind,
          status: expired.body.status,
          reason: expired.body.reason,
          code: expired.body.code,
        },
        { kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 },
      );
      assert.match(expired.body.message ?? '', /The provided continue parameter is too old/);
      // ... and a token to go on with the current state.
      const carryOn = expired.body.metadata?.continue;
      assert.ok(carryOn, 'the 410 carries a continue token');
      const rest = await list(s, `${SERVICES(ns)}?limit=10&continue=${carryOn}`);
      assert.equal(rest.status, 200);
      assert.deepEqual(names(rest.body), ['s1', 's2', 's3']);

      const exact = await list(s, `${SERVICES(ns)}?resourceVersion=${rv}&resourceVersionMatch=Exact`);
      assert.equal(exact.status, 410);
      assert.equal(exact.body.reason, 'Expired');
    },
  },
  {
    name: 'selectors: labelSelector and fieldSelector metadata.name on Nodes, refused fields, and a watch reporting objects leaving and entering a selector',
    async run(s, t) {
      const key = 'conformance-6';
      const n = (x: string): string => `${key}-${x}`;
      t.after(async () => {
        for (const x of ['a', 'b', 'c'])
          await call(s.client(), 'DELETE', `${NODES}/${n(x)}`).catch(() => undefined);
      });
      await must(s, 'POST', NODES, node(n('a'), { [key]: 'a', role: 'edge' }));
      await must(s, 'POST', NODES, node(n('b'), { [key]: 'b' }));
      await must(s, 'POST', NODES, node(n('c'), { [key]: 'c', role: 'core' }));
      const q = async (query: string): Promise<string[]> => {
        const r = await list(s, `${NODES}?${query}`);
        assert.equal(r.status, 200, `${query}: ${JSON.stringify(r.body)}`);
        return names(r.body);
      };
      const e = encodeURIComponent;
      assert.deepEqual(await q(`labelSelector=${e(key)}`), [n('a'), n('b'), n('c')]);
      assert.deepEqual(await q(`labelSelector=${e(`${key},role=edge`)}`), [n('a')]);
      assert.deepEqual(await q(`labelSelector=${e(`${key},role==edge`)}`), [n('a')]);
      assert.deepEqual(await q(`labelSelector=${e(`${key},role!=edge`)}`), [n('b'), n('c')]);
      assert.deepEqual(await q(`labelSelector=${e(`${key},!role`)}`), [n('b')]);
      assert.deepEqual(await q(`labelSelector=${e(`${key},role in (edge, core)`)}`), [n('a'), n('c')]);
      assert.deepEqual(await q(`labelSelector=${e(`${key},${key} notin (a,b)`)}`), [n('c')]);
      assert.deepEqual(await q(`fieldSelector=${e(`metadata.name=${n('b')}`)}`), [n('b')]);
      assert.deepEqual(await q(`fieldSelector=${e(`metadata.name==${n('b')}`)}`), [n('b')]);
      assert.deepEqual(await q(`labelSelector=${e(key)}&fieldSelector=${e(`metadata.name!=${n('b')}`)}`), [
        n('a'),
        n('c'),
      ]);
      for (const [query, message] of [
        ['fieldSelector=metadata.namespace%3Dx', 'field label not supported: metadata.namespace'],
        ['fieldSelector=spec.nope%3Dx', 'field label not supported: spec.nope'],
        ['labelSelector=a%3D%3D%3Db', undefined],
      ] as const) {
        const r = await list(s, `${NODES}?${query}`);
        assert.equal(r.status, 400, query);
        assert.equal(r.body.reason, 'BadRequest', query);
        if (message) assert.equal(r.body.message, message);
      }

      const rv = (await list(s, NODES)).body.metadata?.resourceVersion ?? '';
      const byName = await openWatch(
        t,
        s,
        `${NODES}?watch=1&resourceVersion=${rv}&timeoutSeconds=30&fieldSelector=${e(`metadata.name=${n('a')}`)}`,
      );
      const edge = await openWatch(
        t,
        s,
        `${NODES}?watch=1&resourceVersion=${rv}&timeoutSeconds=30&labelSelector=role%3Dedge`,
      );
      await must(s, 'PATCH', `${NODES}/${n('b')}`, { metadata: { labels: { touched: '1' } } });
      const left = await must(s, 'PATCH', `${NODES}/${n('a')}`, { metadata: { labels: { role: null } } });
      await must(s, 'PATCH', `${NODES}/${n('c')}`, { metadata: { labels: { role: 'edge' } } });
      await must(s, 'PATCH', `${NODES}/${n('c')}`, { metadata: { labels: { touched: '1' } } });
      await waitFor(
        'the selector transitions',
        () => edge.lines.length >= 3 && byName.lines.length >= 1,
        10_000,
      );
      assert.deepEqual(summary(edge.lines), [`DELETED ${n('a')}`, `ADDED ${n('c')}`, `MODIFIED ${n('c')}`]);
      // The DELETED of an object that left the selector carries its previous content (which still
      // matched) with the resourceVersion of the change that made it leave.
      assert.equal(edge.lines[0]?.object.metadata?.labels?.role, 'edge');
      assert.equal(rvOf(edge.lines[0]?.object), rvOf(left));
      assert.deepEqual(summary(byName.lines), [`MODIFIED ${n('a')}`]);
    },
  },
  {
    name: 'Status objects: 404, 409 AlreadyExists and Conflict, 403 Forbidden, 401 Unauthorized',
    async run(s) {
      const ns = await namespace(s, 'conformance-7');
      const status = async (c: KubeClient, method: string, path: string, body?: unknown): Promise<Status> => {
        const r = await call(c, method, path, body);
        const st = r.json as Status;
        assert.equal(st.code, r.status, `${method} ${path}: the Status code is the HTTP status`);
        return st;
      };
      const failure = (
        code: number,
        reason: string,
        message: string,
        details?: Status['details'],
      ): Status => ({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message,
        reason,
        ...(details ? { details } : {}),
        code,
      });
      const c = s.client();
      assert.deepEqual(
        await status(c, 'GET', `${SERVICES(ns)}/nope`),
        failure(404, 'NotFound', 'services "nope" not found', { name: 'nope', kind: 'services' }),
      );
      assert.deepEqual(
        await status(c, 'GET', `${SLICES(ns)}/nope`),
        failure(404, 'NotFound', 'endpointslices.discovery.k8s.io "nope" not found', {
          name: 'nope',
          group: 'discovery.k8s.io',
          kind: 'endpointslices',
        }),
      );
      assert.deepEqual(
        await status(c, 'GET', `${NODES}/conformance-7-nope`),
        failure(404, 'NotFound', 'nodes "conformance-7-nope" not found', {
          name: 'conformance-7-nope',
          kind: 'nodes',
        }),
      );
      const web = await must(s, 'POST', SERVICES(ns), service('web', ip(7, 1)));
      assert.deepEqual(
        await status(c, 'POST', SERVICES(ns), service('web', ip(7, 2))),
        failure(409, 'AlreadyExists', 'services "web" already exists', { name: 'web', kind: 'services' }),
      );
      await must(s, 'PATCH', `${SERVICES(ns)}/web`, { metadata: { labels: { v: '2' } } });
      assert.deepEqual(
        await status(c, 'PUT', `${SERVICES(ns)}/web`, web),
        failure(
          409,
          'Conflict',
          'Operation cannot be fulfilled on services "web": the object has been modified; please apply your changes to the latest version and try again',
          { name: 'web', kind: 'services' },
        ),
      );
      const who = `User "${s.forbiddenUser}"`;
      const nobody = await s.forbiddenClient();
      assert.deepEqual(
        await status(nobody, 'GET', SERVICES(ns)),
        failure(
          403,
          'Forbidden',
          `services is forbidden: ${who} cannot list resource "services" in API group "" in the namespace "${ns}"`,
          { kind: 'services' },
        ),
      );
      assert.deepEqual(
        await status(nobody, 'GET', `${NODES}/n1`),
        failure(
          403,
          'Forbidden',
          `nodes "n1" is forbidden: ${who} cannot get resource "nodes" in API group "" at the cluster scope`,
          {
            name: 'n1',
            kind: 'nodes',
          },
        ),
      );
      const watch = await nobody.stream('/apis/discovery.k8s.io/v1/endpointslices?watch=1');
      const chunks: Buffer[] = [];
      for await (const chunk of watch.stream) chunks.push(chunk as Buffer);
      assert.equal(watch.status, 403, 'a refused watch is an HTTP error, not an in-stream one');
      assert.deepEqual(
        JSON.parse(Buffer.concat(chunks).toString('utf8')),
        failure(
          403,
          'Forbidden',
          `endpointslices.discovery.k8s.io is forbidden: ${who} cannot watch resource "endpointslices" in API group "discovery.k8s.io" at the cluster scope`,
          { group: 'discovery.k8s.io', kind: 'endpointslices' },
        ),
      );
      assert.deepEqual(
        await status(await s.unauthenticatedClient(), 'GET', SERVICES(ns)),
        failure(401, 'Unauthorized', 'Unauthorized'),
      );
    },
  },
  {
    name: 'Reflector: syncs Services, EndpointSlices and Nodes and follows adds, updates and deletes; an object leaving its label selector is deleted',
    async run(s, t) {
      const ns = await namespace(s, 'conformance-8');
      const nodeName = 'conformance-8-n';
      t.after(async () => {
        for (const x of [nodeName, 'conformance-8-other'])
          await call(s.client(), 'DELETE', `${NODES}/${x}`).catch(() => undefined);
      });
      await must(s, 'POST', SERVICES(ns), service('a', ip(8, 1), { conformance: '8' }));
      await must(s, 'POST', SERVICES(ns), service('b', ip(8, 2)));
      await must(s, 'POST', SLICES(ns), endpointSlice('a-1', 'a', ['10.244.8.1']));
      await must(s, 'POST', NODES, node(nodeName, { conformance: '8' }));
      const svc = reflect(t, s, 'services', { namespace: ns, labelSelector: 'conformance=8' });
      const eps = reflect(t, s, 'endpointslices', {
        namespace: ns,
        labelSelector: `endpointslice.kubernetes.io/managed-by=${MANAGED_BY}`,
      });
      const nd = reflect(t, s, 'nodes', { fieldSelector: `metadata.name=${nodeName}` });
      await waitFor('the three reflectors synced', () => svc.r.synced && eps.r.synced && nd.r.synced, 15_000);
      assert.deepEqual(storeKeys(svc.r), [`${ns}/a`]);
      assert.deepEqual(storeKeys(eps.r), [`${ns}/a-1`]);
      assert.deepEqual(storeKeys(nd.r), [nodeName]);

      await must(s, 'POST', SERVICES(ns), service('c', ip(8, 3), { conformance: '8' }));
      await must(s, 'PATCH', `${SERVICES(ns)}/a`, { metadata: { annotations: { note: 'x' } } });
      await must(s, 'PATCH', `${SERVICES(ns)}/b`, { metadata: { labels: { conformance: '8' } } });
      await must(s, 'PATCH', `${SERVICES(ns)}/a`, { metadata: { labels: { conformance: null } } });
      await must(s, 'DELETE', `${SERVICES(ns)}/c`);
      await must(s, 'PATCH', `${SLICES(ns)}/a-1`, {
        endpoints: [{ addresses: ['10.244.8.1'], conditions: { ready: false } }],
      });
      await must(s, 'POST', SLICES(ns), endpointSlice('b-1', 'b', ['10.244.8.2']));
      await must(s, 'DELETE', `${SLICES(ns)}/a-1`);
      await must(s, 'PATCH', `${NODES}/${nodeName}`, { metadata: { labels: { touched: '1' } } });
      await must(s, 'POST', NODES, node('conformance-8-other', { conformance: '8' }));

      const expected = {
        svc: [
          `added ${ns}/a`,
          `added ${ns}/c`,
          `modified ${ns}/a`,
          `added ${ns}/b`,
          `deleted ${ns}/a`,
          `deleted ${ns}/c`,
        ],
        eps: [`added ${ns}/a-1`, `modified ${ns}/a-1`, `added ${ns}/b-1`, `deleted ${ns}/a-1`],
        nd: [`added ${nodeName}`, `modified ${nodeName}`],
      };
      await waitFor(
        'the reflectors to follow',
        () =>
          svc.changes.length >= expected.svc.length &&
          eps.changes.length >= expected.eps.length &&
          nd.changes.length >= expected.nd.length,
        15_000,
      ).catch((err: unknown) => {
        throw new Error(
          `${(err as Error).message}: ${JSON.stringify({ svc: svc.changes, eps: eps.changes, nd: nd.changes })}`,
        );
      });
      assert.deepEqual(svc.changes, expected.svc);
      assert.deepEqual(eps.changes, expected.eps);
      assert.deepEqual(nd.changes, expected.nd);
      assert.deepEqual(storeKeys(svc.r), [`${ns}/b`]);
      assert.deepEqual(storeKeys(eps.r), [`${ns}/b-1`]);
      assert.equal(nd.r.get(nodeName)?.metadata?.labels?.touched, '1');
      for (const x of [svc, eps, nd]) {
        assert.equal(x.relists, 1, 'one list, then the watch');
        assert.deepEqual(x.restarts, []);
      }
    },
  },
  {
    name: 'Reflector: bookmarks advance its resourceVersion without changes, and a watch that timed out is reopened from it',
    async run(s, t) {
      const ns = await namespace(s, 'conformance-9');
      const other = await namespace(s, 'conformance-9-other');
      // A 5 s watch timeout: the server's pre-timeout bookmark comes about 3 s in.
      const svc = reflect(t, s, 'services', {
        namespace: ns,
        timers: { watchTimeoutMinSeconds: 5, watchTimeoutMaxSeconds: 5 },
      });
      await waitFor('synced', () => svc.r.synced, 15_000);
      const listed = Number(svc.r.lastResourceVersion);
      // A write the reflector does not see (another namespace) moves the server's version on.
      const elsewhere = await must(s, 'POST', SERVICES(other), service('x', ip(9, 1)));
      await waitFor(
        'a BOOKMARK carrying the newer version',
        () => svc.events.includes('BOOKMARK') && Number(svc.r.lastResourceVersion) >= rvOf(elsewhere),
        15_000,
      );
      assert.ok(Number(svc.r.lastResourceVersion) > listed);
      assert.deepEqual(svc.changes, []);
      await waitFor('the watch to time out and reopen', () => svc.restarts.includes('closed'), 15_000);
      assert.equal(svc.relists, 1, 'a timed-out watch is reopened, not relisted');
      await must(s, 'POST', SERVICES(ns), service('late', ip(9, 2)));
      await waitFor('the reopened watch delivers', () => svc.r.get(`${ns}/late`) !== undefined, 15_000);
    },
  },
  {
    name: 'Reflector: a quiet watch opened at the latest version gets no bookmark and is kept, not reconnected as stalled',
    async run(s, t) {
      const ns = await namespace(s, 'conformance-11');
      // The first watch runs to its timeout with bookmarks (every interval, and one 2 s before the
      // timeout): the reflector learns their rhythm. The next watch (same timeout) must outlast three
      // intervals of silence and a probe (3 s): at least 12 s.
      const timeoutSeconds = Math.max(s.bookmarkIntervalMs / 1000 + 6, 12);
      const svc = reflect(t, s, 'services', {
        namespace: ns,
        timers: {
          watchTimeoutMinSeconds: timeoutSeconds,
          watchTimeoutMaxSeconds: timeoutSeconds,
          minSilenceMs: 1000,
        },
      });
      let opened = 0;
      svc.opened = () => opened++;
      await waitFor('synced', () => svc.r.synced, 15_000);
      await must(s, 'POST', SERVICES(ns), service('a', ip(11, 1)));
      await waitFor(
        'the first watch to end at its timeout',
        () => svc.restarts.includes('closed'),
        timeoutSeconds * 1000 + 15_000,
      );
      assert.ok(
        svc.events.filter((e) => e === 'BOOKMARK').length >= 2,
        `bookmarks set a rhythm: ${svc.events.join(', ')}`,
      );
      // The next watch starts at the last bookmark's version, and nothing is written: the server sends
      // it nothing. Past three intervals the reflector probes it, finds nothing missed, and keeps it.
      const answered = opened;
      await waitFor(
        'the quiet watch found quiet (or reconnected)',
        () => opened > answered || svc.restarts.includes('watchdog'),
        30_000,
      );
      assert.deepEqual(svc.restarts, ['closed'], 'the quiet watch was kept');
      await must(s, 'POST', SERVICES(ns), service('b', ip(11, 2)));
      await waitFor('the quiet watch delivers', () => svc.r.get(`${ns}/b`) !== undefined, 10_000);
      assert.deepEqual(svc.restarts, ['closed']);
      assert.equal(svc.relists, 1);
    },
  },
  {
    name: 'Reflector: a watch resumed from a compacted resourceVersion gets 410, relists once and reports only the differences',
    async run(s, t) {
      const ns = await namespace(s, 'conformance-10');
      for (let i = 0; i < 4; i++) await must(s, 'POST', SERVICES(ns), service(`s${i}`, ip(10, i + 1)));
      const svc = reflect(t, s, 'services', { namespace: ns });
      await waitFor('synced', () => svc.r.synced, 15_000);
      svc.changes.length = 0;
      await bumpRevision(s);
      await s.expireHistory();
      await must(s, 'POST', SERVICES(ns), service('new', ip(10, 9)));
      await must(s, 'PATCH', `${SERVICES(ns)}/s1`, { metadata: { labels: { v: '2' } } });
      await must(s, 'DELETE', `${SERVICES(ns)}/s2`);
      const want = names((await list(s, SERVICES(ns))).body).map((n) => `${ns}/${n}`);
      await waitFor(
        'the reflector to relist and catch up',
        () =>
          svc.relists >= 2 &&
          storeKeys(svc.r).join() === want.join() &&
          svc.r.get(`${ns}/s1`)?.metadata?.labels?.v === '2',
        20_000,
      ).catch((err: unknown) => {
        throw new Error(
          `${(err as Error).message}: ${JSON.stringify({ restarts: svc.restarts, relists: svc.relists, changes: svc.changes })}`,
        );
      });
      assert.ok(svc.restarts.includes('gone'), `a 410 was seen: ${svc.restarts.join(', ')}`);
      assert.equal(svc.relists, 2, 'one relist');
      assert.deepEqual([...svc.changes].sort(), [`added ${ns}/new`, `deleted ${ns}/s2`, `modified ${ns}/s1`]);
    },
  },
  {
    name: 'TokenRequest audiences: a token bound to cosmolet passes a TokenReview for cosmolet (status.audiences), not one for the API server',
    async run(s) {
      const ns = await namespace(s, 'conformance-audience');
      await must(s, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts`, {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'reader' },
      });
      const minted = await must<{
        spec: { audiences: string[]; expirationSeconds: number };
        status: { token: string };
      }>(s, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/reader/token`, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: ['cosmolet'], expirationSeconds: 600 },
      });
      assert.deepEqual(minted.spec.audiences, ['cosmolet']);
      assert.equal(minted.spec.expirationSeconds, 600);
      type Review = {
        status: { authenticated?: boolean; audiences?: string[]; user?: { username?: string } };
      };
      const review = (audiences?: string[]) =>
        must<Review>(s, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token: minted.status.token, ...(audiences ? { audiences } : {}) },
        });
      const bound = await review(['cosmolet']);
      assert.equal(bound.status.authenticated, true);
      assert.deepEqual(bound.status.audiences, ['cosmolet']);
      assert.equal(bound.status.user?.username, `system:serviceaccount:${ns}:reader`);
      // Without spec.audiences the API server's own are asked for: the token is not one of them.
      assert.notEqual((await review()).status.authenticated, true);
      assert.notEqual((await review(['someone-else'])).status.authenticated, true);
      // Less than 10 minutes is refused (422 Invalid).
      const short = await call(s.client(), 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/reader/token`, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: ['cosmolet'], expirationSeconds: 60 },
      });
      assert.equal(short.status, 422);
    },
  },
];

/** Registers every case as a test of this file, against one server made by `factory` for them all. */
export function defineConformance(label: string, factory: ServerFactory): void {
  let server: ConformanceServer | undefined;
  before(async () => {
    server = await factory();
  });
  after(async () => {
    await server?.close();
  });
  for (const c of CASES) {
    void test(`${label}: ${c.name}`, async (t) => {
      assert.ok(server, 'the server started');
      await c.run(server, t);
    });
  }
}
