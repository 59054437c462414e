// The in-process daemon tests wait on the manual clock, not on real time: on a loaded machine each
// poll is slower, but the wait still reaches the clock time its condition needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { node, startRig } from './daemon-rig.js';

void test('regression: rig.until had a 5 s real-time deadline, so a loaded machine never reached 2 s of clock at 10 ms steps', async (t) => {
  const rig = await startRig(t, { objects: [node()] });
  const start = rig.clock.now();
  let polls = 0;
  // Each poll costs 35 ms of real time (a machine at load average 15): 200 polls are about 7 s.
  await rig.until('2 s of clock passed', () => {
    polls++;
    const until = Date.now() + 35;
    while (Date.now() < until) {
      // busy, as a loaded CPU would be
    }
    return rig.clock.now() - start >= 2000;
  });
  assert.ok(polls >= 200, `${polls} polls`);
});

void test('rig.until fails at its clock deadline, whatever real time it took', async (t) => {
  const rig = await startRig(t, { objects: [node()] });
  const start = rig.clock.now();
  await assert.rejects(
    rig.until('never', () => false, { stepMs: 100, clockMs: 1000 }),
    /not within 1000 ms of clock: never/,
  );
  assert.equal(rig.clock.now() - start, 1000);
});
