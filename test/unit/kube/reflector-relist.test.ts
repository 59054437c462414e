// When the watch path keeps failing, the reflector relists, and how often: watches that keep ending in
// 410 back off their relists (until a watch has lasted a while); watches that are reopened silent
// twice in a row are bypassed by a relist. On the injected clock; the API double serves over sockets,
// so each step waits until the reflector is back on a timer (its I/O is done) before moving time.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { KubeClient } from '../../../src/kube/client.js';
import { Reflector, type ReflectorHooks, type ReflectorTimers } from '../../../src/kube/reflector.js';
import { FakeApiServer } from '@cosmolet/kube-double/apiserver';
import { silentLogger } from '../../../src/observe/log.js';
import { ManualClock } from '../manual-clock.js';
import { inClusterClient, svc, tempDir, waitFor } from './helpers.js';

async function double(t: TestContext): Promise<{ server: FakeApiServer; client: KubeClient }> {
  const server = await FakeApiServer.start({ token: 'test-token' });
  t.after(() => server.close());
  const client = await inClusterClient(server, join(tempDir(t), 'serviceaccount'));
  return { server, client };
}

interface Counts {
  lists: number;
  gone: number;
  watchdog: number;
  silent: boolean[];
}

function reflector(
  t: TestContext,
  client: KubeClient,
  clock: ManualClock,
  timers: Partial<ReflectorTimers> = {},
): { r: Reflector; counts: Counts } {
  const counts: Counts = { lists: 0, gone: 0, watchdog: 0, silent: [] };
  const hooks: ReflectorHooks = {
    relist: () => counts.lists++,
    watchRestart: (_r, reason) => {
      if (reason === 'gone') counts.gone++;
      if (reason === 'watchdog') counts.watchdog++;
    },
    watchSilent: (_r, silent) => counts.silent.push(silent),
  };
  // The jitter's midpoint: the delays are exactly 0.75 of the exponential base.
  const r = new Reflector({
    client,
    resource: 'services',
    logger: silentLogger(),
    clock,
    random: () => 0.5,
    hooks,
    timers,
  });
  t.after(() => r.stop());
  r.start();
  return { r, counts };
}

/**
 * Moves the clock `ms` forward in steps; before each, waits until the reflector waits on a timer
 * (a request in flight sets none: the client's own timeouts are real time).
 */
async function runFor(clock: ManualClock, ms: number, step = 100): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    await waitFor('the reflector waits on a timer', () => clock.timers > 0, 10_000);
    await clock.advance(Math.min(step, end - clock.now()));
  }
}

void test('regression: watches that kept ending in 410 relisted about twice a second (36 LISTs in 20 s); relists back off until a watch lasts', async (t) => {
  const { server, client } = await double(t);
  server.create('services', svc('default', 'a'));
  // Every watch is answered 410: the server keeps expiring the version the list gave.
  server.failNext(1_000_000, 410, { watch: true });
  const clock = new ManualClock();
  const { r, counts } = reflector(t, client, clock);
  await runFor(clock, 20_000);
  // The first 410 relists at once, then 0.6, 1.2, 2.4, 4.8, 9.6 s: 7 LISTs in 20 s.
  assert.equal(counts.lists, 7, `${counts.lists} LISTs in 20 s`);
  assert.equal(r.size, 1, 'the store is kept');
  // The cap: the backoff never exceeds backoffMaxMs (30 s).
  await runFor(clock, 120_000, 1_000);
  const before = counts.lists;
  await runFor(clock, 60_000, 1_000);
  assert.ok(counts.lists - before >= 2 && counts.lists - before <= 3, `${counts.lists - before} in 60 s`);

  // Watches answer again; one lasts 60 s; the next 410 (a compaction) relists at once again.
  server.clearFaults();
  await runFor(clock, 30_000, 1_000);
  await waitFor('a watch is open', () => server.activeWatches === 1);
  await runFor(clock, 60_000, 1_000);
  const lists = counts.lists;
  server.expireWatches();
  await waitFor('relisted at once, without the clock moving', () => counts.lists === lists + 1);
});

void test('regression: with every watch open but silent (a stuck watch cache) a new Service never arrived; the second silent watch in a row relists', async (t) => {
  const { server, client } = await double(t);
  server.create('services', svc('default', 'a'));
  const clock = new ManualClock();
  const { r, counts } = reflector(t, client, clock, {
    watchTimeoutMinSeconds: 300,
    watchTimeoutMaxSeconds: 300,
  });
  await waitFor('synced and watching', () => r.synced && server.activeWatches === 1);
  server.stallWatches({ newWatches: true });
  server.create('services', svc('default', 'b', {}, '10.96.0.11'));
  const started = clock.now();
  // The first silent watch is reopened (it may have been one bad connection): no relist yet.
  await runFor(clock, 330_000 + 1_000, 1_000);
  assert.equal(counts.watchdog, 1);
  assert.equal(counts.lists, 1);
  assert.equal(r.get('default/b'), undefined);
  assert.deepEqual(counts.silent, []);
  // The second one in a row: relist.
  while (r.get('default/b') === undefined && clock.now() - started < 700_000)
    await runFor(clock, 1_000, 1_000);
  const arrivedAfterS = (clock.now() - started) / 1000;
  assert.ok(r.get('default/b'), 'the new Service arrived by a list');
  assert.equal(counts.lists, 2);
  assert.deepEqual(counts.silent, [true]);
  assert.ok(arrivedAfterS <= 662, `arrived after ${arrivedAfterS} s`);
  t.diagnostic(`a new Service arrived ${arrivedAfterS} s (fake time) after the watches went silent`);

  // While watches stay silent, each further silent watch relists.
  server.create('services', svc('default', 'c', {}, '10.96.0.12'));
  await runFor(clock, 331_000, 1_000);
  await waitFor('c listed', () => r.get('default/c') !== undefined);
  assert.equal(counts.lists, 3);
  // Watches deliver again: the condition clears.
  server.unstallWatches();
  await runFor(clock, 331_000, 1_000);
  await waitFor('a live watch', () => server.activeWatches >= 1 && counts.lists === 4);
  server.create('services', svc('default', 'd', {}, '10.96.0.13'));
  await waitFor('d delivered by the watch', () => r.get('default/d') !== undefined);
  assert.deepEqual(counts.silent, [true, false]);
  assert.equal(counts.lists, 4);
});
