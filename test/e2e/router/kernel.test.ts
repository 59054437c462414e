// kernel origination against real FRR (node, leaf) and GoBGP (ext) in network namespaces: the
// scenarios both backends share (scenarios.ts), then what only kernel routes do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@cosmolet/lab/wait';
import type { Fabric } from '@cosmolet/lab/fabric/fabric';
import { diffPrefixes } from '../../../src/router/router.js';
import { advertiseFresh, assertOwned, KERNEL_PROTOCOL, reconcile, resetState, waitHeld } from './harness.js';
import { routerSuite, type BackendOps } from './scenarios.js';

async function ipIn(fabric: Fabric, ...args: string[]): Promise<string> {
  return (await fabric.exec('node', ['ip', ...args])).stdout;
}

const family = (prefix: string): string => (prefix.includes(':') ? '-6' : '-4');

function kernelOps(fabric: Fabric): BackendOps {
  const ip = (...args: string[]) => ipIn(fabric, ...args);
  return {
    async damage(deleted, leftovers) {
      for (const p of deleted) await ip(family(p), 'route', 'del', p, 'proto', String(KERNEL_PROTOCOL));
      // An earlier cosmolet's blackhole form: still cosmolet's by its protocol number.
      for (const p of leftovers)
        await ip(family(p), 'route', 'add', 'blackhole', p, 'proto', String(KERNEL_PROTOCOL));
    },
    async addForeign() {
      const foreign: [string, string][] = [
        ['198.51.100.7/32', '74'],
        ['10.96.200.1/32', 'static'],
        ['fd00:10:96::ff:1/128', '74'],
        ['2001:db8:ffff::1/128', 'boot'],
      ];
      for (const [p, proto] of foreign) await ip(family(p), 'route', 'add', 'blackhole', p, 'proto', proto);
      return {
        conflicting: ['10.96.200.1/32', 'fd00:10:96::ff:1/128'],
        state: async () =>
          JSON.stringify([
            await ip('-4', '-json', 'route', 'show'),
            await ip('-6', '-json', 'route', 'show', 'type', 'blackhole'),
          ]),
        async assertIntact() {
          for (const [p, proto] of foreign) {
            const out = await ip(family(p), 'route', 'show', p, 'proto', proto);
            assert.match(out, /blackhole/, `${p} proto ${proto} is gone`);
          }
        },
        async remove() {
          for (const [p, proto] of foreign)
            await ip(family(p), 'route', 'del', p, 'proto', proto).catch(() => undefined);
        },
      };
    },
    async addOtherShapes() {
      const proto = String(KERNEL_PROTOCOL);
      const gw4 = fabric.node(0).extPeerV4;
      const gw6 = fabric.node(0).extPeerV6;
      const routes: [string, string[]][] = [
        ['11.0.0.0/8', ['blackhole', '11.0.0.0/8']],
        ['198.51.100.0/24', ['198.51.100.0/24', 'via', gw4]],
        ['10.96.0.70/32', ['10.96.0.70/32', 'via', gw4]],
        ['10.96.0.71/32', ['10.96.0.71/32', 'dev', 'lo']],
        ['2001:db8::/32', ['blackhole', '2001:db8::/32']],
        ['fd00:10:96::70/128', ['fd00:10:96::70/128', 'via', gw6]],
      ];
      for (const [p, spec] of routes) await ip(family(p), 'route', 'add', ...spec, 'proto', proto);
      return {
        all: routes.map(([p]) => p).sort(),
        async present() {
          const out: string[] = [];
          for (const [p] of routes)
            if ((await exactRoutes(fabric, p, 'proto', proto)).length > 0) out.push(p);
          return out.sort();
        },
        async remove() {
          for (const [p, spec] of routes)
            await ip(family(p), 'route', 'del', ...spec, 'proto', proto).catch(() => undefined);
        },
      };
    },
  };
}

/** The main-table routes of exactly `prefix` (`ip route show exact`), narrowed by `filter` (proto P). */
async function exactRoutes(
  fabric: Fabric,
  prefix: string,
  ...filter: string[]
): Promise<{ metric?: number; protocol?: string }[]> {
  return JSON.parse(
    await ipIn(fabric, family(prefix), '-json', 'route', 'show', 'exact', prefix, ...filter),
  ) as { metric?: number; protocol?: string }[];
}

const suite = routerSuite('kernel', kernelOps);
const { skip } = suite;

async function ip(...args: string[]): Promise<string> {
  return ipIn(suite.fabric, ...args);
}

void test(
  'kernel: routes survive kill -9 bgpd and come back after a restart by themselves',
  { skip },
  async () => {
    const { fabric, router } = suite;
    const want = await advertiseFresh(fabric, router, 100);
    await fabric.killBgpd('node');
    // The routes stay in the kernel; the peers withdraw them when the session drops.
    await assertOwned(router, want);
    await waitFor('leaf to drop the routes', async () => (await fabric.leafRoutes()).size === 0, 30_000, 200);
    await fabric.restartBgpd('node');
    await fabric.waitEstablished(60_000);
    // No apply: zebra hands the kernel routes to the new bgpd.
    const ms = await waitHeld(fabric, want);
    await assertOwned(router, want);
    const view = await fabric.nodeBgp();
    for (const p of want) assert.equal(view.get(p)?.best, true, p);
    assert.ok(ms >= 0);
  },
);

void test(
  'kernel: blackhole routes of an earlier version are adopted and converted in place with replace',
  { skip },
  async () => {
    const { fabric, router } = suite;
    await resetState(fabric, router);
    const want = ['10.96.7.1/32', 'fd00:10:96::7:1/128'];
    // What an earlier cosmolet (blackhole routes) left behind.
    await ip('route', 'add', 'blackhole', '10.96.7.1/32', 'proto', String(KERNEL_PROTOCOL));
    await ip('-6', 'route', 'add', 'blackhole', 'fd00:10:96::7:1/128', 'proto', String(KERNEL_PROTOCOL));
    await waitHeld(fabric, want);
    assert.deepEqual([...(await router.read()).keys()].sort(), want.sort());
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
    const { fabric, router } = suite;
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
    const { fabric, router } = suite;
    await resetState(fabric, router);
    await fabric.exec('node', ['ip', 'link', 'del', 'cosmolet0']).catch(() => undefined);
    assert.deepEqual([...(await router.read()).keys()], []);
    await assert.rejects(fabric.exec('node', ['ip', 'link', 'show', 'cosmolet0']));
    // The first apply creates it.
    await reconcile(router, ['10.96.9.1/32']);
    await waitHeld(fabric, ['10.96.9.1/32']);
    assert.match(await ip('-json', 'route', 'show', '10.96.9.1/32'), /"dev":"cosmolet0"/);
  },
);

void test(
  'kernel: two routes of ours for a prefix (a re-mark interrupted between its lines) and a mark no class has any more',
  { skip },
  async () => {
    const { fabric, router } = suite;
    await resetState(fabric, router);
    const [p, q, r] = ['10.96.0.44/32', 'fd00:10:96::44/128', '10.96.0.45/32'] as const;
    const proto = String(KERNEL_PROTOCOL);
    await reconcile(
      router,
      new Map([
        [p, 0],
        [q, 1001],
      ]),
    );
    // The add of a re-mark ran, its del did not: p has metric 0 and 1001, q 1001 and the default 1024.
    await ip('-4', 'route', 'add', p, 'dev', 'cosmolet0', 'proto', proto, 'metric', '1001');
    await ip('-6', 'route', 'add', q, 'dev', 'cosmolet0', 'proto', proto);
    // A class removed from the config: its mark stays on the route until cosmolet re-marks it.
    await ip('-4', 'route', 'add', r, 'dev', 'cosmolet0', 'proto', proto, 'metric', '4242');
    // The announced route (the lower metric) counts; the repair deletes the other one.
    assert.deepEqual(
      [...(await router.read())].sort(),
      [
        [p, 0],
        [r, 4242],
        [q, 1001],
      ].sort(),
    );
    assert.equal(await router.repair?.(), 2);
    const metrics = async (prefix: string): Promise<number[]> =>
      (
        JSON.parse(
          await ip(prefix.includes(':') ? '-6' : '-4', '-json', 'route', 'show', prefix, 'proto', proto),
        ) as { metric?: number }[]
      ).map((x) => x.metric ?? 0);
    assert.deepEqual(await metrics(p), [0]);
    assert.deepEqual(await metrics(q), [1001]);
    // Everything unclassed now: two re-marks, nothing withdrawn.
    const m = await reconcile(
      router,
      new Map([
        [p, 0],
        [q, 0],
        [r, 0],
      ]),
    );
    assert.deepEqual([m.added, m.removed, m.remarked], [0, 0, 2]);
    assert.deepEqual(await metrics(q), [1024]);
    assert.deepEqual(await metrics(r), [0]);
    await waitHeld(fabric, [p, q, r]);
  },
);

void test(
  'kernel: a foreign route at another metric is shadowed, not reported: before adding and in read-back it is a conflict (cosmolet steps back)',
  { skip },
  async (t) => {
    const { fabric, router } = suite;
    await resetState(fabric, router);
    const proto = String(KERNEL_PROTOCOL);
    const gw4 = fabric.node(0).extPeerV4;
    const foreign: [string, string[]][] = [];
    t.after(async () => {
      for (const [p, spec] of foreign) await ip(family(p), 'route', 'del', ...spec).catch(() => undefined);
    });
    const addForeign = async (p: string, spec: string[]) => {
      foreign.push([p, spec]);
      await ip(family(p), 'route', 'add', ...spec);
    };
    const ours = async (p: string): Promise<number[]> =>
      (await exactRoutes(fabric, p, 'proto', proto)).map((r) => r.metric ?? 0);
    const theirs = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const [p, spec] of foreign) {
        const shown = await exactRoutes(fabric, p);
        if (shown.some((r) => r.protocol !== proto)) out.push(`${p} ${spec.join(' ')}`);
      }
      return out;
    };

    // Before adding: a route of another protocol at metric 100 (the kernel would take ours at 0).
    await addForeign('10.96.0.80/32', ['10.96.0.80/32', 'dev', 'ext0', 'metric', '100']);
    const first = await reconcile(router, ['10.96.0.80/32', '10.96.0.84/32']);
    assert.deepEqual(first.conflicts, ['10.96.0.80/32']);
    assert.deepEqual(await ours('10.96.0.80/32'), [], 'cosmolet added a route beside the foreign one');
    await assertOwned(router, ['10.96.0.84/32']);

    // In read-back: ours first (a class mark, and IPv6), then a route of another protocol beside it.
    const desired = new Map([
      ['10.96.0.81/32', 1001],
      ['10.96.0.84/32', 0],
      ['fd00:10:96::80/128', 0],
    ]);
    await reconcile(router, desired);
    await assertOwned(router, desired.keys());
    await addForeign('10.96.0.81/32', ['10.96.0.81/32', 'via', gw4, 'proto', 'static']);
    await addForeign('fd00:10:96::80/128', [
      'fd00:10:96::80/128',
      'dev',
      'ext0',
      'proto',
      'static',
      'metric',
      '100',
    ]);
    // What the controller does on a resync: read back, repair, full diff, apply.
    const owned = await router.read();
    assert.deepEqual(
      [...owned.keys()],
      ['10.96.0.84/32'],
      'prefixes a foreign route holds are not counted as ours',
    );
    await router.repair?.();
    const r = await router.apply(diffPrefixes(desired, owned));
    assert.deepEqual(r.conflicts.sort(), ['10.96.0.81/32', 'fd00:10:96::80/128']);
    assert.deepEqual(await ours('10.96.0.81/32'), [], 'our route stayed beside the foreign one');
    assert.deepEqual(await ours('fd00:10:96::80/128'), []);
    assert.equal((await theirs()).length, 3, 'a foreign route was touched');
    await assertOwned(router, ['10.96.0.84/32']);
  },
);
