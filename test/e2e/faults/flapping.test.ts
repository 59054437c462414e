// An endpoint of a Local-policy Service flapping ready/unready every 100 ms for 30 s on this node.
// Measured from /metrics: router applies per second (sampled every second) must stay within the
// reconciler's rate bound (at most one reconcile per 250 ms, so at most 4 applies a second plus one
// at a window's edge); the other prefixes never leave the leaf (sampled every 100 ms); the final
// state is exact at the leaf and GoBGP, and on the node's kernel.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ControllerLab, sampleLeafWhile } from '../controller/harness.js';
import { NODE, expectedRoutes, slice } from '../controller/cluster.js';
import { difference, metric, nodeKernelRoutes, resetCluster, startCosmolet } from './common.js';

const lab = new ControllerLab({ origination: 'kernel' });
before(() => lab.start());
after(() => lab.teardown());

// default/lb's LoadBalancer IP (externalTrafficPolicy Local) and its ClusterIP (this endpoint is its
// only one, so the ClusterIP flaps with it).
const FLAPPING = ['192.0.2.10/32', '10.96.0.13/32'];
const MAX_APPLIES_PER_SECOND = 5;

test('kernel: a Local-policy endpoint flapping every 100 ms for 30 s: bounded applies per second, exact final state', async (t) => {
  resetCluster(lab);
  const c = startCosmolet(t, lab);
  await lab.waitPeersHold(expectedRoutes, 30_000);
  await lab.waitReady();
  const setReady = (ready: boolean) =>
    lab.api.upsert('endpointslices', slice('lb', 'IPv4', [{ ip: '10.1.0.4', ready, node: NODE }]));
  const others = expectedRoutes.filter((p) => !FLAPPING.includes(p));
  const appliesAtStart = await metric(lab, 'cosmolet_router_applies_total');
  const perSecond: number[] = [];
  let flips = 0;
  const { missing, samples } = await sampleLeafWhile(lab, others, async () => {
    const started = Date.now();
    let last = appliesAtStart;
    let nextSample = started + 1000;
    while (Date.now() - started < 30_000) {
      setReady(flips % 2 === 1);
      flips++;
      await new Promise((res) => setTimeout(res, 100));
      if (Date.now() >= nextSample) {
        nextSample += 1000;
        const now = await metric(lab, 'cosmolet_router_applies_total');
        perSecond.push(now - last);
        last = now;
      }
    }
    // End ready (the fixture's state).
    setReady(true);
    await lab.waitPeersHold(expectedRoutes, 30_000);
  });
  const total = (await metric(lab, 'cosmolet_router_applies_total')) - appliesAtStart;
  const max = Math.max(...perSecond);
  t.diagnostic(
    `${flips} flips in 30 s, ${total} applies; applies per second: max ${max}, ` +
      `mean ${(perSecond.reduce((a, b) => a + b, 0) / perSecond.length).toFixed(1)} (${perSecond.join(' ')}); ` +
      `${samples} leaf samples`,
  );
  assert.deepEqual([...missing], [], 'the other prefixes never leave the leaf');
  assert.ok(max <= MAX_APPLIES_PER_SECOND, `at most ${MAX_APPLIES_PER_SECOND} applies a second, saw ${max}`);
  assert.deepEqual(difference(await nodeKernelRoutes(lab), expectedRoutes), { missing: [], stale: [] });
  assert.ok(c.running);
});
