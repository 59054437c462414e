// The fabric lab cleans up after itself: on teardown, on SIGTERM/SIGINT, and cleanupStale for
// namespaces left by a killed run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { alive } from '@cosmolet/lab/fabric/processes';
import { cleanupStale } from '@cosmolet/lab/fabric/topology';
import { Fabric, startFabric } from '@cosmolet/lab/fabric/fabric';
import { waitFor } from '@cosmolet/lab/wait';
import { canRun } from './harness.js';

const skip = canRun();

function namespaces(prefix: string): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}-`));
}

void test('fabric: teardown kills what it started and deletes its namespaces', { skip }, async (t) => {
  const f = await startFabric();
  t.after(() => f.teardown());
  assert.deepEqual(namespaces(f.prefix).sort(), [f.ns.ext, f.ns.leaf, f.ns.node].sort());
  const sleeper = f.spawn('node', ['sleep', '1000']);
  const bgpd = f.pid('node', 'bgpd');
  assert.ok(alive(bgpd));
  // A stopped daemon must die too.
  f.stopBgpd('node');
  await f.teardown();
  assert.deepEqual(namespaces(f.prefix), []);
  await waitFor('processes gone', () => !alive(bgpd) && !alive(sleeper.pid), 5000, 50);
  assert.equal(existsSync(f.dir), false);
});

void test('fabric: SIGTERM to the process that owns a fabric removes it', { skip }, async () => {
  const prefix = `clsig${randomBytes(2).toString('hex')}`;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./fabric-child.ts', import.meta.url)), prefix],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const info = await new Promise<{ pids: number[]; dir: string }>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (c: Buffer) => {
        buf += c.toString();
        if (buf.includes('\n'))
          resolve(JSON.parse(buf.split('\n')[0] ?? '') as { pids: number[]; dir: string });
      });
      child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    assert.equal(namespaces(prefix).length, 3);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    assert.deepEqual(namespaces(prefix), []);
    await waitFor('processes gone', () => info.pids.every((p) => !alive(p)), 5000, 50);
    assert.equal(existsSync(info.dir), false);
  } finally {
    child.kill('SIGKILL');
    cleanupStale(prefix);
  }
});

void test(
  'fabric: cleanupStale removes namespaces (and their processes) left by a killed run',
  { skip },
  async () => {
    const prefix = `clst${randomBytes(2).toString('hex')}`;
    spawnSync('ip', ['netns', 'add', `${prefix}-node`]);
    spawnSync('ip', ['netns', 'add', `${prefix}-leaf`]);
    const orphan = spawn('ip', ['netns', 'exec', `${prefix}-node`, 'sleep', '1000'], {
      stdio: 'ignore',
      detached: true,
    });
    orphan.unref();
    await waitFor(
      'orphan in namespace',
      () => namespaces(prefix).length === 2 && alive(orphan.pid),
      5000,
      50,
    );
    await waitFor(
      'orphan visible in the namespace',
      () => spawnSync('ip', ['netns', 'pids', `${prefix}-node`], { encoding: 'utf8' }).stdout.trim() !== '',
      5000,
      50,
    );
    assert.deepEqual(cleanupStale(prefix).sort(), [`${prefix}-leaf`, `${prefix}-node`]);
    assert.deepEqual(namespaces(prefix), []);
    await waitFor('orphan killed', () => !alive(orphan.pid), 5000, 50);
  },
);

void test(
  'fabric: a persistent fabric outlives its starter; attach drives it and tears it down',
  { skip },
  async () => {
    const prefix = `clp${randomBytes(2).toString('hex')}`;
    try {
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(new URL('./fabric-child.ts', import.meta.url)),
          prefix,
          'persistent',
        ],
        { encoding: 'utf8', timeout: 120_000 },
      );
      assert.equal(r.status, 0, r.stderr);
      const info = JSON.parse(r.stdout.trim().split('\n')[0] ?? '') as { dir: string; pids: number[] };
      assert.equal(info.pids.length, 7);
      assert.ok(info.pids.every(alive), 'daemons died with their starter');
      const f = Fabric.attach(info.dir);
      assert.equal(f.prefix, prefix);
      await f.waitEstablished(30_000);
      const old = f.pid('node', 'bgpd');
      await f.restartBgpd('node');
      assert.notEqual(f.pid('node', 'bgpd'), old);
      assert.equal(alive(old), false);
      await f.waitEstablished(60_000);
      // A second attach sees the restarted bgpd in the state file.
      assert.equal(Fabric.attach(info.dir).pid('node', 'bgpd'), f.pid('node', 'bgpd'));
      const all = f.processes().map((p) => p.pid);
      await f.teardown();
      assert.deepEqual(namespaces(prefix), []);
      await waitFor('processes gone', () => all.every((p) => !alive(p)), 5000, 50);
      rmSync(info.dir, { recursive: true, force: true });
    } finally {
      cleanupStale(prefix);
    }
  },
);

void test(
  'fabric: a prefix already in use is refused, and the other lab is left alone',
  { skip },
  async () => {
    const prefix = `clx${randomBytes(2).toString('hex')}`;
    spawnSync('ip', ['netns', 'add', `${prefix}-node`]);
    try {
      await assert.rejects(startFabric({ prefix }), /already exist/);
      assert.deepEqual(namespaces(prefix), [`${prefix}-node`]);
    } finally {
      cleanupStale(prefix);
    }
  },
);

void test('fabric: with bfd, the node-leaf BFD session comes up', { skip }, async (t) => {
  const f = await startFabric({ bfd: true });
  t.after(() => f.teardown());
  await waitFor(
    'BFD peer up on the node',
    async () => {
      const peers = (await f.vtysh('node').showJson('show bfd peers json', 'bfdd')) as { status?: string }[];
      return Array.isArray(peers) && peers.some((p) => p.status === 'up');
    },
    30_000,
    200,
  );
});
