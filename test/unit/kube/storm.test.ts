// A 410 storm: ten rounds of missed changes + compaction + dropped/expired watches. The store must
// end equal to the server's state, with no delete notification for an object that still exists.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reflector } from '../../../src/kube/reflector.js';
import type { EndpointSlice, KubeObject, Service } from '../../../src/model/objects.js';
import { silentLogger } from '../../../src/observe/log.js';
import { FAST, slice, startDouble, svc, waitFor } from './helpers.js';

function state(list: KubeObject[]): string {
  return list
    .map(
      (o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}@${o.metadata?.resourceVersion ?? ''}`,
    )
    .sort()
    .join('\n');
}

void test('410 storm: ten rounds of compaction and dropped watches converge without spurious deletes', async (t) => {
  const { server, client } = await startDouble(t);
  for (let i = 0; i < 200; i++) {
    server.create('services', svc(`ns${i % 4}`, `svc${i}`));
    server.create(
      'endpointslices',
      slice(`ns${i % 4}`, `svc${i}-x`, `svc${i}`, [`10.0.${i >> 8}.${i & 255}`]),
    );
  }
  const spurious: string[] = [];
  let deletes = 0;
  let relists = 0;
  const make = <T extends KubeObject>(resource: 'services' | 'endpointslices'): Reflector<T> => {
    const r = new Reflector<T>({
      client,
      resource,
      logger: silentLogger(),
      timers: { ...FAST, pageSize: 37 },
      hooks: { relist: () => relists++ },
      onChange: (c) => {
        if (c.type !== 'deleted') return;
        deletes++;
        const [ns, name] = c.key.split('/');
        if (server.get(resource, ns, name ?? '') !== undefined) spurious.push(`${resource} ${c.key}`);
      },
    });
    t.after(() => r.stop());
    r.start();
    return r;
  };
  const services = make<Service>('services');
  const slices = make<EndpointSlice>('endpointslices');
  await waitFor('synced', () => services.synced && slices.synced && server.activeWatches === 2);

  let next = 200;
  for (let round = 0; round < 10; round++) {
    server.goneMode = round % 2 === 0 ? 'stream' : 'http';
    server.stallWatches();
    // Changes the reflectors miss: creates, updates, deletes.
    for (let k = 0; k < 5; k++) {
      const i = next++;
      server.create('services', svc(`ns${i % 4}`, `svc${i}`));
      server.create('endpointslices', slice(`ns${i % 4}`, `svc${i}-x`, `svc${i}`, ['10.1.0.1']));
    }
    const live = server.list<Service>('services');
    for (let k = 0; k < 5; k++) {
      const s = live[(round * 7 + k * 13) % live.length];
      if (s)
        server.update('services', { ...s, metadata: { ...s.metadata, labels: { round: String(round) } } });
    }
    for (let k = 0; k < 3; k++) {
      const s = live[(round * 11 + k * 17 + 3) % live.length];
      if (s?.metadata?.name) {
        server.delete('services', s.metadata.namespace, s.metadata.name);
        server.delete('endpointslices', s.metadata.namespace, `${s.metadata.name}-x`);
      }
    }
    server.compact();
    if (round % 3 === 2) server.expireWatches();
    else server.dropWatches({ clean: round % 3 === 1 });
    await waitFor(
      `round ${round} converged`,
      () =>
        state(services.items()) === state(server.list('services')) &&
        state(slices.items()) === state(server.list('endpointslices')) &&
        server.activeWatches === 2,
      10_000,
    );
  }
  assert.deepEqual(spurious, []);
  assert.equal(relists, 2 + 2 * 10, 'every round relisted both resources exactly once');
  assert.ok(deletes >= 2 * 3 * 10 - 10, `real deletes were reported (${deletes})`);
  assert.equal(services.synced && slices.synced, true);
});
