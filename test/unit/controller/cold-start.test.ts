// The cold start plans as soon as every reflector has listed once, also when a first list failed
// and the retry found nothing new: an empty list reports no change, so "synced" itself must start the
// first reconcile (it waited for the 30 s resync).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../../src/observe/log.js';
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

void test('regression: the first plan summary counted the routes its own early batches had added as adopted', async (t) => {
  // More Services than one step of the first plan (256): its batches go out before the summary.
  const objects = [node()];
  for (let i = 0; i < 300; i++) objects.push(...clusterService(`web-${i}`, `10.96.${i >> 8}.${i & 255}`));
  const out = new PassThrough();
  let logged = '';
  out.on('data', (chunk: Buffer) => (logged += chunk.toString()));
  const logger = createLogger('info', 'json', out);
  const rig = await startRig(t, { objects, noStart: true, logger });
  // Left by an earlier instance: adopted.
  rig.router.routes.add('10.96.1.5/32');
  await rig.daemon.start();
  await rig.until('all 300 advertised', () => rig.router.routes.size === 300, { stepMs: 50 });
  const summary = logged
    .split('\n')
    .filter((l) => l.includes('"outcome":"advertised"'))
    .map((l) => JSON.parse(l) as { count: number; adopted: number });
  assert.deepEqual(summary, [{ ...summary[0], count: 300, adopted: 1 }]);
});
