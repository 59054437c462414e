// Helpers of the `cosmolet lab` e2e tests: the built CLI as a child process, a fresh lab identity
// (temp state dir, unique prefix, a copy of examples/lab or lab-real; downed in t.after), the leaf's view.
// Every test uses its own state directory and prefix, so a user's lab is never touched.
import { after, before, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { namespacesWithPrefix } from '@cosmolet/lab/fabric/topology';
import { isAlive, readState, type LabState } from '@cosmolet/lab/state/state';
import { fabricHandle, type LabView } from '@cosmolet/lab/command/view';
import { runCommand } from '../../../src/router/exec.js';
import { getTlsUnix, labServingCert, labStatusToken } from '@cosmolet/lab/access/status-access';
import { LAB_MAINS } from '@cosmolet/lab/paths';

export const ROOT = new URL('../../../', import.meta.url).pathname;
export const CLI = join(ROOT, 'dist', 'cli.js');
export const EXAMPLES = join(ROOT, 'examples', 'lab');
export const REAL_EXAMPLES = join(ROOT, 'examples', 'lab-real');
export const isRoot = process.getuid?.() === 0;
export const hasFrr = existsSync('/usr/lib/frr/bgpd') && spawnSync('which', ['gobgpd', 'nft']).status === 0;
export const skip = !isRoot ? 'needs root' : !hasFrr ? 'needs frr, gobgpd and nftables' : false;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Lab {
  stateDir: string;
  prefix: string;
  manifests: string;
  args: string[];
}

before(() => {
  if (skip) return;
  if (!existsSync(LAB_MAINS.cluster)) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
});

export const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export function cli(
  args: string[],
  timeoutMs = 120_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cosmolet ${args.join(' ')}: no exit within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh lab identity: temp state dir, unique prefix, a copy of `examples`; downed in t.after. */
export function newLab(t: TestContext, examples = EXAMPLES): Lab {
  const base = mkdtempSync(join(tmpdir(), 'cosmolet-lab-test-'));
  // FRR runs as user frr and must reach its sockets under the state directory.
  chmodSync(base, 0o755);
  const manifests = join(base, 'manifests');
  cpSync(examples, manifests, { recursive: true });
  const stateDir = join(base, 'state');
  const prefix = `lt${randomBytes(3).toString('hex')}`;
  const lab = { stateDir, prefix, manifests, args: ['--state-dir', stateDir, '--prefix', prefix] };
  t.after(async () => {
    // By pid from the state file, and the lab's own namespaces; then the temp directory.
    await cli(['lab', 'down', ...lab.args, '--force'], 60_000).catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  });
  return lab;
}

/**
 * `lab up --detach` on the API double (asked for: with the control plane built, the default is
 * real); lab-real.test.ts brings the real one up itself.
 */
export async function up(lab: Lab, nodes = 1, timeoutMs = 120_000): Promise<CliResult> {
  const r = await cli(
    [
      'lab',
      'up',
      '--detach',
      '--kube',
      'double',
      '--nodes',
      String(nodes),
      '--manifests',
      lab.manifests,
      ...lab.args,
    ],
    timeoutMs,
  );
  assert.equal(r.code, 0, `lab up failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

export async function status(lab: Lab): Promise<LabView> {
  const r = await cli(['lab', 'status', '--json', ...lab.args], 60_000);
  assert.equal(r.code, 0, `lab status failed:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as LabView;
}

export function state(lab: Lab): LabState {
  const s = readState(lab.stateDir);
  assert.ok(s, `no lab state in ${lab.stateDir}`);
  return s;
}

export async function leafRoutes(lab: Lab): Promise<Set<string>> {
  return fabricHandle(state(lab)).leafRoutes();
}

/** Prefixes inside the lab's service ranges. */
export function service(prefix: string): boolean {
  return /^(10\.96\.|192\.0\.2\.|fd00:10:96:|2001:db8:96:)/.test(prefix);
}

export async function down(lab: Lab): Promise<void> {
  const before = readState(lab.stateDir);
  const r = await cli(['lab', 'down', ...lab.args], 60_000);
  assert.equal(r.code, 0, `lab down failed:\n${r.stdout}\n${r.stderr}`);
  assert.deepEqual(namespacesWithPrefix(lab.prefix), [], 'namespaces left after lab down');
  for (const p of before?.processes ?? [])
    assert.ok(!isAlive(p), `${p.name} (pid ${p.pid}) survived lab down`);
  assert.equal(existsSync(lab.stateDir), false, 'state directory left after lab down');
  const leftovers = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes(lab.stateDir) || l.includes(`${lab.prefix}-`));
  assert.deepEqual(leftovers, [], 'processes of the lab left after lab down');
}

export function curlFromLeaf(lab: Lab, url: string): { ok: boolean; body: string } {
  const r = spawnSync('ip', ['netns', 'exec', `${lab.prefix}-leaf`, 'curl', '-sg', '--max-time', '3', url], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  return { ok: r.status === 0, body: r.stdout };
}

export function ipState(
  v: LabView,
  ip: string,
): { state: string; reason: string | null; leaf: boolean } | undefined {
  return v.services.flatMap((s) => s.ips).find((i) => i.ip === ip);
}

function fibArgs(lab: Lab, fam: string): string[] {
  return ['-n', `${lab.prefix}-leaf`, '-j', fam, 'route', 'show', 'proto', 'bgp'];
}

/** The leaf's kernel FIB: per Service prefix, the lab nodes its next hops go to (swpK is lab-node-K). */
export function leafPaths(lab: Lab): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const fam of ['-4', '-6']) {
    const r = spawnSync('ip', fibArgs(lab, fam), { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, `ip route show in the leaf: ${r.stderr}`);
    addPaths(out, r.stdout, fam);
  }
  return out;
}

/** The same without blocking the event loop (for a sampler that runs beside the test's steps). */
export async function leafPathsAsync(lab: Lab): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const fam of ['-4', '-6'])
    addPaths(out, (await runCommand(['ip', ...fibArgs(lab, fam)], { timeoutMs: 10_000 })).stdout, fam);
  return out;
}

function addPaths(out: Map<string, Set<string>>, stdout: string, fam: string): void {
  const routes = JSON.parse(stdout || '[]') as { dst: string; dev?: string; nexthops?: { dev: string }[] }[];
  for (const route of routes) {
    const prefix = route.dst.includes('/') ? route.dst : `${route.dst}/${fam === '-4' ? 32 : 128}`;
    if (!service(prefix)) continue;
    const devs = route.nexthops ? route.nexthops.map((n) => n.dev) : route.dev ? [route.dev] : [];
    out.set(prefix, new Set(devs.map((d) => `lab-node-${d.replace(/^swp/, '')}`)));
  }
}

/** What each node's cosmolet plans to advertise, read from its /status (prefix -> nodes). */
export async function planned(lab: Lab): Promise<Map<string, Set<string>>> {
  const s = state(lab);
  const out = new Map<string, Set<string>>();
  // Over HTTPS verified against the lab's CA, with a token bound to audience cosmolet (as clients do).
  const token = await labStatusToken(s);
  const cert = labServingCert(s.dir);
  for (const node of s.nodes) {
    const r = await getTlsUnix(join(node.dir, 'http.sock'), '/status', cert, token);
    assert.equal(r.status, 200, `${node.name} /status: ${r.body}`);
    const doc = JSON.parse(r.body) as { routes: { prefix: string }[] };
    for (const route of doc.routes)
      out.set(route.prefix, new Set([...(out.get(route.prefix) ?? []), node.name]));
  }
  return out;
}

export function sorted(m: Map<string, Set<string>>): Record<string, string[]> {
  return Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, [...v].sort()]));
}

/** Samples the leaf every 100 ms; `stop()` returns every (time, prefix) that was missing. */
export function sampleLeaf(
  lab: Lab,
  prefixes: string[],
): { stop: () => Promise<{ samples: number; missing: string[] }>; count: () => number } {
  let running = true;
  let samples = 0;
  const missing: string[] = [];
  const loop = (async () => {
    while (running) {
      const held = await leafPathsAsync(lab);
      samples++;
      for (const p of prefixes) if (!held.has(p)) missing.push(`${new Date().toISOString()} ${p}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    count: () => samples,
    stop: async () => {
      running = false;
      await loop;
      return { samples, missing };
    },
  };
}
