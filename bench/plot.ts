// Draws docs/bench-scale.svg from bench/results/scale.json (and, when present, the "before" run in
// bench/results/scale-before.json, drawn dotted), and rewrites the generated tables in
// docs/benchmarks.md between the `<!-- scale:... -->` markers. A plain hand-written SVG: two panels,
// flip latency with its floor, and cosmolet's CPU per non-health update, against the number of
// Services (logarithmic).
//
//   node --import tsx bench/plot.ts [--results FILE] [--before FILE] [--svg FILE] [--doc FILE]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { markdownTable, type ScaleResults, type SizeResult } from './scale/report.js';

const here = (p: string): string => new URL(p, import.meta.url).pathname;

function read(file: string | undefined): ScaleResults | undefined {
  if (!file || !existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as ScaleResults;
}

interface Series {
  name: string;
  color: string;
  dash: string;
  points: [number, number][];
}

const W = 1000;
const H = 430;
const PANEL_W = 400;
const PANEL_H = 260;
/** Top of the plot areas: the title and up to three legend rows go above. */
const TOP = 100;

/** A round grid step (1, 2, 2.5 or 5 times a power of ten) giving about four lines up to `v`. */
function niceStep(v: number): number {
  if (!(v > 0)) return 1;
  const raw = v / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function panel(left: number, title: string, unit: string, sizes: number[], series: Series[]): string[] {
  const out: string[] = [];
  const xs = sizes.length > 0 ? sizes : [1000, 50_000];
  const lo = Math.log10(Math.min(...xs));
  const hi = Math.log10(Math.max(...xs));
  const span = hi - lo || 1;
  const x = (n: number): number => left + 10 + ((Math.log10(n) - lo) / span) * (PANEL_W - 20);
  const top = Math.max(0, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const step = niceStep(top);
  const lines = Math.max(1, Math.ceil(top / step));
  const ymax = step * lines;
  const y = (v: number): number => TOP + PANEL_H - (v / ymax) * PANEL_H;
  out.push(`<text x="${left}" y="24" class="title">${esc(title)}</text>`);
  out.push(`<rect x="${left}" y="${TOP}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#bbb"/>`);
  for (let i = 0; i <= lines; i++) {
    const v = step * i;
    out.push(
      `<line x1="${left}" x2="${left + PANEL_W}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`,
    );
  }
  out.push(
    `<text x="${left - 44}" y="${TOP + PANEL_H / 2}" transform="rotate(-90 ${left - 44} ${TOP + PANEL_H / 2})" text-anchor="middle">${esc(unit)}</text>`,
  );
  for (const n of xs) {
    out.push(
      `<line x1="${x(n)}" x2="${x(n)}" y1="${TOP + PANEL_H}" y2="${TOP + PANEL_H + 5}" stroke="#888"/>`,
      `<text x="${x(n)}" y="${TOP + PANEL_H + 20}" text-anchor="middle">${n.toLocaleString('en')}</text>`,
    );
  }
  out.push(
    `<text x="${left + PANEL_W / 2}" y="${TOP + PANEL_H + 40}" text-anchor="middle">Services (log scale)</text>`,
  );
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map(([n, v], i) => `${i ? 'L' : 'M'}${x(n).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
    );
    for (const [n, v] of s.points)
      out.push(`<circle cx="${x(n).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"/>`);
  }
  // Legend between the title and the plot, two columns.
  series.forEach((s, i) => {
    const lx = left + (i % 2) * 200;
    const ly = 48 + Math.floor(i / 2) * 16;
    out.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      `<text x="${lx + 28}" y="${ly}">${esc(s.name)}</text>`,
    );
  });
  return out;
}

function pts(r: ScaleResults | undefined, f: (s: SizeResult) => number): [number, number][] {
  return (r?.sizes ?? []).map((s) => [s.services, f(s)]);
}

export function svg(after: ScaleResults | undefined, before: ScaleResults | undefined): string {
  const sizes = [...new Set([...(after?.sizes ?? []), ...(before?.sizes ?? [])].map((s) => s.services))].sort(
    (a, b) => a - b,
  );
  const lat: Series[] = [
    { name: 'flip p50', color: '#1f6fb4', dash: '', points: pts(after, (s) => s.flipMs.p50) },
    { name: 'flip p99', color: '#d9622b', dash: '', points: pts(after, (s) => s.flipMs.p99) },
    { name: 'floor p50', color: '#555', dash: '', points: pts(after, (s) => s.floorMs.p50) },
    { name: 'floor p99', color: '#999', dash: '', points: pts(after, (s) => s.floorMs.p99) },
  ];
  const cpu: Series[] = [
    {
      name: 'CPU per update',
      color: '#1f6fb4',
      dash: '',
      points: pts(after, (s) => s.updates.cpuMsPerUpdate),
    },
  ];
  if (before) {
    lat.push(
      { name: 'flip p50, before', color: '#1f6fb4', dash: '2 4', points: pts(before, (s) => s.flipMs.p50) },
      { name: 'flip p99, before', color: '#d9622b', dash: '2 4', points: pts(before, (s) => s.flipMs.p99) },
      { name: 'floor p50, before', color: '#555', dash: '2 4', points: pts(before, (s) => s.floorMs.p50) },
    );
    cpu.push({
      name: 'CPU per update, before',
      color: '#1f6fb4',
      dash: '2 4',
      points: pts(before, (s) => s.updates.cpuMsPerUpdate),
    });
  }
  const label = (r: ScaleResults | undefined): string =>
    r ? `${r.label || 'run'} ${r.commit} ${r.date.slice(0, 16).replace('T', ' ')} UTC` : '';
  const caption = [after ? label(after) : '', before ? `dotted: ${label(before)}` : ''].filter(Boolean);
  const body = [
    ...panel(
      80,
      'Flip latency, API write to leaf FIB',
      'ms',
      sizes,
      lat.filter((s) => s.points.length > 0),
    ),
    ...panel(
      560,
      'cosmolet CPU per non-health update',
      'ms of CPU',
      sizes,
      cpu.filter((s) => s.points.length > 0),
    ),
    `<text x="80" y="${H - 12}" class="small">${esc(caption.join('; '))}</text>`,
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    '<style>.title{font-size:14px;font-weight:bold}.small{font-size:10px;fill:#666}</style>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Replaces the text between `<!-- scale:NAME:begin -->` and `<!-- scale:NAME:end -->`. */
function replaceBetween(doc: string, name: string, text: string): string {
  const begin = `<!-- scale:${name}:begin -->`;
  const end = `<!-- scale:${name}:end -->`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) return doc;
  return `${doc.slice(0, i + begin.length)}\n${text}\n${doc.slice(j)}`;
}

function main(): void {
  const { values: args } = parseArgs({
    options: {
      results: { type: 'string', default: here('./results/scale.json') },
      before: { type: 'string', default: here('./results/scale-before.json') },
      svg: { type: 'string', default: here('../docs/bench-scale.svg') },
      doc: { type: 'string', default: here('../docs/benchmarks.md') },
    },
    strict: true,
  });
  const after = read(args.results);
  const before = read(args.before);
  if (!after && !before) {
    console.error(`plot: no results in ${args.results} or ${args.before}: run npm run bench -- scale`);
    process.exit(2);
  }
  writeFileSync(args.svg ?? '', svg(after, before));
  console.log(`wrote ${args.svg}`);
  const docFile = args.doc ?? '';
  if (existsSync(docFile)) {
    let doc = readFileSync(docFile, 'utf8');
    const heading = (r: ScaleResults): string =>
      `${r.label ? `"${r.label}", ` : ''}commit ${r.commit}, ${r.date.slice(0, 16).replace('T', ' ')} UTC, ${r.cpus} CPUs, Node.js ${r.node}:`;
    if (after) doc = replaceBetween(doc, 'results', `${heading(after)}\n\n${markdownTable(after)}`);
    if (before) doc = replaceBetween(doc, 'before', `${heading(before)}\n\n${markdownTable(before)}`);
    writeFileSync(docFile, doc);
    console.log(`updated the tables in ${docFile}`);
  }
}

// Run as a script, not when imported (the unit test draws with `svg`).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
