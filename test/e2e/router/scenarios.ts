// The router scenarios both origination backends must pass, against real FRR (node, leaf) and GoBGP
// (ext) in network namespaces. Each backend's test file runs them on a fabric of its own and adds
// what only that backend does; what differs between backends (how a hand edit or a foreign route is
// made, what "untouched" means) comes in through `BackendOps`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@cosmolet/lab/wait';
import type { Fabric } from '@cosmolet/lab/fabric/fabric';
import { ErrorCodes } from '../../../src/errors.js';
import { bgpTableInRanges } from '../../../src/router/frr/bgpd.js';
import type { Router } from '../../../src/router/router.js';
import {
  advertiseFresh,
  assertOwned,
  canRun,
  fabricFor,
  leafWithCommunity,
  makePrefixes,
  reconcile,
  resetState,
  routerFor,
  sampleLeafWhile,
  vtyshFor,
  waitHeld,
} from './harness.js';

export interface ForeignRoutes {
  /** The prefixes cosmolet will want that these routes already hold: conflicts, never taken over. */
  conflicting: string[];
  /** The foreign routes as text, compared before and after cosmolet's applies. */
  state(): Promise<string>;
  /** Asserts every foreign route is still there as it was made. */
  assertIntact(): Promise<void>;
  remove(): Promise<void>;
}

/** Routes with cosmolet's mark in a shape that is not its own, made by the test. */
export interface OtherShapes {
  /** Every one of them, sorted as `present()` lists them. */
  all: string[];
  /** Those still there, sorted. */
  present(): Promise<string[]>;
  remove(): Promise<void>;
}

export interface BackendOps {
  /**
   * Adds routes with cosmolet's mark in other shapes (a wider prefix, a next hop, another device or
   * Null0, a distance); three of them hold 10.96.0.70/32, 10.96.0.71/32 and fd00:10:96::70/128.
   */
  addOtherShapes(): Promise<OtherShapes>;
  /** What a hand edit or an earlier run leaves: `deleted` gone, `leftovers` added with cosmolet's mark. */
  damage(deleted: string[], leftovers: string[]): Promise<void>;
  /** Adds routes that are not cosmolet's (other protocol / other tag or none). */
  addForeign(): Promise<ForeignRoutes>;
}

export interface RouterSuite {
  readonly fabric: Fabric;
  readonly router: Router;
  /** The skip reason shared by every test of the file (not root). */
  readonly skip: string | undefined;
}

export function routerSuite(
  origination: 'kernel' | 'static',
  backendOps: (fabric: Fabric) => BackendOps,
): RouterSuite {
  const skip = canRun();
  let fabric: Fabric | undefined;
  let router: Router | undefined;
  const suite: RouterSuite = {
    get fabric() {
      assert.ok(fabric, 'fabric not started');
      return fabric;
    },
    get router() {
      assert.ok(router, 'router not created');
      return router;
    },
    skip,
  };

  before(async () => {
    if (skip) return;
    fabric = await fabricFor();
    router = routerFor(fabric, origination);
  });
  after(async () => {
    if (fabric) await fabric.teardown();
  });

  void test(`${origination}: 1 and 100 prefixes reach the leaf and GoBGP exactly`, { skip }, async () => {
    const { fabric, router } = suite;
    await resetState(fabric, router);
    for (const n of [1, 100]) {
      const want = makePrefixes(n);
      const r = await reconcile(router, want);
      assert.deepEqual(r.conflicts, []);
      await assertOwned(router, want);
      await waitHeld(fabric, want);
    }
  });

  void test(
    `${origination}: marks: each class's community at the leaf; re-marks change it with no withdrawal (leaf sampled every 100 ms)`,
    { skip },
    async () => {
      const { fabric, router } = suite;
      await resetState(fabric, router);
      // The lab node's route-maps: mark 1001 -> 65000:101, 1002 -> 65000:102 (LAB_ROUTE_CLASSES).
      const [a, b, c, d] = ['10.96.0.41/32', '10.96.0.42/32', '10.96.0.43/32', 'fd00:10:96::41/128'] as const;
      const communities = async () => {
        const [gold, silver] = await Promise.all([
          leafWithCommunity(fabric, '65000:101'),
          leafWithCommunity(fabric, '65000:102'),
        ]);
        return JSON.stringify({ gold: [...gold].sort(), silver: [...silver].sort() });
      };
      const expectCommunities = async (gold: string[], silver: string[]) => {
        const want = JSON.stringify({ gold: gold.sort(), silver: silver.sort() });
        let last = '';
        await waitFor(
          `leaf communities ${want}`,
          async () => (last = await communities()) === want,
          20_000,
          100,
        ).catch((err: unknown) => assert.fail(`${(err as Error).message}; last seen ${last}`));
      };
      const first = new Map([
        [a, 1001],
        [b, 1002],
        [c, 0],
        [d, 1001],
      ]);
      const r = await reconcile(router, first);
      assert.equal(r.added, 4);
      assert.deepEqual([...(await router.read())].sort(), [...first].sort());
      await waitHeld(fabric, first.keys());
      await expectCommunities([a, d], [b]);

      const second = new Map([
        [a, 1002],
        [b, 0],
        [c, 1001],
        [d, 0],
      ]);
      const { missing, samples } = await sampleLeafWhile(
        () => fabric.leafRoutes(),
        first.keys(),
        async () => {
          const m = await reconcile(router, second);
          assert.deepEqual([m.added, m.removed, m.remarked], [0, 0, 4]);
          assert.deepEqual([...(await router.read())].sort(), [...second].sort());
          await expectCommunities([c], [a]);
        },
      );
      assert.deepEqual([...missing], [], 'a re-mark withdrew a prefix from the leaf');
      assert.ok(samples > 0);
      await reconcile(router, []);
      await waitHeld(fabric, []);
    },
  );

  void test(`${origination}: 10,000 prefixes, then withdraw half`, { skip, timeout: 240_000 }, async () => {
    const { fabric, router } = suite;
    await resetState(fabric, router);
    const want = makePrefixes(10_000);
    const r = await reconcile(router, want);
    assert.equal(r.added, 10_000);
    await assertOwned(router, want);
    await waitHeld(fabric, want, 120_000);
    const half = want.filter((_, i) => i % 2 === 0);
    const w = await reconcile(router, half);
    assert.equal(w.removed, 5_000);
    assert.equal(w.added, 0);
    await assertOwned(router, half);
    await waitHeld(fabric, half, 120_000);
  });

  void test(
    `${origination}: a hand deletion and a leftover of a previous run are repaired`,
    { skip },
    async () => {
      const { fabric, router } = suite;
      const want = await advertiseFresh(fabric, router, 100);
      const deleted = [want[10] ?? '', want[11] ?? ''];
      const leftovers = ['10.100.9.9/32', 'fd00:10:96::9:9/128'];
      await backendOps(fabric).damage(deleted, leftovers);
      await assertOwned(router, [...want.filter((p) => !deleted.includes(p)), ...leftovers]);
      const r = await reconcile(router, want);
      assert.equal(r.added, 2);
      assert.equal(r.removed, 2);
      await assertOwned(router, want);
      await waitHeld(fabric, want);
      // Removing routes that are already gone (a stale baseline) is done, not an error.
      const again = await router.apply({ add: [], remove: ['10.100.9.9/32', '10.96.77.77/32'] });
      assert.deepEqual(again.conflicts, []);
      await assertOwned(router, want);
    },
  );

  void test(
    `${origination}: with bgpd stopped, reading bgpd times out, read/apply still work, nothing is lost`,
    { skip },
    async (t) => {
      const { fabric, router } = suite;
      const want = await advertiseFresh(fabric, router, 20);
      // One FRR client for the table read and the router, as in `cosmolet run`.
      const fastVtysh = vtyshFor(fabric, 1);
      const fast = routerFor(fabric, origination, 1, fastVtysh);
      fabric.stopBgpd('node');
      t.after(() => fabric.contBgpd('node'));
      const started = Date.now();
      const noWait = () => Promise.resolve();
      const pacing = { perCall: 8, pause: noWait, rest: noWait };
      await assert.rejects(bgpTableInRanges(fastVtysh, ['10.0.0.0/8'], pacing), {
        code: ErrorCodes.COMMAND_TIMEOUT,
      });
      assert.ok(Date.now() - started < 5_000, 'reading bgpd did not give up in time');
      // Programming routes never needs bgpd: the kernel directly, static routes through staticd alone.
      await assertOwned(fast, want);
      const more = [...want, ...makePrefixes(5, 1000)];
      await reconcile(fast, more);
      await assertOwned(fast, more);
      fabric.contBgpd('node');
      await waitHeld(fabric, more);
    },
  );

  void test(
    `${origination}: routes that are not cosmolet's are never touched, same-prefix ones are conflicts`,
    { skip },
    async (t) => {
      const { fabric, router } = suite;
      await resetState(fabric, router);
      const foreign = await backendOps(fabric).addForeign();
      t.after(() => foreign.remove().catch(() => undefined));
      const ours = makePrefixes(50);
      const r = await reconcile(router, [...ours, ...foreign.conflicting]);
      assert.deepEqual(r.conflicts.sort(), [...foreign.conflicting].sort());
      await assertOwned(router, ours);
      await reconcile(router, []);
      await assertOwned(router, []);
      const before = await foreign.state();
      await reconcile(router, makePrefixes(10));
      await reconcile(router, []);
      assert.equal(await foreign.state(), before);
      await foreign.assertIntact();
    },
  );

  // What marks a route as cosmolet's: its protocol number (kernel) or its tag (static).
  const mark = origination === 'kernel' ? 'protocol' : 'tag';
  void test(
    `${origination}: ownership by ${mark} alone: routes with cosmolet's ${mark} in another shape are never removed, a prefix they hold is a conflict`,
    { skip },
    async (t) => {
      const { fabric, router } = suite;
      await resetState(fabric, router);
      const other = await backendOps(fabric).addOtherShapes();
      t.after(() => other.remove());
      assert.deepEqual(await other.present(), other.all);
      assert.deepEqual([...(await router.read()).keys()], [], 'none of them is owned');
      // A full diff that wants nothing: before the fix it removed every one of them.
      await reconcile(router, []);
      assert.deepEqual(await other.present(), other.all, 'a route of another shape was removed');
      // Wanted host prefixes they hold are conflicts; ours beside them is never added.
      const r = await reconcile(router, [
        '10.96.0.70/32',
        '10.96.0.71/32',
        'fd00:10:96::70/128',
        '10.96.0.73/32',
      ]);
      assert.deepEqual(r.conflicts.sort(), ['10.96.0.70/32', '10.96.0.71/32', 'fd00:10:96::70/128']);
      await assertOwned(router, ['10.96.0.73/32']);
      await reconcile(router, []);
      assert.deepEqual(await other.present(), other.all);
    },
  );

  return suite;
}
