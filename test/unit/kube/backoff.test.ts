// The reflector's backoff with injected randomness and time: jittered exponential delays between
// half and all of the base, the cap, Retry-After as a floor, and the 410 relist backoff's resets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FailureBackoff, jitteredDelayMs, Pause, RelistBackoff } from '../../../src/kube/backoff.js';
import { DEFAULT_TIMERS } from '../../../src/kube/reflector-timers.js';
import { ManualClock } from '../manual-clock.js';

const timers = { backoffInitialMs: 800, backoffMaxMs: 30_000, relistBackoffResetMs: 60_000 };
const fixed = (r: number) => (): number => r;

void test('the defaults are 0.8 s to 30 s, reset after a minute', () => {
  assert.equal(DEFAULT_TIMERS.backoffInitialMs, timers.backoffInitialMs);
  assert.equal(DEFAULT_TIMERS.backoffMaxMs, timers.backoffMaxMs);
  assert.equal(DEFAULT_TIMERS.relistBackoffResetMs, timers.relistBackoffResetMs);
});

void test('jitter spans the upper half of the doubling base, capped', () => {
  // random 0: half the base; random just under 1: nearly all of it.
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((n) => jitteredDelayMs(n, timers, fixed(0))),
    [400, 800, 1_600, 3_200, 6_400, 12_800, 15_000],
  );
  assert.deepEqual(
    [0, 1, 2, 5, 6, 100].map((n) => jitteredDelayMs(n, timers, fixed(0.5))),
    [600, 1_200, 2_400, 19_200, 22_500, 22_500],
  );
  const top = jitteredDelayMs(10, timers, fixed(0.999999));
  assert.ok(top <= 30_000 && top > 29_999, `${top}`);
  assert.ok(Number.isFinite(jitteredDelayMs(1e6, timers, fixed(0.5))), 'a huge attempt does not overflow');
});

void test('failures back off exponentially, Retry-After is a floor, success resets', () => {
  const b = new FailureBackoff(timers, fixed(0.5));
  assert.deepEqual([b.next(), b.next(), b.next()], [600, 1_200, 2_400]);
  assert.equal(b.failures, 3);
  assert.equal(b.next(10), 10_000, 'Retry-After: 10 s beats 4.8 s');
  assert.equal(b.next(1), 9_600, 'a short Retry-After does not shorten the backoff');
  b.reset();
  assert.equal(b.failures, 0);
  assert.equal(b.next(), 600);
});

void test('relists after 410: the first at once, then backing off; a lasting watch or a quiet minute resets', () => {
  const b = new RelistBackoff(timers, fixed(0.5));
  let now = 1_000_000;
  assert.equal(b.gone(now), undefined, 'the first 410 relists at once');
  assert.equal(b.inARow, 1);
  assert.equal(b.gone((now += 100)), 600);
  assert.equal(b.gone((now += 100)), 1_200);
  assert.equal(b.inARow, 3);
  // A watch that lasted a while: whatever caused the 410s is over.
  b.watchLasted(59_999);
  assert.equal(b.gone((now += 100)), 2_400, 'a watch shorter than the reset does not reset');
  b.watchLasted(60_000);
  assert.equal(b.gone((now += 100)), undefined);
  assert.equal(b.gone((now += 100)), 600);
  // A 410 long after the last one starts afresh.
  assert.equal(b.gone((now += 60_000)), undefined);
});

void test('a pause waits on the injected clock, and wake() ends it at once', async () => {
  const clock = new ManualClock();
  const pause = new Pause(clock);
  let done = false;
  const waited = pause.wait(1_000).then(() => (done = true));
  assert.equal(pause.waiting, true);
  await clock.advance(999);
  assert.equal(done, false);
  await clock.advance(1);
  await waited;
  assert.equal(pause.waiting, false);

  const woken = pause.wait(60_000);
  pause.wake();
  await woken;
  assert.equal(clock.timers, 0, 'the timer is cancelled');
});
