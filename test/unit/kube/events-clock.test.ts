// The Event recorder on the injected clock: its timestamps and its rate limit's refill follow the
// clock it is given, so moving a manual clock is all it takes (no real waiting).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventRecorder, type EventDropReason } from '../../../src/kube/events.js';
import type { KubeObject, Service } from '../../../src/model/objects.js';
import { silentLogger } from '../../../src/observe/log.js';
import { ManualClock } from '../manual-clock.js';
import { startDouble, svc } from './helpers.js';

interface EventObject extends KubeObject {
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
}

void test('regression: the Event recorder read Date.now() and real timers, not the injected clock (refill and timestamps follow a manual clock)', async (t) => {
  const { server, client } = await startDouble(t);
  const clock = new ManualClock();
  const web = server.create<Service>('services', svc('default', 'web'));
  const ref = { namespace: 'default', name: 'web', uid: web.metadata?.uid };
  const drops: EventDropReason[] = [];
  // One token, one more every 300 s (client-go's refill).
  const rec = new EventRecorder({
    client,
    nodeName: 'node-a',
    logger: silentLogger(),
    hooks: { dropped: (r) => drops.push(r) },
    burst: 1,
    refillPerSecond: 1 / 300,
    clock,
  });
  t.after(() => rec.close());
  const start = new Date(clock.now()).toISOString();

  rec.advertised(ref, '10.96.0.10');
  await rec.flush();
  rec.advertised(ref, '10.96.0.10');
  assert.deepEqual(drops, ['rate-limited']);

  await clock.advance(299_000);
  rec.advertised(ref, '10.96.0.10');
  assert.deepEqual(drops, ['rate-limited', 'rate-limited'], 'one second short of a token');

  await clock.advance(1_000);
  rec.advertised(ref, '10.96.0.10');
  await rec.flush();
  assert.deepEqual(drops, ['rate-limited', 'rate-limited'], 'the manual clock alone refilled the bucket');

  const events = server.list<EventObject>('events');
  assert.equal(events.length, 1);
  assert.equal(events[0]?.count, 2);
  assert.equal(events[0]?.firstTimestamp, start);
  assert.equal(events[0]?.lastTimestamp, new Date(clock.now()).toISOString());
});
