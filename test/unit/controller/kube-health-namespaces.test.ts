// With config.services.namespaces there is one reflector per resource and namespace. On a real
// kube-apiserver, a namespace without its Role (added to the config without `helm upgrade`) made
// kubernetes-authorized flap: namespace a's answers cleared namespace b's 403, which is keyed by
// resource alone. Now each reflector's failure is its own, and the message names the namespace.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { KubeHealth } from '../../../src/controller/kube-health.js';
import { KubeApiError } from '../../../src/errors.js';
import type { KubeClient } from '../../../src/kube/client.js';
import { Reflector } from '../../../src/kube/reflector.js';
import { silentLogger } from '../../../src/observe/log.js';
import { Metrics } from '../../../src/observe/metrics.js';
import { buildInfo } from '../../../src/version.js';
import { waitFor } from '../kube/helpers.js';
import { ManualClock } from '../manual-clock.js';

const FORBIDDEN_B =
  'services is forbidden: User "system:serviceaccount:cosmolet:cosmolet" cannot list resource "services" in API group "" in the namespace "b"';

void test('regression: a 403 in namespace b stays named while namespace a of the same resource answers', () => {
  const health = new KubeHealth(new ManualClock(), new Metrics(buildInfo()));
  const hooks = health.hooks();
  hooks.failed?.('services', new KubeApiError(403, `list services: 403 ${FORBIDDEN_B}`), 'b');
  // Namespace a's reflector lists, opens its watch and gets events: all fine, for a.
  hooks.listed?.('services', 1, 'a');
  hooks.watchOpened?.('services', 'a');
  hooks.event?.('services', 'ADDED', 'a');
  hooks.synced?.('services', true, 'a');
  const problem = health.unauthorized();
  assert.ok(problem, 'still refused in namespace b');
  assert.match(problem, /requests for services in namespace b are refused: 403 Forbidden/);
  assert.match(problem, /cannot list resource "services" in API group "" in the namespace "b"/);
  // The Role appears: b lists.
  hooks.listed?.('services', 1, 'b');
  assert.equal(health.unauthorized(), undefined);
  // Without a namespace (all namespaces, the Node) the name is the resource alone, as before.
  hooks.failed?.('nodes', new KubeApiError(403, 'list nodes: 403 forbidden'), undefined);
  assert.match(health.unauthorized() ?? '', /^kubernetes-unauthorized: requests for nodes are refused/);
});

void test('every reflector hook gets the reflector namespace last', async () => {
  const watches: PassThrough[] = [];
  const client: KubeClient = {
    server: 'https://127.0.0.1:6443',
    request: (_method, path) =>
      Promise.resolve(
        path.startsWith('/api/v1/namespaces/b/')
          ? {
              status: 403,
              headers: {},
              body: JSON.stringify({ kind: 'Status', code: 403, message: FORBIDDEN_B }),
            }
          : {
              status: 200,
              headers: {},
              body: JSON.stringify({ kind: 'ServiceList', metadata: { resourceVersion: '1' }, items: [] }),
            },
      ),
    stream: () => {
      const stream = new PassThrough();
      watches.push(stream);
      return Promise.resolve({ status: 200, headers: {}, stream, close: () => stream.destroy() });
    },
  };
  const health = new KubeHealth(new ManualClock(), new Metrics(buildInfo()));
  const healthHooks = health.hooks();
  const seen: string[] = [];
  const hooks = {
    ...healthHooks,
    listed: (resource: 'services', objects: number, namespace?: string) => {
      seen.push(`listed ${namespace ?? '*'}`);
      healthHooks.listed?.(resource, objects, namespace);
    },
    watchOpened: (resource: 'services', namespace?: string) => {
      seen.push(`opened ${namespace ?? '*'}`);
      healthHooks.watchOpened?.(resource, namespace);
    },
    failed: (resource: 'services', err: unknown, namespace?: string) => {
      seen.push(`failed ${namespace ?? '*'}`);
      healthHooks.failed?.(resource, err, namespace);
    },
  };
  const reflectors = ['a', 'b'].map(
    (namespace) =>
      new Reflector({
        client,
        resource: 'services',
        namespace,
        logger: silentLogger(),
        hooks,
        timers: { shortWatchMs: 10 },
      }),
  );
  for (const r of reflectors) r.start();
  try {
    await waitFor('a listed and b refused', () => seen.includes('listed a') && seen.includes('failed b'));
    // a's watch opens (answered after shortWatchMs): b's refusal is still what /readyz says.
    await waitFor('a watching', () => watches.length === 1 && seen.includes('opened a'));
    assert.match(health.unauthorized() ?? '', /requests for services in namespace b are refused/);
    assert.ok(!seen.includes('listed *') && !seen.includes('failed *'));
  } finally {
    await Promise.all(reflectors.map((r) => r.stop()));
  }
});
