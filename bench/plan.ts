// Plan benchmark: 10,000 Services (IPv4, IPv6 and dual-stack; ClusterIP, NodePort, LoadBalancer
// with ingress and external IPs; Cluster and Local policies) with 50,000 endpoints over 100 nodes.
// Runs computePlan several times and prints the median and minimum in milliseconds; writes
// bench/results/plan.json. Run: node --import tsx bench/plan.ts [runs]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import type { Endpoint, EndpointSlice, Node, Service } from '../src/model/objects.js';
import { computePlan } from '../src/plan/plan.js';
import type { PlanSettings } from '../src/plan/types.js';
import { seededRandom } from '../test/unit/plan/seeded-random.js';

const SERVICES = 10_000;
const ENDPOINTS = 50_000;
const NODES = 100;
const NODE_NAME = 'node-0';
const RUNS = Math.max(3, Number(process.argv[2] ?? 15));
const WARMUP = 3;

// Seeded, so every run plans the same cluster.
const rand = seededRandom(7300);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

const v4 = (i: number, base: number): string => `${base}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const v6 = (i: number, prefix: string): string =>
  `${prefix}${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`;

function build(): { services: Service[]; slices: EndpointSlice[]; node: Node } {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  let endpointsLeft = ENDPOINTS;
  for (let i = 0; i < SERVICES; i++) {
    const ns = `ns-${i % 50}`;
    const name = `svc-${i}`;
    const stack = pick(['v4', 'v4', 'v6', 'dual', 'dual']);
    const type = pick(['ClusterIP', 'ClusterIP', 'NodePort', 'LoadBalancer']);
    const families: ('IPv4' | 'IPv6')[] =
      stack === 'v4' ? ['IPv4'] : stack === 'v6' ? ['IPv6'] : ['IPv4', 'IPv6'];
    const clusterIPs = families.map((f) => (f === 'IPv4' ? v4(i, 10) : v6(i, 'fd00:10:96::')));
    const spec: NonNullable<Service['spec']> = { type, clusterIP: clusterIPs[0], clusterIPs };
    if (rand() < 0.1) spec.internalTrafficPolicy = 'Local';
    if (type !== 'ClusterIP' && rand() < 0.3) spec.externalTrafficPolicy = 'Local';
    if (rand() < 0.05) spec.externalIPs = [v4(i, 192)];
    const svc: Service = { apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name }, spec };
    if (type === 'LoadBalancer') {
      svc.status = {
        loadBalancer: {
          ingress: families.map((f) => ({ ip: f === 'IPv4' ? v4(i, 198) : v6(i, '2001:db8:100::') })),
        },
      };
    }
    if (rand() < 0.01) svc.metadata = { ...svc.metadata, annotations: { 'cosmolet.io/advertise': 'false' } };
    services.push(svc);

    // Five endpoints per Service on average, spread over its families' slices.
    const count = i === SERVICES - 1 ? endpointsLeft : Math.min(endpointsLeft, 5);
    endpointsLeft -= count;
    const perFamily = families.map(() => [] as Endpoint[]);
    for (let e = 0; e < count; e++) {
      const fi = e % families.length;
      const family = families[fi];
      const r = rand();
      const conditions =
        r < 0.85
          ? { ready: true }
          : r < 0.95
            ? { ready: false }
            : { ready: false, serving: true, terminating: true };
      perFamily[fi]?.push({
        addresses: [family === 'IPv4' ? v4(i * 8 + e, 100) : v6(i * 8 + e, 'fd00:10:244::')],
        conditions,
        nodeName: `node-${Math.floor(rand() * NODES)}`,
      });
    }
    families.forEach((f, fi) => {
      slices.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          namespace: ns,
          name: `${name}-${f.toLowerCase()}`,
          labels: { 'kubernetes.io/service-name': name },
        },
        addressType: f,
        endpoints: perFamily[fi] ?? [],
      });
    });
  }
  const node: Node = { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE_NAME } };
  return { services, slices, node };
}

const settings: PlanSettings = {
  namespaces: [],
  labelSelector: '',
  clusterIP: true,
  loadBalancerIP: true,
  externalIPs: true,
  allowedCIDRs: ['198.0.0.0/8', '192.0.0.0/8', '2001:db8::/32'],
  loadBalancerClass: '',
  withdrawOnCordon: true,
};

const world = build();
const endpointCount = world.slices.reduce((n, s) => n + (s.endpoints?.length ?? 0), 0);
const times: number[] = [];
const cpuTimes: number[] = [];
let routes = 0;
let skipped = 0;
for (let run = 0; run < WARMUP + RUNS; run++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const plan = computePlan({
    services: world.services,
    endpointSlices: world.slices,
    node: world.node,
    nodeName: NODE_NAME,
    settings,
    missingNode: 'assume-schedulable',
  });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  if (run >= WARMUP) {
    times.push(ms);
    cpuTimes.push((cpu.user + cpu.system) / 1000);
  }
  routes = plan.routes.length;
  skipped = plan.skipped.length;
}
times.sort((a, b) => a - b);
function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? (v[mid] ?? 0) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}
const min = times[0] ?? 0;
const max = times[times.length - 1] ?? 0;

const result = {
  benchmark: 'plan',
  services: world.services.length,
  endpointSlices: world.slices.length,
  endpoints: endpointCount,
  runs: RUNS,
  warmup: WARMUP,
  medianMs: Number(median(times).toFixed(2)),
  minMs: Number(min.toFixed(2)),
  maxMs: Number(max.toFixed(2)),
  /** CPU time of the process per run (includes GC threads; unaffected by waiting for a core). */
  medianCpuMs: Number(median(cpuTimes).toFixed(2)),
  minCpuMs: Number(Math.min(...cpuTimes).toFixed(2)),
  loadAverage: loadavg()[0] ?? 0,
  cpus: cpus().length,
  routes,
  skipped,
  node: process.version,
  date: new Date().toISOString(),
};
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'plan.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log(
  `plan: ${result.services} services, ${result.endpoints} endpoints in ${result.endpointSlices} slices: ` +
    `median ${result.medianMs} ms, min ${result.minMs} ms, max ${result.maxMs} ms over ${RUNS} runs, ` +
    `CPU median ${result.medianCpuMs} ms, min ${result.minCpuMs} ms (load average ${result.loadAverage.toFixed(1)} on ${result.cpus} cores) ` +
    `(${routes} routes, ${skipped} skipped) -> ${out}`,
);
