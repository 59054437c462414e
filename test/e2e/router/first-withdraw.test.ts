// A withdrawal right after the BGP sessions come up must reach the peers. With FRR 8.4 and the
// default 5 s route-map delay timer, the lab's freshly loaded route-maps triggered a route refresh
// that raced the initial End-of-RIB, and the leaf kept every withdrawn route as "stale" for minutes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFabric, type Fabric } from '@cosmolet/lab/fabric/fabric';
import { waitFor } from '@cosmolet/lab/wait';
import { canRun, makePrefixes, routerFor } from './harness.js';

const skip = canRun();
let fabric: Fabric | undefined;

after(async () => {
  await fabric?.teardown();
});

test(
  'the first withdrawal after the sessions come up reaches the leaf (stale after route refresh)',
  { skip },
  async () => {
    fabric = await startFabric({});
    const f = fabric;
    const router = routerFor(f, 'kernel');
    const want = makePrefixes(100);
    await router.apply({ add: want, remove: [] });
    await waitFor('the leaf holds all 100', async () => (await f.leafPrefixCount()) === 100, 30_000, 50);
    await router.apply({ add: [], remove: want });
    await waitFor('the leaf holds none', async () => (await f.leafPrefixCount()) === 0, 10_000, 50);
    assert.deepEqual([...(await f.leafRoutes())], []);
  },
);
