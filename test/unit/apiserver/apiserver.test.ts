// The API double's protocol, checked through the real client over HTTPS.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { loadKubeClient, type KubeClient } from '../../../src/kube/client.js';
import type { KubeObject, Service } from '../../../src/model/objects.js';
import { FakeApiServer } from '@cosmolet/kube-double/apiserver';
import { mergePatch, parseObjects } from '@cosmolet/kube-double/objects';
import { slice, startDouble, svc, tempDir, waitFor } from '../kube/helpers.js';

interface ListBody {
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items?: KubeObject[];
}

interface StatusBody {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

interface WatchLine {
  type: string;
  object: KubeObject & { code?: number };
}

async function getJson<T>(client: KubeClient, path: string): Promise<{ status: number; body: T }> {
  const res = await client.request('GET', path);
  return { status: res.status, body: JSON.parse(res.body) as T };
}

function names(list: ListBody): string[] {
  return (list.items ?? []).map((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`);
}

/** Opens a watch and collects its lines until it ends (or the test ends). */
async function watch(
  t: TestContext,
  client: KubeClient,
  path: string,
): Promise<{ lines: WatchLine[]; ended: Promise<void>; status: number }> {
  const s = await client.stream(path);
  t.after(() => s.close());
  const lines: WatchLine[] = [];
  s.stream.setEncoding('utf8');
  let buf = '';
  s.stream.on('data', (c: string) => {
    buf += c;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, nl)) as WatchLine);
      buf = buf.slice(nl + 1);
    }
  });
  const ended = new Promise<void>((resolve) => {
    s.stream.on('end', resolve);
    s.stream.on('close', resolve);
  });
  return { lines, ended, status: s.status };
}

void test('bearer token is required; health endpoints are open', async (t) => {
  const { server, kubeconfig } = await startDouble(t);
  const good = await loadKubeClient({ kubeconfigPath: kubeconfig });
  assert.equal((await good.request('GET', '/api/v1/services')).status, 200);
  const path = join(tempDir(t), 'bad');
  writeFileSync(path, server.kubeconfig().replace('test-token', 'wrong'));
  const bad = await loadKubeClient({ kubeconfigPath: path });
  const res = await getJson<StatusBody>(bad, '/api/v1/services');
  assert.equal(res.status, 401);
  assert.equal(res.body.kind, 'Status');
  assert.equal(res.body.reason, 'Unauthorized');
  assert.equal((await bad.request('GET', '/healthz')).status, 200);
});

void test('discovery documents', async (t) => {
  const { client } = await startDouble(t);
  assert.equal((await getJson<{ major: string }>(client, '/version')).body.major, '1');
  assert.deepEqual((await getJson<{ versions: string[] }>(client, '/api')).body.versions, ['v1']);
  const groups = (await getJson<{ groups: { name: string }[] }>(client, '/apis')).body.groups.map(
    (g) => g.name,
  );
  assert.deepEqual(groups.sort(), ['coordination.k8s.io', 'discovery.k8s.io']);
  const core = await getJson<{ resources: { name: string; namespaced: boolean }[] }>(client, '/api/v1');
  assert.ok(core.body.resources.some((r) => r.name === 'nodes' && !r.namespaced));
  const disc = await getJson<{ resources: { name: string }[] }>(client, '/apis/discovery.k8s.io/v1');
  assert.deepEqual(
    disc.body.resources.map((r) => r.name),
    ['endpointslices'],
  );
  assert.equal((await client.request('GET', '/apis/nope.io/v1')).status, 404);
});

void test('label and field selectors', async (t) => {
  const { server, client } = await startDouble(t);
  server.create('services', svc('a', 'web', { app: 'web', tier: 'front' }));
  server.create('services', svc('a', 'db', { app: 'db' }));
  server.create('services', svc('b', 'web', { app: 'web', 'service.kubernetes.io/service-proxy-name': 'x' }));
  server.create('services', svc('b', 'plain'));
  const q = async (query: string): Promise<string[]> => {
    const res = await getJson<ListBody>(client, `/api/v1/services?${query}`);
    assert.equal(res.status, 200, query);
    return names(res.body);
  };
  assert.deepEqual(await q('labelSelector=app%3Dweb'), ['a/web', 'b/web']);
  assert.deepEqual(await q('labelSelector=app%3D%3Dweb,tier'), ['a/web']);
  assert.deepEqual(await q('labelSelector=app!%3Dweb'), ['a/db', 'b/plain']);
  assert.deepEqual(await q('labelSelector=!service.kubernetes.io/service-proxy-name'), [
    'a/db',
    'a/web',
    'b/plain',
  ]);
  assert.deepEqual(await q('labelSelector=' + encodeURIComponent('app in (db, web),app notin (web)')), [
    'a/db',
  ]);
  assert.deepEqual(await q('fieldSelector=metadata.name%3Dweb'), ['a/web', 'b/web']);
  assert.deepEqual(await q('fieldSelector=metadata.namespace%3Db,metadata.name!%3Dweb'), ['b/plain']);
  assert.deepEqual(names((await getJson<ListBody>(client, '/api/v1/namespaces/a/services')).body), [
    'a/db',
    'a/web',
  ]);
  const bad = await getJson<StatusBody>(client, '/api/v1/services?fieldSelector=spec.type%3DClusterIP');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.reason, 'BadRequest');
  assert.equal((await client.request('GET', '/api/v1/services?labelSelector=a%3D%3D%3Db')).status, 400);
  // A Node has no namespace to select on: kube-apiserver refuses the field (list and watch).
  for (const path of ['/api/v1/nodes?', '/api/v1/nodes?watch=1&']) {
    const r = await getJson<StatusBody>(client, `${path}fieldSelector=metadata.namespace%3Dx`);
    assert.equal(r.status, 400, path);
    assert.equal(r.body.message, 'field label not supported: metadata.namespace');
  }
});

void test('limit/continue paging and an expired continue token', async (t) => {
  const { server, client } = await startDouble(t);
  for (let i = 0; i < 7; i++) server.create('endpointslices', slice('a', `s${i}`, 'web', ['10.0.0.1']));
  const seen: string[] = [];
  let path = '/apis/discovery.k8s.io/v1/endpointslices?limit=3';
  let first: string | undefined;
  for (;;) {
    const { body } = await getJson<ListBody>(client, path);
    first ??= body.metadata?.resourceVersion;
    assert.equal(body.metadata?.resourceVersion, first, 'every page carries the list resourceVersion');
    seen.push(...names(body));
    if (!body.metadata?.continue) break;
    path = `/apis/discovery.k8s.io/v1/endpointslices?limit=3&continue=${body.metadata.continue}`;
  }
  assert.equal(seen.length, 7);
  const page = await getJson<ListBody>(client, '/apis/discovery.k8s.io/v1/endpointslices?limit=3');
  server.create('nodes', { metadata: { name: 'n' } });
  server.compact();
  const expired = await getJson<StatusBody>(
    client,
    `/apis/discovery.k8s.io/v1/endpointslices?limit=3&continue=${page.body.metadata?.continue ?? ''}`,
  );
  assert.equal(expired.status, 410);
  assert.equal(expired.body.reason, 'Expired');
  // The Status carries a token that goes on with the current state (an inconsistent list).
  const carryOn = (expired.body as StatusBody & { metadata?: { continue?: string } }).metadata?.continue;
  assert.ok(carryOn);
  const rest = await getJson<ListBody>(
    client,
    `/apis/discovery.k8s.io/v1/endpointslices?limit=10&continue=${carryOn}`,
  );
  assert.equal(rest.status, 200);
  assert.deepEqual(names(rest.body), ['a/s3', 'a/s4', 'a/s5', 'a/s6']);
  assert.equal(rest.body.metadata?.resourceVersion, String(server.resourceVersion));
});

void test('list items carry no kind or apiVersion (the List does); GET and watch objects do', async (t) => {
  const { server, client } = await startDouble(t);
  server.create('services', svc('a', 'web'));
  const list = await getJson<ListBody>(client, '/api/v1/services');
  assert.equal(list.body.kind, 'ServiceList');
  assert.deepEqual(Object.keys(list.body.items?.[0] ?? {}).sort(), ['metadata', 'spec']);
  const one = await getJson<KubeObject>(client, '/api/v1/namespaces/a/services/web');
  assert.equal(one.body.kind, 'Service');
  assert.equal(one.body.apiVersion, 'v1');
  const w = await watch(t, client, '/api/v1/services?watch=1');
  await waitFor('synthetic add', () => w.lines.length === 1);
  assert.equal(w.lines[0]?.object.kind, 'Service');
});

void test('Status objects name the object, its group and resource, as kube-apiserver does', async (t) => {
  const { server, client } = await startDouble(t);
  const missing = await getJson<StatusBody & { details?: unknown }>(
    client,
    '/apis/discovery.k8s.io/v1/namespaces/a/endpointslices/nope',
  );
  assert.deepEqual(missing.body, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'endpointslices.discovery.k8s.io "nope" not found',
    reason: 'NotFound',
    details: { name: 'nope', group: 'discovery.k8s.io', kind: 'endpointslices' },
    code: 404,
  });
  server.create('services', svc('a', 'web'));
  const dup = await client.request('POST', '/api/v1/namespaces/a/services', svc('a', 'web'));
  assert.deepEqual(JSON.parse(dup.body), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'services "web" already exists',
    reason: 'AlreadyExists',
    details: { name: 'web', kind: 'services' },
    code: 409,
  });
  const stale = await client.request('PUT', '/api/v1/namespaces/a/services/web', {
    ...svc('a', 'web'),
    metadata: { name: 'web', namespace: 'a', resourceVersion: '1' },
  });
  const conflict = JSON.parse(stale.body) as StatusBody & { details?: unknown };
  assert.equal(conflict.reason, 'Conflict');
  assert.deepEqual(conflict.details, { name: 'web', kind: 'services' });
});

void test('a user with no access to resources gets 403 Forbidden as RBAC words it', async (t) => {
  const { server, kubeconfig } = await startDouble(t);
  server.addToken('nobody-token', { username: 'system:serviceaccount:a:nobody', resources: 'none' });
  const path = join(tempDir(t), 'nobody');
  writeFileSync(path, server.kubeconfig().replace('test-token', 'nobody-token'));
  const nobody = await loadKubeClient({ kubeconfigPath: path });
  const list = await getJson<StatusBody & { details?: unknown }>(nobody, '/api/v1/namespaces/a/services');
  assert.equal(list.status, 403);
  assert.deepEqual(list.body, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message:
      'services is forbidden: User "system:serviceaccount:a:nobody" cannot list resource "services" in API group "" in the namespace "a"',
    reason: 'Forbidden',
    details: { kind: 'services' },
    code: 403,
  });
  const get = await getJson<StatusBody & { details?: unknown }>(nobody, '/api/v1/nodes/n1');
  assert.equal(
    get.body.message,
    'nodes "n1" is forbidden: User "system:serviceaccount:a:nobody" cannot get resource "nodes" in API group "" at the cluster scope',
  );
  assert.deepEqual(get.body.details, { name: 'n1', kind: 'nodes' });
  const w = await nobody.stream('/apis/discovery.k8s.io/v1/endpointslices?watch=1');
  t.after(() => w.close());
  assert.equal(w.status, 403);
  // The token still authenticates, and everyone else keeps full access.
  assert.equal((await nobody.request('GET', '/api')).status, 200);
  assert.equal((await loadKubeClient({ kubeconfigPath: kubeconfig })).server, server.url);
  assert.equal(
    (await (await loadKubeClient({ kubeconfigPath: kubeconfig })).request('GET', '/api/v1/nodes')).status,
    200,
  );
});

void test("pages are a consistent snapshot at the first page's resourceVersion, as etcd reads them", async (t) => {
  const { server, client } = await startDouble(t);
  for (const n of ['b', 'd', 'f', 'h', 'j'])
    server.create('endpointslices', slice('a', n, 'web', ['10.0.0.1']));
  const base = '/apis/discovery.k8s.io/v1/endpointslices?limit=2';
  const first = await getJson<ListBody>(client, base);
  assert.deepEqual(names(first.body), ['a/b', 'a/d']);
  assert.equal(first.body.metadata?.remainingItemCount, 3);
  // Before the cursor, the cursor itself, after it, and a change of a later object: none shows.
  server.create('endpointslices', slice('a', 'a', 'web', ['10.0.0.1']));
  server.delete('endpointslices', 'a', 'd');
  server.create('endpointslices', slice('a', 'e', 'web', ['10.0.0.1']));
  server.delete('endpointslices', 'a', 'h');
  server.upsert('endpointslices', slice('a', 'j', 'web', ['10.0.0.2']));
  const rest: KubeObject[] = [];
  const remaining: (number | undefined)[] = [];
  let cont = first.body.metadata?.continue;
  while (cont) {
    const page = await getJson<ListBody>(client, `${base}&continue=${cont}`);
    assert.equal(page.body.metadata?.resourceVersion, first.body.metadata?.resourceVersion);
    rest.push(...(page.body.items ?? []));
    remaining.push(page.body.metadata?.remainingItemCount);
    cont = page.body.metadata?.continue;
  }
  assert.deepEqual(
    rest.map((o) => o.metadata?.name),
    ['f', 'h', 'j'],
  );
  assert.deepEqual(remaining, [1, undefined]);
  const j = rest[2] as { endpoints?: { addresses: string[] }[] };
  assert.deepEqual(j.endpoints?.[0]?.addresses, ['10.0.0.1'], 'j as it was at the snapshot');
  // A new list sees the writes.
  assert.deepEqual(names((await getJson<ListBody>(client, base.replace('limit=2', 'limit=10'))).body), [
    'a/a',
    'a/b',
    'a/e',
    'a/f',
    'a/j',
  ]);
});

void test("remainingItemCount counts the list's namespace, and is left out with a selector", async (t) => {
  const { server, client } = await startDouble(t);
  for (const ns of ['a', 'a-b', 'b']) for (const n of ['x', 'y', 'z']) server.create('services', svc(ns, n));
  const page = await getJson<ListBody>(client, '/api/v1/namespaces/a/services?limit=1');
  assert.equal(page.body.metadata?.remainingItemCount, 2);
  const all = await getJson<ListBody>(client, '/api/v1/services?limit=4');
  assert.equal(all.body.metadata?.remainingItemCount, 5);
  const selected = await getJson<ListBody>(client, '/api/v1/services?limit=1&labelSelector=!nope');
  assert.ok(selected.body.metadata?.continue);
  assert.equal(selected.body.metadata?.remainingItemCount, undefined);
});

void test('list resourceVersion semantics: unset, NotOlderThan, Exact, 0 (whole), too large, match without a version', async (t) => {
  const { server, client } = await startDouble(t);
  server.create('services', svc('a', 'one'));
  const before = server.resourceVersion;
  server.create('services', svc('a', 'two'));
  const now = String(server.resourceVersion);
  const path = '/api/v1/namespaces/a/services';
  for (const q of [
    '',
    `?resourceVersion=${before}`,
    `?resourceVersion=${before}&resourceVersionMatch=NotOlderThan`,
  ]) {
    const r = await getJson<ListBody>(client, path + q);
    assert.equal(r.body.metadata?.resourceVersion, now, q);
    assert.deepEqual(names(r.body), ['a/one', 'a/two'], q);
  }
  const exact = await getJson<ListBody>(
    client,
    `${path}?resourceVersion=${before}&resourceVersionMatch=Exact`,
  );
  assert.equal(exact.body.metadata?.resourceVersion, String(before));
  assert.deepEqual(names(exact.body), ['a/one']);
  const zero = await getJson<ListBody>(client, `${path}?resourceVersion=0&limit=1`);
  assert.deepEqual(
    names(zero.body),
    ['a/one', 'a/two'],
    'the watch cache ignores limit for resourceVersion=0',
  );
  assert.equal(zero.body.metadata?.continue, undefined);
  const future = await client.request('GET', `${path}?resourceVersion=${server.resourceVersion + 100}`);
  assert.equal(future.status, 504);
  assert.equal(future.headers['retry-after'], '1');
  const fs = JSON.parse(future.body) as StatusBody & { details?: { causes?: { reason: string }[] } };
  assert.equal(fs.reason, 'Timeout');
  assert.equal(fs.details?.causes?.[0]?.reason, 'ResourceVersionTooLarge');
  const noVersion = await getJson<StatusBody>(client, `${path}?resourceVersionMatch=Exact`);
  assert.equal(noVersion.status, 422);
  assert.equal(noVersion.body.reason, 'Invalid');
  server.compact();
  const compacted = await getJson<StatusBody>(
    client,
    `${path}?resourceVersion=${before}&resourceVersionMatch=Exact`,
  );
  assert.equal(compacted.status, 410);
  assert.equal(compacted.body.reason, 'Expired');
});

void test('list pages show every write and a restart without continuity (cached object text)', async (t) => {
  const { server, client } = await startDouble(t);
  server.create('services', svc('a', 'web'));
  const path = '/api/v1/namespaces/a/services';
  const first = await getJson<ListBody>(client, path);
  server.upsert('services', svc('a', 'web', { tier: 'x' }));
  const updated = await getJson<ListBody>(client, path);
  assert.deepEqual(updated.body.items?.[0]?.metadata?.labels, { tier: 'x' });
  assert.notEqual(
    updated.body.items?.[0]?.metadata?.resourceVersion,
    first.body.items?.[0]?.metadata?.resourceVersion,
  );
  await server.restart({ keepResourceVersion: false });
  const after = await getJson<ListBody>(client, path);
  assert.equal(
    after.body.items?.[0]?.metadata?.resourceVersion,
    server.get('services', 'a', 'web')?.metadata?.resourceVersion,
  );
  assert.notEqual(
    after.body.items?.[0]?.metadata?.resourceVersion,
    updated.body.items?.[0]?.metadata?.resourceVersion,
  );
});

void test('parseObjects reads JSON Lists with JSON.parse and falls back to YAML for flow mappings', () => {
  const list = JSON.stringify({ kind: 'List', items: [svc('a', 'x'), svc('a', 'y')] });
  assert.deepEqual(
    parseObjects(list).map((o) => o.metadata?.name),
    ['x', 'y'],
  );
  assert.deepEqual(parseObjects('{kind: Service, metadata: {name: z}}')[0]?.metadata?.name, 'z');
});

void test('writes: POST, PUT with preconditions, merge and strategic PATCH, DELETE, Status errors', async (t) => {
  const { server, client } = await startDouble(t);
  const created = await client.request('POST', '/api/v1/namespaces/a/services', svc('a', 'web'));
  assert.equal(created.status, 201);
  const obj = JSON.parse(created.body) as Service;
  assert.ok(obj.metadata?.uid);
  const dup = await client.request('POST', '/api/v1/namespaces/a/services', svc('a', 'web'));
  assert.equal(dup.status, 409);
  assert.equal((JSON.parse(dup.body) as StatusBody).reason, 'AlreadyExists');
  const mismatch = await client.request('POST', '/api/v1/namespaces/b/services', svc('a', 'x'));
  assert.equal(mismatch.status, 400);
  const gen = await client.request('POST', '/api/v1/namespaces/a/events', {
    metadata: { generateName: 'ev-' },
  });
  assert.match((JSON.parse(gen.body) as KubeObject).metadata?.name ?? '', /^ev-.{5}$/);

  const stale = { ...obj, metadata: { ...obj.metadata, resourceVersion: '1' } };
  assert.equal((await client.request('PUT', '/api/v1/namespaces/a/services/web', stale)).status, 409);
  const put = await client.request('PUT', '/api/v1/namespaces/a/services/web', {
    ...obj,
    spec: { type: 'NodePort' },
  });
  assert.equal(put.status, 200);

  const patched = await client.request(
    'PATCH',
    '/api/v1/namespaces/a/services/web',
    { metadata: { labels: { x: 'y' } }, spec: { type: null } },
    { contentType: 'application/merge-patch+json' },
  );
  assert.equal(patched.status, 200);
  const p = JSON.parse(patched.body) as Service;
  assert.deepEqual(p.metadata?.labels, { x: 'y' });
  assert.equal(p.spec?.type, undefined);
  const smp = await client.request(
    'PATCH',
    '/api/v1/namespaces/a/services/web',
    { metadata: { labels: { z: '1' } } },
    { contentType: 'application/strategic-merge-patch+json' },
  );
  assert.deepEqual((JSON.parse(smp.body) as Service).metadata?.labels, { x: 'y', z: '1' });
  const jp = await client.request('PATCH', '/api/v1/namespaces/a/services/web', [], {
    contentType: 'application/json-patch+json',
  });
  assert.equal(jp.status, 415);
  assert.equal(
    (
      await client.request(
        'PATCH',
        '/api/v1/namespaces/a/services/nope',
        {},
        { contentType: 'application/merge-patch+json' },
      )
    ).status,
    404,
  );

  assert.equal((await client.request('DELETE', '/api/v1/namespaces/a/services/web')).status, 200);
  const gone = await client.request('DELETE', '/api/v1/namespaces/a/services/web');
  assert.equal(gone.status, 404);
  assert.deepEqual(
    { kind: (JSON.parse(gone.body) as StatusBody).kind, code: (JSON.parse(gone.body) as StatusBody).code },
    { kind: 'Status', code: 404 },
  );
  assert.equal(server.list('services').length, 0);
  assert.equal((await client.request('GET', '/api/v1/namespaces/a/services/web')).status, 404);
  assert.equal((await client.request('GET', '/api/v1/widgets')).status, 404);
});

void test('mergePatch follows RFC 7386', () => {
  assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] }), {
    a: 1,
    b: { d: 3, e: 4 },
    f: [1],
  });
  assert.deepEqual(mergePatch({ a: 1 }, 'x'), 'x');
});

void test('watch: synthetic ADDED, replay from a resourceVersion, selector transitions, timeout, bookmarks', async (t) => {
  const { server, client } = await startDouble(t, { bookmarkIntervalMs: 20 });
  server.create('services', svc('a', 'one', { app: 'web' }));
  const rv = String(server.resourceVersion);
  server.create('services', svc('a', 'two', { app: 'web' }));

  const fresh = await watch(t, client, '/api/v1/services?watch=1');
  await waitFor('synthetic adds', () => fresh.lines.length === 2);
  assert.deepEqual(
    fresh.lines.map((l) => `${l.type} ${l.object.metadata?.name ?? ''}`),
    ['ADDED one', 'ADDED two'],
  );

  const replay = await watch(
    t,
    client,
    `/api/v1/services?watch=true&resourceVersion=${rv}&labelSelector=app%3Dweb`,
  );
  await waitFor('replayed', () => replay.lines.length === 1);
  assert.equal(replay.lines[0]?.object.metadata?.name, 'two');
  const two = server.get<Service>('services', 'a', 'two');
  assert.ok(two);
  server.update('services', { ...two, metadata: { ...two.metadata, labels: { app: 'db' } } });
  await waitFor('transition', () => replay.lines.length === 2);
  assert.equal(replay.lines[1]?.type, 'DELETED');
  // As kube-apiserver's watch cache: the content before the change, the change's resourceVersion.
  assert.deepEqual(replay.lines[1]?.object.metadata?.labels, { app: 'web' });
  assert.equal(
    replay.lines[1]?.object.metadata?.resourceVersion,
    server.get('services', 'a', 'two')?.metadata?.resourceVersion,
  );

  const quiet = await watch(
    t,
    client,
    `/api/v1/services?watch=1&resourceVersion=${server.resourceVersion}&timeoutSeconds=1&allowWatchBookmarks=true`,
  );
  await quiet.ended;
  assert.deepEqual(quiet.lines, [], 'no bookmark while the version has not moved past the watch');
  const timed = await watch(
    t,
    client,
    `/api/v1/services?watch=1&resourceVersion=${server.resourceVersion}&timeoutSeconds=1&allowWatchBookmarks=true`,
  );
  // A write to another resource moves the version on: bookmarks carry it.
  server.create('nodes', { metadata: { name: 'n1' } });
  await timed.ended;
  assert.ok(timed.lines.length > 0 && timed.lines.every((l) => l.type === 'BOOKMARK'));
  assert.equal(timed.lines[0]?.object.metadata?.resourceVersion, String(server.resourceVersion));
});

void test('watch: a BOOKMARK 2 s before timeoutSeconds, as the watch cache sends it', async (t) => {
  // The periodic interval (60 s by default) is far off: only the pre-timeout bookmark can come.
  const { server, client } = await startDouble(t);
  const opened = Date.now();
  const w = await watch(
    t,
    client,
    '/api/v1/services?watch=1&resourceVersion=1&timeoutSeconds=3&allowWatchBookmarks=true',
  );
  server.create('services', svc('a', 'one'));
  await w.ended;
  const elapsed = Date.now() - opened;
  assert.deepEqual(
    w.lines.map((l) => l.type),
    ['ADDED', 'BOOKMARK'],
  );
  assert.equal(w.lines[1]?.object.metadata?.resourceVersion, String(server.resourceVersion));
  assert.ok(elapsed >= 2900, `the watch ran to its timeout (${elapsed} ms)`);
  const noBookmarks = await watch(t, client, '/api/v1/services?watch=1&resourceVersion=2&timeoutSeconds=3');
  await noBookmarks.ended;
  assert.deepEqual(noBookmarks.lines, [], 'no bookmark unless asked for');
});

void test('watch from a compacted resourceVersion: in-stream ERROR 410, or HTTP 410', async (t) => {
  const { server, client } = await startDouble(t);
  server.create('services', svc('a', 'one'));
  const old = server.resourceVersion;
  server.create('services', svc('a', 'two'));
  server.compact();
  const w = await watch(t, client, `/api/v1/services?watch=1&resourceVersion=${old}`);
  await w.ended;
  assert.equal(w.status, 200);
  assert.equal(w.lines[0]?.type, 'ERROR');
  assert.equal(w.lines[0]?.object.code, 410);
  server.goneMode = 'http';
  const res = await client.stream(`/api/v1/services?watch=1&resourceVersion=${old}`);
  t.after(() => res.close());
  assert.equal(res.status, 410);
});

void test('fault API over HTTP and the request log', async (t) => {
  const { server, client } = await startDouble(t);
  const r = await client.request('POST', '/_lab/faults', {
    action: 'failNext',
    count: 2,
    status: 429,
    retryAfterSeconds: 3,
  });
  assert.equal(r.status, 200);
  const failed = await client.request('GET', '/api/v1/nodes');
  assert.equal(failed.status, 429);
  assert.equal(failed.headers['retry-after'], '3');
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 429);
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 200);
  assert.equal((await client.request('POST', '/_lab/faults', { action: 'bogus' })).status, 400);
  const log = (await getJson<{ requests: { path: string; status: number }[] }>(client, '/_lab/requests')).body
    .requests;
  assert.deepEqual(
    log.filter((e) => e.path === '/api/v1/nodes').map((e) => e.status),
    [429, 429, 200],
  );
  assert.equal(server.requests.length, log.length);
});

void test('bulk upsert over POST /_lab/objects (YAML documents and Lists)', async (t) => {
  const { server, client } = await startDouble(t);
  const yaml = [
    'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: a}\nspec: {clusterIP: 10.96.0.1}\n',
    'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Node, metadata: {name: n1}}\n- {kind: Secret, metadata: {name: c}}\n',
  ].join('---\n');
  const res = await client.request('POST', '/_lab/objects', yaml, { contentType: 'application/yaml' });
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body), { loaded: 2, skipped: ['Secret/c'] });
  const again = await client.request('POST', '/_lab/objects', {
    kind: 'Service',
    metadata: { name: 'web', namespace: 'a' },
    spec: { clusterIP: '10.96.0.2' },
  });
  assert.equal(again.status, 200);
  assert.equal(server.get<Service>('services', 'a', 'web')?.spec?.clusterIP, '10.96.0.2');
  assert.equal(server.list('nodes').length, 1);
  assert.equal(
    (await client.request('POST', '/_lab/objects', 'a: [', { contentType: 'application/yaml' })).status,
    400,
  );
});

void test('restart with and without resourceVersion continuity', async (t) => {
  const { server, client } = await startDouble(t);
  server.create('services', svc('a', 'one'));
  server.create('services', svc('a', 'two'));
  const rv = server.resourceVersion;
  const w = await watch(t, client, `/api/v1/services?watch=1&resourceVersion=${rv}`);
  await server.restart({ keepResourceVersion: true });
  await w.ended;
  assert.equal(server.resourceVersion, rv);
  server.create('services', svc('a', 'three'));
  const resumed = await watch(t, client, `/api/v1/services?watch=1&resourceVersion=${rv}`);
  await waitFor('resumed', () => resumed.lines.length === 1);
  await server.restart({ keepResourceVersion: false });
  // Renumbered above a gap: three objects.
  const after = server.resourceVersion;
  assert.equal(after, rv + 1 + 1000 + 3);
  assert.ok(Number(server.get('services', 'a', 'one')?.metadata?.resourceVersion) > rv + 1000);
  const lost = await watch(t, client, `/api/v1/services?watch=1&resourceVersion=${rv}`);
  await lost.ended;
  assert.equal(lost.lines[0]?.object.code, 410);
});

void test('standalone process: objects file, kubeconfig, ready line, clean exit on SIGTERM', async (t) => {
  const dir = tempDir(t);
  const objects = join(dir, 'objects.yaml');
  writeFileSync(
    objects,
    [
      'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: web, namespace: default}\n',
      'apiVersion: v1\nkind: Node\nmetadata: {name: node-a}\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}\n',
    ].join('---\n'),
  );
  const kubeconfig = join(dir, 'kubeconfig');
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      'packages/kube-double/src/apiserver-main.ts',
      '--listen',
      '127.0.0.1:0',
      '--token',
      'tok',
      '--kubeconfig',
      kubeconfig,
      '--objects',
      objects,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', () => reject(new Error('exited before ready')));
  });
  const ready = JSON.parse(line) as { ready: boolean; url: string; objects: number };
  assert.equal(ready.ready, true);
  assert.match(ready.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const client = await loadKubeClient({ kubeconfigPath: kubeconfig });
  const list = await getJson<ListBody>(client, '/api/v1/services');
  assert.deepEqual(names(list.body), ['default/web']);
  assert.equal((await getJson<ListBody>(client, '/api/v1/nodes')).body.items?.length, 1);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

void test('plain http mode writes a kubeconfig that client-node accepts', async (t) => {
  const server = await FakeApiServer.start({ tls: false });
  t.after(() => server.close());
  const path = join(tempDir(t), 'kc');
  server.writeKubeconfig(path);
  const client = await loadKubeClient({ kubeconfigPath: path });
  assert.match(server.url, /^http:/);
  assert.equal((await client.request('GET', '/api/v1/services')).status, 200);
});
