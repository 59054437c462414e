// The trigger's rate bound (minIntervalMs): an endpoint flapping faster than the bound is
// reconciled at the bound's rate, not once per flip; a signal after a quiet time runs at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoalescingTrigger } from '../../../src/controller/trigger.js';
import { ManualClock } from '../manual-clock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('signals every 20 ms for 1 s run at most once per minIntervalMs (a flapping endpoint is rate-bound)', async (t) => {
  const starts: number[] = [];
  const trigger = new CoalescingTrigger({
    settleMs: 1,
    maxDelayMs: 10,
    minIntervalMs: 100,
    run: () => Promise.resolve(void starts.push(Date.now())),
  });
  t.after(() => trigger.stop());
  const end = Date.now() + 1000;
  while (Date.now() < end) {
    trigger.fire();
    await sleep(20);
  }
  // Without the bound this was one run per signal (about 50).
  assert.ok(starts.length >= 5 && starts.length <= 12, `${starts.length} runs`);
  for (let i = 1; i < starts.length; i++) {
    const gap = (starts[i] ?? 0) - (starts[i - 1] ?? 0);
    assert.ok(gap >= 95, `runs ${gap} ms apart`);
  }
  // The last signal is not lost: one run follows it.
  const lastSignal = Date.now();
  await sleep(250);
  assert.ok((starts.at(-1) ?? 0) >= lastSignal - 20, 'a run after the last signal');
});

test('a signal after a quiet time is not delayed by the rate bound', async (t) => {
  const starts: number[] = [];
  const trigger = new CoalescingTrigger({
    settleMs: 1,
    maxDelayMs: 10,
    minIntervalMs: 1000,
    run: () => Promise.resolve(void starts.push(Date.now())),
  });
  t.after(() => trigger.stop());
  const fired = Date.now();
  trigger.fire();
  const end = Date.now() + 2000;
  while (starts.length === 0 && Date.now() < end) await sleep(2);
  assert.ok((starts[0] ?? Infinity) - fired < 200, 'the first run is not held back');
});

// Before, an idle loop-interval run (nothing queued, nothing applied) counted against the bound: a
// flip right after it waited up to minIntervalMs (250 ms), a flip p99 outlier every few dozen flips.
test('a run that changed nothing does not hold back the next signal (an idle loop interval before a flip)', async (t) => {
  const clock = new ManualClock();
  const starts: number[] = [];
  let changed = false;
  const trigger = new CoalescingTrigger({
    settleMs: 5,
    maxDelayMs: 200,
    minIntervalMs: 250,
    run: () => Promise.resolve((starts.push(clock.now()), changed)),
    clock,
  });
  t.after(() => trigger.stop());
  trigger.fire(true); // the idle loop interval
  await clock.advance(0);
  trigger.fire(); // a flip right after it: run after the settle time, not 250 ms later
  await clock.advance(10);
  assert.deepEqual(
    starts.map((s) => s - (starts[0] ?? 0)),
    [0, 5],
  );
  // A run that did change something still bounds the rate.
  changed = true;
  trigger.fire();
  await clock.advance(5);
  trigger.fire();
  await clock.advance(100);
  assert.equal(starts.length, 3);
  await clock.advance(200);
  assert.equal(starts.length, 4);
});
