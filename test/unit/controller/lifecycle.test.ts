// The daemon's parts start in one order and stop in the reverse: inputs stop first, the FRR monitor
// before the reconciler it signals, HTTP last; a start that fails stops what had started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lifecycle, type Stage } from '../../../src/controller/lifecycle.js';
import { silentLogger } from '../../../src/observe/log.js';
import { startRig } from './daemon-rig.js';

function recorded(names: string[], log: string[], failStart?: string, failStop?: string): Stage<string>[] {
  return names.map((name) => ({
    name,
    start: () => {
      if (name === failStart) throw new Error(`${name} failed`);
      log.push(`start ${name}`);
    },
    stop: (how: string) => {
      log.push(`stop ${name} ${how}`);
      if (name === failStop) throw new Error(`${name} failed`);
    },
  }));
}

void test('stages start in order and stop in reverse; a failing stop does not stop the others', async () => {
  const log: string[] = [];
  const life = new Lifecycle(recorded(['a', 'b', 'c'], log, undefined, 'b'), silentLogger());
  await life.start('unused');
  await life.stop('now');
  assert.deepEqual(log, ['start a', 'start b', 'start c', 'stop c now', 'stop b now', 'stop a now']);
  await life.stop('again');
  assert.equal(log.length, 6, 'stopped stages are not stopped twice');
});

void test('a start that fails stops the stages already started, in reverse, and rethrows', async () => {
  const log: string[] = [];
  const life = new Lifecycle(recorded(['a', 'b', 'c'], log, 'c'), silentLogger());
  await assert.rejects(life.start('unwind'), /c failed/);
  assert.deepEqual(log, ['start a', 'start b', 'stop b unwind', 'stop a unwind']);
});

void test("the daemon's order: HTTP, Events, reconciler, FRR monitor, then the inputs", async (t) => {
  const rig = await startRig(t, { noStart: true });
  assert.deepEqual(rig.daemon.stageOrder, [
    'http',
    'probes',
    'events',
    'reconciler',
    'frr-monitor',
    'reflectors',
    'route-watch',
  ]);
});
