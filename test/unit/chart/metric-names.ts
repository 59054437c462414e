// Metric names for the chart tests: what cosmolet's registry really exposes, and what a PromQL
// expression (an alert, a dashboard panel) reads.
import { Metrics } from '../../../src/observe/metrics.js';
import { buildInfo } from '../../../src/version.js';

/**
 * Every series name in cosmolet's exposition, from the `# TYPE` lines of the real registry (so
 * labelled metrics without samples yet count too); histograms and summaries with their suffixes.
 */
export async function exportedMetricNames(): Promise<Set<string>> {
  const text = await new Metrics(buildInfo()).registry.metrics();
  const out = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = m;
    out.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) out.add(name + s);
  }
  return out;
}

const PROMQL_KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions, keywords,
 * grouping labels, label matchers, strings, ranges or Grafana variables.
 */
export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, ' '); // Grafana variables
  const names: string[] = [];
  for (const m of stripped.matchAll(/(?<![A-Za-z0-9_.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const [, name = '', call] = m;
    if (call || PROMQL_KEYWORDS.has(name.toLowerCase())) continue;
    names.push(name);
  }
  return names;
}
