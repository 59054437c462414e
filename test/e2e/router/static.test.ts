// static origination (FRR static routes with cosmolet's tag) against real FRR and GoBGP: the
// scenarios both backends share (scenarios.ts), then what only static routes do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@cosmolet/lab/wait';
import type { Fabric } from '@cosmolet/lab/fabric/fabric';
import { parseStaticRoutes } from '../../../src/router/frr/parse.js';
import { FrrRestartDetector } from '../../../src/router/frr/restarts.js';
import { advertiseFresh, assertOwned, reconcile, resetState, STATIC_TAG, waitHeld } from './harness.js';
import { routerSuite, type BackendOps } from './scenarios.js';

/** Config lines through vtysh as an operator would type them (staticd only). */
async function configure(fabric: Fabric, ...lines: string[]): Promise<void> {
  await fabric.vtysh('node').applyConfig(lines, 20_000, 'staticd');
}

async function staticLines(fabric: Fabric): Promise<string[]> {
  const text = await fabric.vtysh('node').show('show running-config', 'staticd');
  return parseStaticRoutes(text).map((r) => r.line);
}

const route = (prefix: string): string => `${prefix.includes(':') ? 'ipv6' : 'ip'} route ${prefix} blackhole`;

function staticOps(fabric: Fabric): BackendOps {
  return {
    async damage(deleted, leftovers) {
      await configure(
        fabric,
        ...deleted.map((p) => `no ${route(p)} tag ${STATIC_TAG}`),
        ...leftovers.map((p) => `${route(p)} tag ${STATIC_TAG}`),
      );
    },
    async addForeign() {
      const foreign = [
        route('198.51.100.7/32'),
        `${route('10.96.200.1/32')} tag 99`,
        `${route('fd00:10:96::ff:1/128')} tag ${STATIC_TAG + 1}`,
        route('2001:db8:ffff::1/128'),
      ];
      await configure(fabric, ...foreign);
      return {
        conflicting: ['10.96.200.1/32', 'fd00:10:96::ff:1/128'],
        state: async () => JSON.stringify((await staticLines(fabric)).sort()),
        async assertIntact() {
          assert.deepEqual((await staticLines(fabric)).sort(), [...foreign].sort());
        },
        remove: () => configure(fabric, ...foreign.map((l) => `no ${l}`)),
      };
    },
    async addOtherShapes() {
      const lines = [
        `ip route 10.0.0.0/8 Null0 tag ${STATIC_TAG}`,
        `ip route 198.51.100.0/24 192.0.2.1 tag ${STATIC_TAG}`,
        `ipv6 route 2001:db8::/32 blackhole tag ${STATIC_TAG}`,
        `ip route 10.96.0.70/32 Null0 tag ${STATIC_TAG}`,
        `ip route 10.96.0.71/32 blackhole tag ${STATIC_TAG} 250`,
        `ipv6 route fd00:10:96::70/128 ${fabric.node(0).extPeerV6} tag ${STATIC_TAG}`,
      ];
      await configure(fabric, ...lines);
      return {
        all: [...lines].sort(),
        present: async () => (await staticLines(fabric)).filter((l) => lines.includes(l)).sort(),
        remove: () => configure(fabric, ...lines.map((l) => `no ${l}`)),
      };
    },
  };
}

const suite = routerSuite('static', staticOps);
const { skip } = suite;

void test(
  'static: kill -9 bgpd, restart detected, full re-apply; a staticd restart too',
  { skip },
  async () => {
    const { fabric, router } = suite;
    const want = await advertiseFresh(fabric, router, 100);
    const restarts = new FrrRestartDetector(fabric.socketDir('node'));
    assert.equal(await restarts.changed(), false);
    assert.equal(await restarts.changed(), false);

    await fabric.killBgpd('node');
    await waitFor('leaf to drop the routes', async () => (await fabric.leafRoutes()).size === 0, 30_000, 200);
    await fabric.restartBgpd('node');
    assert.equal(await restarts.changed(), true, 'bgpd restart not detected');
    assert.equal(await restarts.changed(), false);
    await fabric.waitEstablished(60_000);
    // What the controller does on a detected restart: read back and re-apply (staticd kept them here).
    await reconcile(router, want);
    await waitHeld(fabric, want);

    // staticd loses every unsaved static route when it restarts: only the re-apply brings them back.
    await fabric.restartDaemon('node', 'staticd');
    assert.equal(await restarts.changed(), true, 'staticd restart not detected');
    await assertOwned(router, []);
    const r = await reconcile(router, want);
    assert.equal(r.added, want.length);
    await waitHeld(fabric, want);
  },
);

void test(
  'static: a line tagged with a mark no class has any more is not ours: left alone, a conflict',
  { skip },
  async () => {
    const { fabric, router } = suite;
    await resetState(fabric, router);
    const stale = 'ip route 10.96.0.46/32 blackhole tag 4242';
    await configure(fabric, stale);
    try {
      await assertOwned(router, []);
      const r = await reconcile(router, new Map([['10.96.0.46/32', 1001]]));
      assert.deepEqual(r.conflicts, ['10.96.0.46/32']);
      assert.ok((await staticLines(fabric)).includes(stale), 'the line was changed');
    } finally {
      await configure(fabric, `no ${stale}`);
    }
  },
);
