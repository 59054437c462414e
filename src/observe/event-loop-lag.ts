// The event loop's delay on /metrics, under prom-client's names (nodejs_eventloop_lag_*_seconds), so
// dashboards built for prom-client's default metrics keep working. prom-client's own samples every
// 10 ms, which woke an idle cosmolet 100 times a second (half a percent of a core), and at any
// interval it reports an empty histogram (min 9.2e9 s, mean NaN, which is not a Prometheus number)
// when two scrapes fall within two samples. These sample every EVENT_LOOP_SAMPLE_MS and cover the
// time since the last scrape that had samples; a scrape with none since repeats that one's values.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/**
 * How often the loop is sampled. Every 100 ms a stall of 100 ms or more is always seen, and a
 * shorter one in proportion to its length; an idle loop reads about 0.1 s (the interval itself).
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

type Figure = 'min' | 'max' | 'mean' | 'stddev' | 'p50' | 'p90' | 'p99';

const GAUGES: readonly (readonly [Figure, string])[] = [
  ['min', 'The minimum recorded event loop delay.'],
  ['max', 'The maximum recorded event loop delay.'],
  ['mean', 'The mean of the recorded event loop delays.'],
  ['stddev', 'The standard deviation of the recorded event loop delays.'],
  ['p50', 'The 50th percentile of the recorded event loop delays.'],
  ['p90', 'The 90th percentile of the recorded event loop delays.'],
  ['p99', 'The 99th percentile of the recorded event loop delays.'],
];

/** The metric names registered here (prom-client's histogram-based ones, which the caller drops). */
export const EVENT_LOOP_LAG_NAMES: readonly string[] = GAUGES.map(
  ([figure]) => `nodejs_eventloop_lag_${figure}_seconds`,
);

export function registerEventLoopLag(registry: Registry): void {
  const histogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_SAMPLE_MS });
  histogram.enable();
  let last: Record<Figure, number> | undefined;
  // The first gauge's collect reads (and resets) the histogram for all of them, once per scrape.
  const read = (): void => {
    if (histogram.count === 0) return;
    const s = (ns: number): number => ns / 1e9;
    last = {
      min: s(histogram.min),
      max: s(histogram.max),
      mean: s(histogram.mean),
      stddev: s(histogram.stddev),
      p50: s(histogram.percentile(50)),
      p90: s(histogram.percentile(90)),
      p99: s(histogram.percentile(99)),
    };
    histogram.reset();
  };
  GAUGES.forEach(([figure, help], i) => {
    new Gauge({
      name: `nodejs_eventloop_lag_${figure}_seconds`,
      help,
      registers: [registry],
      collect() {
        if (i === 0) read();
        if (last !== undefined) this.set(last[figure]);
      },
    });
  });
}
