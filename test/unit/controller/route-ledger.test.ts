// The route ledger publishes the installed routes one way: a version, a snapshot and the prefixes
// each change touched. A read-back that finds what it held is no change (every resync reads back).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteLedger, type InstalledChange } from '../../../src/controller/route-ledger.js';
import { Metrics } from '../../../src/observe/metrics.js';
import { buildInfo } from '../../../src/version.js';

void test('version and subscribers move with each change, not with a read-back that found the same routes', () => {
  const ledger = new RouteLedger(new Metrics(buildInfo()));
  const seen: InstalledChange[] = [];
  const unsubscribe = ledger.subscribe((c) => seen.push(c));
  ledger.reset(new Map([['10.96.0.10/32', 0]]));
  assert.equal(ledger.version, 1);
  const snapshot = ledger.snapshot();
  ledger.reset(new Map([['10.96.0.10/32', 0]]));
  assert.equal(ledger.version, 1, 'same routes read back: no change');
  assert.equal(ledger.snapshot(), snapshot, 'readers keep the same snapshot');
  ledger.reset(new Map([['10.96.0.10/32', 5]]));
  assert.equal(ledger.version, 2, 'a mark that differs is a change');
  ledger.applied(
    { add: ['10.96.0.11/32', '10.96.0.12/32'], remove: ['10.96.0.10/32'] },
    new Set(['10.96.0.12/32']),
  );
  assert.equal(ledger.version, 3);
  assert.deepEqual(seen, [undefined, undefined, ['10.96.0.11/32', '10.96.0.10/32']]);
  assert.deepEqual([...ledger.snapshot().keys()], ['10.96.0.11/32']);
  ledger.applied({ add: ['10.96.0.12/32'], remove: [] }, new Set(['10.96.0.12/32']));
  assert.equal(ledger.version, 3, 'an apply that changed nothing (a conflict) is no change');
  unsubscribe();
  ledger.reset(new Map());
  assert.equal(seen.length, 3, 'no call after unsubscribing');
});
