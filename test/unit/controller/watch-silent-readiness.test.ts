// /readyz while the watch path is stuck (every watch open but silent, lists still answering): the
// reflectors relist after the second silent watch in a row and the routes follow, but /readyz is 503
// naming it until a watch delivers again (a change waits for the next relist, minutes away).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterService, condition, node, startRig } from './daemon-rig.js';

void test('regression: silent watches were never bypassed; a new Service is installed through relists and /readyz says why (503)', async (t) => {
  const rig = await startRig(t, { objects: [node(), ...clusterService('web', '10.96.0.10')] });
  await rig.until('ready', () => rig.daemon.readiness().ready);
  assert.equal(condition(rig.daemon, 'kubernetes-watches-deliver')?.message, 'watches deliver changes');
  rig.api.stallWatches({ newWatches: true });
  rig.api.load(clusterService('api', '10.96.0.11'));
  const started = rig.clock.now();
  // Two silent watches: each ends 300-600 s + 30 s after it opened.
  await rig.until('10.96.0.11/32 installed', () => rig.router.routes.has('10.96.0.11/32'), {
    stepMs: 2_000,
    clockMs: 1_400_000,
  });
  t.diagnostic(`installed ${(rig.clock.now() - started) / 1000} s (fake time) after the watches went silent`);
  const c = condition(rig.daemon, 'kubernetes-watches-deliver');
  assert.equal(c?.ok, false);
  assert.match(
    c?.message ?? '',
    /^kubernetes-watches-silent: watches for .*services.* went silent twice in a row; relisting/,
  );
  assert.equal(rig.daemon.readiness().ready, false);
  assert.equal((await rig.get('/readyz')).status, 503);
  assert.deepEqual(
    [...rig.router.routes].sort(),
    ['10.96.0.10/32', '10.96.0.11/32'],
    'routes stay and follow',
  );

  // Watches deliver again (the stalled one is reopened by a relist, the next one is live).
  rig.api.unstallWatches();
  rig.api.load(clusterService('db', '10.96.0.12'));
  await rig.until('10.96.0.12/32 installed', () => rig.router.routes.has('10.96.0.12/32'), {
    stepMs: 2_000,
    clockMs: 700_000,
  });
  // Every watch delivers: changes to a Service, its EndpointSlice and the Node, made until each has
  // reached a live watch (one may still arrive by the relist that replaces a stalled watch). A quiet
  // watch the server ends at its timeout clears it too; the double's timeouts run on real time.
  rig.api.load(clusterService('cache', '10.96.0.13'));
  let n = 0;
  const touch = (): void => {
    n += 1;
    for (const o of [node(), ...clusterService('cache', '10.96.0.13')]) {
      o.metadata = { ...o.metadata, labels: { ...o.metadata?.labels, 'example.com/touched': String(n) } };
      rig.api.load([o]);
    }
  };
  await rig.until(
    'the condition clears once every watch delivers',
    () => {
      if (condition(rig.daemon, 'kubernetes-watches-deliver')?.message === 'watches deliver changes')
        return true;
      touch();
      return false;
    },
    { stepMs: 2_000, clockMs: 1_400_000 },
  );
  assert.ok(rig.router.routes.has('10.96.0.13/32'));
  assert.ok(rig.daemon.readiness().ready);
});
