// Controller benchmark in the fabric lab (root, FRR, GoBGP): the built `cosmolet run` in the node
// namespace against the API double. Measures, at the FRR leaf's FIB:
// - event-to-leaf latency of 50 endpoint flips (ready -> advertised, unready -> withdrawn);
// - time to converge 10,000 Services with 50,000 endpoints created at once, and cosmolet's memory.
// Prints the figures and writes bench/results/controller.json. Run: node --import tsx bench/controller.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { waitFor } from '@cosmolet/lab/wait';
import { node, service, services, slice, slices } from '../test/e2e/controller/cluster.js';
import { inControllerLab } from './controller-lab.js';
import { metric } from './prometheus-text.js';

const FLIPS = Number(process.argv[2] ?? 50);
const SERVICES = 10_000;
const ENDPOINTS_PER_SERVICE = 5;

function stats(xs: number[]): { median: number; p90: number; worst: number; best: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { median: at(0.5), p90: at(0.9), worst: s[s.length - 1] ?? NaN, best: s[0] ?? NaN };
}

async function main(): Promise<void> {
  await inControllerLab(async (lab, startCosmolet) => {
    lab.api.create('nodes', node());
    for (const s of services) lab.api.create('services', structuredClone(s));
    for (const s of slices) lab.api.create('endpointslices', structuredClone(s));
    startCosmolet({ logging: { level: 'info' } });
    await lab.waitReady(60_000);

    // 1. Endpoint flips: time from the API write to the leaf's FIB.
    const up: number[] = [];
    const down: number[] = [];
    const flip = async (ready: boolean) => {
      const started = performance.now();
      lab.api.upsert('endpointslices', slice('api', 'IPv4', [{ ip: '10.1.0.2', ready }]));
      await waitFor(
        ready ? 'advertised at the leaf' : 'withdrawn at the leaf',
        async () => (await lab.leafFib()).has('10.96.0.11/32') === ready,
        10_000,
        5,
      );
      return performance.now() - started;
    };
    // Isolated flips: reconciles start at least 250 ms apart (the reconciler's rate bound), so a
    // flip written sooner after the previous one's reconcile would measure that wait, not latency.
    const spaced = async (ready: boolean) => {
      const ms = await flip(ready);
      await new Promise((r) => setTimeout(r, 300));
      return ms;
    };
    for (let i = 0; i < FLIPS; i++) {
      up.push(await spaced(true));
      down.push(await spaced(false));
    }

    // 2. Scale: 10,000 Services with 5 endpoints each, created at once.
    const started = performance.now();
    for (let i = 0; i < SERVICES; i++) {
      const ip = `10.97.${(i >> 8) & 255}.${i & 255}`;
      lab.api.create('services', service(`bulk-${i}`, { clusterIPs: [ip] }, 'bulk'));
      lab.api.create(
        'endpointslices',
        slice(
          `bulk-${i}`,
          'IPv4',
          Array.from({ length: ENDPOINTS_PER_SERVICE }, (_, j) => ({
            ip: `10.2.${i >> 8}.${(i & 255) ^ j}`,
          })),
          undefined,
          'bulk',
        ),
      );
    }
    const expected = 10 + SERVICES;
    let installedAt = 0;
    await waitFor(
      `${SERVICES} more prefixes installed`,
      async () => {
        const m = await lab.get('/metrics');
        const v4 = metric(m.body, 'cosmolet_installed_prefixes\\{family="ipv4"\\}') ?? 0;
        const v6 = metric(m.body, 'cosmolet_installed_prefixes\\{family="ipv6"\\}') ?? 0;
        if (v4 + v6 >= expected && !installedAt) installedAt = performance.now();
        return v4 + v6 >= expected;
      },
      120_000,
      100,
    );
    await waitFor('the leaf to hold them', async () => (await lab.leafFib()).size >= expected, 120_000, 250);
    const leafAt = performance.now();
    const metrics = (await lab.get('/metrics')).body;
    const result = {
      benchmark: 'controller',
      date: new Date().toISOString(),
      node: process.version,
      loadAverage: loadavg()[0],
      flips: FLIPS,
      advertiseMs: stats(up),
      withdrawMs: stats(down),
      scale: {
        services: SERVICES,
        endpoints: SERVICES * ENDPOINTS_PER_SERVICE,
        installedMs: Math.round(installedAt - started),
        leafMs: Math.round(leafAt - started),
        residentMemoryMB: Math.round((metric(metrics, 'process_resident_memory_bytes') ?? 0) / 1e5) / 10,
        heapUsedMB: Math.round((metric(metrics, 'nodejs_heap_size_used_bytes') ?? 0) / 1e5) / 10,
      },
    };
    const fmt = (s: ReturnType<typeof stats>) =>
      `median ${s.median.toFixed(0)} ms, p90 ${s.p90.toFixed(0)} ms, worst ${s.worst.toFixed(0)} ms`;
    console.log(`event -> leaf FIB, advertise (${FLIPS}): ${fmt(result.advertiseMs)}`);
    console.log(`event -> leaf FIB, withdraw  (${FLIPS}): ${fmt(result.withdrawMs)}`);
    console.log(
      `10,000 Services + 50,000 endpoints: installed in ${result.scale.installedMs} ms, at the leaf in ${result.scale.leafMs} ms; cosmolet RSS ${result.scale.residentMemoryMB} MB, heap ${result.scale.heapUsedMB} MB`,
    );
    mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
    writeFileSync(
      new URL('./results/controller.json', import.meta.url),
      JSON.stringify(result, null, 2) + '\n',
    );
  });
}

await main();
