// Rule 7 in the controller: an unknown route-class annotation is one warning log line and one
// handler call (the daemon's Warning Event) when it appears, not again at each resync; the
// per-class gauge follows the plan; each route carries its class's mark and a reclassification
// re-marks the route instead of withdrawing it. The router is an in-memory table (this test is about
// the reconciler, not about a backend; both backends have their own tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { ClusterSource } from '../../../src/controller/change-queue.js';
import { Reconciler } from '../../../src/controller/reconciler.js';
import { createLogger } from '../../../src/observe/log.js';
import { Metrics } from '../../../src/observe/metrics.js';
import { projectService, projectSlice, type ServiceInfo, type SliceInfo } from '../../../src/plan/input.js';
import type { UnknownRouteClass } from '../../../src/plan/types.js';
import type { PrefixDiff, Router } from '../../../src/router/router.js';
import { buildInfo } from '../../../src/version.js';

const NODE = 'node-a';

function service(name: string, ip: string, cls: string): ServiceInfo {
  return projectService({
    metadata: { namespace: 'default', name, annotations: { 'cosmolet.io/route-class': cls } },
    spec: { clusterIPs: [ip] },
  })!;
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

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('an unknown route class: one warning line and one handler call per change; the per-class gauge; marks and re-marks', async (t) => {
  const services = new Map<string, ServiceInfo>([
    ['default/web', service('web', '10.96.0.10', 'gold')],
    ['default/api', service('api', '10.96.0.11', 'golden')],
  ]);
  const slices = new Map([
    ['default/web', slice('web')],
    ['default/api', slice('api')],
  ]);
  const cluster: ClusterSource = {
    synced: () => true,
    services: () => services.values(),
    endpointSlices: () => slices.values(),
    service: (k) => services.get(k),
    endpointSlice: (k) => slices.get(k),
    node: () => ({ name: NODE, unschedulable: false, excluded: false }),
  };
  const table = new Map<string, number>();
  const removed: string[] = [];
  const remarks: PrefixDiff['remark'] = [];
  const router: Router = {
    origination: 'kernel',
    read: () => Promise.resolve(new Map(table)),
    apply: (d: PrefixDiff) => {
      for (const p of d.remove) table.delete(p);
      removed.push(...d.remove);
      for (const p of d.add) table.set(p, d.marks?.get(p) ?? 0);
      for (const m of d.remark ?? []) {
        assert.equal(table.get(m.prefix), m.from, `re-mark of ${m.prefix} from its installed mark`);
        table.set(m.prefix, m.to);
      }
      remarks.push(...(d.remark ?? []));
      return Promise.resolve({
        added: d.add.length,
        removed: d.remove.length,
        remarked: d.remark?.length ?? 0,
        conflicts: [],
        durationMs: 0,
      });
    },
  };
  const lines: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  const found: UnknownRouteClass[][] = [];
  const metrics = new Metrics(buildInfo());
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
      routeClasses: ['gold', 'silver'],
      defaultRouteClass: 'silver',
    },
    classMarks: new Map([
      ['gold', 1001],
      ['silver', 1002],
    ]),
    nodeName: NODE,
    applyEnabled: true,
    loopIntervalSeconds: 3600,
    logger: createLogger('info', 'json', out),
    metrics,
    onUnknownRouteClasses: (f) => found.push(f),
  });
  t.after(() => r.stop());
  r.start();
  await until('the first plan installed', () => table.size === 2);
  assert.deepEqual([...table].sort(), [
    ['10.96.0.10/32', 1001],
    ['10.96.0.11/32', 1002],
  ]);
  assert.deepEqual(found, [[{ service: 'default/api', annotated: 'golden', class: 'silver' }]]);
  const warned = lines
    .map((l) => JSON.parse(l) as { level: string; msg: string })
    .filter((l) => /golden/.test(l.msg));
  assert.equal(warned.length, 1);
  assert.equal(warned[0]?.level, 'warn');
  assert.match(
    warned[0]?.msg ?? '',
    /cosmolet\.io\/route-class "golden" names no class in routeClasses; its routes take the default class "silver"/,
  );
  assert.deepEqual(
    r.plan()?.routes.map((x) => [x.prefix, x.class]),
    [
      ['10.96.0.10/32', 'gold'],
      ['10.96.0.11/32', 'silver'],
    ],
  );
  const text = await metrics.registry.metrics();
  assert.match(text, /cosmolet_advertised_prefixes_by_class\{class="gold"\} 1/);
  assert.match(text, /cosmolet_advertised_prefixes_by_class\{class="silver"\} 1/);

  // A resync reads everything again: the same typo is not reported again.
  const before = r.status().lastRunAt;
  r.resync();
  await until('the resync', () => r.status().lastRunAt > before && r.status().runningSince === undefined);
  assert.equal(found.length, 1);

  // Fixing the annotation moves the prefix to gold; a new typo is reported again.
  services.set('default/api', service('api', '10.96.0.11', 'gold'));
  r.changed('services', 'default/api');
  await until('the reclassification', () => r.plan()?.routes[1]?.class === 'gold');
  assert.match(await metrics.registry.metrics(), /cosmolet_advertised_prefixes_by_class\{class="gold"\} 2/);
  await until('the re-mark to gold', () => table.get('10.96.0.11/32') === 1001);
  assert.deepEqual(remarks, [{ prefix: '10.96.0.11/32', from: 1002, to: 1001 }]);
  services.set('default/api', service('api', '10.96.0.11', 'platinum'));
  r.changed('services', 'default/api');
  await until('the second report', () => found.length === 2);
  assert.equal(found[1]?.[0]?.annotated, 'platinum');
  await until('the re-mark back to the default', () => table.get('10.96.0.11/32') === 1002);
  assert.deepEqual([...table.keys()].sort(), ['10.96.0.10/32', '10.96.0.11/32']);
  // A class change re-marks the route; the prefix is never withdrawn meanwhile.
  assert.deepEqual(removed, []);

  // A route found with a mark no class has (a class removed from the config) is re-marked at the
  // next read-back.
  table.set('10.96.0.10/32', 4242);
  const at = r.status().lastRunAt;
  r.resync();
  await until(
    'the read-back re-mark',
    () => table.get('10.96.0.10/32') === 1001 && r.status().lastRunAt > at,
  );
  assert.deepEqual(removed, []);
});
