// status() hands out a snapshot of the installed routes: what a reader does with it (the FRR
// monitor, /status) cannot change the reconciler's ledger, and later applies do not change it under
// the reader. Before, status() returned the live map: deleting from it "uninstalled" a route.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { ClusterSource } from '../../../src/controller/change-queue.js';
import { Reconciler } from '../../../src/controller/reconciler.js';
import { createLogger } from '../../../src/observe/log.js';
import { Metrics } from '../../../src/observe/metrics.js';
import { projectService, projectSlice, type ServiceInfo, type SliceInfo } from '../../../src/plan/input.js';
import type { PrefixDiff, Router } from '../../../src/router/router.js';
import { buildInfo } from '../../../src/version.js';
import { ManualClock } from '../manual-clock.js';

const NODE = 'node-a';

function service(name: string, ip: string): ServiceInfo {
  return projectService({ metadata: { namespace: 'default', name }, spec: { clusterIPs: [ip] } })!;
}

function slice(name: string): SliceInfo {
  return projectSlice(
    {
      metadata: { namespace: 'default', name, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.244.0.5'], conditions: { ready: true }, nodeName: NODE }],
    },
    NODE,
  )!;
}

test('mutating the installed routes status() returned changes neither the reconciler nor a later status()', async (t) => {
  const services = new Map([['default/web', service('web', '10.96.0.10')]]);
  const slices = new Map([['default/web', slice('web')]]);
  const cluster: ClusterSource = {
    synced: () => true,
    services: () => services.values(),
    endpointSlices: () => slices.values(),
    service: (k) => services.get(k),
    endpointSlice: (k) => slices.get(k),
    node: () => ({ name: NODE, unschedulable: false, excluded: false }),
  };
  const table = new Map<string, number>();
  const router: Router = {
    origination: 'kernel',
    read: () => Promise.resolve(new Map(table)),
    apply: (d: PrefixDiff) => {
      for (const p of d.remove) table.delete(p);
      for (const p of d.add) table.set(p, d.marks?.get(p) ?? 0);
      return Promise.resolve({
        added: d.add.length,
        removed: d.remove.length,
        remarked: 0,
        conflicts: [],
        durationMs: 0,
      });
    },
  };
  const clock = new ManualClock();
  const r = new Reconciler({
    cluster,
    router,
    settings: {
      namespaces: [],
      labelSelector: '',
      clusterIP: true,
      loadBalancerIP: false,
      externalIPs: false,
      allowedCIDRs: [],
      loadBalancerClass: '',
      withdrawOnCordon: true,
      routeClasses: [],
      defaultRouteClass: '',
    },
    nodeName: NODE,
    applyEnabled: true,
    loopIntervalSeconds: 3600,
    logger: createLogger('error', 'json', new Writable({ write: (_c, _e, done) => done() })),
    metrics: new Metrics(buildInfo()),
    clock,
  });
  t.after(() => r.stop());
  r.start();
  await clock.advance(0);
  assert.deepEqual([...table], [['10.96.0.10/32', 0]]);

  const taken = r.status().installed;
  assert.deepEqual([...taken], [['10.96.0.10/32', 0]]);
  // A reader that casts the map and writes to it: a snapshot has nothing to write with.
  const writable = taken as unknown as Partial<Map<string, number>>;
  assert.throws(() => writable.delete!('10.96.0.10/32'), TypeError);
  assert.throws(() => writable.set!('192.0.2.99/32', 7), TypeError);
  assert.deepEqual([...r.status().installed], [['10.96.0.10/32', 0]]);

  // The next apply changes the reconciler's routes, not the snapshot taken before it.
  services.set('default/api', service('api', '10.96.0.11'));
  slices.set('default/api', slice('api'));
  r.changed('services', 'default/api');
  r.changed('endpointslices', 'default/api');
  await clock.advance(1000);
  assert.deepEqual([...table.keys()].sort(), ['10.96.0.10/32', '10.96.0.11/32']);
  assert.deepEqual([...r.status().installed.keys()].sort(), ['10.96.0.10/32', '10.96.0.11/32']);
  assert.deepEqual([...taken], [['10.96.0.10/32', 0]]);
  assert.equal(taken.get('10.96.0.10/32'), 0);
  assert.equal(taken.size, 1);
});
