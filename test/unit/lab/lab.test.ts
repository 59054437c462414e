// The lab's pure parts: the data path derived from the cluster's objects (pods placed on nodes, each
// node's kube-proxy rules), the manifest-directory sync against the API double (create, update,
// delete, parse errors), the leaf FIB parser and the cluster-wide status merge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer } from '@cosmolet/kube-double/apiserver';
import { ManifestSync } from '@cosmolet/lab/cluster/manifests';
import { dataPath, type DataPathNode } from '@cosmolet/lab/pods/datapath';
import { labNodes } from '@cosmolet/lab/state/state';
import { parseFibNextHops } from '@cosmolet/lab/command/view';
import { clusterStatus } from '../../../src/observe/cluster-status.js';
import type { StatusDocument } from '../../../src/observe/status.js';
import type { EndpointSlice, Service } from '../../../src/model/objects.js';

const EXAMPLES = new URL('../../../examples/lab/', import.meta.url).pathname;
const NODES: DataPathNode[] = labNodes('t', '/tmp/x', 3);
const ONE: DataPathNode[] = labNodes('t', '/tmp/x', 1);

function nft(dp: ReturnType<typeof dataPath>, node: string): string {
  return dp.nft.get(node) ?? '';
}

async function withApi(fn: (api: FakeApiServer) => Promise<void> | void): Promise<void> {
  const api = await FakeApiServer.start({ tls: false });
  try {
    await fn(api);
  } finally {
    await api.close();
  }
}

test('the examples load: six Services over three nodes; pods where their endpoints say', async () => {
  await withApi((api) => {
    const sync = new ManifestSync(EXAMPLES, api);
    const r = sync.sync();
    assert.deepEqual(r.errors, []);
    assert.equal(api.list('services').length, 6);
    const services = api.list<Service>('services');
    const slices = api.list<EndpointSlice>('endpointslices');
    const dp = dataPath(services, slices, NODES);
    assert.deepEqual(dp.warnings, []);
    assert.deepEqual(
      dp.pods.map((p) => `${p.key}@${p.node}`),
      [
        'default/db-0@lab-node-1',
        'default/legacy-0@lab-node-1',
        'default/web-0@lab-node-1',
        'default/web-1@lab-node-2',
        'default/web-2@lab-node-3',
        'shop/api-0@lab-node-1',
        'shop/api-1@lab-node-2',
        'shop/checkout-0@lab-node-3',
        'shop/storefront-0@lab-node-2',
      ],
    );
    const web = dp.pods.find((p) => p.key === 'default/web-1');
    assert.deepEqual(web?.v4, ['10.244.2.10']);
    assert.deepEqual(web?.v6, ['fd00:10:244:2::10']);
    assert.deepEqual(web?.ports, [8080]);
    // kube-proxy on every node: ClusterIPs to every ready endpoint of the cluster.
    for (const n of NODES) {
      assert.match(nft(dp, n.name), /ip daddr 10\.96\.0\.10 tcp dport 80 dnat ip to numgen inc mod 3 map/);
      assert.match(nft(dp, n.name), /ip daddr 10\.96\.0\.30 tcp dport 80 dnat ip to 10\.244\.3\.30:8080/);
      assert.match(nft(dp, n.name), /ip daddr 10\.96\.0\.12 tcp dport 5432 reject with tcp reset/);
      // A connection to another node's pod leaves with this node's address.
      assert.match(
        nft(dp, n.name),
        new RegExp(
          `ct status dnat oifname "swp1" meta nfproto ipv4 snat ip to ${n.v4.replaceAll('.', '\\.')}`,
        ),
      );
    }
    // externalTrafficPolicy: Local: the LB IPs only on the node with the pod; elsewhere refused.
    assert.match(nft(dp, 'lab-node-2'), /ip daddr 192\.0\.2\.10 tcp dport 80 dnat ip to 10\.244\.2\.20:8080/);
    assert.match(
      nft(dp, 'lab-node-2'),
      /ip6 daddr 2001:db8:96::10 tcp dport 80 dnat ip6 to \[fd00:10:244:2::20\]:8080/,
    );
    for (const n of ['lab-node-1', 'lab-node-3']) {
      assert.doesNotMatch(nft(dp, n), /daddr 192\.0\.2\.10 tcp dport 80 dnat/);
      assert.match(
        nft(dp, n),
        /ip daddr 192\.0\.2\.10 tcp dport 80 reject with tcp reset comment "shop\/storefront has no ready endpoints on this node"/,
      );
    }
    // Its ClusterIP is not Local: every node forwards it.
    assert.match(nft(dp, 'lab-node-1'), /ip daddr 10\.96\.0\.20 tcp dport 80 dnat ip to 10\.244\.2\.20:8080/);
  });
});

test('with one node, pods of nodes the lab does not have run on it, with a warning', async () => {
  await withApi((api) => {
    new ManifestSync(EXAMPLES, api).sync();
    const dp = dataPath(api.list<Service>('services'), api.list<EndpointSlice>('endpointslices'), ONE);
    assert.ok(dp.pods.every((p) => p.node === 'lab-node-1'));
    assert.ok(
      dp.warnings.some((w) =>
        /shop\/storefront-0: node lab-node-2 is not in the lab; the pod runs on lab-node-1/.test(w),
      ),
    );
    // Local policy follows the endpoint's nodeName, as kube-proxy does: not this node, refused.
    assert.match(nft(dp, 'lab-node-1'), /ip daddr 192\.0\.2\.10 tcp dport 80 reject/);
  });
});

test('the leaf FIB parser counts multipath and single-path next hops', () => {
  const v4 = JSON.stringify([
    { dst: '10.96.0.10', nhid: 11, nexthops: [{ dev: 'swp1' }, { dev: 'swp2' }, { dev: 'swp3' }] },
    { dst: '192.0.2.10', nhid: 12, gateway: 'fe80::1', dev: 'swp2' },
    { dst: 'default', dev: 'swp1' },
  ]);
  assert.deepEqual(
    [...parseFibNextHops(v4, 4)],
    [
      ['10.96.0.10/32', 3],
      ['192.0.2.10/32', 1],
    ],
  );
  const v6 = JSON.stringify([{ dst: 'fd00:10:96::a', nexthops: [{ dev: 'swp1' }, { dev: 'swp3' }] }]);
  assert.deepEqual([...parseFibNextHops(v6, 6)], [['fd00:10:96::a/128', 2]]);
  assert.deepEqual([...parseFibNextHops('', 4)], []);
  assert.deepEqual([...parseFibNextHops('not json', 4)], []);
});

test('cosmolet status merges the nodes: advertised, installed but not in BGP, not installed, skipped', () => {
  const doc = (
    node: string,
    routes: StatusDocument['routes'],
    skipped: StatusDocument['skipped'],
  ): StatusDocument => ({
    node,
    routes,
    skipped,
    stale: [],
    bgpCheckedAt: null,
    reconciledAt: null,
  });
  const route = (installed: boolean, valid: boolean): StatusDocument['routes'][number] => ({
    prefix: '10.96.0.10/32',
    family: 'ipv4',
    services: ['default/web'],
    kinds: ['clusterIP'],
    class: null,
    installed,
    bgp: { valid, best: valid },
  });
  const s = clusterStatus([
    { node: 'n3', pod: 'p3', url: 'http://10.0.0.3:8080/status', error: 'connect ECONNREFUSED' },
    { node: 'n1', pod: 'p1', url: 'u1', doc: doc('n1', [route(true, true)], []) },
    {
      node: 'n2',
      pod: 'p2',
      url: 'u2',
      doc: doc(
        'n2',
        [route(true, false)],
        [{ service: 'shop/lb', ip: '192.0.2.10', reason: 'no-local-endpoints' }],
      ),
    },
    {
      node: 'n4',
      pod: 'p4',
      url: 'u4',
      doc: doc(
        'n4',
        [route(false, false)],
        [{ service: 'shop/lb', ip: '192.0.2.10', reason: 'node-unschedulable' }],
      ),
    },
  ]);
  assert.deepEqual(s.prefixes, [
    {
      prefix: '10.96.0.10/32',
      services: ['default/web'],
      classes: [],
      advertising: ['n1'],
      installedNotInBgp: ['n2'],
      notInstalled: ['n4'],
      skipped: [],
    },
    {
      prefix: '192.0.2.10/32',
      services: ['shop/lb'],
      classes: [],
      advertising: [],
      installedNotInBgp: [],
      notInstalled: [],
      skipped: [
        { node: 'n2', reason: 'no-local-endpoints' },
        { node: 'n4', reason: 'node-unschedulable' },
      ],
    },
  ]);
  assert.deepEqual(
    s.nodes.map((n) => [n.name, n.reachable, n.error]),
    [
      ['n1', true, null],
      ['n2', true, null],
      ['n3', false, 'connect ECONNREFUSED'],
      ['n4', true, null],
    ],
  );
});

test('pod addresses in the lab own ranges are refused, duplicates are reported', () => {
  const svc: Service = {
    kind: 'Service',
    metadata: { name: 's', namespace: 'default' },
    spec: { clusterIPs: ['10.96.0.50'], ports: [{ port: 80 }] },
  };
  const slice = (name: string, addrs: string[]): EndpointSlice => ({
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': 's' } },
    addressType: 'IPv4',
    endpoints: addrs.map((a, i) => ({ addresses: [a], targetRef: { kind: 'Pod', name: `${name}-${i}` } })),
  });
  const dp = dataPath(
    [svc],
    [slice('a', ['10.255.0.2', '169.254.1.1', '10.244.9.9']), slice('b', ['10.244.9.9'])],
    ONE,
  );
  assert.deepEqual(
    dp.pods.map((p) => [p.key, p.v4]),
    [['default/a-2', ['10.244.9.9']]],
  );
  assert.equal(dp.warnings.length, 3);
  // No targetPort: the Service port.
  assert.match(nft(dp, 'lab-node-1'), /ip daddr 10\.96\.0\.50 tcp dport 80 dnat ip to 10\.244\.9\.9:80/);
});

test('the manifest sync creates, updates and deletes; a broken file keeps its objects', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-lab-unit-'));
  try {
    cpSync(EXAMPLES, dir, { recursive: true });
    await withApi((api) => {
      const sync = new ManifestSync(dir, api);
      assert.ok(sync.sync().created > 0);
      // Nothing changed: nothing is written.
      const rv = api.resourceVersion;
      const again = sync.sync();
      assert.equal(again.created + again.updated + again.deleted, 0);
      assert.equal(api.resourceVersion, rv);

      // An edit updates exactly that object.
      const web = join(dir, 'web.yaml');
      const text = readFileSync(web, 'utf8');
      writeFileSync(web, text.replace('ready: true', 'ready: false'));
      assert.equal(sync.sync().updated, 1);
      const slice = api.get<EndpointSlice>('endpointslices', 'default', 'web-ipv4');
      assert.equal(slice?.endpoints?.[0]?.conditions?.ready, false);

      // A broken file: reported, its objects stay.
      writeFileSync(web, 'kind: Service\nmetadata: {name: [\n');
      const broken = sync.sync();
      assert.equal(broken.deleted, 0);
      assert.equal(broken.errors.length, 1);
      assert.equal(broken.errors[0]?.file, 'web.yaml');
      assert.ok(api.get('services', 'default', 'web'));

      // An object removed from a file is deleted; a removed file deletes all of its objects.
      writeFileSync(web, text.slice(0, text.indexOf('---')));
      const removed = sync.sync();
      assert.equal(removed.deleted, 2);
      assert.ok(api.get('services', 'default', 'web'));
      assert.equal(api.get('endpointslices', 'default', 'web-ipv4'), undefined);
      rmSync(web);
      assert.equal(sync.sync().deleted, 1);
      assert.equal(api.get('services', 'default', 'web'), undefined);

      // Objects made by others (kubectl) are left alone.
      api.create('services', { kind: 'Service', metadata: { name: 'mine', namespace: 'default' }, spec: {} });
      sync.sync();
      assert.ok(api.get('services', 'default', 'mine'));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
