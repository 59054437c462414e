// `cosmolet run` as a process, without FRR or root: flags, exit statuses and signal handling.
// bgp.enabled is false in these tests, so cosmolet reads routes but changes nothing on this machine.
import { before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer } from '@cosmolet/kube-double/apiserver';

const ROOT = new URL('../../../', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli.js');

before(() => {
  if (existsSync(CLI)) return;
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface Started {
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(sig: NodeJS.Signals): void;
  /** Resolves when stdout has printed a line matching `re`. */
  waitLine(re: RegExp, timeoutMs?: number): Promise<string>;
}

function startRun(t: TestContext, args: string[]): Started {
  const child = spawn(process.execPath, [CLI, 'run', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => w.re.test(l));
      if (line) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    exit,
    kill: (sig) => child.kill(sig),
    waitLine: (re, timeoutMs = 15_000) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${re} in:\n${out}`)), timeoutMs);
        waiters.push({
          re,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        child.stdout.emit('data', '');
      }),
  };
}

async function setup(t: TestContext, kubeconfigServer?: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-run-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let kubeconfig: string;
  if (kubeconfigServer) {
    kubeconfig = `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${kubeconfigServer}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n`;
  } else {
    const api = await FakeApiServer.start({ token: 't' });
    t.after(() => api.close());
    api.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
    kubeconfig = api.kubeconfig();
  }
  writeFileSync(join(dir, 'kubeconfig'), kubeconfig);
  writeFileSync(
    join(dir, 'config.yaml'),
    `bgp:\n  enabled: false\nfrr:\n  socketDir: ${dir}/no-frr\n  commandTimeoutSeconds: 2\nhttp:\n  address: 127.0.0.1:${await freePort()}\n  probeAddress: ""\n`,
  );
  return ['--config', join(dir, 'config.yaml'), '--kubeconfig', join(dir, 'kubeconfig'), '--node-name', 'n1'];
}

test('SIGTERM right at start-up exits 0 (signals were only handled once everything had started)', async (t) => {
  const run = startRun(t, await setup(t));
  await run.waitLine(/cosmolet starting/);
  run.kill('SIGTERM');
  const { code, signal } = await run.exit;
  assert.deepEqual({ code, signal }, { code: 0, signal: null });
});

test('SIGINT while the API server is unreachable exits 0 within 10 s', async (t) => {
  const port = await freePort();
  const run = startRun(t, await setup(t, `https://127.0.0.1:${port}`));
  await run.waitLine(/kubernetes request failed|cosmolet starting/);
  const started = Date.now();
  run.kill('SIGINT');
  const { code } = await run.exit;
  assert.equal(code, 0);
  assert.ok(Date.now() - started < 10_000);
});

test('an unknown flag and a bad config value exit 2 with one line naming them', () => {
  const r = spawnSync(process.execPath, [CLI, 'run', '--no-such-flag'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no-such-flag/);
  const bad = spawnSync(process.execPath, [CLI, 'run', '--http-address', 'nope', '--node-name', 'n'], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /--http-address \(http\.address\)/);
});

test('no kubeconfig anywhere exits 2 with a clear message, never a localhost fallback', () => {
  const r = spawnSync(process.execPath, [CLI, 'run', '--node-name', 'n'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: '/nonexistent' },
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /kubeconfig|KUBECONFIG|in-cluster/i);
});

async function readyz(address: string): Promise<{ name: string; ok: boolean; message: string }[]> {
  const res = await fetch(`http://${address}/readyz`);
  const body = (await res.json()) as { conditions: { name: string; ok: boolean; message: string }[] };
  return body.conditions;
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a rotated token-file is picked up; a refused credential is named kubernetes-unauthorized, not unreachable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-run-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const api = await FakeApiServer.start({ token: 'first' });
  t.after(() => api.close());
  api.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
  const tokenFile = join(dir, 'token');
  // A trailing newline, as `kubectl create token > file` leaves it (regression: every request failed).
  writeFileSync(tokenFile, 'first\n');
  writeFileSync(
    join(dir, 'kubeconfig'),
    api.kubeconfig().replace(/token: first/, `token-file: ${tokenFile}`),
  );
  const address = `127.0.0.1:${await freePort()}`;
  writeFileSync(
    join(dir, 'config.yaml'),
    `bgp:\n  enabled: false\nfrr:\n  socketDir: ${dir}/no-frr\n  commandTimeoutSeconds: 2\nhttp:\n  address: ${address}\n  probeAddress: ""\n`,
  );
  const run = startRun(t, [
    ...['--config', join(dir, 'config.yaml'), '--kubeconfig', join(dir, 'kubeconfig'), '--node-name', 'n1'],
  ]);
  const cond = async (name: string) => (await readyz(address)).find((c) => c.name === name);
  await until('synced and authorized', async () => (await cond('kubernetes-synced'))?.ok === true);
  assert.equal((await cond('kubernetes-authorized'))?.ok, true);
  // The token is revoked and the file still holds it: every request is refused, even after a re-read.
  api.setToken('second');
  api.dropWatches({ clean: false });
  await until('kubernetes-authorized fails', async () => (await cond('kubernetes-authorized'))?.ok === false);
  assert.match(
    (await cond('kubernetes-authorized'))?.message ?? '',
    /kubernetes-unauthorized: .*401 Unauthorized/,
  );
  assert.equal(
    (await cond('kubernetes-reachable'))?.ok,
    true,
    'a refused credential is not an unreachable API',
  );
  // The new token lands in the file: cosmolet recovers without a restart.
  writeFileSync(tokenFile, 'second\n');
  await until('authorized again', async () => (await cond('kubernetes-authorized'))?.ok === true);
  run.kill('SIGTERM');
  assert.equal((await run.exit).code, 0);
});

test('regression: /readyz reflects watches that stay open but silent while bookmarks are due', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-run-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const api = await FakeApiServer.start({ token: 't', bookmarkIntervalMs: 1000 });
  t.after(() => api.close());
  api.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
  writeFileSync(join(dir, 'kubeconfig'), api.kubeconfig());
  const address = `127.0.0.1:${await freePort()}`;
  writeFileSync(
    join(dir, 'config.yaml'),
    `bgp:\n  enabled: false\nfrr:\n  socketDir: ${dir}/no-frr\n  commandTimeoutSeconds: 2\nhttp:\n  address: ${address}\n  probeAddress: ""\n`,
  );
  const run = startRun(t, [
    ...['--config', join(dir, 'config.yaml'), '--kubeconfig', join(dir, 'kubeconfig'), '--node-name', 'n1'],
  ]);
  const cond = async (name: string) => (await readyz(address)).find((c) => c.name === name);
  await until('synced', async () => (await cond('kubernetes-synced'))?.ok === true);
  // A write moves the version past the watches' (kube-apiserver, and the double, send bookmarks only
  // then). Let a few bookmarks set the rhythm, then every watch, old and new, goes silent.
  const bookmarks = async (): Promise<number[]> => {
    const text = await (await fetch(`http://${address}/metrics`)).text();
    return ['services', 'endpointslices', 'nodes'].map((r) => {
      const m =
        new RegExp(
          `cosmolet_reflector_events_total\\{[^}]*resource="${r}"[^}]*type="BOOKMARK"[^}]*\\} (\\d+)`,
        ).exec(text) ??
        new RegExp(
          `cosmolet_reflector_events_total\\{[^}]*type="BOOKMARK"[^}]*resource="${r}"[^}]*\\} (\\d+)`,
        ).exec(text);
      return Number(m?.[1] ?? 0);
    });
  };
  api.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2' } });
  await until('bookmarks on every watch', async () => (await bookmarks()).every((n) => n >= 3));
  api.stallWatches({ newWatches: true });
  const stalledAt = Date.now();
  await until(
    'kubernetes-reachable fails',
    async () => (await cond('kubernetes-reachable'))?.ok === false,
    40_000,
  );
  // Silence limit max(5 s, 3 bookmark intervals) plus the 10 s outage grace.
  assert.ok(Date.now() - stalledAt < 30_000);
  api.unstallWatches();
  await until('reachable again', async () => (await cond('kubernetes-reachable'))?.ok === true, 40_000);
  run.kill('SIGTERM');
  assert.equal((await run.exit).code, 0);
});
