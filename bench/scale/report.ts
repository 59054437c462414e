// The scale benchmark's results file (bench/results/scale.json), its targets (issue 10) and the
// table printed from it. Shared by bench/scale.ts and bench/plot.ts. With `--kube real` (or both), a
// second table sets the real kube-apiserver's figures beside the double's (bench/results/scale-real.json).
import { listFloorMs, median, type ListFloor } from './list-floor.js';
import type { MemoryBreakdown } from './memory.js';
import type { LoadResult, ServerMemory } from './real-lab.js';

export interface Percentiles {
  p50: number;
  p99: number;
  min: number;
  max: number;
  n: number;
}

/** Nearest-rank percentiles (with 40 samples, p99 is the largest). */
export function percentiles(xs: readonly number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.max(0, Math.ceil(q * s.length) - 1)] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, n: s.length };
}

export interface ColdStart {
  /** From spawning cosmolet to its first log line (Node.js started, code loaded). */
  processStartMs: number;
  /** From spawning cosmolet to the last reflector's first full list (its "synced" log line). */
  listsCompleteMs: number;
  /** From that line to the leaf's FIB holding all 2N prefixes. */
  listsToLeafMs: number;
  spawnToLeafMs: number;
  signal: string;
}

export interface SizeResult {
  services: number;
  prefixes: number;
  /** The API server cosmolet ran against; absent in results from before `--kube` (the double). */
  kube?: 'double' | 'real';
  /** cosmolet's client listing every Service and EndpointSlice over cosmolet's path (list-floor.ts). */
  listFloor?: ListFloor;
  /** The real kube-apiserver's own figures (`--kube real`). */
  server?: {
    version: string;
    /** Writing the N Services and 2N EndpointSlices. */
    load: LoadResult;
    /** The list floor from the host straight to the API server's port, without the node's bridge. */
    directListFloor: ListFloor;
    memoryAfterLoad: ServerMemory;
    memoryEnd: ServerMemory;
  };
  loadAverage: { start: number[]; end: number[]; mean1m: number };
  populateMs: number;
  /** Listing every Service and EndpointSlice from the double once, before cosmolet starts. */
  doubleListMs?: number;
  /** The bare baseline; with --repeats K > 1 the run with the median time to the leaf. */
  bare: { batchMs: number; leafMs: number };
  /** With --repeats K > 1: every bare baseline run. */
  bareRuns?: { batchMs: number; leafMs: number }[];
  coldStart: ColdStart;
  /** With --repeats K > 1: every cold start on the same cluster, the first one included. */
  coldStarts?: ColdStart[];
  rss: { mb: number; peakMB: number; settledAfterS: number };
  /** cosmolet's settled RSS before any Service was written (absent in results from before it was measured). */
  emptyCluster?: { rssMB: number; anonMB: number; fileMB: number };
  /** Where the RSS after the cold start goes (absent in results from before it was measured). */
  memory?: MemoryBreakdown;
  floorMs: Percentiles & { add: Percentiles; del: Percentiles };
  flipMs: Percentiles & { advertise: Percentiles; withdraw: Percentiles };
  flipCpuMs: number;
  reconcileMeanMs: number | null;
  updates: {
    rate: number;
    seconds: number;
    sent: number;
    failed: number;
    /** The first few failed writes' errors. */
    errors: string[];
    /** cosmolet CPU during the update window, as a fraction of one core. */
    core: number;
    /** cosmolet CPU from the first update until it was idle again, per update. */
    cpuMsPerUpdate: number;
    tailMs: number;
    applies: number;
    reconciles: number;
  };
  endRssMB: number;
  /** The breakdown at the end (absent in results from before it was measured). */
  memoryEnd?: MemoryBreakdown;
}

export interface ScaleResults {
  benchmark: 'scale';
  label: string;
  date: string;
  commit: string;
  /** `cosmolet version` of the build under test. */
  cosmolet?: string;
  /** The Node.js version cosmolet ran on (the container image's unless --node said otherwise). */
  node: string;
  cpus: number;
  settings: { flips: number; floorSamples: number; updateRate: number; updateSeconds: number };
  sizes: SizeResult[];
}

export interface Check {
  figure: string;
  target: string;
  value: (r: SizeResult) => string;
  pass: (r: SizeResult) => boolean | undefined;
}

const ms = (x: number): string => `${Math.round(x)} ms`;
const mb = (x: number): string => (Number.isFinite(x) ? `${Math.round(x)} MB` : '?');

/** Issue 23's RSS targets after the cold start: 100 MB up to 10,000 Services, 250 to 50,000, 400 above. */
export function rssTargetMB(services: number): number {
  return services <= 10_000 ? 100 : services <= 50_000 ? 250 : 400;
}

/** The issues' targets (10 and 23); the memory rows under RSS say where its bytes go. */
export const CHECKS: Check[] = [
  {
    figure: 'flip p50 (floor p50)',
    target: 'floor + 40 ms',
    value: (r) => `${ms(r.flipMs.p50)} (${ms(r.floorMs.p50)})`,
    pass: (r) => r.flipMs.p50 - r.floorMs.p50 <= 40,
  },
  {
    figure: 'flip p99 (floor p99)',
    target: 'floor + 120 ms',
    value: (r) => `${ms(r.flipMs.p99)} (${ms(r.floorMs.p99)})`,
    pass: (r) => r.flipMs.p99 - r.floorMs.p99 <= 120,
  },
  {
    figure: 'CPU per flip',
    target: '',
    value: (r) => ms(r.flipCpuMs),
    pass: () => undefined,
  },
  {
    figure: 'updates/s: applies',
    target: '0',
    value: (r) => String(r.updates.applies),
    pass: (r) => r.updates.applies === 0,
  },
  {
    figure: 'updates/s: CPU',
    target: '<= 5% of a core',
    value: (r) => `${(r.updates.core * 100).toFixed(1)}%`,
    pass: (r) => r.updates.core <= 0.05,
  },
  {
    figure: 'CPU per update',
    target: '',
    value: (r) => `${r.updates.cpuMsPerUpdate.toFixed(2)} ms`,
    pass: () => undefined,
  },
  {
    figure: 'RSS after cold start',
    target: '<= 100 MB (10k), 250 MB (50k), 400 MB (100k)',
    value: (r) => `${r.rss.mb.toFixed(0)} MB`,
    pass: (r) => r.rss.mb <= rssTargetMB(r.services),
  },
  {
    figure: 'RSS at the end (after flips, updates, full reads)',
    target: '',
    value: (r) =>
      `${mb(r.endRssMB)}${r.memoryEnd ? ` (V8 heap ${mb(r.memoryEnd.heapUsedMB)} used of ${mb(r.memoryEnd.heapTotalMB)})` : ''}`,
    pass: () => undefined,
  },
  {
    figure: '  RSS on the empty cluster (anonymous + file)',
    target: '',
    value: (r) =>
      r.emptyCluster
        ? `${mb(r.emptyCluster.rssMB)} (${mb(r.emptyCluster.anonMB)} + ${mb(r.emptyCluster.fileMB)})`
        : '-',
    pass: () => undefined,
  },
  {
    figure: '  RSS per Service above the empty cluster',
    target: '',
    value: (r) =>
      r.emptyCluster ? `${(((r.rss.mb - r.emptyCluster.rssMB) * 1024) / r.services).toFixed(1)} KB` : '-',
    pass: () => undefined,
  },
  {
    figure: '  RSS: anonymous + file (node binary)',
    target: '',
    value: (r) => (r.memory ? `${mb(r.memory.anonMB)} + ${mb(r.memory.fileMB)}` : '-'),
    pass: () => undefined,
  },
  {
    figure: '  V8 heap: used of committed',
    target: '',
    value: (r) => (r.memory ? `${mb(r.memory.heapUsedMB)} of ${mb(r.memory.heapTotalMB)}` : '-'),
    pass: () => undefined,
  },
  {
    figure: '  V8 spaces: new, old, code, large',
    target: '',
    value: (r) =>
      r.memory
        ? ['new', 'old', 'code', 'large_object'].map((k) => mb(r.memory?.spaces[k]?.sizeMB ?? NaN)).join(', ')
        : '-',
    pass: () => undefined,
  },
  {
    figure: '  external (Buffers); rest (malloc, stacks)',
    target: '',
    value: (r) =>
      r.memory
        ? `${mb(r.memory.externalMB)}; ${mb(r.memory.anonMB - r.memory.heapTotalMB - r.memory.externalMB)}`
        : '-',
    pass: () => undefined,
  },
  {
    figure: 'cold start / (list floor + route floor)',
    target: '<= 1.2x',
    value: (r) => {
      const x = coldStartRatio(r);
      return x === undefined ? '-' : `${x.toFixed(2)}x`;
    },
    pass: (r) => {
      const x = coldStartRatio(r);
      return x === undefined ? undefined : x <= 1.2;
    },
  },
  {
    figure: 'cold start: lists complete (process up)',
    target: '',
    value: (r) =>
      Number.isFinite(r.coldStart.processStartMs)
        ? `${ms(r.coldStart.listsCompleteMs)} (${ms(r.coldStart.processStartMs)})`
        : ms(r.coldStart.listsCompleteMs),
    pass: () => undefined,
  },
  {
    figure: 'lists -> all at leaf (bare)',
    target: '<= 1.2 x bare ip -batch',
    value: (r) => `${ms(r.coldStart.listsToLeafMs)} (${ms(r.bare.leafMs)})`,
    pass: (r) => r.coldStart.listsToLeafMs <= 1.2 * r.bare.leafMs,
  },
];

/** A column's title: the size, and which API server when the results hold the real one. */
function column(results: ScaleResults, r: SizeResult): string {
  const real = results.sizes.some((x) => x.kube === 'real');
  return `${r.services.toLocaleString('en')} Services${real ? `, ${r.kube === 'real' ? 'real' : 'double'}` : ''}`;
}

/** A plain-text table: one row per figure, one column per size, pass/miss beside each value. */
export function table(results: ScaleResults): string {
  const head = ['figure', 'target', ...results.sizes.map((r) => column(results, r))];
  const rows = CHECKS.map((c) => [
    c.figure,
    c.target,
    ...results.sizes.map((r) => {
      const p = c.pass(r);
      return `${c.value(r)}${p === undefined ? '' : p ? ' pass' : ' MISS'}`;
    }),
  ]);
  rows.push(['load average (1 min, mean)', '', ...results.sizes.map((r) => r.loadAverage.mean1m.toFixed(1))]);
  const widths = head.map((_, i) => Math.max(...[head, ...rows].map((row) => (row[i] ?? '').length)));
  const line = (row: string[]): string => row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

/** The same table in Markdown, for docs/benchmarks.md. */
export function markdownTable(results: ScaleResults): string {
  const head = ['', 'target', ...results.sizes.map((r) => column(results, r))];
  const rows = CHECKS.map((c) => [
    c.figure,
    c.target,
    ...results.sizes.map((r) => {
      const p = c.pass(r);
      return `${c.value(r)}${p === undefined ? '' : p ? ' ✓' : ' **miss**'}`;
    }),
  ]);
  rows.push(['load average (1 min, mean)', '', ...results.sizes.map((r) => r.loadAverage.mean1m.toFixed(1))]);
  return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** A cold start figure: the median over the repeated cold starts when there are several. */
export function coldMedian(r: SizeResult, f: (c: ColdStart) => number): number {
  return r.coldStarts && r.coldStarts.length > 1 ? median(r.coldStarts.map(f)) : f(r.coldStart);
}

/**
 * Cold start against its floor: from spawning cosmolet until the leaf holds every prefix, divided by
 * (list floor + route floor): both lists at once with cosmolet's client, plus the bare `ip -batch`
 * of every route until the leaf holds them. Undefined without a measured list floor.
 */
export function coldStartRatio(r: SizeResult): number | undefined {
  if (!r.listFloor) return undefined;
  return coldMedian(r, (c) => c.spawnToLeafMs) / (listFloorMs(r.listFloor) + r.bare.leafMs);
}

/** The same from cosmolet's first log line (Node.js up, its code loaded), which no floor includes. */
export function coldStartRatioFromProcessUp(r: SizeResult): number | undefined {
  if (!r.listFloor || !Number.isFinite(r.coldStart.processStartMs)) return undefined;
  return (
    coldMedian(r, (c) => c.spawnToLeafMs - c.processStartMs) / (listFloorMs(r.listFloor) + r.bare.leafMs)
  );
}

/** "(median of K)" after a cold start figure when it is one. */
function coldOf(r: SizeResult): string {
  return r.coldStarts && r.coldStarts.length > 1 ? ` (median of ${r.coldStarts.length})` : '';
}

const sec = (x: number): string => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : ms(x));

/** One row per figure for `serverTable`: the double's and the real server's side by side. */
const SERVER_ROWS: { figure: string; value: (r: SizeResult) => string }[] = [
  {
    figure: 'API server',
    value: (r) => (r.server ? `kube-apiserver ${r.server.version}` : 'API double'),
  },
  {
    figure: 'writing the cluster (N Services, 2N slices)',
    value: (r) =>
      r.server
        ? `${sec(r.server.load.ms)} (${Math.round(r.server.load.objects / (r.server.load.ms / 1000))}/s, ${r.server.load.concurrency} in flight, ${r.server.load.throttled} x 429)`
        : `${ms(r.populateMs)} (bulk endpoint)`,
  },
  {
    figure: 'list floor: Services',
    value: (r) => (r.listFloor ? ms(r.listFloor.servicesMs) : '-'),
  },
  {
    figure: 'list floor: EndpointSlices',
    value: (r) => (r.listFloor ? ms(r.listFloor.endpointSlicesMs) : '-'),
  },
  {
    figure: 'list floor: both at once',
    value: (r) => (r.listFloor?.concurrentMs !== undefined ? ms(r.listFloor.concurrentMs) : '-'),
  },
  {
    figure: 'list floor: both at once, straight to the port',
    value: (r) => (r.server ? ms(listFloorMs(r.server.directListFloor)) : '-'),
  },
  {
    figure: 'route floor: bare ip -batch to the leaf',
    value: (r) =>
      r.bareRuns && r.bareRuns.length > 1
        ? `${ms(r.bare.leafMs)} (${r.bareRuns.map((b) => ms(b.leafMs)).join(', ')})`
        : ms(r.bare.leafMs),
  },
  {
    figure: 'cold start: process up, lists complete',
    value: (r) =>
      `${ms(coldMedian(r, (c) => c.processStartMs))}, ${ms(coldMedian(r, (c) => c.listsCompleteMs))}${coldOf(r)}`,
  },
  {
    figure: 'cold start: started to all at the leaf',
    value: (r) => {
      const all = r.coldStarts && r.coldStarts.length > 1 ? r.coldStarts.map((c) => ms(c.spawnToLeafMs)) : [];
      return `${ms(coldMedian(r, (c) => c.spawnToLeafMs))}${all.length ? ` (${all.join(', ')})` : ''}`;
    },
  },
  {
    figure: 'cold start / (list floor + route floor)',
    value: (r) => {
      const x = coldStartRatio(r);
      return x === undefined ? '-' : `${x.toFixed(2)}x`;
    },
  },
  {
    figure: 'the same from process up',
    value: (r) => {
      const x = coldStartRatioFromProcessUp(r);
      return x === undefined ? '-' : `${x.toFixed(2)}x`;
    },
  },
  { figure: 'flip p50 (floor p50)', value: (r) => `${ms(r.flipMs.p50)} (${ms(r.floorMs.p50)})` },
  { figure: 'flip p99 (floor p99)', value: (r) => `${ms(r.flipMs.p99)} (${ms(r.floorMs.p99)})` },
  { figure: 'cosmolet RSS after cold start', value: (r) => `${r.rss.mb.toFixed(0)} MB` },
  {
    figure: 'updates/s: cosmolet CPU',
    value: (r) => `${(r.updates.core * 100).toFixed(1)}% (${r.updates.applies} applies)`,
  },
  {
    figure: 'kube-apiserver, etcd RSS (end)',
    value: (r) =>
      r.server
        ? `${r.server.memoryEnd.apiserverMB.toFixed(0)} MB, ${r.server.memoryEnd.etcdMB.toFixed(0)} MB`
        : '-',
  },
  {
    figure: 'load average (1 min: start, mean, end)',
    value: (r) =>
      `${(r.loadAverage.start[0] ?? NaN).toFixed(1)}, ${r.loadAverage.mean1m.toFixed(1)}, ${(r.loadAverage.end[0] ?? NaN).toFixed(1)}`,
  },
];

function serverRows(results: ScaleResults): string[][] {
  const head = ['', ...results.sizes.map((r) => column(results, r))];
  return [head, ...SERVER_ROWS.map((row) => [row.figure, ...results.sizes.map((r) => row.value(r))])];
}

/** The double's and the real kube-apiserver's figures side by side, as plain text. */
export function serverTable(results: ScaleResults): string {
  const rows = serverRows(results);
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')).join('\n');
}

/** The same in Markdown, for docs/benchmarks.md. */
export function serverMarkdownTable(results: ScaleResults): string {
  const [head = [], ...rows] = serverRows(results);
  return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}
