// The watch timeout is drawn from the injected randomness, uniform over [min, max] whole seconds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_TIMERS, watchTimeoutSeconds } from '../../../src/kube/reflector-timers.js';

void test('the watch timeout spans [min, max] seconds, both ends included', () => {
  const t = DEFAULT_TIMERS;
  assert.equal(
    watchTimeoutSeconds(t, () => 0),
    t.watchTimeoutMinSeconds,
  );
  assert.equal(
    watchTimeoutSeconds(t, () => 0.5),
    450,
  );
  assert.equal(
    watchTimeoutSeconds(t, () => 0.999999),
    t.watchTimeoutMaxSeconds,
  );
  // A random() that returns 1 (out of contract) still stays in range.
  assert.equal(
    watchTimeoutSeconds(t, () => 1),
    t.watchTimeoutMaxSeconds,
  );
  const fixed = { ...t, watchTimeoutMinSeconds: 300, watchTimeoutMaxSeconds: 300 };
  assert.equal(
    watchTimeoutSeconds(fixed, () => 0.7),
    300,
  );
});
