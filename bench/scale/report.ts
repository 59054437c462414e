// The scale benchmark's results file (bench/results/scale.json), its targets (issue 10) and the
// table printed from it. Shared by bench/scale.ts and bench/plot.ts.

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

export interface SizeResult {
  services: number;
  prefixes: number;
  loadAverage: { start: number[]; end: number[]; mean1m: number };
  populateMs: number;
  /** Listing every Service and EndpointSlice from the double once, before cosmolet starts. */
  doubleListMs?: number;
  bare: { batchMs: number; leafMs: number };
  coldStart: {
    /** From spawning cosmolet to its first log line (Node.js started, code loaded). */
    processStartMs: number;
    /** From spawning cosmolet to the last reflector's first full list (its "synced" log line). */
    listsCompleteMs: number;
    /** From that line to the leaf's FIB holding all 2N prefixes. */
    listsToLeafMs: number;
    spawnToLeafMs: number;
    signal: string;
  };
  rss: { mb: number; peakMB: number; settledAfterS: number };
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
}

export interface ScaleResults {
  benchmark: 'scale';
  label: string;
  date: string;
  commit: string;
  /** `cosmolet version` of the build under test. */
  cosmolet?: string;
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

/** The targets; RSS is 100 MB up to 10,000 Services and 300 MB up to 50,000. */
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
    target: '<= 100 MB (10k), 300 MB (50k)',
    value: (r) => `${r.rss.mb.toFixed(0)} MB`,
    pass: (r) => r.rss.mb <= (r.services <= 10_000 ? 100 : 300),
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

/** A plain-text table: one row per figure, one column per size, pass/miss beside each value. */
export function table(results: ScaleResults): string {
  const head = [
    'figure',
    'target',
    ...results.sizes.map((r) => `${r.services.toLocaleString('en')} Services`),
  ];
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
  const head = ['', 'target', ...results.sizes.map((r) => `${r.services.toLocaleString('en')} Services`)];
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
