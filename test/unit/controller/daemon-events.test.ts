// The Events the in-process daemon posts to the API double: only what is this node's own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isReporter } from '../../../src/controller/reporter-nodes.js';
import type { EndpointSlice } from '../../../src/model/objects.js';
import { NODE, clusterService, node, service, slice, startRig, type Rig } from './daemon-rig.js';

/** A LoadBalancer Service with externalTrafficPolicy Local and one endpoint on this node. */
const localLb = [
  service(
    'lb',
    {
      type: 'LoadBalancer',
      clusterIP: '10.96.0.13',
      clusterIPs: ['10.96.0.13'],
      externalTrafficPolicy: 'Local',
    },
    { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } },
  ),
  slice('lb', [{ ip: '10.1.0.4', node: NODE }]),
];

function setLbReady(rig: Rig, ready: boolean): void {
  const s = rig.api.get<EndpointSlice>('endpointslices', 'default', 'lb-v4');
  assert.ok(s?.endpoints?.[0]);
  s.endpoints[0].conditions = { ready };
  rig.api.update('endpointslices', s);
}

void test('a Local-policy IP: Advertised after the apply that installed it, Withdrawn after the one that removed it; none for Cluster-policy IPs', async (t) => {
  const rig = await startRig(t, { objects: [node(), ...clusterService('web', '10.96.0.10'), ...localLb] });
  await rig.until('ready', () => rig.daemon.readiness().ready);
  assert.deepEqual([...rig.router.routes].sort(), ['10.96.0.10/32', '10.96.0.13/32', '192.0.2.10/32']);
  const advertised = 'Advertised lb: Node node-a advertises 192.0.2.10/32';
  const withdrawn = 'Withdrawn lb: Node node-a withdrew 192.0.2.10/32 (no ready endpoint on this node)';
  await rig.until('the Advertised Event of the first apply', () => rig.events().includes(advertised));
  setLbReady(rig, false);
  await rig.until('192.0.2.10/32 withdrawn', () => !rig.router.routes.has('192.0.2.10/32'));
  await rig
    .until('the Withdrawn Event', () => rig.events().includes(withdrawn), { realMs: 2000 })
    .catch((err: unknown) => {
      throw new Error(`${String(err)}; events: ${rig.events().join(' | ')}`);
    });
  setLbReady(rig, true);
  await rig.until('192.0.2.10/32 installed', () => rig.router.routes.has('192.0.2.10/32'));
  await rig.until('the second Advertised Event', () => rig.events().includes(`${advertised} (x2)`));
  assert.deepEqual(rig.events(), [`${advertised} (x2)`, withdrawn]);
});

void test("a prefix held by a route that is not cosmolet's: one RouteConflict Event, the route is not touched", async (t) => {
  const rig = await startRig(t, { objects: [node()], noStart: true });
  rig.router.foreign.add('10.96.0.10/32');
  await rig.daemon.start();
  await rig.until('ready', () => rig.daemon.readiness().ready);
  for (const o of clusterService('web', '10.96.0.10')) rig.api.load([o]);
  await rig.until('the RouteConflict Event', () => rig.events().length === 1);
  assert.deepEqual(rig.events(), [
    "RouteConflict web: Node node-a cannot advertise 10.96.0.10/32: a route that is not cosmolet's holds it",
  ]);
  assert.deepEqual([...rig.router.routes], []);
  assert.ok(rig.daemon.readiness().ready, 'a conflict is reported, not a failure');
});

void test("a refused IP is recorded by the Service's reporter nodes only", async (t) => {
  // Ten other nodes run endpoints: node-a is among the three reporters of some Services, not of others.
  const nodes = Array.from({ length: 10 }, (_, i) => `node-${i}`);
  const names = Array.from({ length: 40 }, (_, i) => `bad-${i}`);
  const reported = names.filter((n) => isReporter(`default/${n}`, NODE, nodes));
  const silent = names.filter((n) => !isReporter(`default/${n}`, NODE, nodes));
  assert.ok(reported.length > 0 && silent.length > 0);
  const objects = [node(), ...clusterService('web', '10.96.0.10')];
  for (const name of [reported[0], silent[0]] as string[]) {
    objects.push(
      service(name, { clusterIP: '010.96.0.99', clusterIPs: ['010.96.0.99'] }),
      slice(
        name,
        nodes.map((n, i) => ({ ip: `10.2.0.${i + 1}`, node: n })),
      ),
    );
  }
  const rig = await startRig(t, { objects });
  await rig.until('ready', () => rig.daemon.readiness().ready);
  await rig.until('the InvalidIP Event', () => rig.events().length >= 1);
  assert.deepEqual(rig.events(), [
    `InvalidIP ${reported[0]}: Not advertising "010.96.0.99": not a plain IPv4 or IPv6 address`,
  ]);
});

void test('bgp.enabled false: nothing installed, no Advertised/Withdrawn Events; a refused IP is still reported', async (t) => {
  const rig = await startRig(t, {
    config: { bgp: { enabled: false } },
    objects: [
      node(),
      ...localLb,
      service('bad', { clusterIP: '010.96.0.99', clusterIPs: ['010.96.0.99'] }),
      slice('bad', [{ ip: '10.1.0.9' }]),
    ],
  });
  await rig.until('ready', () => rig.daemon.readiness().ready);
  setLbReady(rig, false);
  await rig.until(
    'the plan withdraws 192.0.2.10',
    () => !rig.daemon.reconciler.state.advertises('192.0.2.10/32'),
  );
  setLbReady(rig, true);
  await rig.until('the plan advertises 192.0.2.10', () =>
    rig.daemon.reconciler.state.advertises('192.0.2.10/32'),
  );
  await rig.until('the InvalidIP Event', () => rig.events().length >= 1);
  assert.deepEqual(rig.events(), [
    'InvalidIP bad: Not advertising "010.96.0.99": not a plain IPv4 or IPv6 address',
  ]);
  assert.deepEqual(rig.router.applies, []);
  assert.deepEqual([...rig.router.routes], []);
});
