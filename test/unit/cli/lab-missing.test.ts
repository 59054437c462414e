// The container image ships the product's dist/ and its production dependencies, without the lab
// (a workspace package of the source checkout, packages/lab): `cosmolet lab` there must say so and
// exit 2, not crash with a module-not-found stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../../', import.meta.url).pathname;

test('cosmolet lab in a build without the lab package exits 2 naming why (the image leaves the lab out)', (t) => {
  if (!existsSync(join(ROOT, 'dist/cli.js'))) {
    assert.equal(spawnSync('npm', ['run', 'build'], { cwd: ROOT }).status, 0);
  }
  // Outside the checkout, like /app in the image: dist/, package.json and the dependencies, without
  // the workspace links (@cosmolet/*, and the packages' link back to the product).
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-no-lab-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  mkdirSync(join(dir, 'node_modules'));
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name === '@cosmolet' || name === 'cosmolet' || name.startsWith('.')) continue;
    symlinkSync(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name));
  }
  const r = spawnSync(process.execPath, [join(dir, 'dist', 'cli.js'), 'lab', 'status'], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /cosmolet lab is not part of this build/);
  assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND|\n\s+at /);
  // The other commands work without it.
  const v = spawnSync(process.execPath, [join(dir, 'dist', 'cli.js'), 'version'], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
});
