// /readyz of the in-process daemon: each condition turns on what it names, in fake time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BGP_HOLD_GRACE_MS } from '../../../src/router/frr/checks.js';
import { UNREACHABLE_AFTER_MS } from '../../../src/controller/kube-health.js';
import { clusterService, condition, failing, node, startRig, watchRestarts } from './daemon-rig.js';

void test('not ready before the first lists and the first reconcile; ready after, with the routes installed', async (t) => {
  const rig = await startRig(t, { objects: [node(), ...clusterService('web', '10.96.0.10')], noStart: true });
  await rig.daemon.start();
  assert.ok(failing(rig.daemon).includes('kubernetes-synced'), 'nothing is listed yet');
  assert.equal((await rig.get('/readyz')).status, 503);
  // Lists arrive over HTTP; the clock stands still, so the reconcile the events queued has not run.
  await rig.until('every reflector listed', () => rig.daemon.reflectors.synced, { stepMs: 0 });
  assert.deepEqual(failing(rig.daemon), ['router-programmed']);
  assert.match(condition(rig.daemon, 'router-programmed')?.message ?? '', /no reconcile .* has finished/);
  await rig.until('ready', () => rig.daemon.readiness().ready);
  assert.deepEqual([...rig.router.routes], ['10.96.0.10/32']);
  const reply = await rig.get('/readyz');
  assert.equal(reply.status, 200);
  assert.deepEqual(
    (JSON.parse(reply.body) as { conditions: { name: string }[] }).conditions.map((c) => c.name),
    [
      'kubernetes-synced',
      'kubernetes-reachable',
      'kubernetes-authorized',
      'kubernetes-watches-deliver',
      'node-found',
      'router-programmed',
      'frr-exports-routes',
      'bgp-holds-routes',
    ],
  );
  assert.equal((await rig.daemon.metrics.ready.get()).values[0]?.value, 1);
});

void test('a missing Node object: not ready, nothing advertised; the Node appearing brings the routes', async (t) => {
  const rig = await startRig(t, { objects: clusterService('web', '10.96.0.10') });
  await rig.until('a reconcile ran', () => rig.daemon.reconciler.status().lastOk === true);
  assert.deepEqual(failing(rig.daemon), ['node-found']);
  assert.match(
    condition(rig.daemon, 'node-found')?.message ?? '',
    /Node node-a is not in the API: advertising nothing/,
  );
  assert.equal(rig.router.routes.size, 0);
  rig.api.create('nodes', node());
  await rig.until('ready', () => rig.daemon.readiness().ready);
  // The Node's event queues a reconcile; readiness does not wait for it.
  await rig.until('10.96.0.10/32 installed', () => rig.router.routes.has('10.96.0.10/32'));
});

void test('a refused credential is a problem at once; an unreachable API server only after 10 s, and routes stay', async (t) => {
  const rig = await startRig(t, { objects: [node(), ...clusterService('web', '10.96.0.10')] });
  await rig.until('ready', () => rig.daemon.readiness().ready);
  // Every request refused: the watches end and every retry gets 403.
  rig.api.failNext(1_000_000, 403);
  rig.api.dropWatches();
  await rig.until('kubernetes-authorized fails', () => failing(rig.daemon).includes('kubernetes-authorized'));
  assert.match(condition(rig.daemon, 'kubernetes-authorized')?.message ?? '', /403 Forbidden/);
  assert.deepEqual(failing(rig.daemon), ['kubernetes-authorized'], 'a refused credential is not an outage');
  rig.api.clearFaults();
  await rig.until('authorized again', () => rig.daemon.readiness().ready, { stepMs: 1000 });

  // Every request fails with 503: an outage, reported once requests have failed for 10 s.
  const before = await watchRestarts(rig.daemon, 'error');
  rig.api.failNext(1_000_000, 503);
  rig.api.dropWatches();
  await rig.until(
    'every watch failed',
    async () => (await watchRestarts(rig.daemon, 'error')) >= before + 3,
    {
      stepMs: 0,
    },
  );
  await rig.clock.advance(UNREACHABLE_AFTER_MS - 100);
  assert.ok(
    rig.api.requests.some((r) => r.status === 503),
    'the reflectors retried meanwhile',
  );
  assert.ok(rig.daemon.readiness().ready, 'under 10 s of failures is not an outage yet');
  await rig.clock.advance(200);
  assert.deepEqual(failing(rig.daemon), ['kubernetes-reachable']);
  assert.match(
    condition(rig.daemon, 'kubernetes-reachable')?.message ?? '',
    /requests for .*nodes.* have failed for 10 s; keeping the routes as they are/,
  );
  // A resync during the outage re-decides from the stores, which the outage left as they were.
  await rig.clock.advance(rig.config.loopIntervalSeconds * 1000);
  assert.deepEqual([...rig.router.routes], ['10.96.0.10/32']);
  assert.deepEqual(rig.router.withdrawn(), []);
  // The API answers again: the next list ends the outage.
  rig.api.clearFaults();
  await rig.until('ready again', () => rig.daemon.readiness().ready, { stepMs: 1000 });
});

void test('FRR unresponsive: not ready with the reason, routes stay; ready again when FRR answers', async (t) => {
  const rig = await startRig(t, { objects: [node(), ...clusterService('web', '10.96.0.10')] });
  await rig.until('ready', () => rig.daemon.readiness().ready);
  rig.vtysh.unresponsive = true;
  await rig.clock.advance(rig.config.loopIntervalSeconds * 1000);
  await rig.until('frr-exports-routes fails', () => failing(rig.daemon).includes('frr-exports-routes'));
  assert.match(
    condition(rig.daemon, 'frr-exports-routes')?.message ?? '',
    /cannot read FRR's running-config: .*no answer within/,
  );
  assert.deepEqual([...rig.router.routes], ['10.96.0.10/32']);
  rig.vtysh.unresponsive = false;
  await rig.clock.advance(rig.config.loopIntervalSeconds * 1000);
  await rig.until('ready again', () => rig.daemon.readiness().ready);
});

void test('bgpd lacking an installed prefix: ready during the grace, then not ready naming it; held again, ready', async (t) => {
  // A bgpd that takes no new route (zebra restarted alone) or an export prefix-list with a gap.
  const rig = await startRig(t, {
    objects: [node(), ...clusterService('web', '10.96.0.10'), ...clusterService('api', '10.96.0.11')],
  });
  rig.vtysh.notHeld.add('10.96.0.11/32');
  await rig.until('ready', () => rig.daemon.readiness().ready);
  assert.deepEqual([...rig.router.routes].sort(), ['10.96.0.10/32', '10.96.0.11/32'], 'both installed');
  await rig.until('bgpd read with the prefix missing', () =>
    /1 installed prefixes not in bgpd yet/.test(condition(rig.daemon, 'bgp-holds-routes')?.message ?? ''),
  );
  const since = rig.clock.now();
  await rig.until('bgp-holds-routes fails', () => failing(rig.daemon).includes('bgp-holds-routes'), {
    stepMs: 1000,
    clockMs: 120_000,
  });
  // Not before the grace: a busy bgpd is not a broken one.
  assert.ok(
    rig.clock.now() - since >= BGP_HOLD_GRACE_MS - 1000,
    `not before the grace: ${rig.clock.now() - since} ms`,
  );
  assert.deepEqual(failing(rig.daemon), ['bgp-holds-routes']);
  assert.match(
    condition(rig.daemon, 'bgp-holds-routes')?.message ?? '',
    /bgpd has not held 1 installed prefixes for 30 s or more \(10\.96\.0\.11\/32\).*prefix-lists.*restart bgpd/,
  );
  assert.equal((await rig.get('/readyz')).status, 503);
  // Nothing is withdrawn for it: the route stays installed, and bgpd may take it any time.
  assert.ok(rig.router.routes.has('10.96.0.11/32'));
  rig.vtysh.notHeld.delete('10.96.0.11/32');
  await rig.until('ready again', () => rig.daemon.readiness().ready, { stepMs: 1000, clockMs: 120_000 });
  assert.match(condition(rig.daemon, 'bgp-holds-routes')?.message ?? '', /holds every route/);
});

void test('a prefix bgpd lacks stops counting once it is no longer planned', async (t) => {
  const rig = await startRig(t, {
    objects: [node(), ...clusterService('web', '10.96.0.10'), ...clusterService('api', '10.96.0.11')],
  });
  rig.vtysh.notHeld.add('10.96.0.11/32');
  await rig.until('bgp-holds-routes fails', () => failing(rig.daemon).includes('bgp-holds-routes'), {
    stepMs: 1000,
    clockMs: 120_000,
  });
  rig.api.delete('services', 'default', 'api');
  await rig.until('10.96.0.11/32 withdrawn', () => !rig.router.routes.has('10.96.0.11/32'));
  await rig.until('ready', () => rig.daemon.readiness().ready, { stepMs: 1000, clockMs: 120_000 });
});
