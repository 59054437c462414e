// Regression: the kernel backend grouped a batch's adds by family by copying the family's list for
// every prefix, so the conflict check of a cold start's first batch was quadratic (50,000 dual-stack
// Services: 567 s from lists complete to every prefix at the leaf on the scale benchmark).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/observe/log.js';
import { KernelRouter } from '../../../src/router/kernel.js';
import { serviceIPs } from '../../../bench/scale/workload.js';

test(
  'regression: a first batch of 200,000 adds is grouped by family in linear time',
  { timeout: 60_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmolet-kbatch-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // A fake `ip`: empty tables, the device present, every batch taken.
    const ip = join(dir, 'ip');
    writeFileSync(
      ip,
      `#!/bin/sh\ncase "$*" in\n  *link\\ show*) echo '[{}]' ;;\n  *route\\ show*) echo '[]' ;;\n  *-batch*) cat >/dev/null ;;\nesac\n`,
    );
    chmodSync(ip, 0o755);
    const router = new KernelRouter({
      origination: 'kernel',
      socketDir: dir,
      kernelProtocol: 73,
      staticTag: 7300,
      commandTimeoutSeconds: 60,
      ipPath: ip,
      logger: createLogger('error', 'json', new Writable({ write: (_c, _e, done) => done() })),
    });
    const add: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const { ipv4, ipv6 } = serviceIPs(i);
      add.push(`${ipv4}/32`, `${ipv6}/128`);
    }
    const started = performance.now();
    const result = await router.apply({ add, remove: [] });
    const ms = performance.now() - started;
    assert.equal(result.added, 200_000);
    assert.deepEqual(result.conflicts, []);
    // Linear: well under a second of grouping on a loaded machine; quadratic was minutes.
    assert.ok(ms < 20_000, `apply of 200,000 adds took ${Math.round(ms)} ms`);
  },
);
