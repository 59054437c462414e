// The cold start plans as soon as every reflector has listed once, also when a first list failed
// and the retry found nothing new: an empty list reports no change, so "synced" itself must start the
// first reconcile (it waited for the 30 s resync).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterService, condition, node, startRig } from './daemon-rig.js';

void test('regression: one failed first list of an empty namespace delayed the first plan to the 30 s resync', async (t) => {
  const rig = await startRig(t, {
    config: { services: { namespaces: ['default', 'empty'] } },
    objects: [node(), ...clusterService('web', '10.96.0.10')],
    noStart: true,
  });
  // The first list of the empty namespace's Services fails once; its retry comes after a backoff.
  rig.api.failNext(1, 500, { pathIncludes: '/namespaces/empty/services', watch: false });
  await rig.daemon.start();
  await rig.until('every reflector synced', () => condition(rig.daemon, 'kubernetes-synced')?.ok === true, {
    clockMs: 40_000,
  });
  const syncedAt = rig.clock.now();
  await rig.until('10.96.0.10/32 installed', () => rig.router.routes.has('10.96.0.10/32'), {
    clockMs: 40_000,
  });
  const plannedAfterMs = rig.clock.now() - syncedAt;
  assert.ok(plannedAfterMs <= 1000, `planned ${plannedAfterMs} ms (clock) after the last sync; want <= 1000`);
});
