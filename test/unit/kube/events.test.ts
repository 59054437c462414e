// The Event recorder against the API double: aggregation, rate limits, bounded queue, drops.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventRecorder, type EventDropReason, type ServiceRef } from '../../../src/kube/events.js';
import type { KubeObject, Service } from '../../../src/model/objects.js';
import { silentLogger } from '../../../src/observe/log.js';
import { startDouble, svc } from './helpers.js';

/** The reference the controller passes: a Service's projection carries these fields. */
function ref(s: Service): ServiceRef {
  return {
    namespace: s.metadata?.namespace ?? '',
    name: s.metadata?.name ?? '',
    uid: s.metadata?.uid,
    resourceVersion: s.metadata?.resourceVersion,
  };
}

interface EventObject extends KubeObject {
  count?: number;
  reason?: string;
  message?: string;
  type?: string;
  involvedObject?: { kind?: string; name?: string; namespace?: string; uid?: string };
  source?: { component?: string; host?: string };
  firstTimestamp?: string;
  lastTimestamp?: string;
}

void test('posts Events about the Service and aggregates repeats into a count', async (t) => {
  const { server, client } = await startDouble(t);
  const web = server.create<Service>('services', svc('default', 'web'));
  const sent: string[] = [];
  const rec = new EventRecorder({
    client,
    nodeName: 'node-a',
    logger: silentLogger(),
    hooks: { sent: (h) => sent.push(h) },
  });
  t.after(() => rec.close());
  rec.advertised(ref(web), '10.96.0.10');
  rec.advertised(ref(web), '10.96.0.10');
  rec.advertised(ref(web), '10.96.0.10');
  rec.withdrawn(ref(web), '10.96.0.10', 'no ready endpoints');
  rec.skipped(ref(web), '010.1.2.3', 'invalid-ip');
  rec.skipped(ref(web), '192.0.2.1', 'outside-allowed-cidrs');
  await rec.flush();
  const events = server.list<EventObject>('events', 'default');
  const byReason = new Map(events.map((e) => [e.reason, e]));
  assert.equal(events.length, 4);
  const adv = byReason.get('Advertised');
  assert.ok(adv);
  assert.equal(adv.count, 3);
  assert.equal(adv.type, 'Normal');
  assert.equal(adv.message, 'Node node-a advertises 10.96.0.10');
  assert.deepEqual(adv.source, { component: 'cosmolet', host: 'node-a' });
  assert.equal(adv.involvedObject?.kind, 'Service');
  assert.equal(adv.involvedObject?.name, 'web');
  assert.equal(adv.involvedObject?.uid, web.metadata?.uid);
  assert.ok((adv.lastTimestamp ?? '') >= (adv.firstTimestamp ?? ''));
  assert.equal(byReason.get('Withdrawn')?.message, 'Node node-a withdrew 10.96.0.10 (no ready endpoints)');
  assert.equal(byReason.get('InvalidIP')?.type, 'Warning');
  assert.equal(byReason.get('OutsideAllowedCIDRs')?.type, 'Warning');
  assert.deepEqual(sent.sort(), ['created', 'created', 'created', 'created', 'patched', 'patched']);
  const patches = server.requests.filter((e) => e.method === 'PATCH');
  assert.equal(patches.length, 2);
});

void test('a repeat whose Event expired is posted again', async (t) => {
  const { server, client } = await startDouble(t);
  const web = server.create<Service>('services', svc('default', 'web'));
  const rec = new EventRecorder({ client, nodeName: 'node-a', logger: silentLogger() });
  t.after(() => rec.close());
  rec.advertised(ref(web), '10.96.0.10');
  await rec.flush();
  const [first] = server.list<EventObject>('events');
  server.delete('events', 'default', first?.metadata?.name ?? '');
  rec.advertised(ref(web), '10.96.0.10');
  await rec.flush();
  const events = server.list<EventObject>('events');
  assert.equal(events.length, 1);
  assert.equal(events[0]?.count, 1);
});

void test('rate limit per object, bounded queue, API refusals: dropped and counted, never blocking', async (t) => {
  const { server, client } = await startDouble(t);
  const drops: EventDropReason[] = [];
  const hooks = { dropped: (r: EventDropReason) => drops.push(r) };
  const web = server.create<Service>('services', svc('default', 'web'));

  const limited = new EventRecorder({ client, nodeName: 'n', logger: silentLogger(), hooks, burst: 3 });
  t.after(() => limited.close());
  for (let i = 0; i < 5; i++) limited.advertised(ref(web), `10.96.0.${i}`);
  await limited.flush();
  assert.deepEqual(drops, ['rate-limited', 'rate-limited']);
  assert.equal(server.list('events').length, 3);

  drops.length = 0;
  const small = new EventRecorder({ client, nodeName: 'n', logger: silentLogger(), hooks, queueSize: 2 });
  t.after(() => small.close());
  const started = process.hrtime.bigint();
  // One goes in flight at once, two wait, the rest do not fit.
  for (let i = 0; i < 10; i++) small.advertised(ref(svc('default', `s${i}`)), '10.96.0.1');
  assert.ok(process.hrtime.bigint() - started < 50_000_000n, 'record() returns at once');
  await small.flush();
  assert.equal(drops.filter((d) => d === 'queue-full').length, 7);

  drops.length = 0;
  const failing = new EventRecorder({
    client,
    nodeName: 'n',
    logger: silentLogger(),
    hooks,
    maxAttempts: 2,
    retryDelayMs: 5,
  });
  t.after(() => failing.close());
  server.failNext(2, 503, { method: 'POST' });
  failing.advertised(ref(svc('default', 'x')), '10.96.0.1');
  server.failNext(1, 403, { method: 'POST' });
  failing.advertised(ref(svc('default', 'y')), '10.96.0.1');
  failing.advertised(ref(svc('default', 'z')), '10.96.0.1');
  await failing.flush();
  assert.deepEqual(drops, ['api-error', 'api-error']);
  assert.ok(server.list<EventObject>('events').some((e) => e.involvedObject?.name === 'z'));
  const posts = server.requests.filter((e) => e.method === 'POST' && e.path.endsWith('/events'));
  assert.deepEqual(
    posts.slice(-4).map((e) => e.status),
    [503, 503, 403, 201],
  );
});

void test('with the API down, record() still returns at once and close() gives up in time', async (t) => {
  const { server, client } = await startDouble(t);
  await server.close();
  const drops: EventDropReason[] = [];
  const rec = new EventRecorder({
    client,
    nodeName: 'n',
    logger: silentLogger(),
    hooks: { dropped: (r) => drops.push(r) },
    retryDelayMs: 10_000,
  });
  const started = Date.now();
  for (let i = 0; i < 5; i++) rec.advertised(ref(svc('default', `s${i}`)), '10.96.0.1');
  assert.ok(Date.now() - started < 50);
  await rec.close(200);
  assert.ok(Date.now() - started < 2000);
  assert.ok(drops.filter((d) => d === 'closed').length >= 3, drops.join());
  rec.advertised(ref(svc('default', 'after')), '10.96.0.1');
  assert.equal(drops.at(-1), 'closed');
});
