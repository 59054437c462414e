// The projections: what the plan reads of each object, taken once at ingest. Fields of the wrong
// type are dropped and reported, never misread (regressions: a string "false" condition counted as
// ready, a numeric name was read as a name).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../../src/model/objects.js';
import {
  projectNode,
  projectService,
  projectSlice,
  sameService,
  sameSlice,
} from '../../../src/plan/input.js';

function reports(): { list: string[]; report: (f: string) => void } {
  const list: string[] = [];
  return { list, report: (f) => list.push(f) };
}

function slice(endpoints: unknown): KubeObject {
  return {
    metadata: { namespace: 'default', name: 'web-x', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints,
  } as KubeObject;
}

void test('an endpoint with conditions "false" (a string) is not ready, and is reported', () => {
  const r = reports();
  const s = projectSlice(
    slice([{ addresses: ['10.1.0.1'], conditions: 'false', nodeName: 'n1' }]),
    'n1',
    r.report,
  );
  assert.equal(s?.ready, false);
  assert.equal(s?.localReady, false);
  assert.deepEqual(r.list, ['endpointslice.endpoints.conditions']);
});

void test('a condition of the wrong type makes the endpoint not ready; absent and null mean ready', () => {
  for (const ready of ['true', 'false', 1, {}]) {
    const r = reports();
    const s = projectSlice(slice([{ conditions: { ready } }]), 'n1', r.report);
    assert.equal(s?.ready, false, JSON.stringify(ready));
    assert.equal(r.list.length, 1);
  }
  for (const conditions of [undefined, null, {}, { ready: null }]) {
    assert.equal(projectSlice(slice([{ conditions }]), 'n1')?.ready, true, JSON.stringify(conditions));
  }
  const term = projectSlice(
    slice([{ conditions: { ready: false, serving: true, terminating: true }, nodeName: 'n1' }]),
    'n1',
  );
  assert.deepEqual([term?.ready, term?.fallback, term?.localFallback], [false, true, true]);
});

void test('a slice keeps its Service, family, readiness and the distinct nodes of its endpoints', () => {
  const s = projectSlice(
    slice([
      { conditions: { ready: true }, nodeName: 'n2' },
      { conditions: { ready: false }, nodeName: 'n1' },
      { conditions: { ready: true }, nodeName: 'n2' },
      { conditions: { ready: true }, nodeName: 7 },
    ]),
    'n1',
  );
  assert.deepEqual(s, {
    key: 'default/web-x',
    service: 'default/web',
    family: 'ipv4',
    ready: true,
    fallback: false,
    localReady: false,
    localFallback: false,
    nodes: ['n1', 'n2'],
  });
  const moved = projectSlice(slice([{ conditions: { ready: true }, nodeName: 'n3' }]), 'n1');
  assert.ok(s && moved && !sameSlice(s, moved), 'an endpoint moving to another node is a change');
  const again = projectSlice(
    slice([
      { conditions: { ready: true }, nodeName: 'n2', hostname: 'changed', zone: 'b' },
      { conditions: { ready: false }, nodeName: 'n1' },
    ]),
    'n1',
  );
  assert.ok(s && again && sameSlice(s, again), 'what the plan does not read is no change');
});

void test('a Service whose name or namespace is not a non-empty string is dropped and reported', () => {
  for (const metadata of [
    { namespace: 'default', name: 5 },
    { namespace: 7, name: 'x' },
    { name: 'x' },
    null,
  ]) {
    const r = reports();
    assert.equal(
      projectService({ metadata, spec: { clusterIP: '10.96.0.1' } } as KubeObject, r.report),
      undefined,
    );
    assert.deepEqual(r.list, ['service.metadata']);
  }
});

void test('Service fields of the wrong type are dropped and reported; the rest is read', () => {
  const r = reports();
  const s = projectService(
    {
      metadata: { namespace: 'default', name: 'web', labels: { app: 'x', bad: 5 }, annotations: 'x' },
      spec: {
        clusterIPs: '10.96.0.1',
        clusterIP: '10.96.0.2',
        externalIPs: [3, '192.0.2.1'],
        type: 'ClusterIP',
      },
    } as unknown as KubeObject,
    r.report,
  );
  assert.deepEqual(
    s?.ips.map((i) => [i.raw, i.kind]),
    [
      ['10.96.0.2', 'clusterIP'],
      ['192.0.2.1', 'externalIP'],
    ],
  );
  assert.deepEqual(s?.labels, { app: 'x' });
  assert.deepEqual(r.list.sort(), [
    'service.metadata.annotations',
    'service.metadata.labels',
    'service.spec.clusterIPs',
    'service.spec.externalIPs',
  ]);
  const typed = projectService({
    metadata: { namespace: 'a', name: 'b' },
    spec: { type: 5 },
  } as unknown as KubeObject);
  assert.equal(typed?.eligible, false, 'a type of the wrong kind is not read as ClusterIP');
});

void test('a Service projection keeps canonical IPs, drops labels when asked, and ignores resourceVersion', () => {
  const raw = {
    metadata: { namespace: 'default', name: 'web', resourceVersion: '1', labels: { app: 'x' } },
    spec: { clusterIPs: ['10.96.0.1', 'FD00::A'] },
  } as KubeObject;
  const a = projectService(raw);
  const b = projectService({ ...raw, metadata: { ...raw.metadata, resourceVersion: '2' } });
  assert.deepEqual(
    a?.ips.map((i) => i.raw),
    ['10.96.0.1', 'fd00::a'],
  );
  assert.ok(a && b && sameService(a, b));
  assert.equal(projectService(raw, undefined, { labels: false })?.labels, undefined);
});

void test('a Node with spec.unschedulable of the wrong type is reported and not read as cordoned', () => {
  const r = reports();
  const n = projectNode(
    { metadata: { name: 'n1' }, spec: { unschedulable: 'true' } } as unknown as KubeObject,
    r.report,
  );
  assert.deepEqual(n, { name: 'n1', unschedulable: false, excluded: false });
  assert.deepEqual(r.list, ['node.spec.unschedulable']);
  assert.equal(projectNode({ metadata: { name: 5 } } as unknown as KubeObject), undefined);
  assert.equal(
    projectNode({
      metadata: { name: 'n1', labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': '' } },
      spec: { unschedulable: true },
    })?.excluded,
    true,
  );
});
