// The container image ships dist/ without dist/lab (the test lab): `cosmolet lab` there must say
// so and exit 2, not crash with a module-not-found stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../../../', import.meta.url).pathname;

test('cosmolet lab in a build without dist/lab exits 2 naming why (the image leaves the lab out)', (t) => {
  if (!existsSync(join(ROOT, 'dist/cli.js'))) {
    assert.equal(spawnSync('npm', ['run', 'build'], { cwd: ROOT }).status, 0);
  }
  // Inside the checkout, so the copy resolves the project's node_modules like /app does in the image.
  mkdirSync(join(ROOT, '.cache'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.cache', 'no-lab-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), {
    recursive: true,
    filter: (src) => !/\/dist\/lab(\/|$)/.test(src),
  });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  assert.ok(!existsSync(join(dir, 'dist', 'lab')));
  const r = spawnSync(process.execPath, [join(dir, 'dist', 'cli.js'), 'lab', 'status'], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /cosmolet lab is not part of this build/);
  assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND|\n\s+at /);
  // The other commands work without it.
  const v = spawnSync(process.execPath, [join(dir, 'dist', 'cli.js'), 'version'], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
});
