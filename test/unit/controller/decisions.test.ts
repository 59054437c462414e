import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decisionsOf, describeChange, diffDecisions } from '../../../src/controller/decisions.js';
import type { Plan } from '../../../src/plan/types.js';

const base: Plan = {
  node: 'n',
  routes: [
    {
      prefix: '10.96.0.10/32',
      family: 'ipv4',
      services: ['default/a', 'default/b'],
      kinds: ['clusterIP'],
      class: null,
    },
    { prefix: 'fd00::a/128', family: 'ipv6', services: ['default/a'], kinds: ['clusterIP'], class: null },
  ],
  skipped: [{ service: 'default/c', ip: '10.96.0.12', reason: 'no-ready-endpoints' }],
};

test('an unchanged plan yields no change (no log line per loop)', () => {
  assert.deepEqual(diffDecisions(decisionsOf(base), decisionsOf(structuredClone(base))), []);
});

test('one change per (Service, IP) that changed state, both directions', () => {
  const next: Plan = {
    node: 'n',
    routes: [
      { prefix: '10.96.0.10/32', family: 'ipv4', services: ['default/a'], kinds: ['clusterIP'], class: null },
      { prefix: '10.96.0.12/32', family: 'ipv4', services: ['default/c'], kinds: ['clusterIP'], class: null },
    ],
    skipped: [{ service: 'default/a', ip: 'fd00::a', reason: 'no-ready-endpoints' }],
  };
  const changes = diffDecisions(decisionsOf(base), decisionsOf(next));
  const byKey = new Map(changes.map((c) => [`${c.service}|${c.ip}`, c]));
  assert.equal(changes.length, 3);
  assert.deepEqual(byKey.get('default/c|10.96.0.12'), {
    service: 'default/c',
    ip: '10.96.0.12',
    from: 'no-ready-endpoints',
    to: 'advertised',
  });
  assert.equal(byKey.get('default/a|fd00::a')?.to, 'no-ready-endpoints');
  assert.equal(byKey.get('default/b|10.96.0.10')?.to, undefined);
});

test('log lines say what happened and why', () => {
  assert.equal(
    describeChange({ service: 'default/web', ip: '10.96.0.10', from: undefined, to: 'advertised' }),
    'advertising 10.96.0.10/32 for default/web: endpoints ready',
  );
  assert.equal(
    describeChange({ service: 'default/web', ip: 'fd00::a', from: 'advertised', to: 'no-ready-endpoints' }),
    'withdrawing fd00::a/128 for default/web: no-ready-endpoints (no ready endpoint)',
  );
  assert.equal(
    describeChange({ service: 'default/web', ip: '010.1.1.1', from: undefined, to: 'invalid-ip' }),
    'not advertising 010.1.1.1 for default/web: invalid-ip (not a valid IP address)',
  );
  assert.match(
    describeChange({ service: 'default/web', ip: '10.1.1.1', from: 'advertised', to: undefined }),
    /^withdrawing 10\.1\.1\.1\/32 for default\/web/,
  );
});
