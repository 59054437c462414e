// Scale benchmark (issue 10) on the fabric lab: real FRR leaf peering with the node over IPv6
// unnumbered, GoBGP, the API double over HTTPS as its own process, and the built `cosmolet run`
// with kernel origination in the node namespace. For each size N (default 1,000, 10,000 and 50,000
// Services; N dual-stack ClusterIP Services, each with an IPv4 and an IPv6 EndpointSlice of five
// endpoints, one on this node), on a fresh fabric, in this order:
//  1. bare baseline: one `ip -batch` of the same 2N routes on the node until the leaf's FIB holds
//     them all (then removed again);
//  2. cold start of cosmolet: "lists complete" (the last reflector's "synced" log line) and from
//     there until the leaf's FIB holds all 2N prefixes;
//  3. RSS once it has settled (VmRSS steady for 5 s);
//  4. floor and flips, interleaved: the floor is one `ip route add` (or `del`) of a host route with
//     cosmolet's protocol through cosmolet0 until the leaf's FIB has (or lost) it; a flip is one API
//     write turning an EndpointSlice's endpoints unready (or ready) until the leaf's FIB lost (or has)
//     the prefix. Both observed with `ip monitor route` in the leaf namespace. Flips are written at
//     least FLIP_SPACING_MS apart: a change within cosmolet's reconcile rate bound (250 ms) of the
//     last one waits for it by design, and once the floor samples ran out the flips came every
//     ~250 ms and measured that wait (60-90 ms) instead of the flip;
//  5. non-health endpoint updates at a fixed rate (hostname and trigger-time annotation change,
//     readiness does not): cosmolet's CPU (/proc/<pid>/stat) and its router applies (/metrics).
// Prints a table against the issue's targets and writes bench/results/scale.json (after each size).
// Before the cold start, the list floor: cosmolet's client listing every Service and EndpointSlice
// (500 a page) from the node namespace, as its reflectors will (scale/list-floor.ts).
//
// `--kube real` runs the same against the real kube-apiserver (scale/real-lab.ts: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler from Kubernetes' Go modules, cosmolet
// in-cluster with the chart's RBAC and a bound token); the cluster is written through the API with
// `--concurrency` requests in flight, and the results go to bench/results/scale-real.json with a
// second table beside the double's. `--kube both` runs the double and then the real server per size.
//
//   node --import tsx bench/scale.ts [--sizes 1000,10000,50000] [--flips 40] [--floor 30]
//        [--rate 50] [--seconds 60] [--label TEXT] [--out FILE] [--populate-only] [--keep-logs]
//        [--cosmolet PATH/dist/cli.js]   (another build of cosmolet, e.g. an older commit's, to compare)
//        [--node image|current|PATH]   (the Node.js that runs cosmolet: by default the container
//                         image's, Node.js 24 from scripts/install-node24.sh, since its memory differs
//                         from other majors'; `current` is the one running the benchmark)
//        [--kubeconfig]   (cosmolet finds the API through a kubeconfig file, not in-cluster as in its pod)
//        [--kube double|real|both] [--concurrency 32] [--list-rounds 3]
//        [--repeats 1]   (more: the bare baseline and the cold start K times each, medians reported;
//                         before each further cold start cosmolet is killed and its device and routes
//                         deleted until the leaf is back to where it was)
//   (sizes also from SCALE_SIZES=1000,10000; with --kube real or both the default is 10000).
//   Needs root, FRR, GoBGP and `npm run build`; --kube real also the control plane
//   (scripts/go-tools.sh kube, built on first use) and Helm (scripts/go-tools.sh helm4).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { KubeObject } from '../src/model/objects.js';
import { runCommand } from '../src/router/exec.js';
import { metric } from './prometheus-text.js';
import { ScaleLab, type BenchLab } from './scale/lab.js';
import { listFloorMs, type ListFloor } from './scale/list-floor.js';
import { RealScaleLab } from './scale/real-lab.js';
import { fibCount, LeafMonitor, type FibCount, type RouteChange } from './scale/leaf.js';
import { describeMemory, memoryBreakdown } from './scale/memory.js';
import { cosmoletRuntime, describeRuntime, withEnv } from './scale/runtime.js';
import { commandName, cpuSeconds, memoryMB } from './scale/proc.js';
import {
  percentiles,
  serverMarkdownTable,
  serverTable,
  table,
  type ScaleResults,
  type SizeResult,
} from './scale/report.js';
import {
  benchNode,
  benchService,
  benchSlice,
  floorIP,
  servicePrefixes,
  type Family,
} from './scale/workload.js';

const PROTOCOL = 73; // cosmolet's default frr.kernelProtocol
/** Twice cosmolet's reconcile rate bound (minIntervalMs, 250 ms): each flip an isolated change. */
const FLIP_SPACING_MS = 500;
const DEVICE = 'cosmolet0';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string' },
    flips: { type: 'string', default: '40' },
    floor: { type: 'string', default: '30' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '60' },
    label: { type: 'string', default: '' },
    out: { type: 'string' },
    'populate-only': { type: 'boolean', default: false },
    'keep-logs': { type: 'boolean', default: false },
    cosmolet: { type: 'string' },
    kubeconfig: { type: 'boolean', default: false },
    kube: { type: 'string', default: 'double' },
    concurrency: { type: 'string', default: '32' },
    'list-rounds': { type: 'string', default: '3' },
    repeats: { type: 'string', default: '1' },
    'node-options': { type: 'string' },
    node: { type: 'string', default: 'image' },
  },
  strict: true,
});

function positiveInt(name: string, v: string): number {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`scale: --${name} must be a positive integer, got ${v}`);
    process.exit(2);
  }
  return n;
}

type Kube = 'double' | 'real';
const KUBES: Kube[] =
  args.kube === 'both'
    ? ['double', 'real']
    : args.kube === 'real'
      ? ['real']
      : args.kube === 'double'
        ? ['double']
        : [];
if (KUBES.length === 0) {
  console.error(`scale: --kube must be double, real or both, got ${args.kube}`);
  process.exit(2);
}
const REAL = KUBES.includes('real');
const SIZES = (args.sizes ?? process.env.SCALE_SIZES ?? (REAL ? '10000' : '1000,10000,50000'))
  .split(',')
  .map((s) => positiveInt('sizes', s.trim()));
const OUT =
  args.out ?? new URL(REAL ? './results/scale-real.json' : './results/scale.json', import.meta.url).pathname;
const CONCURRENCY = positiveInt('concurrency', args.concurrency ?? '');
const LIST_ROUNDS = positiveInt('list-rounds', args['list-rounds'] ?? '');
const REPEATS = positiveInt('repeats', args.repeats ?? '');
const FLIPS = positiveInt('flips', args.flips ?? '');
const FLOOR = positiveInt('floor', args.floor ?? '');
const RATE = positiveInt('rate', args.rate ?? '');
const SECONDS = positiveInt('seconds', args.seconds ?? '');
const RUNTIME = cosmoletRuntime({ node: args.node ?? 'image', nodeOptions: args['node-options'] });
const NODE = RUNTIME.node;
const NODE_OPTIONS = RUNTIME.env.NODE_OPTIONS ?? '';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function log(msg: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

/**
 * The pause between two reads of the leaf's counts: reading fib_triestat walks the whole IPv4 trie,
 * so at 100,000 routes the reads are kept to about 5% of a core, which cosmolet and FRR need.
 */
function pollPause(readMs: number): number {
  return Math.max(10, 20 * readMs);
}

/** Polls the leaf's FIB counts until `done` holds; returns the performance.now() it first did. */
async function waitCounts(
  leafPid: number,
  what: string,
  done: (c: FibCount) => boolean,
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const started = performance.now();
    const last = fibCount(leafPid);
    if (done(last)) return performance.now();
    if (performance.now() > deadline)
      throw new Error(`timed out waiting for ${what}: leaf FIB ${JSON.stringify(last)}`);
    await sleep(pollPause(performance.now() - started));
  }
}

/** Reads the "synced" lines of cosmolet's JSON log as it grows. */
class SyncedLines {
  private offset = 0;
  private rest = '';
  readonly syncedAt = new Map<string, number>();
  /** Time of the first log record ("cosmolet starting"): the process has loaded its code. */
  firstAt: number | undefined;
  constructor(private readonly file: string) {}
  poll(): void {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(1 << 20);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        const lines = (this.rest + buf.toString('utf8', 0, n)).split('\n');
        this.rest = lines.pop() ?? '';
        for (const line of lines) {
          if (this.firstAt === undefined) {
            const m = /"time":"([^"]+)"/.exec(line);
            if (m?.[1]) this.firstAt = Date.parse(m[1]);
          }
          if (!line.includes('"synced"')) continue;
          try {
            const rec = JSON.parse(line) as { msg?: string; resource?: string; time?: string };
            if (rec.msg === 'synced' && rec.resource && rec.time && !this.syncedAt.has(rec.resource))
              this.syncedAt.set(rec.resource, Date.parse(rec.time));
          } catch {
            // not a JSON record
          }
        }
      }
    } finally {
      closeSync(fd);
    }
  }
}

/** Samples the 1-minute load average every 5 s. */
function loadSampler(): { stop(): number } {
  const samples: number[] = [loadavg()[0] ?? 0];
  const t = setInterval(() => samples.push(loadavg()[0] ?? 0), 5000);
  return {
    stop() {
      clearInterval(t);
      return samples.reduce((a, b) => a + b, 0) / samples.length;
    },
  };
}

async function populate(lab: ScaleLab, n: number): Promise<number> {
  const started = performance.now();
  await lab.load([benchNode()]);
  const CHUNK = 2000;
  for (let i = 0; i < n; i += CHUNK) {
    const objects: KubeObject[] = [];
    for (let j = i; j < Math.min(n, i + CHUNK); j++)
      objects.push(benchService(j), benchSlice(j, 'IPv4'), benchSlice(j, 'IPv6'));
    await lab.load(objects);
  }
  return performance.now() - started;
}

function routeLines(n: number, verb: 'add' | 'del'): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++)
    for (const p of servicePrefixes(i))
      lines.push(
        verb === 'add'
          ? `route add ${p} dev ${DEVICE} proto ${PROTOCOL}`
          : `route del ${p} proto ${PROTOCOL}`,
      );
  return lines.join('\n') + '\n';
}

/** The bare baseline: the same 2N routes in one `ip -batch`, until the leaf's FIB holds them all. */
async function bareBaseline(lab: BenchLab, n: number, base: FibCount): Promise<SizeResult['bare']> {
  const ns = lab.fabric.ns.node;
  // The device as cosmolet makes it: dummy, or ifb where the kernel has no dummy driver.
  await runCommand(['ip', '-n', ns, 'link', 'add', DEVICE, 'type', 'dummy'], { timeoutMs: 10_000 }).catch(
    () => runCommand(['ip', '-n', ns, 'link', 'add', DEVICE, 'type', 'ifb'], { timeoutMs: 10_000 }),
  );
  await runCommand(['ip', '-n', ns, 'link', 'set', DEVICE, 'up'], { timeoutMs: 10_000 });
  const leafPid = lab.leafPid();
  const input = routeLines(n, 'add');
  const started = performance.now();
  const batch = runCommand(['ip', '-n', ns, '-batch', '-'], { input, timeoutMs: 600_000 }).then(() =>
    performance.now(),
  );
  const leafAt = await waitCounts(
    leafPid,
    `the bare batch at the leaf`,
    (c) => c.ipv4 >= base.ipv4 + n && c.ipv6 >= base.ipv6 + n,
    600_000,
  );
  const batchAt = await batch;
  await runCommand(['ip', '-n', ns, '-batch', '-'], { input: routeLines(n, 'del'), timeoutMs: 600_000 });
  await waitCounts(
    leafPid,
    'the leaf to drop the bare batch',
    (c) => c.ipv4 <= base.ipv4 && c.ipv6 <= base.ipv6,
    600_000,
  );
  // cosmolet makes its own device, as on a fresh node.
  await runCommand(['ip', '-n', ns, 'link', 'del', DEVICE], { timeoutMs: 10_000 });
  return { batchMs: batchAt - started, leafMs: leafAt - started };
}

const RESOURCES = ['services', 'endpointslices', 'nodes'];

/**
 * Starts cosmolet as its pod runs it: the chart's V8 and malloc settings, in-cluster unless
 * --kubeconfig.
 */
function startCosmolet(lab: BenchLab): ChildProcess {
  return withEnv(RUNTIME.env, () => lab.startCosmolet({}, args.kubeconfig !== true));
}

/** SIGKILL (nothing withdrawn on the way out), then its device deleted with every route through it. */
async function killCosmolet(lab: BenchLab, pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    await sleep(50);
  }
  // cosmolet makes its device with its first route: on an empty cluster there is none.
  await runCommand(['ip', '-n', lab.fabric.ns.node, 'link', 'del', DEVICE], { timeoutMs: 60_000 }).catch(
    (err: unknown) => {
      if (!String(err).includes('Cannot find device')) throw err;
    },
  );
}

/**
 * The memory floor of the same run: cosmolet's settled RSS on the cluster before any Service is
 * written (the runtime, the code, empty stores), so the RSS after the cold start reads as this
 * floor plus what the N Services take.
 */
async function emptyClusterMemory(lab: BenchLab): Promise<NonNullable<SizeResult['emptyCluster']>> {
  const child = startCosmolet(lab);
  const pid = child.pid;
  if (pid === undefined) throw new Error('cosmolet did not start');
  try {
    const synced = new SyncedLines(lab.cosmoletLog);
    const deadline = Date.now() + 60_000;
    for (;;) {
      synced.poll();
      if (RESOURCES.every((r) => synced.syncedAt.has(r))) break;
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`cosmolet exited (${child.exitCode ?? child.signalCode}); log: ${lab.cosmoletLog}`);
      if (Date.now() > deadline)
        throw new Error(`empty cluster: cosmolet did not sync in 60 s; log: ${lab.cosmoletLog}`);
      await sleep(100);
    }
    const rss = await settledRss(pid);
    const m = memoryMB(pid);
    return { rssMB: rss.mb, anonMB: m.anon, fileMB: m.file };
  } finally {
    await killCosmolet(lab, pid);
  }
}

async function coldStart(
  lab: BenchLab,
  n: number,
  base: FibCount,
): Promise<{ result: SizeResult['coldStart']; pid: number }> {
  const leafPid = lab.leafPid();
  const spawnedAt = Date.now();
  const child = startCosmolet(lab);
  const pid = child.pid;
  if (pid === undefined) throw new Error('cosmolet did not start');
  const synced = new SyncedLines(lab.cosmoletLog);
  let leafAt: number | undefined;
  const deadline = Date.now() + 900_000;
  let polls = 0;
  while (leafAt === undefined || RESOURCES.some((r) => !synced.syncedAt.has(r))) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`cosmolet exited (${child.exitCode ?? child.signalCode}); log: ${lab.cosmoletLog}`);
    if (Date.now() > deadline) throw new Error('cold start: timed out after 15 min');
    if (leafAt !== undefined && Date.now() - leafAt > 60_000) {
      throw new Error(
        `cold start: every prefix is at the leaf, but cosmolet's log (${lab.cosmoletLog}) has no "synced" line (the lists-complete signal) for ${RESOURCES.filter((r) => !synced.syncedAt.has(r)).join(', ')}`,
      );
    }
    let pause = 50;
    if (leafAt === undefined) {
      const started = performance.now();
      const c = fibCount(leafPid);
      if (c.ipv4 >= base.ipv4 + n && c.ipv6 >= base.ipv6 + n) leafAt = Date.now();
      pause = pollPause(performance.now() - started);
    }
    if (++polls % 10 === 0) synced.poll();
    await sleep(pause);
  }
  synced.poll();
  if (commandName(pid) !== 'node') throw new Error(`pid ${pid} is ${commandName(pid)}, not cosmolet's node`);
  const listsAt = Math.max(...RESOURCES.map((r) => synced.syncedAt.get(r) ?? NaN));
  // Exact check once: the leaf holds 2N BGP routes.
  for (const family of ['-4', '-6']) {
    const r = await runCommand(['ip', '-n', lab.fabric.ns.leaf, family, 'route', 'show', 'proto', 'bgp'], {
      timeoutMs: 60_000,
    });
    const count = r.stdout.split('\n').filter((l) => l.trim() !== '').length;
    if (count !== n) throw new Error(`the leaf holds ${count} ${family} BGP routes, expected ${n}`);
  }
  return {
    pid,
    result: {
      processStartMs: (synced.firstAt ?? NaN) - spawnedAt,
      listsCompleteMs: listsAt - spawnedAt,
      listsToLeafMs: leafAt - listsAt,
      spawnToLeafMs: leafAt - spawnedAt,
      signal: 'the last of the services/endpointslices/nodes reflectors\' "synced" log lines',
    },
  };
}

/**
 * Another cold start on the same cluster: cosmolet killed (SIGKILL: nothing withdrawn on its way
 * out), its device deleted with every route through it, and the leaf back to its base counts, as on a
 * fresh node; then started again.
 */
async function coldStartAgain(
  lab: BenchLab,
  n: number,
  base: FibCount,
  pid: number,
): Promise<{ result: SizeResult['coldStart']; pid: number }> {
  await killCosmolet(lab, pid);
  await waitCounts(
    lab.leafPid(),
    "the leaf to drop cosmolet's routes",
    (c) => c.ipv4 <= base.ipv4 && c.ipv6 <= base.ipv6,
    600_000,
  );
  await sleep(2000);
  return coldStart(lab, n, base);
}

async function settledRss(pid: number): Promise<SizeResult['rss']> {
  const started = performance.now();
  const samples: number[] = [];
  for (;;) {
    samples.push(memoryMB(pid).rss);
    const last = samples.slice(-6);
    const settled = last.length === 6 && (Math.max(...last) - Math.min(...last)) / Math.max(...last) < 0.02;
    if (settled || performance.now() - started > 90_000) break;
    await sleep(1000);
  }
  const m = memoryMB(pid);
  return { mb: m.rss, peakMB: m.peak, settledAfterS: (performance.now() - started) / 1000 };
}

/** Services the flips use, spread over the cluster; the updates leave them alone. */
function flipServices(n: number, count: number): number[] {
  return Array.from({ length: count }, (_, k) => Math.floor((n * (k + 0.5)) / count));
}

async function floorAndFlips(
  lab: BenchLab,
  monitor: LeafMonitor,
  n: number,
  pid: number,
  flipSvcs: number[],
): Promise<Pick<SizeResult, 'floorMs' | 'flipMs' | 'flipCpuMs' | 'reconcileMeanMs'>> {
  const ns = lab.fabric.ns.node;
  const floorOp = async (k: number, change: RouteChange): Promise<number | undefined> => {
    const ip = floorIP(k, k % 2 ? 'IPv6' : 'IPv4');
    const seen = monitor.expect(ip, change, 10_000);
    const started = performance.now();
    const argv =
      change === 'add'
        ? ['ip', '-n', ns, 'route', 'add', ip, 'dev', DEVICE, 'proto', String(PROTOCOL)]
        : ['ip', '-n', ns, 'route', 'del', ip, 'proto', String(PROTOCOL)];
    try {
      await runCommand(argv, { timeoutMs: 10_000 });
    } catch (err) {
      // A resync of cosmolet removes a route of its protocol it did not plan: drop the sample.
      seen.catch(() => undefined);
      log(`floor sample dropped: ${(err as Error).message.split('\n')[0]}`);
      return undefined;
    }
    return (await seen) - started;
  };
  const flipOp = async (i: number, ready: boolean): Promise<number> => {
    const family: Family = i % 2 ? 'IPv6' : 'IPv4';
    const [ipv4, ipv6] = servicePrefixes(i);
    const ip = (family === 'IPv4' ? ipv4 : ipv6) ?? '';
    const seen = monitor.expect(ip, ready ? 'add' : 'del', 60_000);
    const started = performance.now();
    await lab.put(benchSlice(i, family, { ready, generation: 0 }, lab.managedBy));
    return (await seen) - started;
  };

  // Warm-up (not counted): one floor round trip proves the monitor sees the leaf.
  await floorOp(999, 'add');
  await floorOp(999, 'del');
  const flips = flipSvcs;
  const withdrawn = new Set<number>();
  await flipOp(flips[0] ?? 0, false);
  withdrawn.add(flips[0] ?? 0);

  const floorAdd: number[] = [];
  const floorDel: number[] = [];
  const advertise: number[] = [];
  const withdraw: number[] = [];
  const metrics0 = (await lab.get('/metrics')).body;
  const cpu0 = cpuSeconds(pid);
  let flipsDone = 0;
  let floorDone = 0;
  let lastFlipAt = -Infinity;
  let step = 0;
  while (flipsDone < FLIPS || floorDone < FLOOR) {
    if (floorDone < FLOOR) {
      const a = await floorOp(floorDone, 'add');
      await sleep(30);
      const d = await floorOp(floorDone, 'del');
      if (a !== undefined) floorAdd.push(a);
      if (d !== undefined) floorDel.push(d);
      floorDone++;
      await sleep(50);
    }
    if (flipsDone < FLIPS) {
      // Alternating: withdraw the next Service, then advertise the one withdrawn before.
      const k = Math.floor(step / 2) + 1;
      const i = (step % 2 === 0 ? flips[k] : flips[k - 1]) ?? 0;
      await sleep(Math.max(0, lastFlipAt + FLIP_SPACING_MS - performance.now()));
      lastFlipAt = performance.now();
      if (step % 2 === 0) withdraw.push(await flipOp(i, false));
      else advertise.push(await flipOp(i, true));
      if (step % 2 === 0) withdrawn.add(i);
      else withdrawn.delete(i);
      step++;
      flipsDone++;
      await sleep(50);
    }
  }
  const cpuFlips = cpuSeconds(pid) - cpu0;
  const metrics1 = (await lab.get('/metrics')).body;
  // Put back what the flips left withdrawn, until the leaf has it again (not counted).
  for (const i of withdrawn) await flipOp(i, true);
  const delta = (name: string): number => (metric(metrics1, name) ?? 0) - (metric(metrics0, name) ?? 0);
  const count = delta('cosmolet_reconcile_duration_seconds_count');
  const floorAll = [...floorAdd, ...floorDel];
  const flipAll = [...advertise, ...withdraw];
  return {
    floorMs: { ...percentiles(floorAll), add: percentiles(floorAdd), del: percentiles(floorDel) },
    flipMs: { ...percentiles(flipAll), advertise: percentiles(advertise), withdraw: percentiles(withdraw) },
    // Includes the floor's share of time, in which cosmolet has nothing to do.
    flipCpuMs: (cpuFlips * 1000) / flipAll.length,
    reconcileMeanMs: count > 0 ? (delta('cosmolet_reconcile_duration_seconds_sum') * 1000) / count : null,
  };
}

async function updates(
  lab: BenchLab,
  n: number,
  pid: number,
  skip: Set<number>,
): Promise<SizeResult['updates']> {
  const metrics0 = (await lab.get('/metrics')).body;
  const generation = new Map<string, number>();
  const total = RATE * SECONDS;
  let failed = 0;
  let sent = 0;
  const errors: string[] = [];
  const pending = new Set<Promise<void>>();
  const cpu0 = cpuSeconds(pid);
  const started = performance.now();
  for (let u = 0, cursor = 0; u < total; u++) {
    const due = started + (u * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    let i = (cursor++ * 7919) % n;
    while (skip.has(i)) i = (cursor++ * 7919) % n;
    const family: Family = u % 2 ? 'IPv6' : 'IPv4';
    const key = `${i}/${family}`;
    const g = (generation.get(key) ?? 0) + 1;
    generation.set(key, g);
    const p = lab
      .put(benchSlice(i, family, { ready: true, generation: g }, lab.managedBy))
      .then(() => void sent++)
      .catch((err: unknown) => {
        if (failed++ < 3) errors.push(String(err instanceof Error ? err.message : err).slice(0, 200));
      })
      .finally(() => pending.delete(p));
    pending.add(p);
  }
  const windowEnd = started + SECONDS * 1000;
  if (windowEnd > performance.now()) await sleep(windowEnd - performance.now());
  const cpuWindow = cpuSeconds(pid) - cpu0;
  await Promise.all(pending);
  // Whatever cosmolet still does for these updates counts too: wait until a second passes idle.
  let prev = cpuSeconds(pid);
  const tailStart = performance.now();
  for (;;) {
    await sleep(1000);
    const now = cpuSeconds(pid);
    if (now - prev < 0.02 || performance.now() - tailStart > 120_000) break;
    prev = now;
  }
  const tailMs = performance.now() - tailStart - 1000;
  const cpuAll = cpuSeconds(pid) - cpu0;
  const metrics1 = (await lab.get('/metrics')).body;
  const delta = (name: string): number => (metric(metrics1, name) ?? 0) - (metric(metrics0, name) ?? 0);
  return {
    rate: RATE,
    seconds: SECONDS,
    sent,
    failed,
    errors,
    core: cpuWindow / SECONDS,
    cpuMsPerUpdate: (cpuAll * 1000) / Math.max(1, sent),
    tailMs: Math.max(0, tailMs),
    applies: delta('cosmolet_router_applies_total'),
    reconciles: delta('cosmolet_reconciles_total'),
  };
}

function fmtFloor(f: ListFloor): string {
  const first = f.rounds[0];
  const firstText = first
    ? `; first round ${Math.round(first.services.ms + first.endpointSlices.ms)} ms`
    : '';
  return `Services ${Math.round(f.servicesMs)} ms, EndpointSlices ${Math.round(f.endpointSlicesMs)} ms, both at once ${Math.round(f.concurrentMs ?? NaN)} ms (medians of ${f.rounds.length}${firstText})`;
}

/** The double: loaded through its bulk endpoint, then listed once so its JSON text is cached. */
async function prepareDouble(lab: ScaleLab, n: number): Promise<Partial<SizeResult> | undefined> {
  const populateMs = await populate(lab, n);
  log(`populated ${n} Services and ${2 * n} EndpointSlices in ${Math.round(populateMs)} ms`);
  // The double caches each object's JSON text as it first lists it: list everything once now, so
  // that serializing 150,000 objects is not part of cosmolet's cold start (nor of its CPU's
  // competition on a small machine). The times say how fast the double serves lists.
  const listedServices = await timeList(lab, '/api/v1/services');
  const listedSlices = await timeList(lab, '/apis/discovery.k8s.io/v1/endpointslices');
  const doubleListMs = listedServices.ms + listedSlices.ms;
  log(
    `listed ${listedServices.items} Services and ${listedSlices.items} EndpointSlices from the double in ${Math.round(doubleListMs)} ms`,
  );
  if (args['populate-only']) {
    const again = await timeList(lab, '/apis/discovery.k8s.io/v1/endpointslices');
    log(`listed the EndpointSlices again (cached text) in ${Math.round(again.ms)} ms`);
    log(`--populate-only: the API double's RSS ${apiRss(lab)} MB`);
    return undefined;
  }
  return { populateMs, doubleListMs };
}

/** The real kube-apiserver: the cluster written through the API, its memory after that. */
async function prepareReal(lab: RealScaleLab, n: number): Promise<Partial<SizeResult> | undefined> {
  log(
    `kube-apiserver ${lab.version}: writing ${n} Services and ${2 * n} EndpointSlices, ${CONCURRENCY} in flight`,
  );
  const load = await lab.populate(n, CONCURRENCY, (done) => {
    if (done % 15_000 === 0) log(`  ${done} of ${3 * n} objects written`);
  });
  const memoryAfterLoad = lab.serverMemory();
  log(
    `wrote ${load.objects} objects in ${Math.round(load.ms)} ms (${Math.round(load.objects / (load.ms / 1000))}/s, ${load.throttled} x 429, ${load.retries} retries); kube-apiserver RSS ${memoryAfterLoad.apiserverMB.toFixed(0)} MB, etcd ${memoryAfterLoad.etcdMB.toFixed(0)} MB (${memoryAfterLoad.etcdDiskMB} MB on disk)`,
  );
  const directListFloor = await lab.directListFloor(LIST_ROUNDS);
  log(`list floor straight to the API server's port: ${fmtFloor(directListFloor)}`);
  if (args['populate-only']) return undefined;
  return {
    populateMs: load.ms,
    server: { version: lab.version, load, directListFloor, memoryAfterLoad, memoryEnd: memoryAfterLoad },
  };
}

async function runSize(n: number, kube: Kube): Promise<SizeResult | undefined> {
  const load = loadSampler();
  const loadStart = loadavg();
  const labOpts = {
    keepDir: args['keep-logs'] === true,
    ...(args.cosmolet ? { cli: resolve(args.cosmolet) } : {}),
    node: NODE,
  };
  const lab = kube === 'real' ? new RealScaleLab(labOpts) : new ScaleLab(labOpts);
  let monitor: LeafMonitor | undefined;
  try {
    log(`${n} Services, ${kube === 'real' ? 'real kube-apiserver' : 'API double'}: starting the fabric`);
    await lab.start();
    const leafPid = lab.leafPid();
    const base = fibCount(leafPid);
    const emptyCluster = await emptyClusterMemory(lab);
    log(
      `empty cluster: cosmolet's RSS ${emptyCluster.rssMB.toFixed(0)} MB (anonymous ${emptyCluster.anonMB.toFixed(0)} + file ${emptyCluster.fileMB.toFixed(0)}), Node.js at ${NODE}`,
    );
    const prepared = lab instanceof RealScaleLab ? await prepareReal(lab, n) : await prepareDouble(lab, n);
    if (!prepared) return undefined;
    const bareRuns: SizeResult['bare'][] = [];
    while (bareRuns.length < REPEATS) {
      const b = await bareBaseline(lab, n, base);
      log(`bare ip -batch of ${2 * n} routes: leaf holds all after ${Math.round(b.leafMs)} ms`);
      bareRuns.push(b);
    }
    // The run with the median time to the leaf (the lower of the middle two for an even count).
    const bare =
      [...bareRuns].sort((a, b) => a.leafMs - b.leafMs)[Math.floor((bareRuns.length - 1) / 2)] ??
      bareRuns[0]!;
    const listFloor = await lab.listFloor(LIST_ROUNDS);
    log(`list floor (cosmolet's client, ${listFloor.path}): ${fmtFloor(listFloor)}`);
    const first = await coldStart(lab, n, base);
    const cold = first.result;
    let pid = first.pid;
    const logCold = (c: SizeResult['coldStart']): void =>
      log(
        `cold start: lists complete after ${c.listsCompleteMs} ms, all ${2 * n} at the leaf ${c.listsToLeafMs} ms later; ${(c.spawnToLeafMs / (listFloorMs(listFloor) + bare.leafMs)).toFixed(2)}x (list floor + route floor)`,
      );
    logCold(cold);
    const rss = await settledRss(pid);
    log(
      `RSS ${rss.mb.toFixed(1)} MB (settled after ${rss.settledAfterS.toFixed(0)} s, peak ${rss.peakMB.toFixed(1)} MB)`,
    );
    const memory = memoryBreakdown(pid, (await lab.get('/metrics')).body, NODE_OPTIONS);
    log(`${describeMemory(memory)}; ${describeRuntime(RUNTIME)}`);
    const coldStarts = [cold];
    while (coldStarts.length < REPEATS) {
      const again = await coldStartAgain(lab, n, base, pid);
      pid = again.pid;
      coldStarts.push(again.result);
      logCold(again.result);
    }
    // The flips start from a settled cosmolet, as after the first cold start.
    if (coldStarts.length > 1) await settledRss(pid);
    monitor = new LeafMonitor(lab.fabric.ns.leaf);
    await monitor.started();
    const flipSvcs = flipServices(n, Math.ceil(FLIPS / 2) + 1);
    const ff = await floorAndFlips(lab, monitor, n, pid, flipSvcs);
    log(
      `floor p50/p99 ${ff.floorMs.p50.toFixed(0)}/${ff.floorMs.p99.toFixed(0)} ms; flip p50/p99 ${ff.flipMs.p50.toFixed(0)}/${ff.flipMs.p99.toFixed(0)} ms`,
    );
    monitor.stop();
    const up = await updates(lab, n, pid, new Set(flipSvcs));
    log(
      `${up.sent} updates in ${SECONDS} s: ${up.applies} applies, ${(up.core * 100).toFixed(1)}% of a core, ${up.cpuMsPerUpdate.toFixed(2)} ms CPU per update`,
    );
    const endRssMB = memoryMB(pid).rss;
    // After the flips, the updates and the FRR monitor's full reads of bgpd's table: what it keeps.
    const memoryEnd = memoryBreakdown(pid, (await lab.get('/metrics')).body, NODE_OPTIONS);
    log(`at the end: ${describeMemory(memoryEnd)}`);
    if (prepared.server && lab instanceof RealScaleLab) prepared.server.memoryEnd = lab.serverMemory();
    return {
      services: n,
      prefixes: 2 * n,
      kube,
      loadAverage: { start: loadStart, end: loadavg(), mean1m: load.stop() },
      populateMs: prepared.populateMs ?? NaN,
      ...(prepared.doubleListMs !== undefined ? { doubleListMs: prepared.doubleListMs } : {}),
      listFloor,
      ...(prepared.server ? { server: prepared.server } : {}),
      bare,
      ...(bareRuns.length > 1 ? { bareRuns } : {}),
      coldStart: cold,
      ...(coldStarts.length > 1 ? { coldStarts } : {}),
      rss,
      emptyCluster,
      memory,
      ...ff,
      updates: up,
      endRssMB,
      memoryEnd,
    };
  } finally {
    load.stop();
    monitor?.stop();
    await lab.teardown();
  }
}

function apiRss(lab: ScaleLab): string {
  const p = lab.fabric
    .processes()
    .find((x) => readFileSync(`/proc/${x.pid}/cmdline`, 'utf8').includes('apiserver-main'));
  return p ? memoryMB(p.pid).rss.toFixed(0) : '?';
}

/** Lists a resource in pages of 500, as a reflector does; returns the milliseconds taken. */
async function timeList(lab: ScaleLab, path: string): Promise<{ ms: number; items: number }> {
  const started = performance.now();
  let cont = '';
  let items = 0;
  do {
    const r = await lab.api('GET', `${path}?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
    const page = JSON.parse(r.body) as { items?: unknown[]; metadata?: { continue?: string } };
    items += page.items?.length ?? 0;
    cont = page.metadata?.continue ?? '';
  } while (cont);
  return { ms: performance.now() - started, items };
}

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

/** What the cosmolet under test says of itself (`cosmolet version`: version, commit, build date). */
function cosmoletVersion(): string {
  const cli = args.cosmolet ? resolve(args.cosmolet) : new URL('../dist/cli.js', import.meta.url).pathname;
  try {
    return execFileSync(NODE, [cli, 'version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const results: ScaleResults = {
    benchmark: 'scale',
    label: args.label ?? '',
    date: new Date().toISOString(),
    commit: gitCommit(),
    cosmolet: cosmoletVersion(),
    node: execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim(),
    cpus: cpus().length,
    settings: { flips: FLIPS, floorSamples: FLOOR, updateRate: RATE, updateSeconds: SECONDS },
    sizes: [],
  };
  const out = OUT;
  for (const n of SIZES) {
    for (const kube of KUBES) {
      const r = await runSize(n, kube);
      if (!r) continue;
      results.sizes.push(r);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
    }
  }
  if (results.sizes.length > 0) {
    console.log(`\n${table(results)}\n\n${serverTable(results)}\n\nwritten to ${out}`);
    if (REAL) console.log(`\nfor docs/benchmarks.md:\n\n${serverMarkdownTable(results)}`);
  }
}

await main();
