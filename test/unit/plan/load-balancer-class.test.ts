// docs/decisions.md rule 2, the parts about other load-balancer implementations: ingress IPs count only
// on Services of `advertise.loadBalancerClass` (reason `other-load-balancer-class`, after
// `kind-disabled` and before `outside-allowed-cidrs`), and an ingress entry with `ipMode: Proxy` is
// not one of the Service's IPs. Written against computePlan and the `render` CLI only.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EndpointSlice, LoadBalancerIngress, Service } from '../../../src/model/objects.js';
import { computePlan } from '../../../src/plan/plan.js';
import type { Plan, PlanSettings } from '../../../src/plan/types.js';

const NODE = 'node-a';
const LB4 = '198.51.100.10';
const LB6 = '2001:db8:100::10';
const CLUSTER4 = '10.96.0.10';
const EXTERNAL4 = '198.51.100.20';

const SETTINGS: PlanSettings = {
  namespaces: [],
  labelSelector: '',
  clusterIP: true,
  loadBalancerIP: true,
  externalIPs: true,
  allowedCIDRs: ['198.51.100.0/24', '2001:db8:100::/56'],
  loadBalancerClass: '',
  withdrawOnCordon: true,
};

interface LbOpts {
  name?: string;
  /** undefined: the field is absent. */
  lbClass?: string;
  ingress?: LoadBalancerIngress[];
  externalIPs?: string[];
}

function lbService(o: LbOpts = {}): Service {
  const s: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: 'default', name: o.name ?? 'web' },
    spec: { type: 'LoadBalancer', clusterIP: CLUSTER4, clusterIPs: [CLUSTER4] },
    status: { loadBalancer: { ingress: o.ingress ?? [{ ip: LB4 }, { ip: LB6 }] } },
  };
  if (o.lbClass !== undefined && s.spec) s.spec.loadBalancerClass = o.lbClass;
  if (o.externalIPs && s.spec) s.spec.externalIPs = o.externalIPs;
  return s;
}

/** Ready endpoints of both families on this node for each named Service. */
function ready(...names: string[]): EndpointSlice[] {
  return names.flatMap((name) =>
    (
      [
        ['IPv4', '10.244.0.5'],
        ['IPv6', 'fd00:244::5'],
      ] as const
    ).map(([addressType, address]) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        namespace: 'default',
        name: `${name}-${addressType}`,
        labels: { 'kubernetes.io/service-name': name },
      },
      addressType,
      endpoints: [{ addresses: [address], nodeName: NODE, conditions: { ready: true } }],
    })),
  );
}

function plan(services: Service[], settings: Partial<PlanSettings> = {}): Plan {
  return computePlan({
    services,
    endpointSlices: ready(...services.map((s) => s.metadata?.name ?? '')),
    node: { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } },
    nodeName: NODE,
    settings: { ...SETTINGS, ...settings },
    missingNode: 'assume-schedulable',
  });
}

function prefixes(p: Plan): string[] {
  return p.routes.map((r) => r.prefix);
}

function skips(p: Plan): [string, string, string][] {
  return p.skipped.map((s) => [s.service, s.ip, s.reason]);
}

describe('advertise.loadBalancerClass', () => {
  test('default "": a Service without a class has its ingress IPs advertised (both families)', () => {
    const p = plan([lbService()]);
    assert.deepEqual(prefixes(p), [`${CLUSTER4}/32`, `${LB4}/32`, `${LB6}/128`]);
    assert.deepEqual(skips(p), []);
  });

  test('default "": a Service of another class (MetalLB, Cilium) is other-load-balancer-class', () => {
    for (const lbClass of ['metallb.universe.tf/metallb', 'io.cilium/bgp-control-plane']) {
      const p = plan([lbService({ lbClass })]);
      assert.deepEqual(prefixes(p), [`${CLUSTER4}/32`], lbClass);
      assert.deepEqual(
        skips(p),
        [
          ['default/web', LB4, 'other-load-balancer-class'],
          ['default/web', LB6, 'other-load-balancer-class'],
        ],
        lbClass,
      );
    }
  });

  test('spec.loadBalancerClass "" is the same as unset', () => {
    const p = plan([lbService({ lbClass: '' })]);
    assert.deepEqual(prefixes(p), [`${CLUSTER4}/32`, `${LB4}/32`, `${LB6}/128`]);
  });

  test('a configured class: only Services of exactly that class; classless ones are skipped', () => {
    const settings = { loadBalancerClass: 'cosmolet.io/bgp' };
    const p = plan(
      [
        lbService({ name: 'mine', lbClass: 'cosmolet.io/bgp', ingress: [{ ip: LB4 }] }),
        lbService({ name: 'none', ingress: [{ ip: '198.51.100.11' }] }),
        lbService({ name: 'other', lbClass: 'cosmolet.io/bgp2', ingress: [{ ip: '198.51.100.12' }] }),
      ],
      settings,
    );
    assert.deepEqual(prefixes(p), [`${CLUSTER4}/32`, `${LB4}/32`]);
    assert.deepEqual(p.routes[1]?.services, ['default/mine']);
    assert.deepEqual(skips(p), [
      ['default/none', '198.51.100.11', 'other-load-balancer-class'],
      ['default/other', '198.51.100.12', 'other-load-balancer-class'],
    ]);
  });

  test('the class rules only ingress IPs: ClusterIPs and external IPs of the Service still count', () => {
    const p = plan([lbService({ lbClass: 'metallb.universe.tf/metallb', externalIPs: [EXTERNAL4] })]);
    assert.deepEqual(prefixes(p), [`${CLUSTER4}/32`, `${EXTERNAL4}/32`]);
    assert.deepEqual(
      p.routes.map((r) => r.kinds),
      [['clusterIP'], ['externalIP']],
    );
  });

  test('kind-disabled comes before other-load-balancer-class', () => {
    const p = plan([lbService({ lbClass: 'metallb.universe.tf/metallb' })], { loadBalancerIP: false });
    assert.deepEqual(skips(p), [
      ['default/web', LB4, 'kind-disabled'],
      ['default/web', LB6, 'kind-disabled'],
    ]);
  });

  test('other-load-balancer-class comes before outside-allowed-cidrs (and after invalid-ip)', () => {
    const p = plan(
      [
        lbService({
          lbClass: 'metallb.universe.tf/metallb',
          ingress: [{ ip: '192.0.2.1' }, { ip: '010.1.1.1' }],
        }),
      ],
      { allowedCIDRs: [] },
    );
    assert.deepEqual(skips(p), [
      ['default/web', '192.0.2.1', 'other-load-balancer-class'],
      ['default/web', '010.1.1.1', 'invalid-ip'],
    ]);
    // Same Service in the configured class: now the CIDR check applies.
    const mine = plan([lbService({ ingress: [{ ip: '192.0.2.1' }] })], { allowedCIDRs: [] });
    assert.deepEqual(skips(mine), [['default/web', '192.0.2.1', 'outside-allowed-cidrs']]);
  });

  test('opted-out comes before other-load-balancer-class', () => {
    const s = lbService({ lbClass: 'metallb.universe.tf/metallb', ingress: [{ ip: LB4 }] });
    if (s.metadata) s.metadata.annotations = { 'cosmolet.io/advertise': 'false' };
    assert.deepEqual(skips(plan([s])), [
      ['default/web', CLUSTER4, 'opted-out'],
      ['default/web', LB4, 'opted-out'],
    ]);
  });

  test('an IP another Service of our class qualifies for is advertised, not listed as skipped', () => {
    const p = plan([
      lbService({ name: 'a', lbClass: 'metallb.universe.tf/metallb', ingress: [{ ip: LB4 }] }),
      lbService({ name: 'b', ingress: [{ ip: LB4 }] }),
    ]);
    assert.deepEqual(prefixes(p), [`${CLUSTER4}/32`, `${LB4}/32`]);
    assert.deepEqual(p.routes[1]?.services, ['default/b']);
    assert.deepEqual(skips(p), []);
  });
});

describe('ingress ipMode', () => {
  test('an entry with ipMode Proxy is not one of the Service IPs: neither advertised nor listed', () => {
    const p = plan([
      lbService({
        ingress: [
          { ip: LB4, ipMode: 'Proxy' },
          { ip: LB6, ipMode: 'Proxy' },
        ],
      }),
    ]);
    assert.deepEqual(prefixes(p), [`${CLUSTER4}/32`]);
    assert.deepEqual(skips(p), []);
  });

  test('ipMode VIP or absent counts; only the Proxy entry of a mixed list is left out', () => {
    const p = plan([
      lbService({
        ingress: [{ ip: LB4, ipMode: 'VIP' }, { ip: LB6 }, { ip: '198.51.100.99', ipMode: 'Proxy' }],
      }),
    ]);
    assert.deepEqual(prefixes(p), [`${CLUSTER4}/32`, `${LB4}/32`, `${LB6}/128`]);
    assert.deepEqual(skips(p), []);
  });

  test('a Proxy entry is left out before any reason: not even invalid-ip or other-load-balancer-class', () => {
    const p = plan(
      [
        lbService({
          lbClass: 'x.example/lb',
          ingress: [
            { ip: '010.0.0.1', ipMode: 'Proxy' },
            { ip: LB4, ipMode: 'Proxy' },
          ],
        }),
      ],
      { loadBalancerIP: false },
    );
    assert.deepEqual(skips(p), []);
  });

  test('the same address as an external IP still counts through that kind', () => {
    const p = plan([lbService({ ingress: [{ ip: EXTERNAL4, ipMode: 'Proxy' }], externalIPs: [EXTERNAL4] })]);
    const route = p.routes.find((r) => r.prefix === `${EXTERNAL4}/32`);
    assert.deepEqual(route?.kinds, ['externalIP']);
  });
});

describe('cosmolet render applies advertise.loadBalancerClass and ipMode', () => {
  const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

  function render(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'src', 'cli.ts'), 'render', ...args],
        { cwd: ROOT, env: { PATH: process.env.PATH }, encoding: 'utf8' },
        (err, stdout, stderr) => {
          done({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
        },
      );
    });
  }

  test('a snapshot with MetalLB, classless and Proxy Services, with and without the key', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmolet-lbclass-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const services = [
      lbService({
        name: 'metallb',
        lbClass: 'metallb.universe.tf/metallb',
        ingress: [{ ip: '198.51.100.1' }],
      }),
      lbService({ name: 'plain', ingress: [{ ip: '198.51.100.2' }] }),
      lbService({ name: 'proxied', ingress: [{ ip: '198.51.100.3', ipMode: 'Proxy' }] }),
    ];
    const items = [
      ...services,
      ...ready('metallb', 'plain', 'proxied'),
      { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } },
    ];
    const snapshot = join(dir, 'snap.json');
    writeFileSync(snapshot, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    const config = (lbClass: string): string => {
      const file = join(dir, `config-${lbClass.replace(/\W/g, '_')}.yaml`);
      writeFileSync(
        file,
        [
          'advertise:',
          '  clusterIP: false',
          '  loadBalancerIP: true',
          '  allowedCIDRs: [198.51.100.0/24]',
          `  loadBalancerClass: "${lbClass}"`,
          '',
        ].join('\n'),
      );
      return file;
    };

    const byDefault = await render(['--snapshot', snapshot, '--node-name', NODE, '--config', config('')]);
    assert.equal(byDefault.status, 0, byDefault.stderr);
    const a = JSON.parse(byDefault.stdout) as Plan;
    assert.deepEqual(prefixes(a), ['198.51.100.2/32']);
    assert.deepEqual(
      a.skipped.filter((s) => s.reason !== 'kind-disabled').map((s) => [s.service, s.ip, s.reason]),
      [['default/metallb', '198.51.100.1', 'other-load-balancer-class']],
    );

    const metallb = await render([
      '--snapshot',
      snapshot,
      '--node-name',
      NODE,
      '--config',
      config('metallb.universe.tf/metallb'),
    ]);
    assert.equal(metallb.status, 0, metallb.stderr);
    const b = JSON.parse(metallb.stdout) as Plan;
    assert.deepEqual(prefixes(b), ['198.51.100.1/32']);
    assert.deepEqual(
      b.skipped.filter((s) => s.reason !== 'kind-disabled').map((s) => [s.service, s.ip, s.reason]),
      [['default/plain', '198.51.100.2', 'other-load-balancer-class']],
    );
  });

  test('a non-string advertise.loadBalancerClass exits 2 naming the key', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmolet-lbclass-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const snapshot = join(dir, 'snap.json');
    writeFileSync(snapshot, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [] }));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'advertise:\n  loadBalancerClass: [a]\n');
    const r = await render(['--snapshot', snapshot, '--node-name', NODE, '--config', file]);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /advertise\.loadBalancerClass/);
  });
});
