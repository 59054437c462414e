// What is cosmolet's: only the exact shape it creates. The ip and FRR output below was captured on
// this machine (iproute2 6.1 with -N, FRR 8.4.4 staticd) with routes of other shapes that carry
// cosmolet's protocol number or tag, as an operator (or an adversary) could add them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { kernelBatch, kernelReadBack, parseIpRoutes } from '../../../src/router/kernel.js';
import { deleteSelector, isConflicting } from '../../../src/router/kernel-routes.js';
import { foreignTagged, staticOwned, staticPlan, stepBackLines } from '../../../src/router/static.js';
import { parseStaticRoutes } from '../../../src/router/frr/parse.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const kernelRoutes = () => [
  ...parseIpRoutes(fixture('ip-N-json-v4-shapes.json')),
  ...parseIpRoutes(fixture('ip-N-json-v6-shapes.json')),
];

test('ownership by protocol alone: kernel routes with protocol 73 of another prefix length, next hop or device are not owned (never removed)', () => {
  const all = kernelRoutes().filter((r) => r.protocol === '73');
  const back = kernelReadBack(all, 73);
  // Ours: host routes through cosmolet0 (any metric: the class mark), and an earlier version's blackholes.
  assert.deepEqual(
    [...back.routes].sort(),
    [
      ['10.96.0.10/32', 0],
      ['10.96.0.11/32', 1001],
      ['10.96.0.12/32', 0],
      ['fd00:10:96::a/128', 0],
      ['fd00:10:96::c/128', 0],
    ].sort(),
  );
  assert.deepEqual(
    back.foreign.map((r) => r.prefix).sort(),
    [
      '10.0.0.0/8', // a /8 through cosmolet0
      '10.96.0.70/32', // a host route through another device
      '10.96.0.71/32', // a host route through a gateway
      '198.51.100.0/24',
      '2001:db8::/32',
      'fd00:10:96::70/128',
    ].sort(),
  );
  assert.deepEqual(back.extras, []);
  // A full diff that wants nothing removes only what read() owns: the others never reach a `del`.
  const lines = kernelBatch({ add: [], remove: [...back.routes.keys()].sort() }, 73);
  for (const l of lines) assert.match(l, / dev cosmolet0 proto 73$/, l);
  for (const p of back.foreign.map((r) => r.prefix)) assert.ok(!lines.some((l) => l.includes(` ${p} `)), p);
});

test('kernel deletes match the route of ours exactly (form, device, metric)', () => {
  const [cur, bh] = [
    kernelRoutes().find((r) => r.prefix === '10.96.0.11/32'),
    kernelRoutes().find((r) => r.prefix === 'fd00:10:96::c/128'),
  ];
  assert.ok(cur && bh);
  assert.equal(deleteSelector(cur, 73), '10.96.0.11/32 dev cosmolet0 proto 73 metric 1001');
  assert.equal(deleteSelector(bh, 73), 'blackhole fd00:10:96::c/128 proto 73 metric 1024');
});

test('ownership by tag alone: static lines with cosmolet tag in another shape (Null0, a next hop, a /8 or /32 prefix, a distance, a table) are not owned, never removed, a conflict', () => {
  const lines = parseStaticRoutes(fixture('frr84-staticd-running-config-shapes.txt'));
  assert.deepEqual(
    [...staticOwned(lines, 7300, [1001])].sort(),
    [
      ['10.96.0.10/32', 0],
      ['10.96.0.11/32', 1001],
      ['fd00:10:96::a/128', 0],
    ].sort(),
  );
  assert.deepEqual(
    foreignTagged(lines, 7300, [1001]).map((r) => r.line),
    [
      'ip route 10.0.0.0/8 Null0 tag 7300',
      'ip route 198.51.100.0/24 192.0.2.1 tag 7300',
      'ip route 10.96.0.20/32 Null0 tag 7300',
      'ip route 10.96.0.21/32 blackhole tag 7300 250',
      'ip route 10.96.0.22/32 reject tag 7300',
      'ip route 10.96.0.23/32 192.0.2.1 tag 7300',
      'ip route 10.96.0.25/32 blackhole tag 7300 table 10',
      'ipv6 route 2001:db8::/32 blackhole tag 7300',
      'ipv6 route fd00:10:96::70/128 fd00:254:2::2 tag 7300',
    ],
  );
  // A diff that removes every prefix those lines hold, and wants the host ones: nothing of theirs
  // is removed, the host prefixes are conflicts; only cosmolet's own line goes.
  const plan = staticPlan(
    {
      add: ['10.96.0.20/32', '10.96.0.21/32', '10.96.0.23/32', 'fd00:10:96::70/128'],
      remove: ['10.0.0.0/8', '10.96.0.10/32', '10.96.0.22/32', '198.51.100.0/24', '2001:db8::/32'],
    },
    lines,
    7300,
    [1001],
  );
  assert.deepEqual(plan.lines, ['no ip route 10.96.0.10/32 blackhole tag 7300']);
  assert.deepEqual(plan.removed, ['10.96.0.10/32']);
  assert.deepEqual(plan.conflicts, ['10.96.0.20/32', '10.96.0.21/32', '10.96.0.23/32', 'fd00:10:96::70/128']);
});

const otherMetric = () => [
  ...parseIpRoutes(fixture('ip-N-json-v4-other-metric.json')),
  ...parseIpRoutes(fixture('ip-N-json-v6-other-metric.json')),
];

test('a foreign route at another metric is shadowed, not reported: in read-back it is a conflict, ours beside it steps back', () => {
  // Captured with: ours (proto 73, metric 0) beside a route of `boot` at metric 100; ours with the
  // class mark 1001 beside a `static` (4) route at metric 0; ours beside zebra's BGP route (186,
  // metric 20); a `boot` route alone at metric 100; zebra's static routes (196) of another backend.
  const back = kernelReadBack(otherMetric(), 73);
  assert.deepEqual([...back.routes].sort(), [
    ['10.96.0.82/32', 0],
    ['10.96.0.84/32', 0],
    ['fd00:10:96::81/128', 0],
  ]);
  assert.deepEqual(
    back.stepBack.map((r) => [r.prefix, r.metric]).sort(),
    [
      ['10.96.0.80/32', 0],
      ['10.96.0.81/32', 1001],
      ['fd00:10:96::80/128', 1024],
    ].sort(),
  );
  for (const p of ['10.96.0.80/32', '10.96.0.81/32', '10.96.0.83/32', 'fd00:10:96::80/128'])
    assert.ok(back.conflicts.has(p), `${p} is a conflict`);
  // Routes zebra installed (its protocol numbers) are FRR's own choice, not conflicts.
  for (const p of ['10.96.0.82/32', '10.96.0.10/32', 'fd00:10:96::a/128'])
    assert.ok(!back.conflicts.has(p), `${p} is not a conflict`);
  // Prefixes of other lengths never are: cosmolet only installs host routes.
  assert.ok(!back.conflicts.has('10.254.2.0/30'));
  assert.deepEqual(back.extras, []);
  assert.equal(isConflicting(otherMetric().find((r) => r.prefix === '10.96.0.83/32')!), true);
});

test('a foreign route at another metric is shadowed, not reported: static lines of ours beside another line of the prefix step back', () => {
  const lines = parseStaticRoutes(
    [
      'ip route 10.96.0.90/32 blackhole tag 7300',
      'ip route 10.96.0.90/32 192.0.2.1 200',
      'ip route 10.96.0.91/32 blackhole tag 7300',
    ].join('\n'),
  );
  assert.deepEqual([...staticOwned(lines, 7300).keys()], ['10.96.0.91/32']);
  assert.deepEqual(stepBackLines(lines, 7300), ['no ip route 10.96.0.90/32 blackhole tag 7300']);
  // Wanted again: a conflict, and our line there goes.
  const plan = staticPlan({ add: ['10.96.0.90/32'], remove: [] }, lines, 7300);
  assert.deepEqual(plan.conflicts, ['10.96.0.90/32']);
  assert.deepEqual(plan.lines, ['no ip route 10.96.0.90/32 blackhole tag 7300']);
});
