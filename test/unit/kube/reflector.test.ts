// The reflector against the API double over real loopback HTTPS, with the real client code.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import {
  Reflector,
  type ReflectorChange,
  type ReflectorOptions,
  type WatchRestartReason,
} from '../../../src/kube/reflector.js';
import { planProjections } from '../../../src/controller/projections.js';
import { ReflectorSet } from '../../../src/kube/reflector-set.js';
import type { KubeObject, Service } from '../../../src/model/objects.js';
import { silentLogger } from '../../../src/observe/log.js';
import { FAST, slice, startDouble, svc, waitFor } from './helpers.js';

interface Recorder {
  changes: ReflectorChange<Service>[];
  restarts: WatchRestartReason[];
  relists: number;
  events: string[];
  listed: number[];
  opened: number;
}

function reflect(
  t: TestContext,
  options: Omit<ReflectorOptions<Service>, 'logger' | 'resource'> &
    Partial<Pick<ReflectorOptions<Service>, 'resource'>>,
): { r: Reflector<Service>; rec: Recorder } {
  const rec: Recorder = { changes: [], restarts: [], relists: 0, events: [], listed: [], opened: 0 };
  const r = new Reflector<Service>({
    resource: 'services',
    logger: silentLogger(),
    onChange: (c) => {
      rec.changes.push(c);
    },
    ...options,
    timers: { ...FAST, ...options.timers },
    hooks: {
      relist: () => rec.relists++,
      watchRestart: (_res, reason) => rec.restarts.push(reason),
      event: (_res, type) => rec.events.push(type),
      listed: (_res, n) => rec.listed.push(n),
      watchOpened: () => rec.opened++,
    },
  });
  t.after(() => r.stop());
  r.start();
  return { r, rec };
}

function keys(r: Reflector<KubeObject>): string[] {
  return r
    .items()
    .map(
      (o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}@${o.metadata?.resourceVersion ?? ''}`,
    )
    .sort();
}

function serverKeys(list: KubeObject[]): string[] {
  return list
    .map(
      (o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}@${o.metadata?.resourceVersion ?? ''}`,
    )
    .sort();
}

void test('lists, then follows adds, updates and deletes; synced stays true', async (t) => {
  const { server, client } = await startDouble(t);
  server.create('services', svc('default', 'a'));
  const { r, rec } = reflect(t, { client });
  await waitFor('synced', () => r.synced);
  assert.deepEqual(
    r.items().map((s) => s.metadata?.name),
    ['a'],
  );
  await waitFor('watch open', () => server.activeWatches === 1);
  server.create('services', svc('default', 'b'));
  const b = server.get<Service>('services', 'default', 'b');
  assert.ok(b);
  b.spec = { ...b.spec, clusterIP: '10.96.0.11' };
  server.update('services', b);
  server.delete('services', 'default', 'a');
  await waitFor(
    'store follows',
    () => r.get('default/a') === undefined && r.get('default/b')?.spec?.clusterIP === '10.96.0.11',
  );
  assert.deepEqual(
    rec.changes.map((c) => `${c.type} ${c.key}`),
    ['added default/a', 'added default/b', 'modified default/b', 'deleted default/a'],
  );
  assert.equal(r.synced, true);
  assert.deepEqual(rec.listed, [1]);
  assert.equal(rec.opened, 1);
  assert.equal(r.lastResourceVersion, String(server.resourceVersion));
  const watch = server.requests.find((e) => e.watch);
  assert.ok(watch);
  assert.equal(watch.query.allowWatchBookmarks, 'true');
  const timeout = Number(watch.query.timeoutSeconds);
  assert.ok(timeout >= 300 && timeout <= 600, `timeoutSeconds ${timeout}`);
  assert.equal(server.requests.find((e) => !e.watch)?.query.limit, '500');
});

void test('bookmarks advance the resourceVersion without changes', async (t) => {
  const { server, client } = await startDouble(t, { bookmarkIntervalMs: 30 });
  const { r, rec } = reflect(t, { client });
  await waitFor('synced', () => r.synced);
  // Writes to another resource move the global resourceVersion; bookmarks carry it to us.
  server.create('nodes', { metadata: { name: 'n1' } });
  server.create('nodes', { metadata: { name: 'n2' } });
  await waitFor('bookmark', () => r.lastResourceVersion === String(server.resourceVersion));
  assert.ok(rec.events.includes('BOOKMARK'));
  assert.equal(rec.changes.length, 0);
});

for (const goneMode of ['stream', 'http'] as const) {
  void test(`410 (${goneMode}) relists and reports only real differences`, async (t) => {
    const { server, client } = await startDouble(t, { goneMode });
    for (let i = 0; i < 5; i++) server.create('services', svc('default', `s${i}`));
    const { r, rec } = reflect(t, { client });
    await waitFor('synced', () => r.synced && server.activeWatches === 1);
    rec.changes.length = 0;
    // The reflector misses these (stalled), then its resourceVersion is compacted away.
    server.stallWatches();
    server.create('services', svc('default', 'new'));
    const s1 = server.get<Service>('services', 'default', 's1');
    assert.ok(s1);
    server.update('services', { ...s1, metadata: { ...s1.metadata, labels: { v: '2' } } });
    server.delete('services', 'default', 's2');
    server.compact();
    server.dropWatches();
    await waitFor(
      'relisted',
      () => rec.relists === 2 && keys(r).join() === serverKeys(server.list('services')).join(),
    );
    assert.deepEqual(rec.changes.map((c) => `${c.type} ${c.key}`).sort(), [
      'added default/new',
      'deleted default/s2',
      'modified default/s1',
    ]);
    assert.ok(rec.restarts.includes('gone'));
  });
}

void test('an abruptly dropped watch is reopened from the last resourceVersion', async (t) => {
  const { server, client } = await startDouble(t);
  server.create('services', svc('default', 'a'));
  const { r, rec } = reflect(t, { client });
  await waitFor('synced', () => r.synced && server.activeWatches === 1);
  const rv = r.lastResourceVersion;
  server.dropWatches();
  await waitFor('rewatch', () => server.requests.filter((e) => e.watch).length === 2);
  server.create('services', svc('default', 'b'));
  await waitFor('b arrives', () => r.get('default/b') !== undefined);
  const second = server.requests.filter((e) => e.watch)[1];
  assert.equal(second?.query.resourceVersion, rv);
  assert.equal(rec.relists, 1, 'no relist after a dropped watch');
  assert.ok(rec.restarts.includes('error'));
});

void test('a cleanly closed watch is reopened at once', async (t) => {
  const { server, client } = await startDouble(t);
  const { r, rec } = reflect(t, { client });
  await waitFor('synced', () => r.synced && server.activeWatches === 1);
  server.dropWatches({ clean: true });
  await waitFor('rewatch', () => server.requests.filter((e) => e.watch).length === 2);
  assert.deepEqual(rec.restarts, ['closed']);
});

void test('a stalled watch is detected by the watchdog and reconnected', async (t) => {
  const { server, client } = await startDouble(t);
  const { r, rec } = reflect(t, {
    client,
    timers: { watchTimeoutMinSeconds: 0, watchTimeoutMaxSeconds: 0, watchdogGraceMs: 250 },
  });
  await waitFor('synced', () => r.synced && server.activeWatches === 1);
  server.stallWatches();
  server.create('services', svc('default', 'late'));
  await waitFor('watchdog reconnects and delivers', () => r.get('default/late') !== undefined, 5000);
  assert.ok(rec.restarts.includes('watchdog'));
});

void test('regression: a watch silent for several bookmark intervals is reopened (it waited for the watch timeout)', async (t) => {
  const { server, client } = await startDouble(t, { bookmarkIntervalMs: 100 });
  // The default watchdog (300-600 s + 30 s) would never fire within this test.
  const { r, rec } = reflect(t, { client, timers: { minSilenceMs: 50 } });
  await waitFor('synced', () => r.synced && server.activeWatches === 1);
  // The version moves past the watch's: bookmarks flow (as kube-apiserver's do).
  server.create('nodes', { metadata: { name: 'n1' } });
  await waitFor('bookmarks arrive', () => rec.events.filter((e) => e === 'BOOKMARK').length >= 3);
  server.stallWatches();
  server.create('services', svc('default', 'late'));
  await waitFor('the silent watch is reopened and delivers', () => r.get('default/late') !== undefined, 5000);
  assert.ok(rec.restarts.includes('watchdog'));
  assert.ok(rec.relists >= 1);
});

void test('a watch silent while bookmarks are due does not count as the API answering', async (t) => {
  const { server, client } = await startDouble(t, { bookmarkIntervalMs: 100 });
  const { r, rec } = reflect(t, { client, timers: { minSilenceMs: 50, shortWatchMs: 200 } });
  await waitFor('synced', () => r.synced && server.activeWatches === 1);
  server.create('nodes', { metadata: { name: 'n1' } });
  await waitFor('bookmarks arrive', () => rec.events.filter((e) => e === 'BOOKMARK').length >= 3);
  server.stallWatches({ newWatches: true });
  const opened = rec.opened;
  // Each silent watch is probed (the probe stalls too) before it is reconnected.
  await waitFor(
    'several silent watches',
    () => rec.restarts.filter((x) => x === 'watchdog').length >= 3,
    10_000,
  );
  assert.equal(rec.opened, opened, 'silent watches were reported as answering');
  server.unstallWatches();
  await waitFor('answering again', () => rec.opened > opened, 5000);
});

void test('regression: a quiet watch opened at the latest version was reconnected every three bookmark intervals and never counted as answering (a real kube-apiserver sends no bookmark until its version moves)', async (t) => {
  const { server, client } = await startDouble(t, { bookmarkIntervalMs: 100 });
  const { r, rec } = reflect(t, { client, timers: { minSilenceMs: 50 } });
  await waitFor('synced', () => r.synced && server.activeWatches === 1);
  // The version moves past the watch's: bookmarks flow, and their 100 ms rhythm is learned.
  server.create('nodes', { metadata: { name: 'n1' } });
  await waitFor('bookmarks arrive', () => rec.events.filter((e) => e === 'BOOKMARK').length >= 3);
  // The watch ends cleanly (its timeout): the next one starts at the latest version, and nothing is
  // written any more, so the server sends it nothing at all, bookmarks included.
  server.dropWatches({ clean: true });
  await waitFor('rewatch', () => rec.restarts.includes('closed') && server.activeWatches === 1);
  const opened = rec.opened;
  const probes = (): number =>
    server.requests.filter((e) => e.watch && e.query.timeoutSeconds === '1' && !e.query.allowWatchBookmarks)
      .length;
  // Each silence past three intervals (300 ms) is probed; the probe finds nothing newer.
  await waitFor(
    'three probes of the quiet watch (or a reconnect)',
    () => probes() >= 3 || rec.restarts.includes('watchdog'),
    10_000,
  );
  assert.deepEqual(
    rec.restarts.filter((x) => x !== 'closed'),
    [],
    'the quiet watch was kept, not reconnected',
  );
  assert.ok(rec.opened > opened, 'the quiet watch counts as the API answering');
  assert.equal(rec.relists, 1);
  server.create('services', svc('default', 'late'));
  await waitFor('the quiet watch still delivers', () => r.get('default/late') !== undefined);
  assert.ok(!rec.restarts.includes('watchdog'));
});

void test('regression: a watch that delivered while it was being probed, then stalled, was left without a watchdog', async (t) => {
  const { server, client } = await startDouble(t, { bookmarkIntervalMs: 100 });
  const { r, rec } = reflect(t, { client, timers: { minSilenceMs: 50 } });
  await waitFor('synced', () => r.synced && server.activeWatches === 1);
  server.create('nodes', { metadata: { name: 'n1' } });
  await waitFor('bookmarks arrive', () => rec.events.filter((e) => e === 'BOOKMARK').length >= 3);
  server.dropWatches({ clean: true });
  const isProbe = (e: { watch: boolean; query: Record<string, string> }): boolean =>
    e.watch && e.query.timeoutSeconds === '1' && !e.query.allowWatchBookmarks;
  await waitFor('a probe of the quiet watch', () => server.requests.some(isProbe), 5000);
  // While the probe runs, the watch delivers (its watchdog is re-armed, and fires during the probe),
  // then it stalls, and so does the probe.
  server.create('services', svc('default', 'during'));
  await waitFor('delivered', () => r.get('default/during') !== undefined);
  server.stallWatches();
  server.create('services', svc('default', 'late'));
  // A later probe sees what the stalled watch missed: it is reconnected and delivers.
  await waitFor('the stalled watch is reconnected', () => r.get('default/late') !== undefined, 5000);
  assert.ok(rec.restarts.includes('watchdog'));
});

void test('5xx errors back off exponentially; 429 honours Retry-After', async (t) => {
  const { server, client } = await startDouble(t);
  server.failNext(3, 503, { method: 'GET', watch: false });
  const { r } = reflect(t, { client, timers: { backoffInitialMs: 40, backoffMaxMs: 1000 } });
  await waitFor('synced after errors', () => r.synced, 5000);
  const lists = server.requests.filter((e) => !e.watch);
  assert.deepEqual(
    lists.map((e) => e.status),
    [503, 503, 503, 200],
  );
  const gaps = lists.slice(1).map((e, i) => e.time - (lists[i]?.time ?? 0));
  // Jitter keeps each delay within [base/2, base] with base 40, 80, 160 ms.
  assert.ok((gaps[0] ?? 0) >= 20 && (gaps[1] ?? 0) >= 40 && (gaps[2] ?? 0) >= 80, `gaps ${gaps.join()}`);

  server.clearRequestLog();
  server.failNext(1, 429, { watch: true, retryAfterSeconds: 1 });
  server.dropWatches();
  await waitFor(
    'rewatch after 429',
    () => server.requests.filter((e) => e.watch && e.status === 200).length >= 1,
    5000,
  );
  const watches = server.requests.filter((e) => e.watch);
  assert.equal(watches[0]?.status, 429);
  const gap = (watches[1]?.time ?? 0) - (watches[0]?.time ?? 0);
  assert.ok(gap >= 950, `Retry-After honoured: waited ${gap} ms`);
});

void test('paginated list follows continue; an expired continue restarts the list', async (t) => {
  const { server, client } = await startDouble(t);
  for (let i = 0; i < 10; i++) server.create('services', svc('default', `s${String(i).padStart(2, '0')}`));
  let pages = 0;
  server.onRequest = (e) => {
    if (!e.watch && e.path.endsWith('/services') && e.query.continue && ++pages === 2) {
      server.create('nodes', { metadata: { name: 'moves-the-revision' } });
      server.compact();
    }
  };
  const { r } = reflect(t, { client, timers: { pageSize: 3 } });
  await waitFor('synced', () => r.synced);
  assert.equal(r.size, 10);
  // Up to the sync: 1st page, 2nd page, 3rd page -> 410, then the full list again: 4 pages. What
  // comes after the sync (on Node 24 in CI, once, one more list) is not this test's.
  const lists = server.requests.filter((e) => !e.watch && e.path.endsWith('/services')).slice(0, 7);
  assert.deepEqual(
    lists.map((e) => e.status),
    [200, 200, 410, 200, 200, 200, 200],
  );
  assert.ok(lists.every((e) => e.query.limit === '3'));
});

void test('an object that stops matching the selector is reported deleted, and added when it matches again', async (t) => {
  const { server, client } = await startDouble(t);
  server.create('services', svc('default', 'a', { app: 'web' }));
  const { r, rec } = reflect(t, { client, labelSelector: 'app=web' });
  await waitFor('synced', () => r.synced && server.activeWatches === 1);
  const a = server.get<Service>('services', 'default', 'a');
  assert.ok(a);
  server.update('services', { ...a, metadata: { ...a.metadata, labels: { app: 'other' } } });
  await waitFor('deleted', () => r.size === 0);
  const a2 = server.get<Service>('services', 'default', 'a');
  assert.ok(a2);
  server.update('services', { ...a2, metadata: { ...a2.metadata, labels: { app: 'web' } } });
  await waitFor('added again', () => r.size === 1);
  assert.deepEqual(
    rec.changes.map((c) => c.type),
    ['added', 'deleted', 'added'],
  );
});

void test('a throwing or rejecting handler and malformed lines do not stop the stream', async (t) => {
  const { server, client } = await startDouble(t);
  let calls = 0;
  const { r } = reflect(t, {
    client,
    onChange: (c) => {
      calls++;
      if (c.key === 'default/boom') throw new Error('handler bug');
      if (c.key === 'default/reject') return Promise.reject(new Error('async handler bug'));
      return undefined;
    },
  });
  await waitFor('synced', () => r.synced && server.activeWatches === 1);
  server.create('services', svc('default', 'boom'));
  server.create('services', svc('default', 'reject'));
  server.injectWatchLine('{"type":"ADDED","object":');
  server.injectWatchLine('not json at all');
  server.injectWatchLine('{"type":"WHATEVER","object":{}}');
  server.create('services', svc('default', 'after'));
  await waitFor('after arrives', () => r.get('default/after') !== undefined);
  assert.equal(calls, 3);
  assert.equal(r.size, 3);
});

void test('ReflectorSet: namespaces list vs all, proxy-name and label selectors, the node by name', async (t) => {
  const { server, client } = await startDouble(t);
  server.create('services', svc('a', 'web', { tier: 'front' }));
  server.create('services', svc('b', 'web', { tier: 'front' }));
  server.create('services', svc('c', 'web', { tier: 'front' }));
  server.create('services', svc('a', 'other', { tier: 'back' }));
  server.create(
    'services',
    svc('a', 'proxied', { tier: 'front', 'service.kubernetes.io/service-proxy-name': 'x' }),
  );
  server.create('endpointslices', slice('a', 'web-1', 'web', ['10.0.0.1']));
  server.create('endpointslices', slice('c', 'web-1', 'web', ['10.0.0.2']));
  server.create('nodes', { metadata: { name: 'node-a' } });
  server.create('nodes', { metadata: { name: 'node-b' } });

  const changes: string[] = [];
  const some = new ReflectorSet({
    client,
    namespaces: ['a', 'b'],
    serviceLabelSelector: 'tier=front',
    nodeName: 'node-a',
    projections: planProjections('node-a'),
    logger: silentLogger(),
    timers: FAST,
    onChange: (res, key, type) => changes.push(`${res} ${type} ${key}`),
  });
  t.after(() => some.stop());
  assert.deepEqual(some.unsynced(), ['services', 'endpointslices', 'nodes']);
  some.start();
  await waitFor('synced', () => some.synced && server.activeWatches === 5);
  assert.deepEqual(
    some
      .serviceItems()
      .map((s) => s.key)
      .sort(),
    ['a/web', 'b/web'],
  );
  assert.deepEqual(
    some.endpointSliceItems().map((s) => s.key.split('/')[0]),
    ['a'],
  );
  assert.equal(some.nodeObject()?.name, 'node-a');
  assert.ok(some.lastProgressAt <= Date.now());
  const svcWatches = server.requests.filter((e) => e.watch && e.path.endsWith('/services'));
  assert.deepEqual(svcWatches.map((e) => e.path).sort(), [
    '/api/v1/namespaces/a/services',
    '/api/v1/namespaces/b/services',
  ]);
  assert.equal(svcWatches[0]?.query.labelSelector, '!service.kubernetes.io/service-proxy-name,tier=front');

  const all = new ReflectorSet({
    client,
    namespaces: [],
    nodeName: 'node-b',
    projections: planProjections('node-b'),
    logger: silentLogger(),
    timers: FAST,
  });
  t.after(() => all.stop());
  all.start();
  await waitFor('synced', () => all.synced);
  assert.equal(all.serviceItems().length, 4);
  assert.equal(all.endpointSliceItems().length, 2);
  assert.equal(all.nodeObject()?.name, 'node-b');

  // Node deleted: the store empties (advertise nothing).
  server.delete('nodes', undefined, 'node-a');
  await waitFor('node gone', () => some.nodeObject() === undefined);
  assert.ok(changes.includes('nodes deleted node-a'));
});

void test('stop() ends the loop promptly, even during a backoff', async (t) => {
  const { server, client } = await startDouble(t);
  server.failNext(100, 500);
  const { r } = reflect(t, { client, timers: { backoffInitialMs: 60_000, backoffMaxMs: 60_000 } });
  await waitFor('first failure', () => server.requests.length >= 1);
  await waitFor('waiting counts as progress', () => Date.now() - r.lastProgressAt < 50);
  const started = Date.now();
  await r.stop();
  assert.ok(Date.now() - started < 1000);
  assert.equal(r.synced, false);
});

void test('throwing metrics hooks do not disturb the loop', async (t) => {
  const { server, client } = await startDouble(t);
  const boom = (): void => {
    throw new Error('hook bug');
  };
  const r = new Reflector<Service>({
    client,
    resource: 'services',
    logger: silentLogger(),
    timers: FAST,
    hooks: { relist: boom, watchRestart: boom, event: boom, synced: boom, listed: boom, watchOpened: boom },
  });
  t.after(() => r.stop());
  r.start();
  await waitFor('synced', () => r.synced && server.activeWatches === 1);
  server.create('services', svc('default', 'a'));
  await waitFor('event applied', () => r.size === 1);
  server.dropWatches({ clean: true });
  server.create('services', svc('default', 'b'));
  await waitFor('after a restart', () => r.size === 2);
});

void test('an API server restart, with or without resourceVersion continuity, converges', async (t) => {
  const { server, client } = await startDouble(t);
  for (let i = 0; i < 5; i++) server.create('services', svc('default', `s${i}`));
  const { r, rec } = reflect(t, { client });
  await waitFor('synced', () => r.synced && server.activeWatches === 1);
  await server.restart({ keepResourceVersion: true, downMs: 50 });
  server.create('services', svc('default', 'after-restart'));
  await waitFor('resumed without relist', () => r.size === 6);
  assert.equal(rec.relists, 1);
  rec.changes.length = 0;
  await server.restart({ keepResourceVersion: false, downMs: 50 });
  server.delete('services', 'default', 's0');
  await waitFor(
    'relisted after losing continuity',
    () => rec.relists === 2 && keys(r).join() === serverKeys(server.list('services')).join(),
  );
  // Every object got a new resourceVersion: modified (not deleted and re-added), s0 deleted.
  assert.deepEqual(
    rec.changes.filter((c) => c.type !== 'modified').map((c) => `${c.type} ${c.key}`),
    ['deleted default/s0'],
  );
});

void test('managedFields and the last-applied annotation are not kept in the store', async (t) => {
  const { server, client } = await startDouble(t);
  const heavy = (name: string): Service => {
    const s = svc('default', name);
    s.metadata = {
      ...s.metadata,
      managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': {} } }],
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":true}', keep: 'me' },
    };
    return s;
  };
  server.create('services', heavy('listed'));
  const { r } = reflect(t, { client });
  await waitFor('synced', () => r.synced && server.activeWatches === 1);
  server.create('services', heavy('watched'));
  await waitFor('watched', () => r.size === 2);
  for (const s of r.items()) {
    assert.equal(s.metadata?.managedFields, undefined);
    assert.deepEqual(s.metadata?.annotations, { keep: 'me' });
  }
});
