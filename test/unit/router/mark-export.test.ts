// The /readyz condition frr-exports-routes with route classes: each configured mark must be
// exported by an entry of the operator's route-map that matches it, and the message carries the
// entries to add. The running-config is the lab node's as FRR 8.4.4 prints it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decidingEntry, evaluateExport, evaluateMarks } from '../../../src/router/frr/checks.js';
import { parseRouteMaps } from '../../../src/router/frr/parse.js';

const CONFIG = readFileSync(new URL('./fixtures/frr84-node-running-config.txt', import.meta.url), 'utf8');
const GOLD = [{ name: 'gold', mark: 1001 }];

/** The fixture with route-map entries inserted before `end`. */
function withEntries(...lines: string[]): string {
  return CONFIG.replace(/^end$/m, `${lines.join('\n')}\n!\nend`);
}

test('parseRouteMaps: entries by name, sorted by sequence, with their lines', () => {
  const maps = parseRouteMaps(withEntries('route-map COSMOLET-KERNEL deny 5', ' match metric 9'));
  assert.deepEqual(maps.get('COSMOLET-KERNEL'), [
    { action: 'deny', seq: 5, lines: ['match metric 9'] },
    { action: 'permit', seq: 10, lines: ['match ip address prefix-list COSMOLET-V4'] },
    { action: 'permit', seq: 20, lines: ['match ipv6 address prefix-list COSMOLET-V6'] },
  ]);
  assert.deepEqual(maps.get('PERMIT-ALL'), [{ action: 'permit', seq: 10, lines: [] }]);
});

test('decidingEntry: the first entry whose matches do not exclude the family and the mark', () => {
  const entries = parseRouteMaps(CONFIG).get('COSMOLET-STATIC') ?? [];
  assert.equal(decidingEntry(entries, 'ipv4', 'static', 7300)?.seq, 10);
  assert.equal(decidingEntry(entries, 'ipv6', 'static', 7300)?.seq, 20);
  assert.equal(decidingEntry(entries, 'ipv4', 'static', 1001), undefined);
});

test('kernel: a class caught by a prefix-list-only entry is not ok; the snippet goes before it', () => {
  const c = evaluateExport(CONFIG, 'kernel', ['ipv4', 'ipv6'], GOLD);
  assert.equal(c.ok, false);
  assert.match(
    c.message,
    /route class "gold" \(metric 1001\), IPv4: route-map COSMOLET-KERNEL exports it through entry 10, which does not match metric 1001: it reaches the fabric without the class's attributes/,
  );
  assert.equal(
    c.snippet,
    [
      'route-map COSMOLET-KERNEL permit 9',
      ' match ip address prefix-list COSMOLET-V4',
      ' match metric 1001',
      ' set community <the community of route class gold>',
      'route-map COSMOLET-KERNEL permit 19',
      ' match ipv6 address prefix-list COSMOLET-V6',
      ' match metric 1001',
      ' set community <the community of route class gold>',
    ].join('\n'),
  );
  // With the entries added the check passes and says so.
  const fixed = evaluateExport(
    withEntries(...(c.snippet ?? '').split('\n')),
    'kernel',
    ['ipv4', 'ipv6'],
    GOLD,
  );
  assert.equal(fixed.ok, true, fixed.message);
  assert.match(fixed.message, /the route-map exports every route class's metric \(gold 1001\)$/);
});

test('static: a class dropped by the tag-matching route-map is not ok; a deny entry is named', () => {
  const c = evaluateMarks(CONFIG, 'static', ['ipv4'], GOLD);
  assert.equal(c.ok, false);
  assert.match(c.message, /route-map COSMOLET-STATIC has no entry for it, so the route is not advertised/);
  assert.equal(
    c.snippet,
    [
      'route-map COSMOLET-STATIC permit 21',
      ' match ip address prefix-list COSMOLET-V4',
      ' match tag 1001',
      ' set community <the community of route class gold>',
    ].join('\n'),
  );
  const denied = evaluateMarks(
    withEntries('route-map COSMOLET-STATIC deny 5', ' match tag 1001'),
    'static',
    ['ipv4'],
    GOLD,
  );
  assert.match(denied.message, /route-map COSMOLET-STATIC denies it \(entry 5\)/);
  const ok = evaluateMarks(
    withEntries('route-map COSMOLET-STATIC permit 30', ' match tag 1001', ' set community 65000:101'),
    'static',
    ['ipv4'],
    GOLD,
  );
  assert.equal(ok.ok, true, ok.message);
});

test('redistribute without a route-map: no class gets its attributes; the snippet adds one', () => {
  const text = CONFIG.replace(/redistribute kernel route-map COSMOLET-KERNEL/g, 'redistribute kernel');
  const c = evaluateMarks(text, 'kernel', ['ipv4'], GOLD);
  assert.equal(c.ok, false);
  assert.match(c.message, /"redistribute kernel" has no route-map, so no class gets its attributes/);
  assert.match(
    c.snippet ?? '',
    /^route-map COSMOLET-EXPORT permit 1\n match ip address prefix-list COSMOLET-V4\n match metric 1001\n/,
  );
  assert.ok(
    (c.snippet ?? '').endsWith(
      [
        'route-map COSMOLET-EXPORT permit 100',
        'router bgp 65001',
        ' address-family ipv4 unicast',
        '  redistribute kernel route-map COSMOLET-EXPORT',
        ' exit-address-family',
      ].join('\n'),
    ),
    c.snippet,
  );
});

test('no route classes: the export check is what it was', () => {
  assert.deepEqual(
    evaluateExport(CONFIG, 'kernel', ['ipv4'], []),
    evaluateExport(CONFIG, 'kernel', ['ipv4']),
  );
  assert.equal(evaluateExport(CONFIG, 'kernel', ['ipv4']).ok, true);
});
