// Idle CPU (issue 23 item 3): cosmolet at N dual-stack Services on the fabric lab (the scale
// bench's lab and workload, kernel origination, API double), with no change at all to the cluster
// or the routes, over a window of W seconds once the cold start is over. Its CPU time from
// /proc/<pid>/stat over the window, as a share of one core, and the worst 15-second slice (where a
// periodic full check shows), split by thread; and its children's (vtysh, ip) beside it. Target: at
// most 1% of a core at 10,000 with loopIntervalSeconds 15.
//
//   node --import tsx bench/idle.ts [--size 10000] [--window 600] [--interval 15] [--settle 60]
//        [--node image|current|PATH] [--node-options TEXT]   (as the scale benchmark: by default the
//                                  image's Node.js 24 with the chart's NODE_OPTIONS and malloc setting)
// Needs root, FRR, GoBGP and `npm run build`. Prints its figures; writes nothing.
import { parseArgs } from 'node:util';
import type { KubeObject } from '../src/model/objects.js';
import { ScaleLab } from './scale/lab.js';
import { fibCount } from './scale/leaf.js';
import { childCpuSeconds, commandName, cpuSeconds, cpuSecondsByThread } from './scale/proc.js';
import { cosmoletRuntime, describeRuntime, withEnv } from './scale/runtime.js';
import { benchNode, benchService, benchSlice } from './scale/workload.js';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '10000' },
    window: { type: 'string', default: '600' },
    interval: { type: 'string', default: '15' },
    settle: { type: 'string', default: '60' },
    node: { type: 'string', default: 'image' },
    'node-options': { type: 'string' },
  },
  strict: true,
});
const N = Number(args.size);
const WINDOW_S = Number(args.window);
const INTERVAL_S = Number(args.interval);
const SETTLE_S = Number(args.settle);
const SLICE_S = 15;
const RUNTIME = cosmoletRuntime({ node: args.node ?? 'image', nodeOptions: args['node-options'] });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => console.log(`[idle ${new Date().toISOString().slice(11, 19)}] ${msg}`);

async function main(): Promise<void> {
  const lab = new ScaleLab({ node: RUNTIME.node });
  try {
    await lab.start();
    const leafPid = lab.leafPid();
    const base = fibCount(leafPid);
    await lab.load([benchNode()]);
    for (let i = 0; i < N; i += 2000) {
      const objects: KubeObject[] = [];
      for (let j = i; j < Math.min(N, i + 2000); j++)
        objects.push(benchService(j), benchSlice(j, 'IPv4'), benchSlice(j, 'IPv6'));
      await lab.load(objects);
    }
    log(
      `populated ${N} Services; starting cosmolet with loopIntervalSeconds ${INTERVAL_S} on ${describeRuntime(RUNTIME)}`,
    );
    const child = withEnv(RUNTIME.env, () => lab.startCosmolet({ loopIntervalSeconds: INTERVAL_S }));
    const pid = child.pid;
    if (pid === undefined) throw new Error('cosmolet did not start');
    const deadline = Date.now() + 600_000;
    for (;;) {
      const c = fibCount(leafPid);
      if (c.ipv4 >= base.ipv4 + N && c.ipv6 >= base.ipv6 + N) break;
      if (Date.now() > deadline) throw new Error('the leaf never held every prefix');
      await sleep(200);
    }
    if (commandName(pid) !== 'node') throw new Error(`pid ${pid} is not cosmolet's node`);
    log(`every prefix at the leaf; settling ${SETTLE_S} s`);
    await sleep(SETTLE_S * 1000);
    const start = cpuSeconds(pid);
    const threadsAtStart = cpuSecondsByThread(pid);
    const childrenAtStart = childCpuSeconds(pid);
    const slices: number[] = [];
    let last = start;
    for (let t = 0; t < WINDOW_S; t += SLICE_S) {
      await sleep(SLICE_S * 1000);
      const now = cpuSeconds(pid);
      slices.push(now - last);
      last = now;
    }
    const total = last - start;
    const share = (100 * total) / WINDOW_S;
    const worst = Math.max(...slices);
    // Where it went: per thread name, over the same window.
    const threads: Record<string, number> = {};
    for (const [name, s] of cpuSecondsByThread(pid)) {
      const used = s - (threadsAtStart.get(name) ?? 0);
      if (used > 0) threads[name] = Number(used.toFixed(2));
    }
    log(
      `${N} Services, loopIntervalSeconds ${INTERVAL_S}, ${WINDOW_S} s idle: ${total.toFixed(2)} CPU s = ${share.toFixed(2)}% of a core; worst ${SLICE_S} s slice ${((100 * worst) / SLICE_S).toFixed(2)}%`,
    );
    const children = childCpuSeconds(pid) - childrenAtStart;
    log(
      `by thread (CPU s): ${JSON.stringify(threads)}; its children (vtysh, ip): ${children.toFixed(2)} CPU s = ${((100 * children) / WINDOW_S).toFixed(2)}% of a core more`,
    );
    console.log(
      JSON.stringify({
        services: N,
        windowS: WINDOW_S,
        intervalS: INTERVAL_S,
        cpuS: total,
        share,
        slices,
        threads,
      }),
    );
  } finally {
    await lab.teardown();
  }
}

await main();
