// static origination (FRR static routes with cosmolet's tag) against real FRR and GoBGP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Fabric } from '../../../src/lab/fabric.js';
import { waitFor } from '../../../src/lab/fabric.js';
import { ErrorCodes } from '../../../src/errors.js';
import { bgpTable } from '../../../src/router/frr/bgpd.js';
import { parseStaticRoutes } from '../../../src/router/frr/parse.js';
import { FrrWatcher } from '../../../src/router/frr/watcher.js';
import type { Router } from '../../../src/router/router.js';
import {
  assertOwned,
  canRun,
  fabricFor,
  makePrefixes,
  reconcile,
  resetState,
  routerFor,
  vtyshFor,
  STATIC_TAG,
  waitHeld,
} from './harness.js';

const skip = canRun();
let fabric: Fabric;
let router: Router;

before(async () => {
  if (skip) return;
  fabric = await fabricFor();
  router = routerFor(fabric, 'static');
});

after(async () => {
  if (fabric) await fabric.teardown();
});

/** Config lines through vtysh as an operator would type them (staticd only). */
async function configure(...lines: string[]): Promise<void> {
  await fabric.vtysh('node').applyConfig(lines, 20_000, 'staticd');
}

async function staticLines(): Promise<string[]> {
  const text = await fabric.vtysh('node').show('show running-config', 'staticd');
  return parseStaticRoutes(text).map((r) => r.line);
}

void test('static: 1 and 100 prefixes reach the leaf and GoBGP exactly', { skip }, async () => {
  await resetState(fabric, router);
  for (const n of [1, 100]) {
    const want = makePrefixes(n);
    const r = await reconcile(router, want);
    assert.deepEqual(r.conflicts, []);
    await assertOwned(router, want);
    await waitHeld(fabric, want);
  }
});

void test('static: 10,000 prefixes, then withdraw half', { skip, timeout: 240_000 }, async () => {
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

void test('static: a hand deletion and a leftover of a previous run are repaired', { skip }, async () => {
  await resetState(fabric, router);
  const want = makePrefixes(100);
  await reconcile(router, want);
  await waitHeld(fabric, want);
  await configure(
    `no ip route ${want[10] ?? ''} blackhole tag ${STATIC_TAG}`,
    `no ipv6 route ${want[11] ?? ''} blackhole tag ${STATIC_TAG}`,
    `ip route 10.100.9.9/32 blackhole tag ${STATIC_TAG}`,
    `ipv6 route fd00:10:96::9:9/128 blackhole tag ${STATIC_TAG}`,
  );
  await assertOwned(router, [
    ...want.filter((_, i) => i !== 10 && i !== 11),
    '10.100.9.9/32',
    'fd00:10:96::9:9/128',
  ]);
  const r = await reconcile(router, want);
  assert.equal(r.added, 2);
  assert.equal(r.removed, 2);
  await assertOwned(router, want);
  await waitHeld(fabric, want);
  // Removing routes that are already gone (a stale baseline) is done, not an error.
  const again = await router.apply({ add: [], remove: ['10.100.9.9/32', '10.96.77.77/32'] });
  assert.deepEqual(again.conflicts, []);
  await assertOwned(router, want);
});

void test(
  'static: kill -9 bgpd, restart detected, full re-apply; a staticd restart too',
  { skip },
  async () => {
    await resetState(fabric, router);
    const want = makePrefixes(100);
    await reconcile(router, want);
    await waitHeld(fabric, want);
    const watcher = new FrrWatcher(fabric.socketDir('node'));
    assert.equal(await watcher.changed(), false);
    assert.equal(await watcher.changed(), false);

    await fabric.killBgpd('node');
    await waitFor('leaf to drop the routes', async () => (await fabric.leafRoutes()).size === 0, 30_000, 200);
    await fabric.restartBgpd('node');
    assert.equal(await watcher.changed(), true, 'bgpd restart not detected');
    assert.equal(await watcher.changed(), false);
    await fabric.waitEstablished(60_000);
    // What the controller does on a detected restart: read back and re-apply (staticd kept them here).
    await reconcile(router, want);
    await waitHeld(fabric, want);

    // staticd loses every unsaved static route when it restarts: only the re-apply brings them back.
    await fabric.restartDaemon('node', 'staticd');
    assert.equal(await watcher.changed(), true, 'staticd restart not detected');
    await assertOwned(router, []);
    const r = await reconcile(router, want);
    assert.equal(r.added, want.length);
    await waitHeld(fabric, want);
  },
);

void test(
  'static: with bgpd stopped, reading bgpd times out, read/apply still work, nothing is lost',
  { skip },
  async (t) => {
    await resetState(fabric, router);
    const want = makePrefixes(20);
    await reconcile(router, want);
    await waitHeld(fabric, want);
    // One FRR client for the table read and the router, as in `cosmolet run`.
    const fastVtysh = vtyshFor(fabric, 1);
    const fast = routerFor(fabric, 'static', 1, fastVtysh);
    fabric.stopBgpd('node');
    t.after(() => fabric.contBgpd('node'));
    const started = Date.now();
    await assert.rejects(bgpTable(fastVtysh), { code: ErrorCodes.COMMAND_TIMEOUT });
    assert.ok(Date.now() - started < 5_000, 'reading bgpd did not give up in time');
    // Reads and applies talk to staticd only, so a stopped bgpd does not block them.
    await assertOwned(fast, want);
    const more = [...want, ...makePrefixes(5, 1000)];
    await reconcile(fast, more);
    await assertOwned(fast, more);
    fabric.contBgpd('node');
    await waitHeld(fabric, more);
  },
);

void test(
  'static: routes of other tags are never touched, same-prefix ones are conflicts',
  { skip },
  async (t) => {
    await resetState(fabric, router);
    const foreign = [
      'ip route 198.51.100.7/32 blackhole',
      'ip route 10.96.200.1/32 blackhole tag 99',
      `ipv6 route fd00:10:96::ff:1/128 blackhole tag ${STATIC_TAG + 1}`,
      'ipv6 route 2001:db8:ffff::1/128 blackhole',
    ];
    await configure(...foreign);
    t.after(async () => {
      await configure(...foreign.map((l) => `no ${l}`)).catch(() => undefined);
    });
    const want = [...makePrefixes(50), '10.96.200.1/32', 'fd00:10:96::ff:1/128'];
    const r = await reconcile(router, want);
    assert.deepEqual(r.conflicts.sort(), ['10.96.200.1/32', 'fd00:10:96::ff:1/128']);
    await assertOwned(router, makePrefixes(50));
    await reconcile(router, []);
    await assertOwned(router, []);
    assert.deepEqual((await staticLines()).sort(), [...foreign].sort());
  },
);
