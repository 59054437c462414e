// The incremental PlanState against the reference computePlan, step by step: seeded random sequences
// of creates, updates and deletes of Services, EndpointSlices and the Node (IPs shared between
// Services, Services changing type and family, slices moving between Services, malformed fields,
// repeated identical updates, full resets, route-class annotations naming configured classes or
// none). After every step the incremental plan, its decision changes, its flipped and reclassed
// prefixes, its counters and its unknown-class findings must equal what a from-scratch plan says.
// A failure prints the seed and step; COSMOLET_PROPERTY_SEED=<n> replays that one sequence.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EndpointSlice, Node, Service } from '../../../src/model/objects.js';
import { projectNode, projectService, projectSlice } from '../../../src/plan/input.js';
import { computePlan, unknownRouteClasses } from '../../../src/plan/plan.js';
import { PlanState } from '../../../src/plan/state.js';
import type { DecisionChange, Plan, PlanSettings } from '../../../src/plan/types.js';
import { decisionsOf, diffDecisions } from './decisions-oracle.js';
import { seededRandom } from './seeded-random.js';

const NODE = 'node-a';

class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  some<T>(xs: readonly T[], max: number): T[] {
    return Array.from({ length: this.int(max + 1) }, () => this.pick(xs));
  }
}

const NAMESPACES = ['a', 'b'];
const SERVICES = ['s0', 's1', 's2', 's3', 's4', 's5'];
const SLICES = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7'];
// Shared between Services on purpose; some inside allowedCIDRs, some not, some not IPs at all.
const IPS = [
  '10.96.0.1',
  '10.96.0.2',
  '10.96.0.3',
  '192.0.2.1',
  '192.0.2.2',
  '198.51.100.7',
  'fd00::1',
  'fd00::2',
  '2001:db8::1',
  '2001:db8::2',
  '10.96.0.01',
  'bogus',
  'FD00::1',
];
// Route classes: some configured in a sequence, some not (typos fall back to the default).
const CLASS_NAMES = ['gold', 'silver', 'bronze'];
const ANNOTATED_CLASSES = ['gold', 'silver', 'bronze', 'Gold', 'platinum', ''];
const TYPES = [
  'ClusterIP',
  'ClusterIP',
  'NodePort',
  'LoadBalancer',
  'LoadBalancer',
  'ExternalName',
  undefined,
  5,
];

function randomSettings(g: Gen): PlanSettings {
  return {
    namespaces: g.chance(0.7) ? [] : ['a'],
    labelSelector: g.chance(0.7) ? '' : 'app=x',
    clusterIP: g.chance(0.9),
    loadBalancerIP: g.chance(0.8),
    externalIPs: g.chance(0.6),
    allowedCIDRs: g.chance(0.8) ? ['192.0.2.0/24', '2001:db8::/32'] : ['0.0.0.0/0', '::/0'],
    loadBalancerClass: g.chance(0.8) ? '' : 'example.com/lb',
    withdrawOnCordon: g.chance(0.8),
    ...randomClasses(g),
  };
}

function randomClasses(g: Gen): Pick<PlanSettings, 'routeClasses' | 'defaultRouteClass'> {
  const routeClasses = CLASS_NAMES.filter(() => g.chance(0.6));
  return { routeClasses, defaultRouteClass: g.chance(0.5) ? '' : g.pick(['', ...routeClasses]) };
}

function randomService(g: Gen, ns: string, name: string, rv: number): Service {
  const headless = g.chance(0.05);
  const svc: Service = {
    metadata: {
      namespace: ns,
      name,
      uid: `uid-${ns}-${name}`,
      resourceVersion: String(rv),
      ...(g.chance(0.5) ? { labels: { app: g.pick(['x', 'y']) } } : {}),
    },
    spec: {
      ...(g.chance(0.9) ? { type: g.pick(TYPES) as string } : {}),
      ...(headless
        ? { clusterIP: 'None', clusterIPs: ['None'] }
        : g.chance(0.8)
          ? { clusterIPs: g.some(IPS, 2) }
          : { clusterIP: g.pick(IPS) }),
      ...(g.chance(0.3) ? { externalIPs: g.some(IPS, 2) } : {}),
      ...(g.chance(0.3) ? { internalTrafficPolicy: g.pick(['Local', 'Cluster']) } : {}),
      ...(g.chance(0.4) ? { externalTrafficPolicy: g.pick(['Local', 'Cluster']) } : {}),
      ...(g.chance(0.2) ? { loadBalancerClass: g.pick(['example.com/lb', 'metallb']) } : {}),
    },
  };
  if (g.chance(0.1)) svc.metadata!.annotations = { 'cosmolet.io/advertise': g.pick(['false', 'true']) };
  if (g.chance(0.5))
    svc.metadata!.annotations = {
      ...svc.metadata!.annotations,
      'cosmolet.io/route-class': g.pick(ANNOTATED_CLASSES),
    };
  if (g.chance(0.05)) svc.metadata!.labels = { 'service.kubernetes.io/service-proxy-name': 'other' };
  if (g.chance(0.5))
    svc.status = {
      loadBalancer: {
        ingress: g
          .some(IPS, 2)
          .map((ip) => ({ ip, ...(g.chance(0.2) ? { ipMode: g.pick(['Proxy', 'VIP']) } : {}) })),
      },
    };
  return svc;
}

function randomSlice(g: Gen, ns: string, name: string, rv: number): EndpointSlice {
  const conditions = (): unknown => {
    if (g.chance(0.1)) return undefined;
    if (g.chance(0.05)) return 'false'; // malformed: not ready
    return {
      ready: g.pick([true, false, false, null, undefined, 'true']),
      serving: g.pick([true, false, undefined]),
      terminating: g.pick([true, false, undefined]),
    };
  };
  return {
    metadata: {
      namespace: ns,
      name,
      resourceVersion: String(rv),
      ...(g.chance(0.95) ? { labels: { 'kubernetes.io/service-name': g.pick(SERVICES) } } : {}),
    },
    addressType: g.pick(['IPv4', 'IPv6', 'IPv6', 'FQDN']),
    endpoints: Array.from({ length: g.int(3) }, () => ({
      addresses: ['x'],
      conditions: conditions(),
      ...(g.chance(0.9) ? { nodeName: g.pick([NODE, NODE, 'node-b']) } : {}),
    })) as EndpointSlice['endpoints'],
  };
}

function randomNode(g: Gen): Node {
  return {
    metadata: {
      name: NODE,
      ...(g.chance(0.15)
        ? { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': '' } }
        : {}),
    },
    spec: { unschedulable: g.chance(0.2) },
  };
}

function sortChanges(cs: DecisionChange[]): { service: string; ip: string; from?: string; to?: string }[] {
  return cs
    .map(({ service, ip, from, to }) => ({ service, ip, from, to }))
    .sort((a, b) => (a.service + '|' + a.ip < b.service + '|' + b.ip ? -1 : 1));
}

function prefixes(p: Plan): Set<string> {
  return new Set(p.routes.map((r) => r.prefix));
}

function classes(p: Plan): Map<string, string> {
  return new Map(p.routes.map((r) => [r.prefix, r.class ?? '']));
}

function runSequence(seed: number, steps: number): void {
  const g = new Gen(seededRandom(seed));
  const settings = randomSettings(g);
  const services = new Map<string, Service>();
  const slices = new Map<string, EndpointSlice>();
  let node: Node | undefined = randomNode(g);
  const state = new PlanState({ nodeName: NODE, settings, missingNode: 'advertise-nothing' });
  state.setNode(projectNode(node));
  let rv = 1;
  let previous: Plan = { node: NODE, routes: [], skipped: [] };
  /** Unknown class annotations reported so far: service -> annotation. */
  let unknownBefore = new Map<string, string>();
  for (let step = 0; step < steps; step++) {
    const ops = 1 + g.int(3);
    for (let i = 0; i < ops; i++) {
      const ns = g.pick(NAMESPACES);
      const roll = g.int(100);
      if (roll < 30) {
        const key = `${ns}/${g.pick(SERVICES)}`;
        const obj = randomService(g, ns, key.split('/')[1]!, rv++);
        services.set(key, obj);
        state.setService(key, projectService(obj));
      } else if (roll < 40) {
        const key = `${ns}/${g.pick(SERVICES)}`;
        services.delete(key);
        state.setService(key, undefined);
      } else if (roll < 75) {
        const key = `${ns}/${g.pick(SLICES)}`;
        const obj = randomSlice(g, ns, key.split('/')[1]!, rv++);
        slices.set(key, obj);
        state.setSlice(key, projectSlice(obj, NODE));
      } else if (roll < 82) {
        const key = `${ns}/${g.pick(SLICES)}`;
        slices.delete(key);
        state.setSlice(key, undefined);
      } else if (roll < 87) {
        // Only the route-class annotation changes (a reclassification): the decisions stay.
        const key = g.pick([...services.keys()]);
        const old = key === undefined ? undefined : services.get(key);
        if (key && old) {
          const obj = structuredClone(old);
          obj.metadata!.annotations = {
            ...obj.metadata!.annotations,
            'cosmolet.io/route-class': g.pick(ANNOTATED_CLASSES),
          };
          services.set(key, obj);
          state.setService(key, projectService(obj));
        }
      } else if (roll < 90) {
        // The same object again (a relist, a no-op update).
        const key = g.pick([...services.keys(), ...slices.keys()]);
        if (key && services.has(key)) state.setService(key, projectService(services.get(key)!));
        else if (key && slices.has(key)) state.setSlice(key, projectSlice(slices.get(key)!, NODE));
      } else if (roll < 97) {
        node = g.chance(0.85) ? randomNode(g) : undefined;
        state.setNode(node ? projectNode(node) : undefined);
      } else {
        const proj = <T, U>(m: Map<string, T>, f: (x: T) => U | undefined): U[] =>
          [...m.values()].map(f).filter((x): x is U => x !== undefined);
        state.reset(
          proj(services, (s) => projectService(s)),
          proj(slices, (s) => projectSlice(s, NODE)),
          node ? projectNode(node) : undefined,
        );
      }
    }
    const upd = state.update();
    const expected = computePlan({
      services: services.values(),
      endpointSlices: slices.values(),
      node,
      nodeName: NODE,
      settings,
      missingNode: 'advertise-nothing',
    });
    const where = `seed ${seed}, step ${step} (replay: COSMOLET_PROPERTY_SEED=${seed})`;
    assert.deepEqual(state.plan(), expected, `plan differs at ${where}`);
    assert.deepEqual(
      sortChanges(upd.changes),
      sortChanges(diffDecisions(decisionsOf(previous), decisionsOf(expected))),
      `decision changes differ at ${where}`,
    );
    const before = prefixes(previous);
    const after = prefixes(expected);
    const flipped = [...new Set([...before, ...after])].filter((p) => before.has(p) !== after.has(p)).sort();
    assert.deepEqual(upd.flipped, flipped, `flipped prefixes differ at ${where}`);
    const was = classes(previous);
    const now = classes(expected);
    const reclassed = [...now].filter(([p, c]) => was.has(p) && was.get(p) !== c).map(([p]) => p);
    assert.deepEqual(upd.reclassed, reclassed.sort(), `reclassed prefixes differ at ${where}`);
    for (const [p, c] of now) assert.equal(state.classOf(p), c, `classOf(${p}) at ${where}`);
    const perClass = new Map<string, number>();
    for (const c of now.values()) perClass.set(c, (perClass.get(c) ?? 0) + 1);
    const countedClasses = [...state.advertisedByClass()].filter(([, n]) => n !== 0);
    assert.deepEqual(new Map(countedClasses), perClass, `per-class counts at ${where}`);
    const unknown = unknownRouteClasses(
      [...services.values()].map((s) => projectService(s)).filter((s) => s !== undefined),
      settings,
    );
    const unknownNow = new Map(unknown.map((u) => [u.service, u.annotated]));
    assert.deepEqual(
      upd.unknownRouteClasses,
      unknown.filter((u) => unknownBefore.get(u.service) !== u.annotated),
      `unknown route classes reported at ${where}`,
    );
    unknownBefore = unknownNow;
    for (const p of after) assert.ok(state.advertises(p), `advertises(${p}) at ${where}`);
    const fam = { ipv4: 0, ipv6: 0 };
    for (const r of expected.routes) fam[r.family]++;
    assert.deepEqual({ ...state.advertisedByFamily() }, fam, `advertised counts at ${where}`);
    const reasons = new Map<string, number>();
    for (const s of expected.skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
    const counted = [...state.skippedByReason()].filter(([, n]) => n !== 0);
    assert.deepEqual(new Map(counted), reasons, `skipped counts at ${where}`);
    previous = expected;
  }
}

test('the incremental plan equals computePlan after every step of 2,000 random sequences', () => {
  const only = process.env.COSMOLET_PROPERTY_SEED;
  if (only) return runSequence(Number(only), 40);
  for (let seed = 1; seed <= 2000; seed++) runSequence(seed, 30);
});

test('a change that touches no decision re-decides one Service and flips nothing', () => {
  const settings = randomSettings(new Gen(seededRandom(7)));
  const state = new PlanState({
    nodeName: NODE,
    settings: { ...settings, namespaces: [], labelSelector: '', clusterIP: true },
    missingNode: 'advertise-nothing',
  });
  state.setNode(projectNode({ metadata: { name: NODE } }));
  for (let i = 0; i < 1000; i++) {
    const name = `svc${i}`;
    state.setService(
      `a/${name}`,
      projectService({
        metadata: { namespace: 'a', name },
        spec: { clusterIPs: [`10.${(i >> 8) & 255}.${i & 255}.1`] },
      }),
    );
    state.setSlice(
      `a/${name}-v4`,
      projectSlice(
        {
          metadata: { namespace: 'a', name: `${name}-v4`, labels: { 'kubernetes.io/service-name': name } },
          addressType: 'IPv4',
          endpoints: [{ addresses: ['x'], conditions: { ready: true }, nodeName: NODE }],
        },
        NODE,
      ),
    );
  }
  assert.equal(state.update().flipped.length, 1000);
  state.setSlice(
    'a/svc5-v4',
    projectSlice(
      {
        metadata: { namespace: 'a', name: 'svc5-v4', labels: { 'kubernetes.io/service-name': 'svc5' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['y'], conditions: { ready: true }, nodeName: NODE }],
      },
      NODE,
    ),
  );
  const upd = state.update();
  assert.equal(upd.examined, 1);
  assert.equal(upd.decided, 0);
  assert.deepEqual(upd.flipped, []);
  assert.deepEqual(upd.changes, []);
});
