import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { evaluateAsn, evaluateExport } from '../../../src/router/frr/checks.js';
import {
  parseBgpSummaryAndPrefixes,
  parseBgpTableStamp,
  parseBgpRoutes,
  parseBgpSummary,
  parseRouterBgp,
  parseStaticRoutes,
  scanBgpRoutes,
  splitJsonObjects,
} from '../../../src/router/frr/parse.js';
import { parseIpRoutes } from '../../../src/router/kernel.js';
import { parseGobgpRib } from '@cosmolet/lab/fabric/gobgp';
import { CosmoletError } from '../../../src/errors.js';

const BOTH = ['ipv4', 'ipv6'] as const;

const fixture = (name: string): string =>
  readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), 'utf8');
const json = (name: string): unknown => JSON.parse(fixture(name)) as unknown;

void test('show bgp ipv4/ipv6 unicast json (FRR 8.4.4, node and leaf)', () => {
  const node = parseBgpRoutes(json('frr84-node-bgp-ipv4.json'));
  assert.deepEqual([...node.keys()].sort(), ['10.96.0.10/32', '10.96.0.11/32']);
  assert.deepEqual(node.get('10.96.0.10/32'), { valid: true, best: true });
  const leaf6 = parseBgpRoutes(json('frr84-leaf-bgp-ipv6.json'));
  assert.deepEqual([...leaf6.keys()].sort(), ['fd00:10:96::a/128', 'fd00:10:96::b/128']);
  const leaf4 = parseBgpRoutes(json('frr84-leaf-bgp-ipv4.json'));
  assert.equal(leaf4.size, 2);
  // Several tables merge into one view.
  const both = parseBgpRoutes(
    json('frr84-node-bgp-ipv6.json'),
    parseBgpRoutes(json('frr84-node-bgp-ipv4.json')),
  );
  assert.equal(both.size, 4);
});

void test('show bgp json: empty instance, 9.1+ "json detail" bestpath object, invalid paths', () => {
  assert.equal(parseBgpRoutes({}).size, 0);
  const v = parseBgpRoutes({
    routes: {
      '10.96.0.1/32': [{ valid: true, bestpath: { overall: true, selectionReason: 'First path received' } }],
      '10.96.0.2/32': [{ valid: false }],
      'fd00:10:96::1/128': { paths: [{ valid: true, bestpath: true }] },
    },
  });
  assert.deepEqual(v.get('10.96.0.1/32'), { valid: true, best: true });
  assert.deepEqual(v.get('10.96.0.2/32'), { valid: false, best: false });
  assert.deepEqual(v.get('fd00:10:96::1/128'), { valid: true, best: true });
  assert.throws(() => parseBgpRoutes({ routes: { 'not a prefix': [] } }), CosmoletError);
  assert.throws(() => parseBgpRoutes([]), CosmoletError);
});

void test('show bgp summary json: unnumbered peer keyed by interface, numbered peers, both families', () => {
  const peers = parseBgpSummary(json('frr84-node-bgp-summary.json'));
  const swp1v4 = peers.find((p) => p.name === 'swp1' && p.family === 'ipv4');
  assert.ok(swp1v4);
  assert.equal(swp1v4.interface, 'swp1');
  assert.equal(swp1v4.state, 'Established');
  assert.equal(swp1v4.established, true);
  assert.equal(swp1v4.remoteAs, 65101);
  assert.ok(swp1v4.uptimeMs > 0);
  const ext6 = peers.find((p) => p.name === 'fd00:254:2::2');
  assert.ok(ext6);
  assert.equal(ext6.family, 'ipv6');
  assert.equal(ext6.interface, undefined);
  assert.equal(typeof ext6.prefixesSent, 'number');
  assert.deepEqual(peers.map((p) => `${p.family}:${p.name}`).sort(), [
    'ipv4:10.254.2.2',
    'ipv4:swp1',
    'ipv6:fd00:254:2::2',
    'ipv6:swp1',
  ]);
});

void test('router bgp block, export and ASN checks from a real running-config', () => {
  const text = fixture('frr84-node-running-config.txt');
  const bgp = parseRouterBgp(text);
  assert.ok(bgp);
  assert.equal(bgp.asn, 65001);
  assert.ok(
    bgp.addressFamilies.get('ipv6 unicast')?.includes('redistribute kernel route-map COSMOLET-KERNEL'),
  );
  assert.equal(evaluateExport(text, 'kernel', BOTH).ok, true);
  assert.equal(evaluateExport(text, 'static', BOTH).ok, true);
  assert.equal(evaluateAsn(text, 65001).ok, true);
  const wrong = evaluateAsn(text, 65002);
  assert.equal(wrong.ok, false);
  assert.match(wrong.message, /router bgp 65001/);
});

void test('export check names the missing address family and gives the snippet', () => {
  const text = fixture('frr84-node-running-config.txt').replace(
    / address-family ipv6 unicast\n {2}redistribute kernel route-map COSMOLET-KERNEL\n/,
    ' address-family ipv6 unicast\n',
  );
  const c = evaluateExport(text, 'kernel', BOTH);
  assert.equal(c.ok, false);
  assert.match(c.message, /address-family ipv6 unicast/);
  assert.doesNotMatch(c.message, /ipv4/);
  assert.match(c.snippet ?? '', /router bgp 65001\n address-family ipv6 unicast\n {2}redistribute kernel/);
  const none = evaluateExport('frr version 8.4.4\n!\nend\n', 'static', []);
  assert.match(none.message, /no "router bgp"/);
  assert.equal(none.ok, false);
  assert.match(none.snippet ?? '', /redistribute static/);
  // A VRF instance is not the default one.
  assert.equal(
    parseRouterBgp('router bgp 65001 vrf red\n address-family ipv4 unicast\n  redistribute kernel\n'),
    undefined,
  );
  assert.equal(evaluateAsn('', 65001).ok, false);
});

void test('static routes from staticd running-config: tags, no tag, vrf blocks ignored', () => {
  const routes = parseStaticRoutes(fixture('frr84-node-staticd-running-config.txt'));
  assert.deepEqual(
    routes.map((r) => [r.prefix, r.tag]),
    [
      ['10.96.0.11/32', 7300],
      ['10.96.0.12/32', undefined],
      ['fd00:10:96::b/128', 7300],
    ],
  );
  assert.equal(routes[0]?.line, 'ip route 10.96.0.11/32 blackhole tag 7300');
  const vrf = parseStaticRoutes('vrf red\n ip route 10.96.0.1/32 blackhole tag 7300\nexit-vrf\n');
  assert.equal(vrf.length, 0);
  const other = parseStaticRoutes('ip route 10.96.0.1/32 10.0.0.1 tag 73000 200\n');
  assert.deepEqual(
    other.map((r) => r.tag),
    [73000],
  );
});

void test('ip -json route show: host routes without length, IPv6', () => {
  assert.deepEqual(
    parseIpRoutes(fixture('ip-json-v4-proto73.json')).map((r) => r.prefix),
    ['10.96.0.10/32'],
  );
  assert.deepEqual(
    parseIpRoutes(fixture('ip-json-v6-proto73.json')).map((r) => [r.prefix, r.type]),
    [['fd00:10:96::a/128', 'blackhole']],
  );
  assert.deepEqual(parseIpRoutes(''), []);
  assert.deepEqual(
    parseIpRoutes('[{"type":"blackhole","dst":"10.96.0.0/24","protocol":"74","flags":[]}]').map(
      (r) => r.protocol,
    ),
    ['74'],
  );
  assert.throws(() => parseIpRoutes('nope'), CosmoletError);
});

void test('gobgp global rib -j (GoBGP 3.10)', () => {
  assert.deepEqual(parseGobgpRib(fixture('gobgp310-rib-ipv4.json')).sort(), [
    '10.96.0.10/32',
    '10.96.0.11/32',
  ]);
  assert.deepEqual(parseGobgpRib(fixture('gobgp310-rib-ipv6.json')).sort(), [
    'fd00:10:96::a/128',
    'fd00:10:96::b/128',
  ]);
  assert.deepEqual(parseGobgpRib(''), []);
  assert.deepEqual(parseGobgpRib('null'), []);
});

void test('the summary and per-prefix bgpd answers (FRR 8.4.4, in one vtysh call, one prefix not held)', () => {
  const summary = readFileSync(new URL('./fixtures/frr84-node-bgp-summary.json', import.meta.url), 'utf8');
  const prefixes = readFileSync(new URL('./fixtures/frr84-bgp-prefixes.txt', import.meta.url), 'utf8');
  const text = `${summary}\n${prefixes}`;
  const asked = ['10.96.0.2/32', '10.96.0.99/32', 'fd00:10:96::a/128'];
  const read = parseBgpSummaryAndPrefixes(asked, text);
  assert.equal(parseBgpTableStamp(read.summary), 'ipv4:2/3,ipv6:2/3');
  const view = read.routes;
  assert.deepEqual(view.get('10.96.0.2/32'), { valid: true, best: true });
  assert.deepEqual(view.get('10.96.0.99/32'), { valid: false, best: false });
  assert.deepEqual(view.get('fd00:10:96::a/128'), { valid: true, best: true });
  assert.throws(() => parseBgpSummaryAndPrefixes(asked.slice(0, 2), text), /3 answers for 2 prefixes/);
  assert.throws(() => parseBgpSummaryAndPrefixes(['10.96.0.3/32', ...asked.slice(1)], text), /answered for/);
  assert.throws(
    () => parseBgpSummaryAndPrefixes(asked, `${summary}\n${prefixes.slice(0, 300)}`),
    /truncated/,
  );
  assert.throws(() => parseBgpSummaryAndPrefixes(asked, `nope\n${prefixes}`), /not JSON|truncated|answers/);
  assert.deepEqual(splitJsonObjects('{"a":"}{"}\n{\n}\n'), ['{"a":"}{"}', '{\n}']);
});

/** The node fixture with IPv6 unicast not redistributing: an IPv4-only fabric. */
function ipv4Only(): string {
  const text = fixture('frr84-node-running-config.txt').replace(
    / address-family ipv6 unicast\n {2}redistribute kernel route-map COSMOLET-KERNEL\n/,
    ' address-family ipv6 unicast\n',
  );
  assert.notEqual(text, fixture('frr84-node-running-config.txt'));
  return text;
}

void test('regression: an IPv4-only FRR never became ready; the export is required only per family in use', () => {
  const text = ipv4Only();
  const v4 = evaluateExport(text, 'kernel', ['ipv4']);
  assert.equal(v4.ok, true, v4.message);
  // Still says what is missing, and what to add before the first IPv6 prefix.
  assert.match(v4.message, /address-family ipv6 unicast/);
  assert.match(v4.snippet ?? '', /router bgp 65001\n address-family ipv6 unicast\n {2}redistribute kernel/);
  assert.doesNotMatch(v4.snippet ?? '', /address-family ipv4/);
  // No prefix yet: one exporting family shows FRR is set up.
  assert.equal(evaluateExport(text, 'kernel', []).ok, true);
  // An IPv6 prefix appears: now IPv6 unicast is required, named with the snippet.
  for (const needed of [['ipv6'], ['ipv4', 'ipv6'], ['ipv6', 'ipv4', 'ipv6']] as const) {
    const c = evaluateExport(text, 'kernel', needed);
    assert.equal(c.ok, false, needed.join());
    assert.match(c.message, /address-family ipv6 unicast.*IPv6 prefixes to advertise/);
    assert.doesNotMatch(c.message, /ipv4/);
    assert.match(c.snippet ?? '', /router bgp 65001\n address-family ipv6 unicast\n {2}redistribute kernel/);
  }
});

void test('the export check: IPv6-only, none at all, and the full config', () => {
  const v6only = fixture('frr84-node-running-config.txt').replace(
    / address-family ipv4 unicast\n((?: {2}.*\n)*?) {2}redistribute kernel route-map COSMOLET-KERNEL\n/,
    ' address-family ipv4 unicast\n$1',
  );
  assert.notEqual(v6only, fixture('frr84-node-running-config.txt'));
  assert.equal(evaluateExport(v6only, 'kernel', ['ipv6']).ok, true);
  const c = evaluateExport(v6only, 'kernel', ['ipv4', 'ipv6']);
  assert.equal(c.ok, false);
  assert.match(c.message, /address-family ipv4 unicast.*IPv4 prefixes/);
  // router bgp without any redistribute: not ready even with nothing to advertise yet.
  const none = evaluateExport(
    'router bgp 65001\n address-family ipv4 unicast\n exit-address-family\n',
    'kernel',
    [],
  );
  assert.equal(none.ok, false);
  assert.match(none.message, /ipv4 unicast and address-family ipv6 unicast/);
  const full = evaluateExport(fixture('frr84-node-running-config.txt'), 'kernel', []);
  assert.equal(full.ok, true);
  assert.equal(full.snippet, undefined);
  assert.match(full.message, /IPv4 and IPv6 unicast/);
});

void test('the table scanner gives what JSON.parse + parseBgpRoutes give, without the object graph', () => {
  for (const f of [
    'frr84-node-bgp-ipv4.json',
    'frr84-node-bgp-ipv6.json',
    'frr84-leaf-bgp-ipv4.json',
    'frr84-leaf-bgp-ipv6.json',
  ]) {
    const text = fixture(f);
    assert.deepEqual(scanBgpRoutes(text), parseBgpRoutes(JSON.parse(text)), f);
    // FRR prints it compact: the same answer without any white space.
    const compact = JSON.stringify(JSON.parse(text));
    assert.deepEqual(scanBgpRoutes(compact), parseBgpRoutes(JSON.parse(compact)), `${f} compact`);
  }
  const detail = JSON.stringify({
    vrfName: 'routes',
    routes: {
      '10.0.0.1/32': { paths: [{ valid: true, bestpath: { overall: true, selectionReason: 'x' } }] },
      '10.0.0.2/32': [{ valid: true, bestpath: false, nexthops: [{ ip: '0.0.0.0', used: true }] }],
      'fd00::1/128': [{ valid: false }, { valid: true, bestpath: true, note: 'a "}{" string' }],
    },
  });
  assert.deepEqual(scanBgpRoutes(detail), parseBgpRoutes(JSON.parse(detail)));
  assert.equal(scanBgpRoutes('{}').size, 0);
  assert.throws(() => scanBgpRoutes('{"routes":{"not a prefix":[]}}'), /bad prefix/);
  assert.throws(() => scanBgpRoutes('{"routes":{"10.0.0.1/32":[{"valid":true'), /truncated/);
  assert.throws(() => scanBgpRoutes('garbage'), /not an object/);
});

void test('scanBgpRoutes: a key among the known canonical prefixes is taken as it is, any other parsed', () => {
  const text = JSON.stringify({
    routes: {
      '10.96.0.10/32': [{ valid: true, bestpath: true }],
      'fd00:10:96:0:0:0:0:a/128': [{ valid: true }],
    },
  });
  let asked = 0;
  const known = {
    has: (p: string) => {
      asked++;
      return p === '10.96.0.10/32';
    },
  };
  const view = scanBgpRoutes(text, new Map(), known);
  assert.equal(asked, 2);
  assert.deepEqual([...view.keys()], ['10.96.0.10/32', 'fd00:10:96::a/128']);
  assert.throws(() => scanBgpRoutes('{"routes":{"10.96.0.300/32":[]}}', new Map(), known), /bad prefix/);
});
