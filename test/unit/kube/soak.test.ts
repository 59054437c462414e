// Soak: 1,000 Services (+ EndpointSlices) under continuous churn and recurring faults for at least
// 60 s. After every phase the stores must converge to the server's state, and the heap (after a full
// GC) must stay flat. Gated: COSMOLET_SOAK=1 runs it (COSMOLET_SOAK_SECONDS overrides the 60 s).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Reflector } from '../../../src/kube/reflector.js';
import type { EndpointSlice, KubeObject, Service } from '../../../src/model/objects.js';
import { silentLogger } from '../../../src/observe/log.js';
import { FAST, slice, startDouble, svc, waitFor } from './helpers.js';

const enabled = process.env.COSMOLET_SOAK === '1';
const seconds = Number(process.env.COSMOLET_SOAK_SECONDS ?? '60');

function state(list: KubeObject[]): string {
  return list
    .map(
      (o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}@${o.metadata?.resourceVersion ?? ''}`,
    )
    .sort()
    .join('\n');
}

function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

void test(
  `soak: 1,000 Services with churn and faults for ${seconds} s`,
  {
    skip: enabled ? false : 'soak test skipped: set COSMOLET_SOAK=1 to run it (60 s)',
    timeout: (seconds + 120) * 1000,
  },
  async (t) => {
    const { server, client } = await startDouble(t, {
      historyLimit: 5000,
      requestLogLimit: 1000,
      bookmarkIntervalMs: 1000,
    });
    const N = 1000;
    for (let i = 0; i < N; i++) {
      server.create('services', svc(`ns${i % 10}`, `svc${i}`));
      server.create('endpointslices', slice(`ns${i % 10}`, `svc${i}-x`, `svc${i}`, ['10.0.0.1', '10.0.0.2']));
    }
    const spurious: string[] = [];
    const make = <T extends KubeObject>(resource: 'services' | 'endpointslices'): Reflector<T> => {
      const r = new Reflector<T>({
        client,
        resource,
        logger: silentLogger(),
        timers: {
          ...FAST,
          backoffMaxMs: 500,
          watchTimeoutMinSeconds: 5,
          watchTimeoutMaxSeconds: 10,
          watchdogGraceMs: 2000,
        },
        onChange: (c) => {
          // Names are never reused, so a delete notice for an object the server still has is wrong.
          if (c.type === 'deleted') {
            const [ns, name] = c.key.split('/');
            if (server.get(resource, ns, name ?? '') !== undefined) spurious.push(c.key);
          }
        },
      });
      t.after(() => r.stop());
      r.start();
      return r;
    };
    const services = make<Service>('services');
    const slices = make<EndpointSlice>('endpointslices');
    await waitFor('synced', () => services.synced && slices.synced, 20_000);

    const gc = fullGc();
    const heap: number[] = [];
    let next = N;
    let round = 0;
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      // 4 s of churn: about 250 writes per second, creates and deletes balanced, plus one fault.
      const phaseEnd = Date.now() + 4000;
      const fault = round % 5;
      let injected = false;
      while (Date.now() < phaseEnd) {
        for (let k = 0; k < 5; k++) {
          const live = server.list<Service>('services');
          const pick = live[Math.floor(Math.random() * live.length)];
          if (!pick?.metadata?.name) continue;
          const op = Math.random();
          if (op < 0.6) {
            server.update('services', {
              ...pick,
              metadata: { ...pick.metadata, labels: { n: String(next++) } },
            });
          } else if (op < 0.8) {
            server.delete('services', pick.metadata.namespace, pick.metadata.name);
            server.delete('endpointslices', pick.metadata.namespace, `${pick.metadata.name}-x`);
          } else {
            const i = next++;
            server.create('services', svc(`ns${i % 10}`, `svc${i}`));
            server.create('endpointslices', slice(`ns${i % 10}`, `svc${i}-x`, `svc${i}`, ['10.0.0.3']));
          }
        }
        if (Date.now() > phaseEnd - 2000 && !injected) {
          injected = true;
          if (fault === 0) server.dropWatches();
          if (fault === 1) {
            server.stallWatches();
            server.compact();
            server.dropWatches();
          }
          if (fault === 2) server.failNext(3, 503, { retryAfterSeconds: 0 });
          if (fault === 3) server.stallWatches();
          if (fault === 4) server.expireWatches();
        }
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setTimeout(r, 20));
      }
      round++;
      server.clearFaults();
      await waitFor(
        `round ${round} converged`,
        () =>
          state(services.items()) === state(server.list('services')) &&
          state(slices.items()) === state(server.list('endpointslices')),
        20_000,
      );
      gc();
      heap.push(process.memoryUsage().heapUsed);
    }
    const mb = heap.map((h) => Math.round(h / 1e5) / 10);
    t.diagnostic(`rounds ${round}, heap after GC per round (MB): ${mb.join(' ')}`);
    assert.deepEqual(spurious, []);
    assert.ok(round >= Math.floor(seconds / 6), `only ${round} rounds`);
    // Flat: the last rounds are within 20 % (+5 MB) of the early ones once warmed up.
    const early = Math.max(...heap.slice(1, 4));
    const late = Math.max(...heap.slice(-3));
    assert.ok(late < early * 1.2 + 5e6, `heap grew from ${early} to ${late}`);
  },
);
