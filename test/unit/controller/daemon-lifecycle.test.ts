// The in-process daemon when the router fails, and at shutdown (with and without withdrawal).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterService, condition, failing, node, startRig } from './daemon-rig.js';

void test('a failing router: not ready with the error, retried with backoff in fake time, nothing withdrawn; recovers', async (t) => {
  const rig = await startRig(t, { objects: [node(), ...clusterService('web', '10.96.0.10')] });
  await rig.until('ready', () => rig.daemon.readiness().ready);
  rig.router.broken = 'ip: RTNETLINK answers: Operation not permitted';
  for (const o of clusterService('api', '10.96.0.11')) rig.api.load([o]);
  await rig.until('router-programmed fails', () => failing(rig.daemon).includes('router-programmed'));
  assert.match(
    condition(rig.daemon, 'router-programmed')?.message ?? '',
    /the last reconcile failed: ip: RTNETLINK answers: Operation not permitted/,
  );
  // Backoff doubles from 500 ms: the failures stay far apart in time, however long it lasts.
  const runs = () => rig.daemon.reconciler.status().lastRunAt;
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) {
    const last = runs();
    await rig.until('a retry', () => runs() !== last, { stepMs: 50 });
    seen.push(runs());
  }
  const gaps = seen.slice(1).map((at, i) => at - (seen[i] ?? 0));
  assert.ok(
    gaps.every((g, i) => i === 0 || g >= (gaps[i - 1] ?? 0)),
    `gaps grow: ${gaps.join(' ')}`,
  );
  assert.ok((gaps.at(-1) ?? 0) >= 4000, `gaps: ${gaps.join(' ')}`);
  assert.deepEqual([...rig.router.routes], ['10.96.0.10/32']);
  assert.deepEqual(rig.router.withdrawn(), []);
  rig.router.broken = undefined;
  await rig.until('ready again', () => rig.daemon.readiness().ready, { stepMs: 500 });
  assert.deepEqual([...rig.router.routes].sort(), ['10.96.0.10/32', '10.96.0.11/32']);
  assert.deepEqual(rig.router.withdrawn(), []);
});

void test('a reconcile stuck in the router: /healthz 503 after four command timeouts and 30 s, not before', async (t) => {
  const rig = await startRig(t, { objects: [node(), ...clusterService('web', '10.96.0.10')] });
  await rig.until('ready', () => rig.daemon.readiness().ready);
  assert.equal((await rig.get('/healthz')).status, 200);
  let release = (): void => undefined;
  rig.router.hang = new Promise((r) => (release = r));
  t.after(() => release());
  for (const o of clusterService('api', '10.96.0.11')) rig.api.load([o]);
  await rig.until(
    'a reconcile in the router',
    () => rig.daemon.reconciler.status().runningSince !== undefined,
  );
  const since = rig.daemon.reconciler.status().runningSince ?? 0;
  const limit = rig.config.frr.commandTimeoutSeconds * 1000 * 4 + 30_000;
  await rig.clock.advance(since + limit - rig.clock.now());
  assert.equal((await rig.get('/healthz')).status, 200, 'at the limit: still alive');
  await rig.clock.advance(1000);
  const reply = await rig.get('/healthz');
  assert.equal(reply.status, 503);
  assert.match(reply.body, /^stuck: a reconcile has been running for 71 s/);
  release();
  await rig.until('the route installed', () => rig.router.routes.has('10.96.0.11/32'));
  assert.equal((await rig.get('/healthz')).status, 200);
});

void test('stop leaves the routes installed and closes the watches and the HTTP port', async (t) => {
  const rig = await startRig(t, { objects: [node(), ...clusterService('web', '10.96.0.10')] });
  await rig.until('ready', () => rig.daemon.readiness().ready);
  assert.ok(rig.api.activeWatches > 0);
  await rig.daemon.stop();
  assert.deepEqual([...rig.router.routes], ['10.96.0.10/32']);
  assert.deepEqual(rig.router.withdrawn(), []);
  await rig.until('the watches closed', () => rig.api.activeWatches === 0, { stepMs: 0 });
  await assert.rejects(rig.get('/healthz'));
  // Stopped means stopped: time passing and cluster changes apply nothing.
  const applies = rig.router.applies.length;
  for (const o of clusterService('api', '10.96.0.11')) rig.api.load([o]);
  await rig.clock.advance(rig.config.loopIntervalSeconds * 1000 * 3);
  assert.equal(rig.router.applies.length, applies);
});

void test('stop with withdrawal (withdrawOnExit) removes every route cosmolet owns', async (t) => {
  const rig = await startRig(t, {
    config: { withdrawOnExit: true },
    objects: [node(), ...clusterService('web', '10.96.0.10'), ...clusterService('api', '10.96.0.11')],
  });
  await rig.until('ready', () => rig.daemon.readiness().ready);
  assert.equal(rig.router.routes.size, 2);
  await rig.daemon.stop();
  assert.deepEqual([...rig.router.routes], []);
  assert.deepEqual(rig.router.withdrawn().sort(), ['10.96.0.10/32', '10.96.0.11/32']);
});

void test('stop during an API outage still finishes and leaves the routes', async (t) => {
  const rig = await startRig(t, { objects: [node(), ...clusterService('web', '10.96.0.10')] });
  await rig.until('ready', () => rig.daemon.readiness().ready);
  rig.api.failNext(1_000_000, 503);
  rig.api.dropWatches();
  await rig.clock.advance(20_000);
  const started = Date.now();
  await rig.daemon.stop();
  assert.ok(Date.now() - started < 3000, `stop took ${Date.now() - started} ms`);
  assert.deepEqual([...rig.router.routes], ['10.96.0.10/32']);
});
