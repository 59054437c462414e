import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoalescingTrigger } from '../../../src/controller/trigger.js';
import { ManualClock } from '../manual-clock.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('a burst of signals is one run', async (t) => {
  let runs = 0;
  const trigger = new CoalescingTrigger({
    settleMs: 20,
    maxDelayMs: 1000,
    run: () => Promise.resolve(void runs++),
  });
  t.after(() => trigger.stop());
  for (let i = 0; i < 1000; i++) trigger.fire();
  await waitFor(() => runs === 1);
  // Nothing else is pending: a later signal makes exactly one more run.
  trigger.fire();
  await waitFor(() => runs === 2);
  assert.equal(runs, 2);
});

test('a constant stream of signals cannot starve runs (maxDelayMs caps the wait)', async (t) => {
  let runs = 0;
  const trigger = new CoalescingTrigger({
    settleMs: 50,
    maxDelayMs: 60,
    run: () => Promise.resolve(void runs++),
  });
  t.after(() => trigger.stop());
  // Signals every 5 ms would postpone a pure settle window forever.
  const interval = setInterval(() => trigger.fire(), 5);
  t.after(() => clearInterval(interval));
  await waitFor(() => runs >= 2, 3000);
  clearInterval(interval);
});

test('runs never overlap; a signal during a run schedules exactly one more', async (t) => {
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const gates: ReturnType<typeof deferred>[] = [];
  const trigger = new CoalescingTrigger({
    settleMs: 1,
    maxDelayMs: 5,
    run: async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs++;
      const g = deferred();
      gates.push(g);
      await g.promise;
      active--;
    },
  });
  t.after(() => {
    for (const g of gates) g.resolve();
    return trigger.stop();
  });
  trigger.fire(true);
  await waitFor(() => gates.length === 1);
  trigger.fire();
  trigger.fire();
  trigger.fire();
  gates[0]?.resolve();
  await waitFor(() => gates.length === 2);
  gates[1]?.resolve();
  await waitFor(() => active === 0 && !trigger.busy);
  assert.equal(maxActive, 1);
  assert.equal(runs, 2);
});

test('a run that rejects does not break the trigger', async (t) => {
  let runs = 0;
  const trigger = new CoalescingTrigger({
    settleMs: 1,
    maxDelayMs: 5,
    run: () => {
      runs++;
      return Promise.reject(new Error('boom'));
    },
  });
  t.after(() => trigger.stop());
  trigger.fire(true);
  await waitFor(() => runs === 1);
  await waitFor(() => !trigger.busy);
  trigger.fire(true);
  await waitFor(() => runs === 2);
});

test('stop waits for the run in progress and schedules nothing after', async () => {
  let runs = 0;
  const gate = deferred();
  const trigger = new CoalescingTrigger({
    settleMs: 1,
    maxDelayMs: 5,
    run: async () => {
      runs++;
      await gate.promise;
    },
  });
  trigger.fire(true);
  await waitFor(() => runs === 1);
  trigger.fire();
  let stopped = false;
  const stopping = trigger.stop().then(() => (stopped = true));
  assert.equal(stopped, false);
  gate.resolve();
  await stopping;
  trigger.fire(true);
  assert.equal(runs, 1);
});

test('settle window and max delay are measured on the injected clock, not in real time', async (t) => {
  const clock = new ManualClock();
  let runs = 0;
  const trigger = new CoalescingTrigger({
    settleMs: 50,
    maxDelayMs: 120,
    clock,
    run: () => Promise.resolve(void runs++),
  });
  t.after(() => trigger.stop());
  trigger.fire();
  await clock.advance(49);
  assert.equal(runs, 0, 'the settle window is not over');
  await clock.advance(1);
  assert.equal(runs, 1);
  // A signal every 30 ms would postpone the 50 ms settle window forever; the max delay (120 ms after
  // the first unhandled signal) ends the wait.
  for (let i = 0; i < 4; i++) {
    trigger.fire();
    await clock.advance(i < 3 ? 30 : 29);
  }
  assert.equal(runs, 1, '120 ms have not passed since the first signal');
  await clock.advance(1);
  assert.equal(runs, 2);
});

test('the rate bound holds on the injected clock: runs start minIntervalMs apart, a quiet signal is not delayed', async (t) => {
  const clock = new ManualClock();
  const starts: number[] = [];
  const trigger = new CoalescingTrigger({
    settleMs: 5,
    maxDelayMs: 200,
    minIntervalMs: 250,
    clock,
    run: () => Promise.resolve(void starts.push(clock.now())),
  });
  t.after(() => trigger.stop());
  const t0 = clock.now();
  // A signal every 100 ms for 1 s: runs at most every 250 ms.
  for (let i = 0; i < 10; i++) {
    trigger.fire();
    await clock.advance(100);
  }
  await clock.advance(300);
  const gaps = starts.slice(1).map((at, i) => at - (starts[i] ?? 0));
  assert.ok(starts.length >= 4 && starts.length <= 5, `starts: ${starts.map((s) => s - t0).join(' ')}`);
  assert.ok(
    gaps.every((g) => g >= 250),
    `gaps: ${gaps.join(' ')}`,
  );
  // After a quiet second, one signal runs after the settle window only.
  await clock.advance(1000);
  const before = starts.length;
  trigger.fire();
  await clock.advance(5);
  assert.equal(starts.length, before + 1);
});
