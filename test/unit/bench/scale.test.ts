// The scale benchmark's pure parts: its cluster (addresses canonical, inside the lab's service
// ranges, distinct, never the floor's), its percentiles, its computePlan verdict, and the plot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computePlan } from '../../../src/plan/plan.js';
import { cidrContains, hostPrefix, parseCIDR, parseIP, type CIDR } from '../../../src/net/ip.js';
import { svg } from '../../../bench/plot.js';
import { percentiles, table, type ScaleResults, type SizeResult } from '../../../bench/scale/report.js';
import {
  benchNode,
  benchService,
  benchSlice,
  floorIP,
  NODE_NAME,
  serviceIPs,
  servicePrefixes,
} from '../../../bench/scale/workload.js';
import { DEFAULTS } from '../plan/helpers.js';

const RANGES = ['10.96.0.0/12', 'fd00:10:96::/108'].map((c) => parseCIDR(c) as CIDR);

void test('scale workload: 50,000 Services get distinct canonical addresses inside the service ranges', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50_000; i++) {
    for (const a of servicePrefixes(i)) {
      const ip = parseIP(a);
      assert.ok(ip, a);
      assert.equal(hostPrefix(ip), `${a}/${a.includes(':') ? 128 : 32}`, 'canonical, as ip prints it');
      assert.ok(
        RANGES.some((r) => cidrContains(r, ip)),
        `${a} in a service range`,
      );
      assert.ok(!seen.has(a), `${a} once`);
      seen.add(a);
    }
  }
  for (let k = 0; k < 250; k++) {
    for (const f of ['IPv4', 'IPv6'] as const) {
      const a = floorIP(k, f);
      const ip = parseIP(a);
      assert.ok(ip && RANGES.some((r) => cidrContains(r, ip)), a);
      assert.equal(hostPrefix(ip), `${a}/${f === 'IPv4' ? 32 : 128}`);
      assert.ok(!seen.has(a), `the floor's ${a} is no Service's`);
    }
  }
});

void test('scale workload: the plan advertises both IPs of every Service, and a flipped slice withdraws one', () => {
  const n = 50;
  const services = Array.from({ length: n }, (_, i) => benchService(i));
  const slices = Array.from({ length: n }, (_, i) => [benchSlice(i, 'IPv4'), benchSlice(i, 'IPv6')]).flat();
  const plan = (s = slices) =>
    computePlan({
      services,
      endpointSlices: s,
      node: benchNode(),
      nodeName: NODE_NAME,
      settings: DEFAULTS,
      missingNode: 'advertise-nothing',
    });
  assert.equal(plan().routes.length, 2 * n);
  const flipped = slices.map((s) =>
    s.metadata?.name === 'svc-7-v6' ? benchSlice(7, 'IPv6', { ready: false, generation: 0 }) : s,
  );
  const routes = plan(flipped).routes.map((r) => r.prefix);
  assert.equal(routes.length, 2 * n - 1);
  assert.ok(!routes.includes(`${serviceIPs(7).ipv6}/128`));
  // A non-health update changes the object but not the plan.
  const touched = slices.map((s) =>
    s.metadata?.name === 'svc-3-v4' ? benchSlice(3, 'IPv4', { ready: true, generation: 9 }) : s,
  );
  assert.notDeepEqual(touched, slices);
  assert.deepEqual(plan(touched), plan());
});

void test('percentiles are nearest-rank: with 40 samples p99 is the largest', () => {
  const xs = Array.from({ length: 40 }, (_, i) => 40 - i);
  assert.deepEqual(percentiles(xs), { p50: 20, p99: 40, min: 1, max: 40, n: 40 });
  assert.equal(percentiles([5]).p99, 5);
  assert.ok(Number.isNaN(percentiles([]).p50));
});

function size(services: number, flip: number, cpu: number): SizeResult {
  const p = (v: number) => ({ p50: v, p99: v * 2, min: v, max: v * 2, n: 40 });
  return {
    services,
    prefixes: 2 * services,
    loadAverage: { start: [1, 1, 1], end: [1, 1, 1], mean1m: 1 },
    populateMs: 1,
    bare: { batchMs: 100, leafMs: 200 },
    coldStart: {
      processStartMs: 900,
      listsCompleteMs: 1000,
      listsToLeafMs: 230,
      spawnToLeafMs: 1230,
      signal: '',
    },
    rss: { mb: 90, peakMB: 95, settledAfterS: 6 },
    floorMs: { ...p(120), add: p(120), del: p(120) },
    flipMs: { ...p(flip), advertise: p(flip), withdraw: p(flip) },
    flipCpuMs: 3,
    reconcileMeanMs: 2,
    updates: {
      rate: 50,
      seconds: 60,
      sent: 3000,
      failed: 0,
      errors: [],
      core: 0.01,
      cpuMsPerUpdate: cpu,
      tailMs: 0,
      applies: 0,
      reconciles: 0,
    },
    endRssMB: 91,
  };
}

void test('the table marks each figure against its target, and the plot draws every series', () => {
  const results: ScaleResults = {
    benchmark: 'scale',
    label: 'after',
    date: '2026-11-30T18:00:00.000Z',
    commit: 'abc',
    node: 'v20',
    cpus: 2,
    settings: { flips: 40, floorSamples: 30, updateRate: 50, updateSeconds: 60 },
    sizes: [size(1000, 150, 0.2), size(10_000, 170, 0.3)],
  };
  const text = table(results);
  assert.match(
    text,
    /flip p50 \(floor p50\)\s+floor \+ 40 ms\s+150 ms \(120 ms\) pass\s+170 ms \(120 ms\) MISS/,
  );
  assert.match(text, /lists -> all at leaf \(bare\)\s+\S.*230 ms \(200 ms\) pass/);
  const before = { ...results, label: 'before', sizes: [size(1000, 400, 3), size(10_000, 1400, 6)] };
  const drawing = svg(results, before);
  assert.match(drawing, /^<svg /);
  // flip p50/p99, floor p50/p99, CPU, and three dotted "before" lines plus its CPU.
  assert.equal((drawing.match(/<path /g) ?? []).length, 9);
  assert.match(drawing, /10,000/);
});
