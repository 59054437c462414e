// /healthz latency and a new Service's time to its route while 20 clients read /status (issue 13
// item 1), with cosmolet held to the chart's CPU limit (200m: a CPU cgroup with a 20 ms quota per
// 100 ms period) on the fabric lab with 5,000 dual-stack Services in the API double (its own
// process). For each phase, idle and under load:
//  - /healthz: one GET every 200 ms (the kubelet asks every 10 s with a 3 s timeout, three times);
//  - a new Service (with ready endpoints): the time from its write to the API until its IPv4 route
//    is in the node's kernel (planned and installed), one every 2 s.
// Under load, `--clients` loops GET /status without pause (what a scraper gone wrong or a curious
// user with `watch` does). Prints the figures and writes bench/results/http-load.json.
//
//   node --import tsx bench/http-load.ts [--services 5000] [--clients 20] [--seconds 30]
//        [--cpu-percent 20] [--out FILE]
//   Needs root, FRR, GoBGP and `npm run build`. Without a usable CPU cgroup it runs unlimited and says so.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { KubeObject } from '../src/model/objects.js';
import { waitFor } from '@cosmolet/lab/wait';
import { runCommand } from '../src/router/exec.js';
import { ScaleLab } from './scale/lab.js';
import { percentiles } from './scale/report.js';
import { benchNode, benchService, benchSlice, serviceIPs } from './scale/workload.js';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '5000' },
    clients: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '30' },
    'cpu-percent': { type: 'string', default: '20' },
    out: { type: 'string', default: new URL('./results/http-load.json', import.meta.url).pathname },
  },
  allowPositionals: true,
});
const SERVICES = Number(args.services);
const CLIENTS = Number(args.clients);
const SECONDS = Number(args.seconds);
const CPU_PERCENT = Number(args['cpu-percent']);

/** A CPU cgroup with a quota of `percent` of one CPU (v2 `cpu.max`, or v1 `cpu.cfs_quota_us`). */
class CpuLimit {
  private constructor(readonly dir: string) {}

  static create(percent: number): CpuLimit | string {
    const name = `cosmolet-bench-${process.pid}`;
    const quota = String(percent * 1000);
    try {
      const v2 = '/sys/fs/cgroup';
      if (
        existsSync(join(v2, 'cgroup.controllers')) &&
        readFileSync(join(v2, 'cgroup.controllers'), 'utf8').includes('cpu')
      ) {
        writeFileSync(join(v2, 'cgroup.subtree_control'), '+cpu');
        const dir = join(v2, name);
        mkdirSync(dir);
        writeFileSync(join(dir, 'cpu.max'), `${quota} 100000`);
        return new CpuLimit(dir);
      }
      const v1 = '/sys/fs/cgroup/cpu';
      if (existsSync(join(v1, 'cpu.cfs_quota_us'))) {
        const dir = join(v1, name);
        mkdirSync(dir);
        writeFileSync(join(dir, 'cpu.cfs_period_us'), '100000');
        writeFileSync(join(dir, 'cpu.cfs_quota_us'), quota);
        return new CpuLimit(dir);
      }
      return 'no CPU cgroup controller found';
    } catch (err) {
      return (err as Error).message;
    }
  }

  add(pid: number): void {
    writeFileSync(join(this.dir, 'cgroup.procs'), String(pid));
  }

  /** Throttled periods so far (proof the quota bites). */
  throttled(): number {
    const stat = readFileSync(join(this.dir, 'cpu.stat'), 'utf8');
    return Number(/^nr_throttled (\d+)/m.exec(stat)?.[1] ?? NaN);
  }

  remove(): void {
    try {
      rmdirSync(this.dir);
    } catch {
      // still has a process (it is being killed): left for the next boot, it holds nothing
    }
  }
}

interface Phase {
  healthzMs: number[];
  healthzFailures: number;
  newServiceMs: number[];
  statusOk: number;
  status503: number;
  statusErrors: number;
  statusBytes: number;
}

const round = (x: number) => Math.round(x);

async function phase(
  lab: ScaleLab,
  ns: string,
  firstNew: number,
  clients: number,
  seconds: number,
): Promise<Phase> {
  const p: Phase = {
    healthzMs: [],
    healthzFailures: 0,
    newServiceMs: [],
    statusOk: 0,
    status503: 0,
    statusErrors: 0,
    statusBytes: 0,
  };
  const end = Date.now() + seconds * 1000;
  const loaders = Array.from({ length: clients }, async () => {
    while (Date.now() < end) {
      try {
        const r = await lab.get('/status');
        if (r.status === 200) p.statusOk++;
        else if (r.status === 503) p.status503++;
        else p.statusErrors++;
        p.statusBytes += r.body.length;
      } catch {
        p.statusErrors++;
      }
    }
  });
  const prober = (async () => {
    while (Date.now() < end) {
      const started = performance.now();
      const r = await lab.get('/healthz').catch(() => undefined);
      p.healthzMs.push(performance.now() - started);
      if (r?.status !== 200) p.healthzFailures++;
      await new Promise((res) => setTimeout(res, 200));
    }
  })();
  const creator = (async () => {
    let i = firstNew;
    while (Date.now() < end - 5000) {
      const ip = serviceIPs(i).ipv4;
      const objects: KubeObject[] = [benchService(i), benchSlice(i, 'IPv4'), benchSlice(i, 'IPv6')];
      const started = performance.now();
      await lab.load(objects);
      await waitFor(
        `${ip}/32 in the node's kernel`,
        async () => {
          const r = await runCommand(['ip', '-n', ns, 'route', 'show', `${ip}/32`, 'proto', '73'], {
            timeoutMs: 10_000,
          });
          return r.stdout.trim() !== '';
        },
        60_000,
        20,
      );
      p.newServiceMs.push(performance.now() - started);
      i++;
      await new Promise((res) => setTimeout(res, 2000));
    }
  })();
  await Promise.all([...loaders, prober, creator]);
  return p;
}

function summary(p: Phase, seconds: number): Record<string, number> {
  const h = percentiles(p.healthzMs);
  const n = percentiles(p.newServiceMs);
  return {
    healthzP50Ms: round(h.p50),
    healthzP99Ms: round(h.p99),
    healthzMaxMs: round(Math.max(...p.healthzMs)),
    healthzSamples: p.healthzMs.length,
    healthzFailures: p.healthzFailures,
    newServiceP50Ms: round(n.p50),
    newServiceMaxMs: round(Math.max(...p.newServiceMs)),
    newServices: p.newServiceMs.length,
    statusOkPerSecond: Math.round((p.statusOk / seconds) * 10) / 10,
    status503PerSecond: Math.round((p.status503 / seconds) * 10) / 10,
    statusErrors: p.statusErrors,
    statusMBPerSecond: Math.round((p.statusBytes / seconds / 1e6) * 10) / 10,
  };
}

async function main(): Promise<void> {
  const lab = new ScaleLab();
  let limit: CpuLimit | string = 'not created';
  let cosmolet: ChildProcess | undefined;
  const onSignal = () => void lab.teardown().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await lab.start();
    await lab.load([benchNode()]);
    for (let i = 0; i < SERVICES; i += 2000) {
      const objects: KubeObject[] = [];
      for (let j = i; j < Math.min(SERVICES, i + 2000); j++)
        objects.push(benchService(j), benchSlice(j, 'IPv4'), benchSlice(j, 'IPv6'));
      await lab.load(objects);
    }
    limit = CpuLimit.create(CPU_PERCENT);
    cosmolet = lab.startCosmolet({ loopIntervalSeconds: 30 });
    if (typeof limit !== 'string' && cosmolet.pid !== undefined) limit.add(cosmolet.pid);
    console.log(
      typeof limit === 'string'
        ? `   no CPU limit (${limit}): figures are for an unlimited cosmolet`
        : `   cosmolet (pid ${cosmolet.pid}) limited to ${CPU_PERCENT}% of a CPU (${limit.dir})`,
    );
    const started = performance.now();
    await waitFor(
      'cosmolet ready',
      async () => (await lab.get('/readyz').catch(() => undefined))?.status === 200,
      300_000,
      200,
    );
    const readyMs = performance.now() - started;
    const status = await lab.get('/status');
    console.log(
      `   ready after ${round(readyMs)} ms; /status is ${(status.body.length / 1e6).toFixed(2)} MB`,
    );
    const throttledBefore = typeof limit === 'string' ? NaN : limit.throttled();
    const idle = summary(await phase(lab, lab.fabric.ns.node, SERVICES, 0, 15), 15);
    const loaded = summary(await phase(lab, lab.fabric.ns.node, SERVICES + 1000, CLIENTS, SECONDS), SECONDS);
    const throttled = typeof limit === 'string' ? NaN : limit.throttled() - throttledBefore;
    const rows: [string, string, string][] = [
      ['/healthz p50 / p99 / max', fmtMs(idle, 'healthz'), fmtMs(loaded, 'healthz')],
      [
        '/healthz failures (samples)',
        `${idle.healthzFailures} (${idle.healthzSamples})`,
        `${loaded.healthzFailures} (${loaded.healthzSamples})`,
      ],
      ['new Service to installed: p50 / max (n)', fmtNew(idle), fmtNew(loaded)],
      [
        '/status 200 per s, 503 per s, MB/s',
        '-',
        `${loaded.statusOkPerSecond}, ${loaded.status503PerSecond}, ${loaded.statusMBPerSecond}`,
      ],
      ['/status errors', '-', String(loaded.statusErrors)],
    ];
    const cpu = typeof limit === 'string' ? 'unlimited' : `${CPU_PERCENT}% of a CPU`;
    console.log(`\n${SERVICES} Services, cosmolet at ${cpu}, ${CLIENTS} /status clients for ${SECONDS} s:\n`);
    console.log(`| | idle | ${CLIENTS} /status clients |\n| --- | --- | --- |`);
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    const load = loadavg()[0] ?? NaN;
    console.log(
      `\nthrottled CFS periods under the quota: ${throttled}; load average (1 min): ${load.toFixed(1)}`,
    );
    const out = resolve(args.out);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(
      out,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          cpus: cpus().length,
          node: process.version,
          services: SERVICES,
          clients: CLIENTS,
          seconds: SECONDS,
          cpuLimit: cpu,
          readyMs: round(readyMs),
          statusBytes: status.body.length,
          throttledPeriods: throttled,
          loadAverage1m: Math.round(load * 10) / 10,
          idle,
          underLoad: loaded,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`written to ${out}`);
  } finally {
    await lab.teardown();
    if (typeof limit !== 'string') limit.remove();
  }
}

function fmtMs(s: Record<string, number>, k: string): string {
  return `${s[`${k}P50Ms`]} / ${s[`${k}P99Ms`]} / ${s[`${k}MaxMs`]} ms`;
}

function fmtNew(s: Record<string, number>): string {
  return `${s.newServiceP50Ms} / ${s.newServiceMaxMs} ms (${s.newServices})`;
}

await main();
