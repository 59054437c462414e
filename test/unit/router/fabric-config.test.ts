// The lab's generated configs agree with cosmolet's own export check, and carry the options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gobgpConfig, leafConfig, nodeConfig } from '../../../src/lab/fabric-config.js';
import { DEFAULT_ADDRESSING } from '../../../src/lab/fabric.js';
import { evaluateAsn, evaluateExport } from '../../../src/router/frr.js';

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
  for (const n of ['swp1', DEFAULT_ADDRESSING.extNodeV4, DEFAULT_ADDRESSING.extNodeV6]) {
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
