// docs/architecture.md draws the import graph the code has: it must not rot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

void test('the diagram in docs/architecture.md is what scripts/architecture.mjs draws from the code', () => {
  const script = fileURLToPath(new URL('../../../scripts/architecture.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
