// Node names taken from EndpointSlices are shared while slices name them and released with the last
// one: a table that only grew kept every name a tenant's slices ever carried.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { KubeClient } from '../../../src/kube/client.js';
import { planProjections } from '../../../src/controller/projections.js';
import { ReflectorSet } from '../../../src/kube/reflector-set.js';
import { silentLogger } from '../../../src/observe/log.js';
import { waitFor } from './helpers.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Empty lists for every resource; the EndpointSlice watch is `slices`, the others stay silent. */
function fakeClient(): { client: KubeClient; slices: () => PassThrough | undefined } {
  let slices: PassThrough | undefined;
  const client: KubeClient = {
    server: 'https://127.0.0.1:6443',
    request: () =>
      Promise.resolve({
        status: 200,
        headers: {},
        body: JSON.stringify({ kind: 'SomeList', metadata: { resourceVersion: '1' }, items: [] }),
      }),
    stream: (path) => {
      const stream = new PassThrough();
      if (path.includes('endpointslices')) slices = stream;
      return Promise.resolve({ status: 200, headers: {}, stream, close: () => stream.destroy() });
    },
  };
  return { client, slices: () => slices };
}

function event(type: string, update: number, endpoints: number): string {
  const object = {
    metadata: {
      namespace: 'tenant',
      name: 'big',
      resourceVersion: String(update + 2),
      labels: { 'kubernetes.io/service-name': 'big' },
    },
    addressType: 'IPv4',
    // Node names of the longest kind (253 characters), new ones in every update.
    endpoints: Array.from({ length: endpoints }, (_, i) => ({
      addresses: [`10.1.${i >> 8}.${i & 255}`],
      conditions: { ready: true },
      nodeName: `node-${update}-${i}-`.padEnd(253, 'x'),
    })),
  };
  return JSON.stringify({ type, object }) + '\n';
}

void test('regression: node names interned from EndpointSlices were never released (40 updates of a 1,000-endpoint slice kept +28.7 MB)', async (t) => {
  const { client, slices } = fakeClient();
  const projections = planProjections('me');
  const set = new ReflectorSet({
    client,
    namespaces: [],
    nodeName: 'me',
    projections,
    logger: silentLogger(),
  });
  t.after(() => set.stop());
  set.start();
  await waitFor('synced and watching slices', () => set.synced && slices() !== undefined);
  const watch = slices();
  assert.ok(watch);
  const before = heapAfterGc();
  const updates = 40;
  for (let u = 0; u < updates; u++) {
    watch.write(event(u === 0 ? 'ADDED' : 'MODIFIED', u, 1000));
    await waitFor(
      `update ${u}`,
      () => set.endpointSlice('tenant/big')?.nodes[0]?.startsWith(`node-${u}-`) === true,
    );
  }
  const live = projections.nodeNames.size;
  watch.write(event('DELETED', updates, 0));
  await waitFor('deleted', () => set.endpointSlice('tenant/big') === undefined);
  const grownMB = (heapAfterGc() - before) / 1e6;
  t.diagnostic(`heap after the churn and GC: ${grownMB.toFixed(1)} MB over before`);
  // The 40,000 names of 253 characters weigh about 13 MB.
  assert.ok(grownMB < 4, `kept ${grownMB.toFixed(1)} MB after the slice was deleted`);
  assert.equal(live, 1000, 'while it existed: the names of the current slice only');
  assert.equal(projections.nodeNames.size, 0);
});

void test('the IPv4 and IPv6 slices of a Service share one node list; released with the last', () => {
  const projections = planProjections('me');
  const { nodeNames } = projections;
  const slice = (family: 'IPv4' | 'IPv6', nodes: string[]) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: 'tenant', name: `web-${family}`, labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: family,
    endpoints: nodes.map((nodeName) => ({ addresses: ['10.0.0.1'], conditions: { ready: true }, nodeName })),
  });
  const v4 = projections.endpointSlices.project(slice('IPv4', ['b', 'a', 'me', 'a']));
  const v6 = projections.endpointSlices.project(slice('IPv6', ['me', 'a', 'b']));
  assert.ok(v4 && v6);
  assert.deepEqual(v4.nodes, ['a', 'b', 'me'], 'sorted, distinct');
  assert.equal(v4.nodes, v6.nodes, 'one list for both');
  assert.equal(nodeNames.listCount, 1);
  assert.equal(nodeNames.size, 3);
  projections.endpointSlices.release?.(v4);
  assert.equal(nodeNames.size, 3, 'still named by the IPv6 slice');
  projections.endpointSlices.release?.(v6);
  assert.equal(nodeNames.listCount, 0);
  assert.equal(nodeNames.size, 0);
});
