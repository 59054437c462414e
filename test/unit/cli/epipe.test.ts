// `cosmolet render ... | head` must end quietly when the reader goes away (it crashed with EPIPE).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../../', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli.js');

test('render into a pipe that closes early exits 0 without a stack trace (EPIPE crashed it)', async (t) => {
  if (!existsSync(CLI)) assert.equal(spawnSync('npm', ['run', 'build'], { cwd: ROOT }).status, 0);
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-epipe-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Far more output than a pipe buffers (64 KiB), so the writer is still writing when the reader goes.
  const items = Array.from({ length: 5000 }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `s${i}`, namespace: 'default' },
    spec: { clusterIP: `10.96.${i >> 8}.${i & 255}` },
  }));
  writeFileSync(join(dir, 'snap.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  const child = spawn(
    process.execPath,
    [CLI, 'render', '--snapshot', join(dir, 'snap.json'), '--node-name', 'n'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /EPIPE|Error/);
});
