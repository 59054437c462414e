// The lab's generated configs agree with cosmolet's own export check, and carry the options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  gobgpConfig,
  LAB_ROUTE_CLASSES,
  leafConfig,
  nodeAddressing,
  nodeConfig,
} from '@cosmolet/lab/fabric/config';
import { DEFAULT_ADDRESSING } from '@cosmolet/lab/fabric/options';
import { evaluateAsn, evaluateExport } from '../../../src/router/frr/checks.js';

const BOTH = ['ipv4', 'ipv6'] as const;

void test('node config exports kernel and static routes through the service prefix-lists', () => {
  const text = nodeConfig(DEFAULT_ADDRESSING);
  assert.equal(evaluateExport(text, 'kernel', BOTH).ok, true);
  assert.equal(evaluateExport(text, 'static', BOTH).ok, true);
  assert.equal(evaluateAsn(text, DEFAULT_ADDRESSING.nodeAsn).ok, true);
  assert.match(text, /ip prefix-list COSMOLET-V4 seq 5 permit 10\.96\.0\.0\/12 ge 32/);
  assert.match(text, /ipv6 prefix-list COSMOLET-V6 seq 5 permit fd00:10:96::\/108 ge 128/);
  assert.match(text, /match tag 7300/);
  // ebgp-requires-policy: every neighbor has route-maps in both directions.
  for (const n of ['swp1', nodeAddressing(0).extPeerV4, nodeAddressing(0).extPeerV6]) {
    assert.match(text, new RegExp(`neighbor ${n} route-map PERMIT-ALL out`));
  }
});

void test('node config options: only kernel export, other ranges, tag and ASN', () => {
  const text = nodeConfig({
    ...DEFAULT_ADDRESSING,
    exportStatic: false,
    staticTag: 42,
    nodeAsn: 64512,
    serviceRangesV4: ['10.0.0.0/16'],
  });
  assert.equal(evaluateExport(text, 'kernel', BOTH).ok, true);
  const s = evaluateExport(text, 'static', BOTH);
  assert.equal(s.ok, false);
  assert.match(s.message, /router bgp 64512/);
  assert.match(text, /permit 10\.0\.0\.0\/16 ge 32/);
  assert.doesNotMatch(text, /10\.96\.0\.0/);
});

void test('leaf and GoBGP configs', () => {
  assert.match(leafConfig(DEFAULT_ADDRESSING), /neighbor swp1 interface remote-as external/);
  const g = gobgpConfig(DEFAULT_ADDRESSING);
  assert.match(g, /neighbor-address = "10\.254\.2\.1"/);
  assert.match(g, /afi-safi-name = "ipv6-unicast"/);
  assert.match(g, /as = 65201/);
});

void test('three nodes: one ASN, ECMP at the leaf, GoBGP peers with every node, own networks', () => {
  const a = {
    ...DEFAULT_ADDRESSING,
    nodeCount: 3,
    leafNetworks: ['10.255.0.2/32', 'fd00:255::2/128'],
    nodeNetworks: [['10.255.1.1/32'], ['10.255.1.2/32', 'fd00:10:244:2::/64'], []],
    defaultToNodes: true,
  };
  const leaf = leafConfig(a);
  for (const p of ['swp1', 'swp2', 'swp3']) {
    assert.match(leaf, new RegExp(`neighbor ${p} interface remote-as external`));
    assert.match(leaf, new RegExp(`neighbor ${p} default-originate`));
  }
  assert.equal(leaf.match(/maximum-paths 8/g)?.length, 2);
  assert.match(leaf, /address-family ipv4 unicast\n {2}network 10\.255\.0\.2\/32/);
  const n2 = nodeConfig(a, 1);
  assert.match(n2, /hostname node2/);
  assert.match(n2, /bgp router-id 10\.255\.1\.2/);
  assert.match(n2, /router bgp 65001/);
  assert.match(n2, /neighbor 10\.254\.2\.6 remote-as 65201/);
  assert.match(n2, /neighbor fd00:254:2:1::2 remote-as 65201/);
  assert.match(n2, /network fd00:10:244:2::\/64/);
  assert.equal(evaluateExport(n2, 'kernel', ['ipv4', 'ipv6']).ok, true);
  const g = gobgpConfig(a);
  for (const addr of ['10.254.2.1', '10.254.2.5', '10.254.2.9', 'fd00:254:2:2::1'])
    assert.match(g, new RegExp(`neighbor-address = "${addr}"`));
  assert.match(g, /local-address-list = \["10\.254\.2\.2", "fd00:254:2::2", "10\.254\.2\.6"/);
});

void test("node config exports the lab's route classes: cosmolet's readiness check agrees for both originations", () => {
  const text = nodeConfig(DEFAULT_ADDRESSING);
  const classes = LAB_ROUTE_CLASSES.map((c) => ({ name: c.name, mark: c.mark }));
  for (const origination of ['kernel', 'static'] as const) {
    const c = evaluateExport(text, origination, BOTH, classes);
    assert.equal(c.ok, true, c.message);
  }
  // A class the node's FRR does not know is reported.
  assert.equal(evaluateExport(text, 'kernel', BOTH, [...classes, { name: 'bronze', mark: 1003 }]).ok, false);
  assert.match(
    text,
    /route-map COSMOLET-KERNEL permit 8\n match ip address prefix-list COSMOLET-V4\n match metric 1001\n set community 65000:101\n set large-community 65001:1:101\n/,
  );
});
