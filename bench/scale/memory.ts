// Where cosmolet's resident memory goes, after the cold start: /proc's split of RSS (anonymous pages
// and the node binary's file pages) and V8's own figures from cosmolet's /metrics (prom-client's
// default nodejs_* gauges), so that a miss of the RSS target says which part grew.
import { readFileSync } from 'node:fs';
import { memoryMB } from './proc.js';

export interface MemoryBreakdown {
  rssMB: number;
  /** Anonymous pages: V8's heap, malloc (buffers, OpenSSL, ...), stacks. */
  anonMB: number;
  /** File pages: the node binary and libraries as read in (shared, reclaimable). */
  fileMB: number;
  /** V8 heap in use, and committed (used + V8's reserve). */
  heapUsedMB: number;
  heapTotalMB: number;
  /** Memory V8 knows of outside its heap (Buffers, ArrayBuffers). */
  externalMB: number;
  /** Per heap space (new, old, code, large_object, ...): committed size and used. */
  spaces: Record<string, { sizeMB: number; usedMB: number }>;
  /** The NODE_OPTIONS cosmolet ran with ('' for none). */
  nodeOptions: string;
}

const MB = 1024 * 1024;

/** Every sample of a metric with one label: label value -> number. */
function byLabel(text: string, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`^${name}\\{[^}]*${label}="([^"]+)"[^}]*\\} ([0-9.e+-]+)$`, 'gm');
  for (const m of text.matchAll(re)) out.set(m[1] ?? '', Number(m[2]));
  return out;
}

function one(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) / MB : NaN;
}

export function memoryBreakdown(pid: number, metricsText: string, nodeOptions: string): MemoryBreakdown {
  const proc = memoryMB(pid);
  const size = byLabel(metricsText, 'nodejs_heap_space_size_total_bytes', 'space');
  const used = byLabel(metricsText, 'nodejs_heap_space_size_used_bytes', 'space');
  const spaces: MemoryBreakdown['spaces'] = {};
  for (const [space, bytes] of size)
    spaces[space] = { sizeMB: bytes / MB, usedMB: (used.get(space) ?? NaN) / MB };
  return {
    rssMB: proc.rss,
    anonMB: proc.anon,
    fileMB: proc.file,
    heapUsedMB: one(metricsText, 'nodejs_heap_size_used_bytes'),
    heapTotalMB: one(metricsText, 'nodejs_heap_size_total_bytes'),
    externalMB: one(metricsText, 'nodejs_external_memory_bytes'),
    spaces,
    nodeOptions,
  };
}

/** One line: "RSS 98 MB = anon 70 + file 28; heap 45 of 60 (new 2, old 50, code 3), external 4". */
export function describeMemory(m: MemoryBreakdown): string {
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '?');
  const s = (name: string): string => f(m.spaces[name]?.sizeMB ?? NaN);
  return (
    `RSS ${f(m.rssMB)} MB = anon ${f(m.anonMB)} + file ${f(m.fileMB)}; V8 heap ${f(m.heapUsedMB)} used of ` +
    `${f(m.heapTotalMB)} committed (new ${s('new')}, old ${s('old')}, code ${s('code')}, large ${s('large_object')}), ` +
    `external ${f(m.externalMB)}; rest (malloc, stacks) ${f(m.anonMB - m.heapTotalMB - m.externalMB)}`
  );
}

/**
 * The NODE_OPTIONS the chart gives cosmolet (charts/cosmolet/templates/daemonset.yaml), so that the
 * bench measures the process the DaemonSet runs.
 */
export function chartNodeOptions(daemonSetTemplate: string): string {
  return chartEnvValue(daemonSetTemplate, 'NODE_OPTIONS') ?? '';
}

/** The literal value the chart gives cosmolet's environment variable `name` (undefined: none). */
export function chartEnvValue(daemonSetTemplate: string, name: string): string | undefined {
  const m = new RegExp(`- name: ${name}\\s+value: "([^"]*)"`).exec(readFileSync(daemonSetTemplate, 'utf8'));
  return m?.[1];
}

/** glibc's malloc tunable the chart sets (the mmap threshold, fixed: docs/benchmarks.md, Memory). */
export const MALLOC_ENV = 'MALLOC_MMAP_THRESHOLD_';
