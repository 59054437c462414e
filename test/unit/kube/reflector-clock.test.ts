// The reflector's timers run on the injected clock: the watchdog of a silent watch fires after the
// watch timeout plus the grace of fake time, and never before.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DEFAULT_TIMERS,
  Reflector,
  stallLimitMs,
  type WatchRestartReason,
} from '../../../src/kube/reflector.js';
import { FakeApiServer } from '@cosmolet/kube-double/apiserver';
import { silentLogger } from '../../../src/observe/log.js';
import { ManualClock } from '../manual-clock.js';
import { inClusterClient, svc, tempDir, waitFor } from './helpers.js';

void test('a silent watch is reopened by the watchdog after timeout + grace on the injected clock', async (t) => {
  const server = await FakeApiServer.start({ token: 'test-token' });
  t.after(() => server.close());
  const client = await inClusterClient(server, join(tempDir(t), 'serviceaccount'));
  server.create('services', svc('default', 'a'));
  const clock = new ManualClock();
  const restarts: WatchRestartReason[] = [];
  const r = new Reflector({
    client,
    resource: 'services',
    logger: silentLogger(),
    clock,
    hooks: { watchRestart: (_res, reason) => restarts.push(reason) },
  });
  t.after(() => r.stop());
  r.start();
  await waitFor('watch open', () => r.synced && server.activeWatches === 1);
  const opened = clock.now();
  // The earliest the watchdog may fire: the shortest watch timeout plus the grace.
  await clock.advance(DEFAULT_TIMERS.watchTimeoutMinSeconds * 1000 + DEFAULT_TIMERS.watchdogGraceMs - 1);
  assert.deepEqual(restarts, []);
  assert.ok(r.lastProgressAt <= opened, 'nothing arrived: no progress');
  await clock.advance(
    DEFAULT_TIMERS.watchTimeoutMaxSeconds * 1000 - DEFAULT_TIMERS.watchTimeoutMinSeconds * 1000 + 2,
  );
  assert.deepEqual(restarts, ['watchdog']);
  await waitFor('watch reopened', () => server.activeWatches === 1 && r.lastProgressAt > opened);
  // A healthy loop never stalls longer than the limit /healthz uses.
  assert.ok(stallLimitMs() > DEFAULT_TIMERS.watchTimeoutMaxSeconds * 1000 + DEFAULT_TIMERS.watchdogGraceMs);
});
