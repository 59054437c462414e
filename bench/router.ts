// Router benchmark on the fabric lab: for 10,000 prefixes per backend, the apply time, the time
// until the FRR leaf and GoBGP hold all of them, the read-back time and the withdraw time; and the
// original approach (one vtysh process per route), measured on 200 routes and extrapolated.
//
//   node --import tsx bench/router.ts [--prefixes 10000] [--reps 3] [--per-route 200]
// Prints a table and writes bench/results/router.json. Needs root, frr, gobgpd, iproute2.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startFabric, type Fabric } from '@cosmolet/lab/fabric/fabric';
import { waitFor } from '@cosmolet/lab/wait';
import { runCommand } from '../src/router/exec.js';
import { diffPrefixes, type Origination, type Router } from '../src/router/router.js';
import { routerFor } from '../test/e2e/router/harness.js';
import { parsePrefix } from '../src/net/prefix.js';

const KERNEL_PROTOCOL = 73;
const STATIC_TAG = 7300;

/** Mixed IPv4/IPv6 host prefixes in the lab's service ranges: two IPv4 for every IPv6. */
export function benchPrefixes(n: number, offset = 0): string[] {
  const out: string[] = [];
  for (let i = offset; i < offset + n; i++) {
    if (i % 3 === 2) {
      // fd00:10:96::/108 leaves 20 bits: two groups, canonicalised.
      const v = i + 1;
      const p = parsePrefix(`fd00:10:96::${(v >> 16).toString(16)}:${(v & 0xffff).toString(16)}/128`);
      if (!p) throw new Error(`bad bench prefix for ${i}`);
      out.push(p.prefix);
    } else out.push(`10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`);
  }
  return out;
}

export interface BackendFigures {
  origination: Origination;
  prefixes: number;
  /** Median over the repetitions, milliseconds. */
  applyMs: number;
  leafHoldsAllMs: number;
  gobgpHoldsAllMs: number;
  readBackMs: number;
  withdrawMs: number;
  leafEmptyMs: number;
  gobgpEmptyMs: number;
  /**
   * kill -9 bgpd with all prefixes installed, then restart it as watchfrr would: ms from the
   * restart until the leaf holds all of them again, without any apply (one run).
   */
  bgpdRecoveryMs: number;
  runs: Omit<BackendFigures, 'runs' | 'origination' | 'prefixes' | 'bgpdRecoveryMs'>[];
}

export interface PerRouteFigures {
  measuredRoutes: number;
  addMs: number;
  withdrawMs: number;
  perRouteMs: number;
  /** Extrapolated linearly from the measured routes, not measured. */
  extrapolatedAddMsFor: Record<string, number>;
  extrapolatedWithdrawMsFor: Record<string, number>;
}

export interface RouterBenchResult {
  date: string;
  machine: {
    cpus: number;
    cpuModel: string;
    kernel: string;
    node: string;
    frr: string;
    gobgpd: string;
    /** 1-minute load average at the start and the end: the machine is shared. */
    loadAverage: [number, number];
  };
  labStartMs: number;
  backends: BackendFigures[];
  perRouteVtysh: PerRouteFigures;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** Resolves with the ms (since `t0`) at which `count()` first returned `want`. */
async function timeUntil(
  what: string,
  t0: number,
  count: () => Promise<number>,
  want: number,
): Promise<number> {
  await waitFor(what, async () => (await count()) === want, 180_000, 50);
  return performance.now() - t0;
}

async function clear(fabric: Fabric, router: Router): Promise<void> {
  await router.apply(diffPrefixes(new Set(), await router.read()));
  await waitFor(
    'fabric empty',
    async () => (await fabric.leafPrefixCount()) + (await fabric.gobgpPrefixCount()) === 0,
    120_000,
    100,
  );
}

async function benchBackend(
  fabric: Fabric,
  origination: Origination,
  n: number,
  reps: number,
): Promise<BackendFigures> {
  const router = routerFor(fabric, origination, 30);
  const prefixes = benchPrefixes(n);
  const runs: BackendFigures['runs'] = [];
  for (let rep = 0; rep < reps; rep++) {
    await clear(fabric, router);
    const t0 = performance.now();
    await router.apply({ add: prefixes, remove: [] });
    const applyMs = performance.now() - t0;
    const [leafHoldsAllMs, gobgpHoldsAllMs] = await Promise.all([
      timeUntil('leaf holds all', t0, () => fabric.leafPrefixCount(), n),
      timeUntil('GoBGP holds all', t0, () => fabric.gobgpPrefixCount(), n),
    ]);
    // Exactness once, outside the timed part.
    const [leaf, ext] = await Promise.all([fabric.leafRoutes(), fabric.gobgpRoutes()]);
    if (leaf.size !== n || ext.size !== n || prefixes.some((p) => !leaf.has(p) || !ext.has(p))) {
      throw new Error(`${origination}: the peers do not hold exactly the ${n} prefixes`);
    }
    const r0 = performance.now();
    const owned = await router.read();
    const readBackMs = performance.now() - r0;
    if (owned.size !== n) throw new Error(`${origination}: read back ${owned.size} of ${n}`);
    const w0 = performance.now();
    await router.apply({ add: [], remove: prefixes });
    const withdrawMs = performance.now() - w0;
    const [leafEmptyMs, gobgpEmptyMs] = await Promise.all([
      timeUntil('leaf empty', w0, () => fabric.leafPrefixCount(), 0),
      timeUntil('GoBGP empty', w0, () => fabric.gobgpPrefixCount(), 0),
    ]);
    runs.push({
      applyMs,
      leafHoldsAllMs,
      gobgpHoldsAllMs,
      readBackMs,
      withdrawMs,
      leafEmptyMs,
      gobgpEmptyMs,
    });
  }
  // Recovery after a bgpd crash: the routes stay in the kernel / staticd, zebra hands them over.
  await router.apply({ add: prefixes, remove: [] });
  await timeUntil('leaf holds all', performance.now(), () => fabric.leafPrefixCount(), n);
  await fabric.killBgpd('node');
  await waitFor('leaf drops the routes', async () => (await fabric.leafPrefixCount()) === 0, 60_000, 100);
  const k0 = performance.now();
  await fabric.restartBgpd('node');
  const bgpdRecoveryMs = await timeUntil(
    'leaf holds all after restart',
    k0,
    () => fabric.leafPrefixCount(),
    n,
  );
  await clear(fabric, router);
  const pick = (k: keyof BackendFigures['runs'][number]): number => median(runs.map((r) => r[k]));
  return {
    origination,
    prefixes: n,
    applyMs: pick('applyMs'),
    leafHoldsAllMs: pick('leafHoldsAllMs'),
    gobgpHoldsAllMs: pick('gobgpHoldsAllMs'),
    readBackMs: pick('readBackMs'),
    withdrawMs: pick('withdrawMs'),
    leafEmptyMs: pick('leafEmptyMs'),
    gobgpEmptyMs: pick('gobgpEmptyMs'),
    bgpdRecoveryMs,
    runs,
  };
}

/** The original cosmolet: `vtysh -c 'configure terminal' -c 'ip route ...'`, one process per route. */
async function benchPerRoute(fabric: Fabric, n: number): Promise<PerRouteFigures> {
  const prefixes = benchPrefixes(n, 500_000);
  const one = async (line: string): Promise<void> => {
    await runCommand(
      ['vtysh', '--vty_socket', fabric.socketDir('node'), '-c', 'configure terminal', '-c', line],
      {
        timeoutMs: 30_000,
      },
    );
  };
  const line = (p: string): string =>
    `${p.includes(':') ? 'ipv6' : 'ip'} route ${p} blackhole tag ${STATIC_TAG}`;
  const t0 = performance.now();
  for (const p of prefixes) await one(line(p));
  const addMs = performance.now() - t0;
  await waitFor(
    'leaf holds the per-route prefixes',
    async () => (await fabric.leafPrefixCount()) === n,
    60_000,
    100,
  );
  const w0 = performance.now();
  for (const p of prefixes) await one(`no ${line(p)}`);
  const withdrawMs = performance.now() - w0;
  await waitFor('leaf empty', async () => (await fabric.leafPrefixCount()) === 0, 60_000, 100);
  const perRouteMs = addMs / n;
  const targets = [10_000, 20_000];
  return {
    measuredRoutes: n,
    addMs,
    withdrawMs,
    perRouteMs,
    extrapolatedAddMsFor: Object.fromEntries(targets.map((t) => [String(t), (addMs / n) * t])),
    extrapolatedWithdrawMsFor: Object.fromEntries(targets.map((t) => [String(t), (withdrawMs / n) * t])),
  };
}

async function version(argv: string[], re: RegExp): Promise<string> {
  try {
    const r = await runCommand(argv, { timeoutMs: 10_000, okCodes: 'any' });
    return re.exec(r.stdout + r.stderr)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function runRouterBench(opts: {
  prefixes: number;
  reps: number;
  perRoute: number;
}): Promise<RouterBenchResult> {
  const loadStart = loadavg()[0] ?? 0;
  const l0 = performance.now();
  const fabric = await startFabric({
    kernelProtocol: KERNEL_PROTOCOL,
    staticTag: STATIC_TAG,
    startTimeoutMs: 120_000,
  });
  const labStartMs = performance.now() - l0;
  try {
    const backends: BackendFigures[] = [];
    for (const o of ['kernel', 'static'] as const)
      backends.push(await benchBackend(fabric, o, opts.prefixes, opts.reps));
    const perRouteVtysh = await benchPerRoute(fabric, opts.perRoute);
    return {
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        kernel: release(),
        node: process.version,
        frr: await version(['vtysh', '-h'], /version ([\d.]+)/),
        gobgpd: await version(['gobgpd', '--version'], /version ([\d.]+)/),
        loadAverage: [loadStart, loadavg()[0] ?? 0],
      },
      labStartMs,
      backends,
      perRouteVtysh,
    };
  } finally {
    await fabric.teardown();
  }
}

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

export function formatRouterBench(r: RouterBenchResult): string {
  const lines = [
    `router benchmark, ${r.date}, ${r.machine.cpus} CPUs (${r.machine.cpuModel}), FRR ${r.machine.frr}, GoBGP ${r.machine.gobgpd}, Node.js ${r.machine.node}, load average ${r.machine.loadAverage.map((x) => x.toFixed(1)).join(' -> ')}`,
    `lab start (3 namespaces, 2 FRR, gobgpd, sessions Established): ${s(r.labStartMs)}`,
  ];
  for (const b of r.backends) {
    lines.push(
      `${b.origination.padEnd(6)} ${b.prefixes} prefixes (median of ${b.runs.length}): apply ${s(b.applyMs)}, leaf holds all ${s(
        b.leafHoldsAllMs,
      )}, GoBGP holds all ${s(b.gobgpHoldsAllMs)}, read back ${s(b.readBackMs)}, withdraw ${s(b.withdrawMs)}, leaf empty ${s(
        b.leafEmptyMs,
      )}, GoBGP empty ${s(b.gobgpEmptyMs)}; after kill -9 bgpd + restart, leaf holds all again in ${s(b.bgpdRecoveryMs)}`,
    );
  }
  const p = r.perRouteVtysh;
  lines.push(
    `one vtysh per route (original approach), measured on ${p.measuredRoutes}: add ${s(p.addMs)} (${p.perRouteMs.toFixed(
      1,
    )} ms/route), withdraw ${s(p.withdrawMs)}; extrapolated to 10,000: add ${s(p.extrapolatedAddMsFor['10000'] ?? 0)}, withdraw ${s(
      p.extrapolatedWithdrawMsFor['10000'] ?? 0,
    )}`,
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      prefixes: { type: 'string', default: '10000' },
      reps: { type: 'string', default: '3' },
      'per-route': { type: 'string', default: '200' },
    },
  });
  const result = await runRouterBench({
    prefixes: Number(values.prefixes),
    reps: Number(values.reps),
    perRoute: Number(values['per-route']),
  });
  console.log(formatRouterBench(result));
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'router.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
