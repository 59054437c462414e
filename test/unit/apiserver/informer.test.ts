// The API double against another independent client: @kubernetes/client-node 1.4.0's own informer
// (which cosmolet itself does not use, see docs/design.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CoreV1Api, KubeConfig, makeInformer, type V1Service } from '@kubernetes/client-node';
import type { Service } from '../../../src/model/objects.js';
import { startDouble, svc, waitFor } from '../kube/helpers.js';

void test("client-node's makeInformer lists and follows the double, also through a 410", async (t) => {
  const { server, kubeconfig } = await startDouble(t);
  server.create('services', svc('a', 'one'));
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const api = kc.makeApiClient(CoreV1Api);
  const informer = makeInformer<V1Service>(kc, '/api/v1/services', () => api.listServiceForAllNamespaces());
  const seen: string[] = [];
  const errors: unknown[] = [];
  informer.on('add', (o) => seen.push(`add ${o.metadata?.name ?? ''}`));
  informer.on('update', (o) => seen.push(`update ${o.metadata?.name ?? ''}`));
  informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name ?? ''}`));
  informer.on('error', (err) => errors.push(err));
  t.after(() => informer.stop());
  await informer.start();
  await waitFor('initial add', () => seen.includes('add one'));
  await waitFor('watch open', () => server.activeWatches === 1);

  server.create('services', svc('a', 'two'));
  const one = server.get<Service>('services', 'a', 'one');
  assert.ok(one);
  server.update('services', { ...one, metadata: { ...one.metadata, labels: { x: 'y' } } });
  server.delete('services', 'a', 'two');
  await waitFor('changes', () => seen.includes('delete two'));
  assert.deepEqual(seen, ['add one', 'add two', 'update one', 'delete two']);

  // Missed changes + compaction + expired watch: client-node relists on the in-stream 410.
  server.stallWatches();
  server.create('services', svc('a', 'three'));
  server.compact();
  server.expireWatches();
  await waitFor('relisted', () => informer.list().length === 2, 10_000);
  assert.deepEqual(
    informer
      .list()
      .map((o) => o.metadata?.name)
      .sort(),
    ['one', 'three'],
  );
});
