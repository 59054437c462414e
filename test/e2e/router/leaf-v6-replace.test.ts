// The lab's leaf replaces an IPv6 route whose attributes change in place: watched with
// `ip monitor route` in the leaf namespace, which sees even a gap too short for a sampler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { waitFor } from '@cosmolet/lab/wait';
import { startFabric } from '@cosmolet/lab/fabric/fabric';
import { leafWithCommunity, reconcile, routerFor, waitHeld } from './harness.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;

void test(
  "regression: every IPv6 re-mark made the lab leaf's zebra delete and re-add the route (its FIB lost the prefix for a moment; a re-mark test sampling every 100 ms caught it in CI); now replaced in place",
  { skip, timeout: 180_000 },
  async (t) => {
    const fabric = await startFabric({});
    t.after(() => fabric.teardown());
    await fabric.waitEstablished(60_000);
    const router = routerFor(fabric, 'kernel');
    const [v4, v6] = ['10.96.0.41/32', 'fd00:10:96::41/128'];
    await reconcile(
      router,
      new Map([
        [v4, 1001],
        [v6, 1001],
      ]),
    );
    await waitHeld(fabric, [v4, v6]);
    const monitor = spawn('ip', ['-n', fabric.ns.leaf, 'monitor', 'route'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    t.after(() => monitor.kill('SIGKILL'));
    let events = '';
    monitor.stdout.on('data', (d: Buffer) => (events += d.toString()));
    const lines = () => events.split('\n').filter((l) => l.includes('fd00:10:96::41 '));
    // Each re-mark changes the MED and the community (LAB_ROUTE_CLASSES: 1001 gold 65000:101,
    // 1002 silver 65000:102). Once the leaf's bgpd has the new community, its zebra reinstalls the
    // IPv6 route: at least one event (the IPv4 route's kernel entry does not change).
    for (let i = 1; i <= 6; i++) {
      const [mark, community] = i % 2 === 1 ? [1002, '65000:102'] : [1001, '65000:101'];
      const before = lines().length;
      await reconcile(
        router,
        new Map([
          [v4, mark],
          [v6, mark],
        ]),
      );
      await waitFor(
        `the leaf to hold ${v6} with ${community} and reinstall it (re-mark ${i})`,
        async () => (await leafWithCommunity(fabric, community)).has(v6) && lines().length > before,
        20_000,
        50,
      );
    }
    const deleted = lines().filter((l) => l.startsWith('Deleted'));
    assert.deepEqual(deleted, [], 'the leaf deleted a route it only had to update');
    await reconcile(router, []);
  },
);
