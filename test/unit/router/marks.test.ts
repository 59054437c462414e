// Route classes in the router: each route carries a mark (kernel: its metric, static: its tag), the
// read-back reports it, the diff re-marks, and a re-mark never takes the prefix away. The ip and
// FRR output below was captured on this machine (iproute2 6.1, FRR 8.4.4) while a route was re-marked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { diffPrefixes, diffSize } from '../../../src/router/router.js';
import { kernelBatch, kernelReadBack, markOf, metricOf, parseIpRoutes } from '../../../src/router/kernel.js';
import { staticOwned, staticPlan } from '../../../src/router/static.js';
import { parseStaticRoutes } from '../../../src/router/frr/parse.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

test('diffPrefixes: add with marks, remove, re-mark what is installed with another mark', () => {
  const desired = new Map([
    ['10.96.0.1/32', 0],
    ['10.96.0.2/32', 1001],
    ['10.96.0.3/32', 1002],
    ['10.96.0.4/32', 0],
  ]);
  const actual = new Map([
    ['10.96.0.3/32', 1001],
    ['10.96.0.4/32', 1001],
    ['10.96.0.9/32', 1002],
  ]);
  const diff = diffPrefixes(desired, actual);
  assert.deepEqual(diff, {
    add: ['10.96.0.1/32', '10.96.0.2/32'],
    remove: ['10.96.0.9/32'],
    marks: new Map([['10.96.0.2/32', 1001]]),
    remark: [
      { prefix: '10.96.0.3/32', from: 1001, to: 1002 },
      { prefix: '10.96.0.4/32', from: 1001, to: 0 },
    ],
  });
  assert.equal(diffSize(diff), 5);
  // Sets are unclassed: the diff of two sets has no marks and no re-marks.
  assert.deepEqual(diffPrefixes(new Set(['a']), new Set(['a', 'b'])), { add: [], remove: ['b'] });
  assert.deepEqual(diffPrefixes(desired, new Map(desired)), { add: [], remove: [] });
});

test('kernel: the metric is the mark; the family default metric (IPv4 0, IPv6 1024) is no class', () => {
  const v4 = parseIpRoutes(fixture('ip-json-v4-proto73-remark.json'));
  assert.deepEqual(
    v4.map((r) => [r.prefix, r.metric, markOf(r)]),
    [
      ['10.96.0.50/32', 0, 0],
      ['10.96.0.50/32', 1001, 1001],
    ],
  );
  const v6 = parseIpRoutes(fixture('ip-json-v6-proto73-remark.json'));
  assert.deepEqual(
    v6.map((r) => [r.prefix, r.metric, markOf(r)]),
    [
      ['fd00:10:96::50/128', 1001, 1001],
      ['fd00:10:96::50/128', 1024, 0],
    ],
  );
  assert.equal(metricOf('fd00:10:96::50/128', 0), 1024);
  assert.equal(metricOf('10.96.0.50/32', 0), 0);
  assert.equal(metricOf('10.96.0.50/32', 7), 7);
});

test('kernel read-back: a prefix with two routes of ours (an interrupted re-mark) reports the announced one', () => {
  // zebra announces the route with the lower metric (measured: "metric 0, best" beside "metric 1001").
  const back = kernelReadBack([
    ...parseIpRoutes(fixture('ip-json-v4-proto73-remark.json')),
    ...parseIpRoutes(fixture('ip-json-v6-proto73-remark.json')),
  ]);
  assert.deepEqual(
    [...back.routes],
    [
      ['10.96.0.50/32', 0],
      ['fd00:10:96::50/128', 1001],
    ],
  );
  assert.deepEqual(
    back.extras.map((r) => [r.prefix, r.metric]),
    [
      ['10.96.0.50/32', 1001],
      ['fd00:10:96::50/128', 1024],
    ],
  );
});

test('kernel batch: adds with their metric, a re-mark adds the new route before deleting the old by its metric', () => {
  const lines = kernelBatch(
    {
      add: ['10.96.0.1/32', '10.96.0.2/32', 'fd00:10:96::1/128'],
      remove: ['10.96.0.9/32'],
      marks: new Map([
        ['10.96.0.2/32', 1001],
        ['fd00:10:96::1/128', 1002],
      ]),
      remark: [
        { prefix: '10.96.0.3/32', from: 0, to: 1001 },
        { prefix: 'fd00:10:96::3/128', from: 0, to: 1001 },
        { prefix: 'fd00:10:96::4/128', from: 1001, to: 0 },
      ],
    },
    73,
  );
  assert.deepEqual(lines, [
    'route del 10.96.0.9/32 dev cosmolet0 proto 73',
    'route add 10.96.0.1/32 dev cosmolet0 proto 73',
    'route add 10.96.0.2/32 dev cosmolet0 proto 73 metric 1001',
    'route add fd00:10:96::1/128 dev cosmolet0 proto 73 metric 1002',
    'route add 10.96.0.3/32 dev cosmolet0 proto 73 metric 1001',
    'route del 10.96.0.3/32 dev cosmolet0 proto 73 metric 0',
    'route add fd00:10:96::3/128 dev cosmolet0 proto 73 metric 1001',
    // An IPv6 del without a metric takes the lowest metric (the new route): always spelled out.
    'route del fd00:10:96::3/128 dev cosmolet0 proto 73 metric 1024',
    'route add fd00:10:96::4/128 dev cosmolet0 proto 73',
    'route del fd00:10:96::4/128 dev cosmolet0 proto 73 metric 1001',
  ]);
  // A re-mark that is the same kernel route is no line at all (it would delete the only route).
  assert.deepEqual(
    kernelBatch({ add: [], remove: [], remark: [{ prefix: 'fd00:10:96::5/128', from: 0, to: 1024 }] }, 73),
    [],
  );
});

const STATIC_CONFIG = [
  'frr version 8.4.4',
  'ip route 10.96.0.1/32 blackhole tag 7300',
  'ip route 10.96.0.2/32 blackhole tag 1001',
  'ip route 10.96.0.3/32 blackhole tag 4242',
  'ip route 10.96.0.4/32 blackhole',
  'ipv6 route fd00:10:96::1/128 blackhole tag 1002',
  '!',
].join('\n');

test('static read-back: staticTag is no class, a configured mark is its class, any other tag is not ours', () => {
  const lines = parseStaticRoutes(STATIC_CONFIG);
  assert.deepEqual(
    [...staticOwned(lines, 7300, [1001, 1002])],
    [
      ['10.96.0.1/32', 0],
      ['10.96.0.2/32', 1001],
      ['fd00:10:96::1/128', 1002],
    ],
  );
  // A mark removed from the config: its lines are no longer cosmolet's (the operator's namespace).
  assert.deepEqual([...staticOwned(lines, 7300, [1002]).keys()], ['10.96.0.1/32', 'fd00:10:96::1/128']);
});

test('static plan: adds with the mark as tag, a re-mark is the line with the new tag only (staticd retags in place)', () => {
  const current = parseStaticRoutes(STATIC_CONFIG);
  const plan = staticPlan(
    {
      add: ['10.96.0.7/32', 'fd00:10:96::7/128'],
      remove: ['10.96.0.2/32'],
      marks: new Map([['10.96.0.7/32', 1002]]),
      remark: [
        { prefix: '10.96.0.1/32', from: 0, to: 1001 },
        { prefix: 'fd00:10:96::1/128', from: 1002, to: 0 },
        // Held by a line with a tag that is not ours: never retagged.
        { prefix: '10.96.0.3/32', from: 4242, to: 1001 },
      ],
    },
    current,
    7300,
    [1001, 1002],
  );
  assert.deepEqual(plan.lines, [
    'no ip route 10.96.0.2/32 blackhole tag 1001',
    'ip route 10.96.0.7/32 blackhole tag 1002',
    'ipv6 route fd00:10:96::7/128 blackhole tag 7300',
    // Measured: `no ip route X blackhole tag OLD` would remove the retagged route too.
    'ip route 10.96.0.1/32 blackhole tag 1001',
    'ipv6 route fd00:10:96::1/128 blackhole tag 7300',
  ]);
  assert.deepEqual(plan.remarked, ['10.96.0.1/32', 'fd00:10:96::1/128']);
  assert.deepEqual(plan.added, ['10.96.0.7/32', 'fd00:10:96::7/128']);
  assert.deepEqual(plan.removed, ['10.96.0.2/32']);
});
