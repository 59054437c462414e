// The reference the property test compares PlanState's decision changes with must be right itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Plan } from '../../../src/plan/types.js';
import { decisionsOf, diffDecisions } from './decisions-oracle.js';

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
