// kernel origination against real FRR (node, leaf) and GoBGP (ext) in network namespaces.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Fabric } from '../../../src/lab/fabric.js';
import { waitFor } from '../../../src/lab/fabric.js';
import { ErrorCodes } from '../../../src/errors.js';
import { bgpTable } from '../../../src/router/frr/bgpd.js';
import type { Router } from '../../../src/router/router.js';
import {
  assertOwned,
  canRun,
  fabricFor,
  KERNEL_PROTOCOL,
  makePrefixes,
  reconcile,
  resetState,
  routerFor,
  vtyshFor,
  waitHeld,
} from './harness.js';

const skip = canRun();
let fabric: Fabric;
let router: Router;

before(async () => {
  if (skip) return;
  fabric = await fabricFor();
  router = routerFor(fabric, 'kernel');
});

after(async () => {
  if (fabric) await fabric.teardown();
});

async function ip(...args: string[]): Promise<string> {
  return (await fabric.exec('node', ['ip', ...args])).stdout;
}

void test('kernel: 1 and 100 prefixes reach the leaf and GoBGP exactly', { skip }, async () => {
  await resetState(fabric, router);
  for (const n of [1, 100]) {
    const want = makePrefixes(n);
    const r = await reconcile(router, want);
    assert.deepEqual(r.conflicts, []);
    await assertOwned(router, want);
    await waitHeld(fabric, want);
  }
});

void test('kernel: 10,000 prefixes, then withdraw half', { skip, timeout: 180_000 }, async () => {
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

void test('kernel: a hand deletion and a leftover of a previous run are repaired', { skip }, async () => {
  await resetState(fabric, router);
  const want = makePrefixes(100);
  await reconcile(router, want);
  await waitHeld(fabric, want);
  const deleted = want[10] ?? '';
  const deleted6 = want[11] ?? '';
  await ip('route', 'del', deleted, 'proto', String(KERNEL_PROTOCOL));
  await ip('-6', 'route', 'del', deleted6, 'proto', String(KERNEL_PROTOCOL));
  await ip('route', 'add', 'blackhole', '10.100.9.9/32', 'proto', String(KERNEL_PROTOCOL));
  await ip('-6', 'route', 'add', 'blackhole', 'fd00:10:96::9:9/128', 'proto', String(KERNEL_PROTOCOL));
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
  'kernel: routes survive kill -9 bgpd and come back after a restart by themselves',
  { skip },
  async () => {
    await resetState(fabric, router);
    const want = makePrefixes(100);
    await reconcile(router, want);
    await waitHeld(fabric, want);
    await fabric.killBgpd('node');
    // The routes stay in the kernel; the peers withdraw them when the session drops.
    await assertOwned(router, want);
    await waitFor('leaf to drop the routes', async () => (await fabric.leafRoutes()).size === 0, 30_000, 200);
    await fabric.restartBgpd('node');
    await fabric.waitEstablished(60_000);
    // No apply: zebra hands the kernel routes to the new bgpd.
    const ms = await waitHeld(fabric, want);
    await assertOwned(router, want);
    const view = await bgpTable(vtyshFor(fabric));
    for (const p of want) assert.equal(view.get(p)?.best, true, p);
    assert.ok(ms >= 0);
  },
);

void test(
  'kernel: with bgpd stopped, reading bgpd times out, read/apply still work, nothing is lost',
  { skip },
  async (t) => {
    await resetState(fabric, router);
    const want = makePrefixes(20);
    await reconcile(router, want);
    await waitHeld(fabric, want);
    // One FRR client for the table read and the router, as in `cosmolet run`.
    const fastVtysh = vtyshFor(fabric, 1);
    const fast = routerFor(fabric, 'kernel', 1, fastVtysh);
    fabric.stopBgpd('node');
    t.after(() => fabric.contBgpd('node'));
    const started = Date.now();
    await assert.rejects(bgpTable(fastVtysh), { code: ErrorCodes.COMMAND_TIMEOUT });
    assert.ok(Date.now() - started < 5_000, 'reading bgpd did not give up in time');
    // The kernel backend never needs bgpd to program routes.
    await assertOwned(fast, want);
    const more = [...want, ...makePrefixes(5, 1000)];
    await reconcile(fast, more);
    await assertOwned(fast, more);
    fabric.contBgpd('node');
    await waitHeld(fabric, more);
  },
);

void test(
  'kernel: routes of other protocols are never touched, same-prefix ones are conflicts',
  { skip },
  async (t) => {
    await resetState(fabric, router);
    const foreign: [string, string, string][] = [
      ['-4', '198.51.100.7/32', '74'],
      ['-4', '10.96.200.1/32', 'static'],
      ['-6', 'fd00:10:96::ff:1/128', '74'],
      ['-6', '2001:db8:ffff::1/128', 'boot'],
    ];
    for (const [fam, p, proto] of foreign) await ip(fam, 'route', 'add', 'blackhole', p, 'proto', proto);
    t.after(async () => {
      for (const [fam, p, proto] of foreign)
        await ip(fam, 'route', 'del', p, 'proto', proto).catch(() => undefined);
    });
    const snapshot = async (): Promise<string> =>
      JSON.stringify([
        await ip('-4', '-json', 'route', 'show'),
        await ip('-6', '-json', 'route', 'show', 'type', 'blackhole'),
      ]);
    const want = [...makePrefixes(50), '10.96.200.1/32', 'fd00:10:96::ff:1/128'];
    const r = await reconcile(router, want);
    assert.deepEqual(r.conflicts.sort(), ['10.96.200.1/32', 'fd00:10:96::ff:1/128']);
    const owned = await router.read();
    assert.equal(owned.has('10.96.200.1/32'), false);
    await reconcile(router, []);
    await assertOwned(router, []);
    const before = await snapshot();
    await reconcile(router, makePrefixes(10));
    await reconcile(router, []);
    assert.equal(await snapshot(), before);
    for (const [fam, p, proto] of foreign) {
      const out = await ip(fam, 'route', 'show', p, 'proto', proto);
      assert.match(out, /blackhole/, `${p} proto ${proto} is gone`);
    }
  },
);

void test(
  'kernel: blackhole routes of an earlier version are adopted and converted in place with replace',
  { skip },
  async () => {
    await resetState(fabric, router);
    const want = ['10.96.7.1/32', 'fd00:10:96::7:1/128'];
    // What an earlier cosmolet (blackhole routes) left behind.
    await ip('route', 'add', 'blackhole', '10.96.7.1/32', 'proto', String(KERNEL_PROTOCOL));
    await ip('-6', 'route', 'add', 'blackhole', 'fd00:10:96::7:1/128', 'proto', String(KERNEL_PROTOCOL));
    await waitHeld(fabric, want);
    assert.deepEqual([...(await router.read())].sort(), want.sort());
    assert.equal(await router.repair?.(), 2);
    const r = await reconcile(router, want);
    assert.equal(r.added + r.removed, 0, 'adopted, not re-added');
    const v4 = JSON.parse(await ip('-json', 'route', 'show', '10.96.7.1/32')) as {
      dev?: string;
      type?: string;
    }[];
    const v6 = JSON.parse(await ip('-6', '-json', 'route', 'show', 'fd00:10:96::7:1/128')) as {
      dev?: string;
    }[];
    assert.equal(v4[0]?.dev, 'cosmolet0');
    assert.equal(v6[0]?.dev, 'cosmolet0');
    await waitHeld(fabric, want);
  },
);

void test(
  'kernel: a connection from the node itself to an advertised ClusterIP reaches the DNAT (blackholes broke connect())',
  { skip },
  async (t) => {
    await resetState(fabric, router);
    // kube-proxy's part: OUTPUT DNAT from the ClusterIP to a local "endpoint".
    const endpoint = fabric.node(0).extV4;
    await fabric.exec('node', ['nft', '-f', '-'], {
      input: `table ip kp-e2e {\n chain out {\n  type nat hook output priority -100;\n  ip daddr 10.96.8.1 tcp dport 80 dnat to ${endpoint}:18080\n }\n}\n`,
    });
    t.after(() => fabric.exec('node', ['nft', 'delete', 'table', 'ip', 'kp-e2e']).then(() => undefined));
    const server = fabric.spawn('node', [
      process.execPath,
      '-e',
      `require('http').createServer((q, s) => s.end('served')).listen(18080, '${endpoint}')`,
    ]);
    t.after(() => void server.kill('SIGKILL'));
    await reconcile(router, ['10.96.8.1/32']);
    await waitHeld(fabric, ['10.96.8.1/32']);
    const body = await waitFor(
      'curl from the node to the advertised ClusterIP',
      async () => (await fabric.exec('node', ['curl', '-s', '-m', '2', 'http://10.96.8.1/'])).stdout,
      10_000,
    );
    assert.equal(body, 'served');
  },
);

void test(
  'kernel: read() creates nothing, not even the device (bgp.enabled false touches nothing)',
  { skip },
  async () => {
    await resetState(fabric, router);
    await fabric.exec('node', ['ip', 'link', 'del', 'cosmolet0']).catch(() => undefined);
    assert.deepEqual([...(await router.read())], []);
    await assert.rejects(fabric.exec('node', ['ip', 'link', 'show', 'cosmolet0']));
    // The first apply creates it.
    await reconcile(router, ['10.96.9.1/32']);
    await waitHeld(fabric, ['10.96.9.1/32']);
    assert.match(await ip('-json', 'route', 'show', '10.96.9.1/32'), /"dev":"cosmolet0"/);
  },
);
