// Regression: every early batch of a cold start of more than 8 adds per family printed the whole
// routing table for its conflict check (10,000 dual-stack Services: cold start 1.56x the floors).
// With the route watch running, the table read back at start, kept current by the monitor,
// answers instead; a route of another owner the monitor sees added is still a conflict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../../src/observe/log.js';
import { KernelRouter } from '../../../src/router/kernel.js';

test('regression: early batches no longer read the whole routing table each for the conflict check', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-kcache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const calls = join(dir, 'calls');
  writeFileSync(calls, '');
  // A fake `ip`: empty tables, the device present, every batch taken; its monitor reports a route
  // of another owner (protocol 4, through eth0) added at 10.96.0.7 after 0.3 s.
  const ip = join(dir, 'ip');
  writeFileSync(
    ip,
    `#!/bin/sh\necho "$*" >> ${calls}\ncase "$*" in\n` +
      `  *monitor*) sleep 0.3; echo '10.96.0.7 dev eth0 proto 4 scope link'; exec sleep 30 ;;\n` +
      `  *link\\ show*) echo '[{"flags":["UP"]}]' ;;\n  *route\\ show*) echo '[]' ;;\n  *-batch*) cat >/dev/null ;;\nesac\n`,
  );
  chmodSync(ip, 0o755);
  const router = new KernelRouter({
    origination: 'kernel',
    socketDir: dir,
    kernelProtocol: 73,
    staticTag: 7300,
    commandTimeoutSeconds: 10,
    ipPath: ip,
    logger: createLogger('error', 'json', new Writable({ write: (_c, _e, done) => done() })),
  });
  const watch = router.watch(() => {});
  t.after(() => watch.stop());
  await sleep(50);
  await router.read();
  const batch = (from: number): string[] =>
    Array.from({ length: 20 }, (_, i) => [`10.96.0.${from + i}/32`, `fd00:10:96::${from + i}/128`]).flat();
  const first = await router.apply({ add: batch(100), remove: [] });
  assert.deepEqual(first.conflicts, []);
  // Wait for the monitor's line (a fixed fake delay, not a race: 0.3 s against 2 s).
  for (let i = 0; i < 40 && !readFileSync(calls, 'utf8').includes('monitor'); i++) await sleep(50);
  await sleep(700);
  const second = await router.apply({ add: batch(1), remove: [] });
  assert.deepEqual(second.conflicts, ['10.96.0.7/32']);
  assert.equal(second.added, 39);
  const fullReads = readFileSync(calls, 'utf8')
    .split('\n')
    .filter((l) => / route show table main$/.test(l));
  // The read at start (one per family), none per batch.
  assert.equal(fullReads.length, 2, fullReads.join('\n'));
});
