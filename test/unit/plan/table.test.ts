// Table-driven plan cases: input objects -> the full expected plan (routes and skipped).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointSlice, Node, Service } from '../../../src/model/objects.js';
import type { PlanSettings } from '../../../src/plan/types.js';
import {
  NODE,
  OTHER,
  ep,
  node,
  plan,
  readyBoth,
  routes,
  skips,
  slice,
  svc,
  type R,
  type S,
} from './helpers.js';

interface Case {
  name: string;
  services: Service[];
  slices?: EndpointSlice[];
  node?: Node | null;
  settings?: Partial<PlanSettings>;
  missingNode?: 'assume-schedulable' | 'advertise-nothing';
  routes?: R[];
  skipped?: S[];
}

const EXCL = 'node.kubernetes.io/exclude-from-external-load-balancers';
const PROXY = 'service.kubernetes.io/service-proxy-name';
const OPT_OUT = { 'cosmolet.io/advertise': 'false' };
const W = 'default/web';
const v4only = () => [slice('web', 'IPv4', [ep('10.244.0.5')])];
const v6only = () => [slice('web', 'IPv6', [ep('fd00:244::5')])];
const remote = () => readyBoth('web', 'default', OTHER);

const cases: Case[] = [
  // --- considered or not ---
  {
    name: 'v4 ClusterIP, ready endpoint',
    services: [svc({ clusterIPs: ['10.96.0.1'] })],
    slices: v4only(),
    routes: [['10.96.0.1/32', [W], ['clusterIP']]],
  },
  {
    name: 'v6 ClusterIP, ready endpoint',
    services: [svc({ clusterIPs: ['fd00::1'] })],
    slices: v6only(),
    routes: [['fd00::1/128', [W], ['clusterIP']]],
  },
  {
    name: 'dual-stack ClusterIP, both families ready',
    services: [svc({ clusterIPs: ['fd00::1', '10.96.0.1'] })],
    slices: readyBoth(),
    routes: [
      ['10.96.0.1/32', [W], ['clusterIP']],
      ['fd00::1/128', [W], ['clusterIP']],
    ],
  },
  {
    name: 'dual-stack ClusterIP, no slices at all',
    services: [svc({ clusterIPs: ['10.96.0.1', 'fd00::1'] })],
    skipped: [
      [W, '10.96.0.1', 'no-ready-endpoints'],
      [W, 'fd00::1', 'no-ready-endpoints'],
    ],
  },
  {
    name: 'namespace not watched: not listed',
    services: [svc({ ns: 'kube-system', clusterIPs: ['10.96.0.1'] })],
    settings: { namespaces: ['default'] },
  },
  {
    name: 'namespace watched among several',
    services: [svc({ clusterIPs: ['10.96.0.1'] })],
    slices: v4only(),
    settings: { namespaces: ['kube-system', 'default'] },
    routes: [['10.96.0.1/32', [W], ['clusterIP']]],
  },
  {
    name: 'label selector not matching: not listed',
    services: [svc({ clusterIPs: ['10.96.0.1'], labels: { app: 'web' } })],
    settings: { labelSelector: 'app=db' },
  },
  {
    name: 'set-based label selector matching',
    services: [svc({ clusterIPs: ['fd00::1'], labels: { app: 'web' } })],
    slices: v6only(),
    settings: { labelSelector: 'app in (db, web)' },
    routes: [['fd00::1/128', [W], ['clusterIP']]],
  },
  {
    name: 'set-based notin excludes',
    services: [svc({ clusterIPs: ['fd00::1'], labels: { app: 'web' } })],
    slices: v6only(),
    settings: { labelSelector: 'app notin (web)' },
  },
  {
    name: 'proxy-name label: not listed',
    services: [svc({ clusterIPs: ['10.96.0.1', 'fd00::1'], labels: { [PROXY]: 'foo' } })],
  },
  {
    name: 'headless: not listed',
    services: [svc({ clusterIP: 'None', clusterIPs: ['None'] })],
  },
  {
    name: 'ExternalName: not listed',
    services: [svc({ type: 'ExternalName', externalIPs: ['192.0.2.1'] })],
  },
  {
    name: 'NodePort is considered',
    services: [svc({ type: 'NodePort', clusterIPs: ['10.96.0.1'] })],
    slices: v4only(),
    routes: [['10.96.0.1/32', [W], ['clusterIP']]],
  },
  // --- opted out, kinds, CIDRs ---
  {
    name: 'opted-out dual-stack',
    services: [svc({ clusterIPs: ['10.96.0.1', 'fd00::1'], annotations: OPT_OUT })],
    slices: readyBoth(),
    skipped: [
      [W, '10.96.0.1', 'opted-out'],
      [W, 'fd00::1', 'opted-out'],
    ],
  },
  {
    name: 'clusterIP kind disabled, v6',
    services: [svc({ clusterIPs: ['fd00::1'] })],
    slices: v6only(),
    settings: { clusterIP: false },
    skipped: [[W, 'fd00::1', 'kind-disabled']],
  },
  {
    name: 'externalIPs disabled, annotation true does not help',
    services: [
      svc({
        clusterIPs: ['10.96.0.1'],
        externalIPs: ['192.0.2.1'],
        annotations: { 'cosmolet.io/advertise': 'true' },
      }),
    ],
    slices: v4only(),
    settings: { externalIPs: false },
    routes: [['10.96.0.1/32', [W], ['clusterIP']]],
    skipped: [[W, '192.0.2.1', 'kind-disabled']],
  },
  {
    name: 'loadBalancerIP disabled, v6 ingress',
    services: [svc({ type: 'LoadBalancer', clusterIPs: ['fd00::1'], ingress: ['2001:db8::1'] })],
    slices: v6only(),
    settings: { loadBalancerIP: false },
    routes: [['fd00::1/128', [W], ['clusterIP']]],
    skipped: [[W, '2001:db8::1', 'kind-disabled']],
  },
  {
    name: 'LB ingress inside allowed CIDRs (v4 and v6)',
    services: [svc({ type: 'LoadBalancer', clusterIPs: [], ingress: ['198.51.100.7', '2001:db8::7'] })],
    slices: readyBoth(),
    settings: { allowedCIDRs: ['198.51.100.0/24', '2001:db8::/64'] },
    routes: [
      ['198.51.100.7/32', [W], ['loadBalancerIP']],
      ['2001:db8::7/128', [W], ['loadBalancerIP']],
    ],
  },
  {
    name: 'LB ingress outside allowed CIDRs (v4 and v6)',
    services: [svc({ type: 'LoadBalancer', clusterIPs: [], ingress: ['198.51.101.7', '2001:db9::7'] })],
    slices: readyBoth(),
    settings: { allowedCIDRs: ['198.51.100.0/24', '2001:db8::/64'] },
    skipped: [
      [W, '198.51.101.7', 'outside-allowed-cidrs'],
      [W, '2001:db9::7', 'outside-allowed-cidrs'],
    ],
  },
  {
    name: 'empty allowedCIDRs: external IPs refused, ClusterIP advertised',
    services: [svc({ clusterIPs: ['10.96.0.1'], externalIPs: ['192.0.2.1'] })],
    slices: v4only(),
    settings: { allowedCIDRs: [] },
    routes: [['10.96.0.1/32', [W], ['clusterIP']]],
    skipped: [[W, '192.0.2.1', 'outside-allowed-cidrs']],
  },
  {
    name: 'ingress on a ClusterIP Service: not listed',
    services: [svc({ type: 'ClusterIP', clusterIPs: ['10.96.0.1'], ingress: ['198.51.100.7'] })],
    slices: v4only(),
    routes: [['10.96.0.1/32', [W], ['clusterIP']]],
  },
  // --- invalid and canonical IPs ---
  {
    name: 'IPv4 with leading zeros',
    services: [svc({ clusterIPs: ['10.096.0.1'] })],
    slices: v4only(),
    skipped: [[W, '10.096.0.1', 'invalid-ip']],
  },
  {
    name: 'IPv4-mapped IPv6',
    services: [svc({ externalIPs: ['::ffff:192.0.2.1'], clusterIPs: [] })],
    slices: readyBoth(),
    skipped: [[W, '::ffff:192.0.2.1', 'invalid-ip']],
  },
  {
    name: 'zone and prefix length, with kind disabled too (invalid-ip first)',
    services: [svc({ externalIPs: ['fe80::1%eth0', '192.0.2.1/32'], clusterIPs: [] })],
    settings: { externalIPs: false },
    skipped: [
      [W, '192.0.2.1/32', 'invalid-ip'],
      [W, 'fe80::1%eth0', 'invalid-ip'],
    ],
  },
  {
    name: 'upper-case uncompressed IPv6 with leading zeros in groups is canonicalised',
    services: [svc({ clusterIPs: ['2001:0DB8:0000:0000:0000:0000:0000:00A1'] })],
    slices: v6only(),
    routes: [['2001:db8::a1/128', [W], ['clusterIP']]],
  },
  {
    name: 'RFC 5952: the longest zero run is compressed, one zero group is not',
    services: [
      svc({
        clusterIPs: ['2001:db8:0:1:0:0:0:1', '2001:db8:0:0:1:0:0:1'],
        externalIPs: ['2001:db8:1:1:1:1:0:1'],
      }),
    ],
    slices: v6only(),
    routes: [
      ['2001:db8::1:0:0:1/128', [W], ['clusterIP']],
      ['2001:db8:0:1::1/128', [W], ['clusterIP']],
      ['2001:db8:1:1:1:1:0:1/128', [W], ['externalIP']],
    ],
  },
  // --- endpoints ---
  {
    name: 'ready false everywhere',
    services: [svc({ clusterIPs: ['10.96.0.1'] })],
    slices: [slice('web', 'IPv4', [ep('a', { ready: false }), ep('b', { ready: false, node: OTHER })])],
    skipped: [[W, '10.96.0.1', 'no-ready-endpoints']],
  },
  {
    name: 'terminating+serving fallback, v6',
    services: [svc({ clusterIPs: ['fd00::1'] })],
    slices: [slice('web', 'IPv6', [ep('a', { ready: false, serving: true, terminating: true })])],
    routes: [['fd00::1/128', [W], ['clusterIP']]],
  },
  {
    name: 'serving without terminating does not count',
    services: [svc({ clusterIPs: ['fd00::1'] })],
    slices: [slice('web', 'IPv6', [ep('a', { ready: false, serving: true })])],
    skipped: [[W, 'fd00::1', 'no-ready-endpoints']],
  },
  {
    name: 'IPv4 slices only: the v6 ClusterIP of a dual-stack Service is not healthy',
    services: [svc({ clusterIPs: ['10.96.0.1', 'fd00::1'] })],
    slices: v4only(),
    routes: [['10.96.0.1/32', [W], ['clusterIP']]],
    skipped: [[W, 'fd00::1', 'no-ready-endpoints']],
  },
  {
    name: 'FQDN slice ignored',
    services: [svc({ clusterIPs: ['10.96.0.1'] })],
    slices: [slice('web', 'FQDN', [ep('db.example.com')])],
    skipped: [[W, '10.96.0.1', 'no-ready-endpoints']],
  },
  {
    name: 'slice of the same name in another namespace ignored',
    services: [svc({ clusterIPs: ['10.96.0.1'] })],
    slices: [slice('web', 'IPv4', [ep('a')], 'other')],
    skipped: [[W, '10.96.0.1', 'no-ready-endpoints']],
  },
  {
    name: 'slices split: not-ready in one, ready in another',
    services: [svc({ clusterIPs: ['10.96.0.1'] })],
    slices: [
      slice('web', 'IPv4', [ep('a', { ready: false })]),
      slice('web', 'IPv4', [ep('b', { node: OTHER })]),
    ],
    routes: [['10.96.0.1/32', [W], ['clusterIP']]],
  },
  // --- traffic policies ---
  {
    name: 'internalTrafficPolicy Local, endpoint only elsewhere',
    services: [svc({ clusterIPs: ['10.96.0.1', 'fd00::1'], itp: 'Local' })],
    slices: remote(),
    skipped: [
      [W, '10.96.0.1', 'no-local-endpoints'],
      [W, 'fd00::1', 'no-local-endpoints'],
    ],
  },
  {
    name: 'internalTrafficPolicy Local, endpoint here',
    services: [svc({ clusterIPs: ['10.96.0.1', 'fd00::1'], itp: 'Local' })],
    slices: readyBoth(),
    routes: [
      ['10.96.0.1/32', [W], ['clusterIP']],
      ['fd00::1/128', [W], ['clusterIP']],
    ],
  },
  {
    name: 'internalTrafficPolicy Local, no endpoints at all: still no-local-endpoints',
    services: [svc({ clusterIPs: ['fd00::1'], itp: 'Local' })],
    skipped: [[W, 'fd00::1', 'no-local-endpoints']],
  },
  {
    name: 'externalTrafficPolicy Local does not scope the ClusterIP',
    services: [
      svc({ type: 'LoadBalancer', clusterIPs: ['10.96.0.1'], ingress: ['198.51.100.7'], etp: 'Local' }),
    ],
    slices: remote(),
    routes: [['10.96.0.1/32', [W], ['clusterIP']]],
    skipped: [[W, '198.51.100.7', 'no-local-endpoints']],
  },
  {
    name: 'internalTrafficPolicy Local does not scope external IPs',
    services: [svc({ clusterIPs: ['fd00::1'], externalIPs: ['2001:db8::e'], itp: 'Local' })],
    slices: remote(),
    routes: [['2001:db8::e/128', [W], ['externalIP']]],
    skipped: [[W, 'fd00::1', 'no-local-endpoints']],
  },
  {
    name: 'externalTrafficPolicy Local, external IP with a local endpoint',
    services: [svc({ clusterIPs: [], externalIPs: ['192.0.2.1'], etp: 'Local' })],
    slices: v4only(),
    routes: [['192.0.2.1/32', [W], ['externalIP']]],
  },
  // --- node ---
  {
    name: 'node excluded (empty label value)',
    services: [svc({ clusterIPs: ['10.96.0.1', 'fd00::1'] })],
    slices: readyBoth(),
    node: node({ labels: { [EXCL]: '' } }),
    skipped: [
      [W, '10.96.0.1', 'node-excluded'],
      [W, 'fd00::1', 'node-excluded'],
    ],
  },
  {
    name: 'node cordoned, withdrawOnCordon true',
    services: [svc({ clusterIPs: ['fd00::1'] })],
    slices: v6only(),
    node: node({ unschedulable: true }),
    skipped: [[W, 'fd00::1', 'node-unschedulable']],
  },
  {
    name: 'node cordoned, withdrawOnCordon false',
    services: [svc({ clusterIPs: ['fd00::1'] })],
    slices: v6only(),
    node: node({ unschedulable: true }),
    settings: { withdrawOnCordon: false },
    routes: [['fd00::1/128', [W], ['clusterIP']]],
  },
  {
    name: 'node cordoned but the IP is opted out: opted-out first',
    services: [svc({ clusterIPs: ['10.96.0.1'], annotations: OPT_OUT })],
    node: node({ unschedulable: true }),
    skipped: [[W, '10.96.0.1', 'opted-out']],
  },
  {
    name: 'missing node, render mode',
    services: [svc({ clusterIPs: ['10.96.0.1'] })],
    slices: v4only(),
    node: null,
    routes: [['10.96.0.1/32', [W], ['clusterIP']]],
  },
  {
    name: 'missing node, run mode',
    services: [svc({ clusterIPs: ['10.96.0.1'] })],
    slices: v4only(),
    node: null,
    missingNode: 'advertise-nothing',
    skipped: [[W, '10.96.0.1', 'node-missing']],
  },
  {
    name: 'node with unrelated labels and no spec is schedulable',
    services: [svc({ clusterIPs: ['10.96.0.1'] })],
    slices: v4only(),
    node: node({ labels: { 'node-role.kubernetes.io/worker': '', exclude: 'true' } }),
    routes: [['10.96.0.1/32', [W], ['clusterIP']]],
  },
  // --- shared prefixes and precedence ---
  {
    name: 'shared prefix: ClusterIP of one, external IP of another',
    services: [
      svc({ ns: 'z', name: 'b', clusterIPs: ['10.96.0.1'] }),
      svc({ ns: 'a', name: 'c', clusterIPs: [], externalIPs: ['10.96.0.1'] }),
    ],
    slices: [...readyBoth('b', 'z'), ...readyBoth('c', 'a')],
    routes: [['10.96.0.1/32', ['a/c', 'z/b'], ['clusterIP', 'externalIP']]],
  },
  {
    name: 'shared prefix: the unhealthy owner is not listed anywhere',
    services: [svc({ name: 'a', clusterIPs: ['fd00::1'] }), svc({ name: 'b', clusterIPs: ['fd00::1'] })],
    slices: [slice('b', 'IPv6', [ep('x')])],
    routes: [['fd00::1/128', ['default/b'], ['clusterIP']]],
  },
  {
    name: 'shared prefix: both unhealthy, both listed',
    services: [svc({ name: 'b', clusterIPs: ['fd00::1'] }), svc({ name: 'a', clusterIPs: ['FD00::1'] })],
    skipped: [
      ['default/a', 'fd00::1', 'no-ready-endpoints'],
      ['default/b', 'fd00::1', 'no-ready-endpoints'],
    ],
  },
  {
    name: 'one IP through clusterIP (healthy) and external (outside CIDRs): advertised as clusterIP only',
    services: [svc({ clusterIPs: ['10.96.0.1'], externalIPs: ['10.96.0.1'] })],
    slices: v4only(),
    settings: { allowedCIDRs: [] },
    routes: [['10.96.0.1/32', [W], ['clusterIP']]],
  },
  {
    name: 'one IP through two kinds, none qualifying: earliest reason',
    services: [svc({ clusterIPs: ['10.96.0.1'], externalIPs: ['10.96.0.1'] })],
    settings: { allowedCIDRs: [] },
    skipped: [[W, '10.96.0.1', 'outside-allowed-cidrs']],
  },
  {
    name: 'sort: numeric order within a family, IPv4 first, then invalid by text',
    services: [svc({ clusterIPs: [], externalIPs: ['fd00::10', 'x', '10.0.0.10', 'fd00::9', '10.0.0.9'] })],
    settings: { allowedCIDRs: [] },
    skipped: [
      [W, '10.0.0.9', 'outside-allowed-cidrs'],
      [W, '10.0.0.10', 'outside-allowed-cidrs'],
      [W, 'fd00::9', 'outside-allowed-cidrs'],
      [W, 'fd00::10', 'outside-allowed-cidrs'],
      [W, 'x', 'invalid-ip'],
    ],
  },
  {
    name: 'every reason in one plan',
    services: [
      svc({ name: 'a-invalid', clusterIPs: ['1.2.3.04'] }),
      svc({ name: 'b-optout', clusterIPs: ['10.96.0.2'], annotations: OPT_OUT }),
      svc({ name: 'c-lb', type: 'LoadBalancer', clusterIPs: ['10.96.0.3'], ingress: ['198.51.100.3'] }),
      svc({ name: 'd-ext', clusterIPs: ['10.96.0.4'], externalIPs: ['203.0.113.4'], itp: 'Local' }),
      svc({ name: 'e-ok', clusterIPs: ['fd00::5'] }),
    ],
    slices: [slice('d-ext', 'IPv4', [ep('a', { node: OTHER })]), slice('e-ok', 'IPv6', [ep('b')])],
    settings: { loadBalancerIP: false, allowedCIDRs: ['192.0.2.0/24'] },
    routes: [['fd00::5/128', ['default/e-ok'], ['clusterIP']]],
    skipped: [
      ['default/a-invalid', '1.2.3.04', 'invalid-ip'],
      ['default/b-optout', '10.96.0.2', 'opted-out'],
      ['default/c-lb', '10.96.0.3', 'no-ready-endpoints'],
      ['default/c-lb', '198.51.100.3', 'kind-disabled'],
      ['default/d-ext', '10.96.0.4', 'no-local-endpoints'],
      ['default/d-ext', '203.0.113.4', 'outside-allowed-cidrs'],
    ],
  },
];

test('the table has at least 40 cases', () => {
  assert.ok(cases.length >= 40, String(cases.length));
});

for (const c of cases) {
  test(`table: ${c.name}`, () => {
    const args: Parameters<typeof plan>[0] = { services: c.services, slices: c.slices ?? [] };
    if (c.node !== undefined) args.node = c.node;
    if (c.settings) args.settings = c.settings;
    if (c.missingNode) args.missingNode = c.missingNode;
    const p = plan(args);
    assert.equal(p.node, NODE);
    assert.deepEqual(routes(p), c.routes ?? [], 'routes');
    assert.deepEqual(skips(p), c.skipped ?? [], 'skipped');
    for (const r of p.routes) assert.equal(r.family, r.prefix.includes(':') ? 'ipv6' : 'ipv4');
  });
}
