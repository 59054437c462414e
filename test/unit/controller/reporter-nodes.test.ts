// Refusals are reported by a few nodes chosen alike by every node, not by all of them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isReporter, REPORTERS_PER_SERVICE } from '../../../src/controller/reporter-nodes.js';

const nodes = Array.from({ length: 5000 }, (_, i) => `node-${i}`);

void test('in a 5,000-node cluster exactly three nodes report each Service, the same three for everyone', () => {
  for (const service of ['default/web', 'shop/storefront', 'kube-system/dns', 'a/b']) {
    const reporters = nodes.filter((n) => isReporter(service, n, nodes));
    assert.equal(reporters.length, REPORTERS_PER_SERVICE, service);
  }
  const a = nodes.filter((n) => isReporter('default/web', n, nodes));
  const b = nodes.filter((n) => isReporter('default/other', n, nodes));
  assert.notDeepEqual(a, b, 'different Services spread the reporting over different nodes');
});

void test('a node that runs no endpoint still reports in a small cluster', () => {
  assert.equal(isReporter('default/web', 'lonely', []), true);
  assert.equal(isReporter('default/web', 'lonely', ['x', 'y']), true);
});

void test('a node outside the known set reports only when it ranks among the lowest', () => {
  const known = nodes.slice(0, 1000);
  const outsiders = nodes.slice(1000, 2000).filter((n) => isReporter('default/web', n, known));
  // Each outsider ranks below the third-lowest of 1,000 with probability ~3/1,000.
  assert.ok(outsiders.length < 20, `${outsiders.length} outsiders report`);
});
