// The lab's pure parts: the data path derived from the cluster's objects (pods, kube-proxy rules)
// and the manifest-directory sync against the API double (create, update, delete, parse errors).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer } from '../../../src/lab/apiserver.js';
import { ManifestSync } from '../../../src/lab/lab-manifests.js';
import { dataPath } from '../../../src/lab/lab-pods.js';
import type { EndpointSlice, Service } from '../../../src/kube/types.js';

const EXAMPLES = new URL('../../../examples/lab/', import.meta.url).pathname;

async function withApi(fn: (api: FakeApiServer) => Promise<void> | void): Promise<void> {
  const api = await FakeApiServer.start({ tls: false });
  try {
    await fn(api);
  } finally {
    await api.close();
  }
}

test('the examples load: a Node, five Services, their slices; the data path has a pod per targetRef', async () => {
  await withApi((api) => {
    const sync = new ManifestSync(EXAMPLES, api);
    const r = sync.sync();
    assert.deepEqual(r.errors, []);
    assert.equal(api.list('nodes').length, 1);
    assert.equal(api.list('services').length, 5);
    const services = api.list<Service>('services');
    const slices = api.list<EndpointSlice>('endpointslices');
    const dp = dataPath(services, slices);
    assert.deepEqual(dp.warnings, []);
    assert.deepEqual(
      dp.pods.map((p) => p.key),
      ['default/db-0', 'default/legacy-0', 'default/web-0', 'shop/api-0', 'shop/api-1', 'shop/storefront-0'],
    );
    const web = dp.pods.find((p) => p.key === 'default/web-0');
    assert.deepEqual(web?.v4, ['10.244.1.10']);
    assert.deepEqual(web?.v6, ['fd00:10:244:1::10']);
    assert.deepEqual(web?.ports, [8080]);
    // kube-proxy: ClusterIPs and LB IPs DNAT to ready endpoints; two endpoints are spread; none rejects.
    assert.match(dp.nft, /ip daddr 10\.96\.0\.10 tcp dport 80 dnat ip to 10\.244\.1\.10:8080/);
    assert.match(dp.nft, /ip6 daddr fd00:10:96::a tcp dport 80 dnat ip6 to \[fd00:10:244:1::10\]:8080/);
    assert.match(dp.nft, /ip daddr 192\.0\.2\.10 tcp dport 80 dnat ip to 10\.244\.1\.20:8080/);
    assert.match(dp.nft, /ip daddr 10\.96\.0\.11 tcp dport 80 dnat ip to numgen inc mod 2 map/);
    assert.match(dp.nft, /ip daddr 10\.96\.0\.12 tcp dport 5432 reject with tcp reset/);
  });
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
  );
  assert.deepEqual(
    dp.pods.map((p) => [p.key, p.v4]),
    [['default/a-2', ['10.244.9.9']]],
  );
  assert.equal(dp.warnings.length, 3);
  // No targetPort: the Service port.
  assert.match(dp.nft, /ip daddr 10\.96\.0\.50 tcp dport 80 dnat ip to 10\.244\.9\.9:80/);
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
