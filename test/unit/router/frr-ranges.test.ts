// The ranges a full read of bgpd's table asks for: every host prefix covered, by disjoint canonical
// ranges of at most `max` of them each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, parseCIDR, parseIP, type CIDR } from '../../../src/net/ip.js';
import { coveringRanges } from '../../../src/router/frr/ranges.js';

function cidr(text: string): CIDR {
  const c = parseCIDR(text);
  if (typeof c === 'string') assert.fail(`${text}: ${c}`);
  return c;
}

function check(prefixes: string[], max: number, ranges: string[]): void {
  const parsed = ranges.map(cidr);
  for (const [i, r] of ranges.entries()) assert.equal(parsed[i]?.text, r, 'canonical');
  for (const p of prefixes) {
    const ip = parseIP(p.split('/')[0] ?? '');
    assert.ok(ip);
    const holders = parsed.filter((c) => c.family === ip.family && cidrContains(c, ip));
    assert.equal(holders.length, 1, `${p} in exactly one range`);
  }
  for (const c of parsed) {
    const inside = new Set(
      prefixes.filter((p) => {
        const ip = parseIP(p.split('/')[0] ?? '');
        return ip !== undefined && ip.family === c.family && cidrContains(c, ip);
      }),
    );
    assert.ok(inside.size <= max || inside.size === 1, `${c.text} holds ${inside.size}`);
  }
}

void test('ranges cover every prefix, disjoint, at most max each, IPv4 first', async () => {
  const prefixes: string[] = [];
  // Canonical, as the ledger holds them (a text the strict parser refuses is not a route of cosmolet's).
  const v6 = (i: number): string =>
    `${parseIP(`fd00:10:96::${(((i * 31) % 65535) + 1).toString(16)}`)?.text ?? ''}/128`;
  for (let i = 0; i < 5000; i++) prefixes.push(`10.96.${(i * 7) % 256}.${(i * 13) % 256}/32`, v6(i));
  prefixes.push(
    '192.0.2.1/32',
    '255.255.255.255/32',
    '0.0.0.0/32',
    '::/128',
    'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128',
  );
  for (const max of [1, 7, 256, 1024, 100_000]) {
    let pauses = 0;
    const ranges = await coveringRanges(prefixes, max, () => {
      pauses++;
      return Promise.resolve();
    });
    check(prefixes, max, ranges);
    assert.ok(pauses >= 2, 'pauses between slices of work');
    const families = ranges.map((r) => (r.includes(':') ? 6 : 4));
    assert.deepEqual(families, [...families].sort(), 'IPv4 first');
  }
  assert.deepEqual(await coveringRanges(prefixes, 100_000), ['0.0.0.0/0', '::/0']);
});

void test('ranges: examples, one address repeated, nothing', async () => {
  const dense = Array.from({ length: 2048 }, (_, i) => `10.96.${i >> 8}.${i & 255}/32`);
  assert.deepEqual(await coveringRanges(dense, 1024), ['10.96.0.0/22', '10.96.4.0/22']);
  assert.deepEqual(await coveringRanges(['fd00:10:96::a/128', 'fd00:10:96::b/128'], 1), [
    'fd00:10:96::a/128',
    'fd00:10:96::b/128',
  ]);
  assert.deepEqual(await coveringRanges(['fd00:10:96::a/128', 'fd00:10:96::b/128'], 2), [
    'fd00:10:96::a/127',
  ]);
  assert.deepEqual(await coveringRanges(['10.0.0.1/32', '10.0.0.1/32'], 1), ['10.0.0.1/32']);
  assert.deepEqual(await coveringRanges([], 10), []);
});
