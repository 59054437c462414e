// The decision rules of docs/decisions.md, one describe block per rule, each with positive and negative
// cases for IPv4, IPv6 and dual-stack Services.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointSlice, Service } from '../../../src/model/objects.js';
import { computePlan } from '../../../src/plan/plan.js';
import {
  ALL,
  DEFAULTS,
  NODE,
  OTHER,
  ep,
  fate,
  node,
  plan,
  readyBoth,
  routes,
  skips,
  slice,
  svc,
} from './helpers.js';

const V4 = '10.96.0.10';
const V6 = 'fd00:96::10';
const DUAL = [V4, V6];
const W = 'default/web';

describe('rule 1: which Services are considered', () => {
  test('a ClusterIP Service with ready endpoints is advertised (v4, v6, dual)', () => {
    for (const ips of [[V4], [V6], DUAL, [V6, V4]]) {
      const p = plan({ services: [svc({ clusterIPs: ips })], slices: readyBoth() });
      assert.deepEqual(
        p.routes.map((r) => r.prefix),
        ips
          .map((ip) => (ip.includes(':') ? `${ip}/128` : `${ip}/32`))
          .sort((a) => (a.includes(':') ? 1 : -1)),
      );
      assert.deepEqual(p.skipped, []);
    }
  });

  test('NodePort and LoadBalancer types are considered, type absent means ClusterIP', () => {
    for (const type of ['NodePort', 'LoadBalancer']) {
      const p = plan({ services: [svc({ type, clusterIPs: DUAL })], slices: readyBoth() });
      assert.equal(p.routes.length, 2, type);
    }
    const s = svc({ clusterIPs: [V4] });
    delete s.spec?.type;
    assert.equal(plan({ services: [s], slices: readyBoth() }).routes.length, 1);
  });

  test('ExternalName and unknown types are not considered (not listed)', () => {
    for (const type of ['ExternalName', 'Foo', '']) {
      const p = plan({
        services: [svc({ type, clusterIPs: DUAL, externalIPs: ['192.0.2.1'] })],
        slices: readyBoth(),
      });
      assert.deepEqual(p, { node: NODE, routes: [], skipped: [] }, type);
    }
  });

  test('headless Services (clusterIP None) are not considered, even with external IPs', () => {
    const a = svc({ clusterIP: 'None', externalIPs: ['192.0.2.1'] });
    const b = svc({ name: 'b', clusterIPs: ['None'] });
    const p = plan({ services: [a, b], slices: [...readyBoth(), ...readyBoth('b')] });
    assert.deepEqual(p, { node: NODE, routes: [], skipped: [] });
  });

  test('namespace list: only watched namespaces, empty list = all', () => {
    const services = [svc({ ns: 'a', clusterIPs: [V4] }), svc({ ns: 'b', clusterIPs: [V6] })];
    const slices = [...readyBoth('web', 'a'), ...readyBoth('web', 'b')];
    assert.deepEqual(routes(plan({ services, slices, settings: { namespaces: ['b'] } })), [
      [`${V6}/128`, ['b/web'], ['clusterIP']],
    ]);
    assert.equal(plan({ services, slices, settings: { namespaces: [] } }).routes.length, 2);
    // Not watched = not listed even when it would be skipped.
    const p = plan({ services, slices: [], settings: { namespaces: ['a'] } });
    assert.deepEqual(skips(p), [['a/web', V4, 'no-ready-endpoints']]);
  });

  test('labelSelector: equality, inequality, exists, set-based', () => {
    const services = [
      svc({ name: 'a', clusterIPs: ['10.0.0.1'], labels: { tier: 'front', env: 'prod' } }),
      svc({ name: 'b', clusterIPs: ['10.0.0.2'], labels: { tier: 'back' } }),
      svc({ name: 'c', clusterIPs: ['fd00::3'] }),
    ];
    const slices = [...readyBoth('a'), ...readyBoth('b'), ...readyBoth('c')];
    const names = (sel: string) =>
      plan({ services, slices, settings: { labelSelector: sel } }).routes.flatMap((r) => r.services);
    assert.deepEqual(names(''), ['default/a', 'default/b', 'default/c']);
    assert.deepEqual(names('tier=front'), ['default/a']);
    assert.deepEqual(names('tier==back'), ['default/b']);
    assert.deepEqual(names('tier!=front'), ['default/b', 'default/c']);
    assert.deepEqual(names('tier'), ['default/a', 'default/b']);
    assert.deepEqual(names('!tier'), ['default/c']);
    assert.deepEqual(names('tier in (front,back)'), ['default/a', 'default/b']);
    assert.deepEqual(names('tier notin (front)'), ['default/b', 'default/c']);
    assert.deepEqual(names('tier in (front, back),env=prod'), ['default/a']);
    // Not matching = not listed.
    assert.deepEqual(plan({ services, slices: [], settings: { labelSelector: 'tier=x' } }).skipped, []);
  });

  test('the service-proxy-name label (any value) excludes the Service; other labels do not', () => {
    const s = (v: string) =>
      svc({ clusterIPs: DUAL, labels: { 'service.kubernetes.io/service-proxy-name': v } });
    assert.deepEqual(plan({ services: [s('other')], slices: readyBoth() }).routes, []);
    assert.deepEqual(plan({ services: [s('')], slices: [] }).skipped, []);
    const ok = svc({ clusterIPs: DUAL, labels: { 'service.kubernetes.io/headless': '' } });
    assert.equal(plan({ services: [ok], slices: readyBoth() }).routes.length, 2);
  });

  test('opted-out: annotation "false" skips every IP of every kind; other values do not', () => {
    const s = svc({
      type: 'LoadBalancer',
      clusterIPs: DUAL,
      externalIPs: ['192.0.2.1'],
      ingress: ['2001:db8::1'],
      annotations: { 'cosmolet.io/advertise': 'false' },
    });
    assert.deepEqual(skips(plan({ services: [s], slices: readyBoth() })), [
      ['default/web', V4, 'opted-out'],
      ['default/web', '192.0.2.1', 'opted-out'],
      ['default/web', '2001:db8::1', 'opted-out'],
      ['default/web', V6, 'opted-out'],
    ]);
    for (const v of ['true', 'False', 'no', '']) {
      const t = svc({ clusterIPs: DUAL, annotations: { 'cosmolet.io/advertise': v } });
      assert.equal(plan({ services: [t], slices: readyBoth() }).routes.length, 2, v);
    }
  });

  test('opted-out comes before kind-disabled and after invalid-ip', () => {
    const s = svc({ clusterIPs: [V4, '010.0.0.1'], annotations: { 'cosmolet.io/advertise': 'false' } });
    assert.deepEqual(skips(plan({ services: [s], settings: { clusterIP: false } })), [
      ['default/web', V4, 'opted-out'],
      ['default/web', '010.0.0.1', 'invalid-ip'],
    ]);
  });
});

describe('rule 2: IP kinds, switches, allowed CIDRs, canonical form', () => {
  const lb = (o: Partial<Parameters<typeof svc>[0]> = {}) =>
    svc({
      type: 'LoadBalancer',
      clusterIPs: DUAL,
      externalIPs: ['192.0.2.1', '2001:db8::e'],
      ingress: ['198.51.100.1', '2001:db8::1'],
      ...o,
    });

  test('every kind on: clusterIPs, externalIPs and ingress IPs, both families', () => {
    assert.deepEqual(routes(plan({ services: [lb()], slices: readyBoth() })), [
      [`${V4}/32`, ['default/web'], ['clusterIP']],
      ['192.0.2.1/32', ['default/web'], ['externalIP']],
      ['198.51.100.1/32', ['default/web'], ['loadBalancerIP']],
      ['2001:db8::1/128', ['default/web'], ['loadBalancerIP']],
      ['2001:db8::e/128', ['default/web'], ['externalIP']],
      [`${V6}/128`, ['default/web'], ['clusterIP']],
    ]);
  });

  test('kind-disabled: each switch off skips its kind only', () => {
    const p1 = plan({ services: [lb()], slices: readyBoth(), settings: { clusterIP: false } });
    assert.equal(fate(p1, 'default/web', V4), 'kind-disabled');
    assert.equal(fate(p1, 'default/web', V6), 'kind-disabled');
    assert.equal(fate(p1, 'default/web', '192.0.2.1'), 'advertised');
    const p2 = plan({ services: [lb()], slices: readyBoth(), settings: { externalIPs: false } });
    assert.equal(fate(p2, 'default/web', '192.0.2.1'), 'kind-disabled');
    assert.equal(fate(p2, 'default/web', '2001:db8::e'), 'kind-disabled');
    assert.equal(fate(p2, 'default/web', '198.51.100.1'), 'advertised');
    const p3 = plan({ services: [lb()], slices: readyBoth(), settings: { loadBalancerIP: false } });
    assert.equal(fate(p3, 'default/web', '198.51.100.1'), 'kind-disabled');
    assert.equal(fate(p3, 'default/web', '2001:db8::1'), 'kind-disabled');
    assert.equal(fate(p3, 'default/web', V4), 'advertised');
  });

  test('the defaults: only ClusterIPs, LB and external IPs kind-disabled', () => {
    const p = computePlan({
      services: [lb()],
      endpointSlices: readyBoth(),
      node: node(),
      nodeName: NODE,
      settings: DEFAULTS,
      missingNode: 'assume-schedulable',
    });
    assert.deepEqual(
      p.routes.map((r) => r.prefix),
      [`${V4}/32`, `${V6}/128`],
    );
    assert.deepEqual(
      p.skipped.map((s) => s.reason),
      ['kind-disabled', 'kind-disabled', 'kind-disabled', 'kind-disabled'],
    );
  });

  test('annotation "true" does not enable a disabled kind', () => {
    const s = lb({ annotations: { 'cosmolet.io/advertise': 'true' } });
    const p = plan({
      services: [s],
      slices: readyBoth(),
      settings: { externalIPs: false, loadBalancerIP: false },
    });
    assert.equal(fate(p, 'default/web', '192.0.2.1'), 'kind-disabled');
    assert.equal(fate(p, 'default/web', '2001:db8::1'), 'kind-disabled');
  });

  test('allowedCIDRs: empty admits no LB/external IP, but ClusterIPs are not subject to it', () => {
    const p = plan({ services: [lb()], slices: readyBoth(), settings: { allowedCIDRs: [] } });
    assert.deepEqual(
      p.routes.map((r) => r.prefix),
      [`${V4}/32`, `${V6}/128`],
    );
    assert.deepEqual(skips(p), [
      ['default/web', '192.0.2.1', 'outside-allowed-cidrs'],
      ['default/web', '198.51.100.1', 'outside-allowed-cidrs'],
      ['default/web', '2001:db8::1', 'outside-allowed-cidrs'],
      ['default/web', '2001:db8::e', 'outside-allowed-cidrs'],
    ]);
  });

  test('allowedCIDRs: v4 and v6 CIDRs admit exactly their addresses, per family', () => {
    const p = plan({
      services: [lb()],
      slices: readyBoth(),
      settings: { allowedCIDRs: ['192.0.2.0/24', '2001:db8::/127'] },
    });
    assert.equal(fate(p, 'default/web', '192.0.2.1'), 'advertised');
    assert.equal(fate(p, 'default/web', '198.51.100.1'), 'outside-allowed-cidrs');
    assert.equal(fate(p, 'default/web', '2001:db8::1'), 'advertised');
    assert.equal(fate(p, 'default/web', '2001:db8::e'), 'outside-allowed-cidrs');
    // A v4 CIDR never admits a v6 address and vice versa.
    const q = plan({ services: [lb()], slices: readyBoth(), settings: { allowedCIDRs: ['0.0.0.0/0'] } });
    assert.equal(fate(q, 'default/web', '2001:db8::1'), 'outside-allowed-cidrs');
    assert.equal(fate(q, 'default/web', '198.51.100.1'), 'advertised');
  });

  test('ingress IPs count only on type LoadBalancer (otherwise not listed at all)', () => {
    for (const type of ['ClusterIP', 'NodePort']) {
      const p = plan({ services: [lb({ type })], slices: readyBoth() });
      assert.equal(fate(p, 'default/web', '198.51.100.1'), 'absent', type);
      assert.equal(fate(p, 'default/web', '2001:db8::1'), 'absent', type);
      assert.equal(fate(p, 'default/web', '192.0.2.1'), 'advertised', type);
    }
  });

  test('ingress entries with only a hostname are ignored', () => {
    const s = lb({ ingress: [] });
    s.status = { loadBalancer: { ingress: [{ hostname: 'lb.example.com' }, { ip: '198.51.100.7' }] } };
    assert.deepEqual(
      plan({ services: [s], slices: readyBoth() }).routes.filter((r) => r.kinds.includes('loadBalancerIP')),
      [{ prefix: '198.51.100.7/32', family: 'ipv4', services: ['default/web'], kinds: ['loadBalancerIP'] }],
    );
  });

  test('spec.clusterIP is used when spec.clusterIPs is absent or empty', () => {
    const a = svc({ clusterIP: V4 });
    const b = svc({ name: 'b', clusterIP: V6, clusterIPs: [] });
    assert.deepEqual(
      plan({ services: [a, b], slices: [...readyBoth(), ...readyBoth('b')] }).routes.map((r) => r.prefix),
      [`${V4}/32`, `${V6}/128`],
    );
  });

  test('IPv6 is advertised as a /128 in canonical form; family is set', () => {
    const s = svc({ clusterIPs: ['FD00:0096:0000:0000:0000:0000:0000:0010'] });
    assert.deepEqual(plan({ services: [s], slices: readyBoth() }).routes, [
      { prefix: 'fd00:96::10/128', family: 'ipv6', services: ['default/web'], kinds: ['clusterIP'] },
    ]);
    const t = svc({ clusterIPs: ['2001:DB8:0:0:1:0:0:1'] });
    assert.equal(plan({ services: [t], slices: readyBoth() }).routes[0]?.prefix, '2001:db8::1:0:0:1/128');
  });

  test('a skipped IPv6 is listed canonical; an invalid one as written', () => {
    const s = svc({ clusterIPs: ['FD00:96:0:0::0010', 'FE80::1%eth0'] });
    assert.deepEqual(skips(plan({ services: [s] })), [
      ['default/web', 'fd00:96::10', 'no-ready-endpoints'],
      ['default/web', 'FE80::1%eth0', 'invalid-ip'],
    ]);
  });

  test('invalid-ip: leading zeros, IPv4-mapped, zone, prefix length, garbage; never a crash', () => {
    const bad = [
      '010.96.0.10',
      '10.96.0.010',
      '::ffff:10.96.0.1',
      '::ffff:a60:1',
      'fe80::1%eth0',
      '10.96.0.10/32',
      'fd00::1/128',
      'not-an-ip',
      '1.2.3',
      '1.2.3.4.5',
      '256.0.0.1',
      '1:2:3:4:5:6:7:8:9',
      'fd00:::1',
      ' 10.0.0.1',
    ];
    const s = svc({ type: 'LoadBalancer', clusterIPs: bad, externalIPs: bad, ingress: bad });
    const p = plan({ services: [s], slices: readyBoth() });
    assert.deepEqual(p.routes, []);
    assert.equal(p.skipped.length, bad.length);
    assert.ok(p.skipped.every((x) => x.reason === 'invalid-ip'));
    assert.deepEqual(
      p.skipped.map((x) => x.ip),
      [...bad].sort(),
    );
  });

  test('regression: special-purpose addresses were planned as routes; now invalid-ip through every kind', () => {
    const special = [
      '0.0.0.0',
      '127.0.0.1',
      '169.254.169.254',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      'fe80::1',
      'ff02::1',
      '::ffff:0:a00:1',
    ];
    for (const kind of ['clusterIPs', 'externalIPs', 'ingress'] as const) {
      const s = svc({ type: 'LoadBalancer', clusterIPs: [], [kind]: special });
      const p = plan({ services: [s], slices: readyBoth() });
      assert.deepEqual(p.routes, [], kind);
      assert.deepEqual(
        p.skipped.map((x) => [x.ip, x.reason]),
        [...special].sort().map((ip) => [ip, 'invalid-ip']),
        kind,
      );
    }
  });

  test('a special-purpose address is listed as written', () => {
    const s = svc({ clusterIPs: ['0000:0000::0001', 'FE80::1'] });
    assert.deepEqual(skips(plan({ services: [s], slices: readyBoth() })), [
      ['default/web', '0000:0000::0001', 'invalid-ip'],
      ['default/web', 'FE80::1', 'invalid-ip'],
    ]);
  });

  test('invalid-ip does not stop the Service valid IPs', () => {
    const s = svc({ clusterIPs: [V4, '::ffff:10.96.0.10'] });
    const p = plan({ services: [s], slices: readyBoth() });
    assert.deepEqual(routes(p), [[`${V4}/32`, ['default/web'], ['clusterIP']]]);
    assert.deepEqual(skips(p), [['default/web', '::ffff:10.96.0.10', 'invalid-ip']]);
  });

  test('empty and non-string IPs are ignored without a crash', () => {
    const s = svc({ type: 'LoadBalancer', clusterIPs: [''], externalIPs: [''], ingress: [''] });
    assert.deepEqual(plan({ services: [s], slices: readyBoth() }), { node: NODE, routes: [], skipped: [] });
    const t = svc({ clusterIP: V4 });
    if (t.spec) (t.spec as Record<string, unknown>).externalIPs = [42, null, { ip: '1.1.1.1' }];
    assert.deepEqual(
      plan({ services: [t], slices: readyBoth() }).routes.map((r) => r.prefix),
      [`${V4}/32`],
    );
  });
});

describe('rule 3: endpoints and readiness', () => {
  const one = (eps: Parameters<typeof slice>[2], type: 'IPv4' | 'IPv6' | 'FQDN' = 'IPv4') => [
    slice('web', type, eps),
  ];

  test('ready true or absent (or null, or no conditions) counts; ready false does not', () => {
    const cases: [Parameters<typeof ep>[1], boolean][] = [
      [{ ready: true }, true],
      [{}, true],
      [{ ready: null }, true],
      [{ noConditions: true }, true],
      [{ ready: false }, false],
      [{ ready: false, serving: true }, false],
      [{ ready: false, serving: true, terminating: false }, false],
      [{ ready: false, terminating: true }, false],
      [{ ready: false, serving: false, terminating: true }, false],
      [{ ready: false, serving: true, terminating: true }, true],
    ];
    for (const [opts, ok] of cases) {
      for (const [ip, type] of [
        [V4, 'IPv4'],
        [V6, 'IPv6'],
      ] as const) {
        const p = plan({ services: [svc({ clusterIPs: [ip] })], slices: one([ep('x', opts)], type) });
        assert.equal(
          fate(p, 'default/web', ip),
          ok ? 'advertised' : 'no-ready-endpoints',
          `${JSON.stringify(opts)} ${type}`,
        );
      }
    }
  });

  test('serving+terminating fallback only when nothing in scope is ready', () => {
    // A ready endpoint elsewhere and a terminating one here: the Service is healthy either way.
    const p = plan({
      services: [svc({ clusterIPs: [V4] })],
      slices: one([
        ep('a', { ready: true, node: OTHER }),
        ep('b', { ready: false, serving: true, terminating: true }),
      ]),
    });
    assert.equal(fate(p, 'default/web', V4), 'advertised');
    // Local scope: a ready endpoint on another node does not stop the local fallback.
    const q = plan({
      services: [svc({ clusterIPs: [V4], itp: 'Local' })],
      slices: one([
        ep('a', { ready: true, node: OTHER }),
        ep('b', { ready: false, serving: true, terminating: true }),
      ]),
    });
    assert.equal(fate(q, 'default/web', V4), 'advertised');
    // Local scope: a not-serving terminating endpoint here does not count.
    const r = plan({
      services: [svc({ clusterIPs: [V4], itp: 'Local' })],
      slices: one([
        ep('a', { ready: true, node: OTHER }),
        ep('b', { ready: false, serving: false, terminating: true }),
      ]),
    });
    assert.equal(fate(r, 'default/web', V4), 'no-local-endpoints');
  });

  test('family matching: IPv4 slices do not make an IPv6 ClusterIP healthy, nor the reverse', () => {
    const s = svc({ clusterIPs: DUAL });
    const p4 = plan({ services: [s], slices: one([ep('10.244.0.1')], 'IPv4') });
    assert.deepEqual(routes(p4), [[`${V4}/32`, ['default/web'], ['clusterIP']]]);
    assert.deepEqual(skips(p4), [['default/web', V6, 'no-ready-endpoints']]);
    const p6 = plan({ services: [s], slices: one([ep('fd00::1')], 'IPv6') });
    assert.deepEqual(routes(p6), [[`${V6}/128`, ['default/web'], ['clusterIP']]]);
    assert.deepEqual(skips(p6), [['default/web', V4, 'no-ready-endpoints']]);
  });

  test('FQDN slices never count', () => {
    const p = plan({ services: [svc({ clusterIPs: DUAL })], slices: one([ep('db.example.com')], 'FQDN') });
    assert.deepEqual(
      p.skipped.map((s) => s.reason),
      ['no-ready-endpoints', 'no-ready-endpoints'],
    );
  });

  test('slices split over several objects are combined', () => {
    const slices = [
      slice('web', 'IPv4', [ep('a', { ready: false })]),
      slice('web', 'IPv4', [ep('b', { ready: false }), ep('c', { ready: true, node: OTHER })]),
      slice('web', 'IPv6', [ep('d', { ready: false })]),
      slice('web', 'IPv6', []),
      slice('web', 'IPv6', [ep('e', { ready: false, serving: true, terminating: true })]),
    ];
    const p = plan({ services: [svc({ clusterIPs: DUAL })], slices });
    assert.equal(p.routes.length, 2);
    // Local: the ready v4 endpoint is on the other node, the v6 fallback one is here.
    const q = plan({ services: [svc({ clusterIPs: DUAL, itp: 'Local' })], slices });
    assert.deepEqual(routes(q), [[`${V6}/128`, ['default/web'], ['clusterIP']]]);
    assert.deepEqual(skips(q), [['default/web', V4, 'no-local-endpoints']]);
  });

  test('slices of another namespace or another service are ignored', () => {
    const slices = [...readyBoth('web', 'other'), ...readyBoth('api', 'default')];
    const p = plan({ services: [svc({ clusterIPs: DUAL })], slices });
    assert.deepEqual(skips(p), [
      ['default/web', V4, 'no-ready-endpoints'],
      ['default/web', V6, 'no-ready-endpoints'],
    ]);
    const q = plan({ services: [svc({ ns: 'other', clusterIPs: DUAL })], slices });
    assert.equal(q.routes.length, 2);
  });

  test('a slice without the service-name label counts for no Service', () => {
    const s = slice('web', 'IPv4', [ep('a')]);
    if (s.metadata) s.metadata.labels = { app: 'web' };
    const p = plan({ services: [svc({ clusterIPs: [V4] })], slices: [s] });
    assert.equal(fate(p, 'default/web', V4), 'no-ready-endpoints');
  });
});

describe('rule 4: traffic policy scope', () => {
  const lbAll = (o: Partial<Parameters<typeof svc>[0]>) =>
    svc({
      type: 'LoadBalancer',
      clusterIPs: DUAL,
      externalIPs: ['192.0.2.1'],
      ingress: ['2001:db8::1'],
      ...o,
    });
  const remote = () => readyBoth('web', 'default', OTHER);

  test('Cluster (or absent) policies: endpoints anywhere count', () => {
    for (const o of [{}, { itp: 'Cluster', etp: 'Cluster' }]) {
      const p = plan({ services: [lbAll(o)], slices: remote() });
      assert.equal(p.routes.length, 4);
      assert.deepEqual(p.skipped, []);
    }
  });

  test('internalTrafficPolicy Local: clusterIPs need a local endpoint; LB/external IPs do not', () => {
    const p = plan({ services: [lbAll({ itp: 'Local' })], slices: remote() });
    assert.deepEqual(skips(p), [
      ['default/web', V4, 'no-local-endpoints'],
      ['default/web', V6, 'no-local-endpoints'],
    ]);
    assert.equal(fate(p, 'default/web', '192.0.2.1'), 'advertised');
    assert.equal(fate(p, 'default/web', '2001:db8::1'), 'advertised');
    const q = plan({ services: [lbAll({ itp: 'Local' })], slices: readyBoth() });
    assert.equal(q.routes.length, 4);
  });

  test('externalTrafficPolicy Local: LB/external IPs need a local endpoint; clusterIPs do not', () => {
    const p = plan({ services: [lbAll({ etp: 'Local' })], slices: remote() });
    assert.deepEqual(skips(p), [
      ['default/web', '192.0.2.1', 'no-local-endpoints'],
      ['default/web', '2001:db8::1', 'no-local-endpoints'],
    ]);
    assert.equal(fate(p, 'default/web', V4), 'advertised');
    assert.equal(fate(p, 'default/web', V6), 'advertised');
    const q = plan({ services: [lbAll({ etp: 'Local' })], slices: readyBoth() });
    assert.equal(q.routes.length, 4);
  });

  test('no-local-endpoints whether or not there are endpoints elsewhere; no-ready otherwise', () => {
    const none = plan({ services: [lbAll({ itp: 'Local', etp: 'Local' })], slices: [] });
    assert.ok(none.skipped.every((s) => s.reason === 'no-local-endpoints'));
    assert.equal(none.skipped.length, 4);
    const notReadyHere = plan({
      services: [lbAll({ itp: 'Local', etp: 'Local' })],
      slices: [
        slice('web', 'IPv4', [ep('a', { ready: false })]),
        slice('web', 'IPv6', [ep('b', { ready: false })]),
      ],
    });
    assert.ok(notReadyHere.skipped.every((s) => s.reason === 'no-local-endpoints'));
    const cluster = plan({ services: [lbAll({})], slices: [] });
    assert.ok(cluster.skipped.every((s) => s.reason === 'no-ready-endpoints'));
  });

  test('endpoints without nodeName are never local', () => {
    const p = plan({
      services: [svc({ clusterIPs: [V4], itp: 'Local' })],
      slices: [slice('web', 'IPv4', [ep('a', { node: '' })])],
    });
    assert.equal(fate(p, 'default/web', V4), 'no-local-endpoints');
  });
});

describe('rule 5: the node', () => {
  const s = () => svc({ type: 'LoadBalancer', clusterIPs: DUAL, ingress: ['198.51.100.1'] });
  const excl = 'node.kubernetes.io/exclude-from-external-load-balancers';

  test('node-excluded: the label with any value, even empty, withdraws everything', () => {
    for (const v of ['true', 'false', '']) {
      const p = plan({ services: [s()], slices: readyBoth(), node: node({ labels: { [excl]: v } }) });
      assert.deepEqual(p.routes, [], v);
      assert.deepEqual(
        p.skipped.map((x) => x.reason),
        ['node-excluded', 'node-excluded', 'node-excluded'],
      );
    }
    const ok = plan({ services: [s()], slices: readyBoth(), node: node({ labels: { other: 'x' } }) });
    assert.equal(ok.routes.length, 3);
  });

  test('node-excluded comes before node-unschedulable', () => {
    const p = plan({
      services: [s()],
      slices: readyBoth(),
      node: node({ labels: { [excl]: '' }, unschedulable: true }),
    });
    assert.ok(p.skipped.every((x) => x.reason === 'node-excluded'));
  });

  test('cordon: node-unschedulable when withdrawOnCordon is true, advertised when false', () => {
    const cordoned = node({ unschedulable: true });
    const p = plan({ services: [s()], slices: readyBoth(), node: cordoned });
    assert.deepEqual(p.routes, []);
    assert.ok(p.skipped.every((x) => x.reason === 'node-unschedulable'));
    assert.equal(p.skipped.length, 3);
    const q = plan({
      services: [s()],
      slices: readyBoth(),
      node: cordoned,
      settings: { withdrawOnCordon: false },
    });
    assert.equal(q.routes.length, 3);
    const r = plan({ services: [s()], slices: readyBoth(), node: node({ unschedulable: false }) });
    assert.equal(r.routes.length, 3);
  });

  test('node reasons come after outside-allowed-cidrs and before endpoint reasons', () => {
    const p = plan({
      services: [s()],
      slices: [],
      node: node({ unschedulable: true }),
      settings: { allowedCIDRs: [] },
    });
    assert.deepEqual(skips(p), [
      ['default/web', V4, 'node-unschedulable'],
      ['default/web', '198.51.100.1', 'outside-allowed-cidrs'],
      ['default/web', V6, 'node-unschedulable'],
    ]);
  });

  test('missing node in render mode: schedulable and unlabelled', () => {
    const p = plan({ services: [s()], slices: readyBoth(), node: null, missingNode: 'assume-schedulable' });
    assert.equal(p.routes.length, 3);
  });

  test('missing node in run mode: advertise nothing (node-missing), before endpoint reasons', () => {
    const p = plan({ services: [s()], slices: [], node: null, missingNode: 'advertise-nothing' });
    assert.deepEqual(p.routes, []);
    assert.ok(p.skipped.every((x) => x.reason === 'node-missing'));
    const q = plan({ services: [s()], slices: readyBoth(), node: node(), missingNode: 'advertise-nothing' });
    assert.equal(q.routes.length, 3);
  });
});

describe('rule 6 and the output: shared prefixes, precedence, sort orders', () => {
  test('two Services owning one IP: services sorted, kinds union', () => {
    const a = svc({ ns: 'b', name: 'z', clusterIPs: [V4] });
    const b = svc({ ns: 'a', name: 'y', type: 'LoadBalancer', clusterIPs: ['10.96.0.11'], ingress: [V4] });
    const c = svc({ ns: 'a', name: 'x', externalIPs: [V6], clusterIPs: [V6] });
    const d = svc({ ns: 'c', name: 'w', externalIPs: [V6], clusterIPs: ['fd00:96::11'] });
    const slices = [
      ...readyBoth('z', 'b'),
      ...readyBoth('y', 'a'),
      ...readyBoth('x', 'a'),
      ...readyBoth('w', 'c'),
    ];
    assert.deepEqual(routes(plan({ services: [a, b, c, d], slices })), [
      [`${V4}/32`, ['a/y', 'b/z'], ['clusterIP', 'loadBalancerIP']],
      ['10.96.0.11/32', ['a/y'], ['clusterIP']],
      [`${V6}/128`, ['a/x', 'c/w'], ['clusterIP', 'externalIP']],
      ['fd00:96::11/128', ['c/w'], ['clusterIP']],
    ]);
  });

  test('one owner qualifies, the other not: the other is neither listed in services nor skipped', () => {
    const a = svc({ name: 'a', clusterIPs: DUAL });
    const b = svc({ name: 'b', clusterIPs: DUAL });
    const p = plan({ services: [a, b], slices: readyBoth('a') });
    assert.deepEqual(routes(p), [
      [`${V4}/32`, ['default/a'], ['clusterIP']],
      [`${V6}/128`, ['default/a'], ['clusterIP']],
    ]);
    assert.deepEqual(p.skipped, []);
    // Same when the non-qualifying one is opted out or its kind disabled.
    const c = svc({ name: 'c', externalIPs: [V4], annotations: { 'cosmolet.io/advertise': 'false' } });
    const q = plan({ services: [c, a], slices: readyBoth('a'), settings: { externalIPs: false } });
    assert.deepEqual(q.skipped, []);
    assert.deepEqual(q.routes[0]?.services, ['default/a']);
  });

  test('shared prefix written differently (IPv6 case/zeros) is one route', () => {
    const a = svc({ name: 'a', clusterIPs: ['FD00:96::10'] });
    const b = svc({ name: 'b', clusterIPs: ['fd00:0096:0:0:0:0:0:0010'] });
    assert.deepEqual(routes(plan({ services: [a, b], slices: [...readyBoth('a'), ...readyBoth('b')] })), [
      [`${V6}/128`, ['default/a', 'default/b'], ['clusterIP']],
    ]);
  });

  test('same IP through several kinds: one route with every qualifying kind', () => {
    const s = svc({ type: 'LoadBalancer', clusterIPs: [V4], externalIPs: [V4], ingress: [V4] });
    assert.deepEqual(routes(plan({ services: [s], slices: readyBoth() })), [
      [`${V4}/32`, ['default/web'], ['clusterIP', 'externalIP', 'loadBalancerIP']],
    ]);
    // Only the kinds that qualify are listed.
    const p = plan({ services: [s], slices: readyBoth(), settings: { externalIPs: false } });
    assert.deepEqual(routes(p), [[`${V4}/32`, ['default/web'], ['clusterIP', 'loadBalancerIP']]]);
    assert.deepEqual(p.skipped, []);
  });

  test('same IP through several kinds, none qualifying: the earliest reason wins', () => {
    const ip = '192.0.2.10';
    const s = svc({ type: 'LoadBalancer', clusterIPs: [ip], externalIPs: [ip], ingress: [ip], etp: 'Local' });
    // clusterIP: no-ready; external: outside-allowed; LB: kind-disabled -> kind-disabled.
    const p = plan({ services: [s], settings: { loadBalancerIP: false, allowedCIDRs: [] } });
    assert.deepEqual(skips(p), [['default/web', ip, 'kind-disabled']]);
    // clusterIP: no-ready (Cluster); external/LB: no-local (Local) -> no-local-endpoints.
    const q = plan({
      services: [s],
      slices: [slice('web', 'IPv4', [ep('a', { node: OTHER, ready: false })])],
    });
    assert.deepEqual(skips(q), [['default/web', ip, 'no-local-endpoints']]);
    // clusterIP disabled, external outside CIDRs -> kind-disabled; order of kinds does not matter.
    const t = svc({ type: 'LoadBalancer', clusterIPs: ['fd00::1'], externalIPs: ['FD00::1'] });
    const r = plan({ services: [t], settings: { clusterIP: false, allowedCIDRs: ['10.0.0.0/8'] } });
    assert.deepEqual(skips(r), [['default/web', 'fd00::1', 'kind-disabled']]);
  });

  test('routes: IPv4 before IPv6, numerically not lexicographically', () => {
    const ips = ['fd00::10', '10.0.0.10', 'fd00::9', '9.0.0.1', '10.0.0.9', '2001:db8::1', '10.0.1.0', '::2'];
    const p = plan({ services: [svc({ externalIPs: ips, clusterIPs: [] })], slices: readyBoth() });
    assert.deepEqual(
      p.routes.map((r) => r.prefix),
      [
        '9.0.0.1/32',
        '10.0.0.9/32',
        '10.0.0.10/32',
        '10.0.1.0/32',
        '::2/128',
        '2001:db8::1/128',
        'fd00::9/128',
        'fd00::10/128',
      ],
    );
  });

  test('skipped: by namespace/name string, then IPv4 before IPv6 numerically, invalid last by text', () => {
    const services: Service[] = [
      svc({ ns: 'b', name: 'a', externalIPs: ['fd00::10', 'zz', '10.0.0.10', 'fd00::9', 'aa', '10.0.0.9'] }),
      svc({ ns: 'a', name: 'b', clusterIPs: ['10.0.0.2'] }),
      svc({ ns: 'a-x', name: 'a', clusterIPs: ['10.0.0.1'] }),
    ];
    const p = plan({ services, settings: { allowedCIDRs: [] } });
    assert.deepEqual(skips(p), [
      ['a-x/a', '10.0.0.1', 'no-ready-endpoints'],
      ['a/b', '10.0.0.2', 'no-ready-endpoints'],
      ['b/a', '10.0.0.9', 'outside-allowed-cidrs'],
      ['b/a', '10.0.0.10', 'outside-allowed-cidrs'],
      ['b/a', 'fd00::9', 'outside-allowed-cidrs'],
      ['b/a', 'fd00::10', 'outside-allowed-cidrs'],
      ['b/a', 'aa', 'invalid-ip'],
      ['b/a', 'zz', 'invalid-ip'],
    ]);
  });

  test('the result does not depend on the input order', () => {
    const services = [
      svc({ name: 'a', clusterIPs: DUAL }),
      svc({ name: 'b', clusterIPs: ['10.96.0.2', 'fd00::2'] }),
      svc({ name: 'c', clusterIPs: ['10.96.0.3'], externalIPs: ['bad'] }),
    ];
    const slices = [...readyBoth('a'), ...readyBoth('c')];
    const fwd = plan({ services, slices });
    const rev = plan({ services: [...services].reverse(), slices: [...slices].reverse() });
    assert.deepEqual(rev, fwd);
  });
});

describe('robustness against malformed objects', () => {
  test('missing metadata, spec, status; null and non-array fields never crash', () => {
    const weird = [
      {},
      { metadata: {} },
      { metadata: { name: 'x' } },
      { metadata: { namespace: 'default' } },
      { metadata: { namespace: 'default', name: 'nospec' } },
      { metadata: { namespace: 'default', name: 'nullspec' }, spec: null },
      {
        metadata: { namespace: 'default', name: 'strs', labels: null, annotations: null },
        spec: { clusterIPs: '10.96.0.1', externalIPs: '10.96.0.2', type: 'LoadBalancer' },
        status: { loadBalancer: { ingress: 'x' } },
      },
      {
        metadata: { namespace: 'default', name: 'nulls' },
        spec: { clusterIPs: [null], externalIPs: null, type: 'LoadBalancer' },
        status: { loadBalancer: { ingress: [null, {}, { ip: null }] } },
      },
      { metadata: { namespace: 'default', name: 'nostatus' }, spec: { type: 'LoadBalancer' }, status: null },
    ] as unknown as Service[];
    const badSlices = [
      {},
      { metadata: null },
      {
        metadata: { namespace: 'default', labels: { 'kubernetes.io/service-name': 'ok' } },
        addressType: 'IPv4',
      },
      {
        metadata: { namespace: 'default', labels: { 'kubernetes.io/service-name': 'ok' } },
        addressType: 'IPv4',
        endpoints: null,
      },
      {
        metadata: { namespace: 'default', labels: { 'kubernetes.io/service-name': 'ok' } },
        addressType: 'IPv4',
        endpoints: 'x',
      },
      {
        metadata: { namespace: 'default', labels: { 'kubernetes.io/service-name': 'ok' } },
        addressType: 'IPv4',
        endpoints: [null, 3, { conditions: null }],
      },
    ] as unknown as EndpointSlice[];
    const ok = svc({ name: 'ok', clusterIPs: [V4] });
    const p = computePlan({
      services: [...weird, ok],
      endpointSlices: badSlices,
      node: { metadata: { name: NODE, labels: null }, spec: null } as unknown as ReturnType<typeof node>,
      nodeName: NODE,
      settings: ALL,
      missingNode: 'assume-schedulable',
    });
    // The endpoint with conditions: null counts as ready (conditions absent).
    assert.deepEqual(routes(p), [[`${V4}/32`, ['default/ok'], ['clusterIP']]]);
    assert.ok(p.skipped.every((s) => s.reason === 'no-ready-endpoints' || s.reason === 'invalid-ip'));
    assert.ok(!p.skipped.some((s) => s.service === 'default/strs' && s.ip === '10.96.0.2'));
  });

  test('regression: a Service listed twice (e.g. in a concatenated snapshot) gave duplicate entries', () => {
    const a = svc({ clusterIPs: DUAL, externalIPs: ['bad'] });
    const b = svc({ name: 'b', clusterIPs: ['10.96.0.2'] });
    const p = plan({ services: [a, b, structuredClone(a), structuredClone(b)], slices: readyBoth('b') });
    assert.deepEqual(routes(p), [['10.96.0.2/32', ['default/b'], ['clusterIP']]]);
    assert.deepEqual(skips(p), [
      [W, V4, 'no-ready-endpoints'],
      [W, V6, 'no-ready-endpoints'],
      [W, 'bad', 'invalid-ip'],
    ]);
    const q = plan({ services: [b, b], slices: readyBoth('b') });
    assert.deepEqual(q.routes[0]?.services, ['default/b']);
  });

  test('an empty world gives an empty plan with the node name', () => {
    assert.deepEqual(plan({ services: [] }), { node: NODE, routes: [], skipped: [] });
  });

  test('the plan accepts any iterables (Map values, generators)', () => {
    const m = new Map([['a', svc({ clusterIPs: [V4] })]]);
    function* gen() {
      yield* readyBoth();
    }
    const p = computePlan({
      services: m.values(),
      endpointSlices: gen(),
      node: node(),
      nodeName: NODE,
      settings: ALL,
      missingNode: 'assume-schedulable',
    });
    assert.equal(p.routes.length, 1);
  });
});
