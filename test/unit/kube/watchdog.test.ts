// The watch inactivity watchdog on the injected clock: without a bookmark rhythm it ends a watch
// silent past its timeout plus the grace; with one, a watch silent for several intervals is probed,
// and only a probe that says "stalled" ends it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BookmarkRhythm, Watchdog, type ProbeVerdict } from '../../../src/kube/watchdog.js';
import { ManualClock } from '../manual-clock.js';

const limits = { bookmarkSilenceFactor: 3, minSilenceMs: 5_000 };

void test('the bookmark rhythm: the longest of the last five gaps within a watch, times the factor', () => {
  const r = new BookmarkRhythm(limits);
  assert.equal(r.known, false);
  assert.equal(r.silenceLimitMs(330_000), 330_000);
  r.bookmark(0);
  r.bookmark(1_000);
  assert.equal(r.silenceLimitMs(330_000), 5_000, 'at least minSilenceMs');
  r.bookmark(61_000);
  assert.equal(r.silenceLimitMs(330_000), 180_000);
  assert.equal(r.silenceLimitMs(100_000), 100_000, 'never past the watch timeout');
  // A new watch: the gap across watches is not measured.
  r.newWatch();
  r.bookmark(10_000_000);
  for (let i = 1; i <= 5; i++) r.bookmark(10_000_000 + i * 2_000);
  assert.equal(r.silenceLimitMs(330_000), 6_000, 'the 60 s gap has aged out');
});

interface Run {
  clock: ManualClock;
  dog: Watchdog;
  seen: string[];
  probes: { signal: AbortSignal; answer: (v: ProbeVerdict) => void }[];
}

function watchdog(rhythm: BookmarkRhythm): Run {
  const clock = new ManualClock();
  const seen: string[] = [];
  const probes: Run['probes'] = [];
  const dog = new Watchdog({
    clock,
    watchdogMs: 330_000,
    rhythm,
    probe: (signal) =>
      new Promise((answer) => {
        seen.push('probe');
        probes.push({ signal, answer });
      }),
    stalled: () => seen.push('stalled'),
    quiet: () => seen.push('quiet'),
  });
  return { clock, dog, seen, probes };
}

function knownRhythm(): BookmarkRhythm {
  const r = new BookmarkRhythm(limits);
  r.bookmark(0);
  r.bookmark(2_000);
  return r; // silence limit: 6 s
}

void test('without a bookmark rhythm: stalled past the watch timeout plus grace, no probe', async () => {
  const { clock, dog, seen } = watchdog(new BookmarkRhythm(limits));
  await clock.advance(200_000);
  dog.delivered();
  await clock.advance(329_999);
  assert.deepEqual(seen, []);
  await clock.advance(1);
  assert.deepEqual(seen, ['stalled']);
});

void test('with a rhythm: silent for several intervals, a probe decides; quiet re-arms, stalled ends', async () => {
  const { clock, seen, probes } = watchdog(knownRhythm());
  await clock.advance(6_000);
  assert.deepEqual(seen, ['probe']);
  probes[0]?.answer('quiet');
  await clock.advance(0);
  assert.deepEqual(seen, ['probe', 'quiet']);
  await clock.advance(6_000);
  assert.deepEqual(seen, ['probe', 'quiet', 'probe']);
  probes[1]?.answer('stalled');
  await clock.advance(0);
  assert.deepEqual(seen, ['probe', 'quiet', 'probe', 'stalled']);
});

void test('a delivery during the probe makes its verdict moot, and the watchdog stays armed', async () => {
  const { clock, dog, seen, probes } = watchdog(knownRhythm());
  await clock.advance(6_000);
  dog.delivered();
  probes[0]?.answer('stalled');
  await clock.advance(0);
  assert.deepEqual(seen, ['probe'], 'the watch delivered: alive');
  await clock.advance(6_000);
  assert.deepEqual(seen, ['probe', 'probe'], 'silent again: probed again');
});

void test('stop() disarms the watchdog and aborts a probe under way', async () => {
  const { clock, dog, seen, probes } = watchdog(knownRhythm());
  await clock.advance(6_000);
  dog.stop();
  assert.equal(probes[0]?.signal.aborted, true);
  probes[0]?.answer('stalled');
  await clock.advance(600_000);
  assert.deepEqual(seen, ['probe']);
  assert.equal(clock.timers, 0);
});
