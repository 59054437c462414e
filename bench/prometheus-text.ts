// Reading one figure out of a /metrics answer (Prometheus text format) in the benchmarks.

/** The value of the first sample of `name` (a regular expression) in Prometheus text. */
export function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}
