// nodejs_eventloop_lag_*_seconds: sampled every 100 ms, and never an empty histogram's values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_LOOP_SAMPLE_MS } from '../../../src/observe/event-loop-lag.js';
import { Metrics } from '../../../src/observe/metrics.js';
import { buildInfo } from '../../../src/version.js';

const sample = (text: string, name: string): string | undefined =>
  new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];

/** Scrapes until the lag gauges have a sample (none before the loop was sampled twice). */
async function scrapeWithSample(metrics: Metrics): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const text = await metrics.registry.metrics();
    if (Number(sample(text, 'nodejs_eventloop_lag_min_seconds')) > 0) return text;
    if (Date.now() > deadline) throw new Error(`no event-loop sample within 5 s:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 3 * EVENT_LOOP_SAMPLE_MS));
  }
}

void test('regression: the event-loop lag monitor woke an idle cosmolet every 10 ms (half a percent of a core); now every 100 ms', async () => {
  const min = Number(
    sample(await scrapeWithSample(new Metrics(buildInfo())), 'nodejs_eventloop_lag_min_seconds'),
  );
  // The shortest gap between two samples is the sampling interval.
  assert.ok(min >= 0.095, `sampled every ${min * 1000} ms`);
});

void test('regression: two scrapes within two samples printed an empty histogram (mean Nan, min 9.2e9 s); now the last values', async () => {
  const metrics = new Metrics(buildInfo());
  const first = await scrapeWithSample(metrics);
  const again = await metrics.registry.metrics();
  for (const figure of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99']) {
    const name = `nodejs_eventloop_lag_${figure}_seconds`;
    const value = sample(again, name);
    assert.match(value ?? '', /^\d+(\.\d+)?(e-?\d+)?$/, `${name} ${value}`);
    assert.equal(value, sample(first, name), `${name}: the last scrape's value`);
    assert.equal(again.split('\n').filter((l) => l.startsWith(`# TYPE ${name} `)).length, 1, `${name} once`);
  }
  const min = Number(sample(again, 'nodejs_eventloop_lag_min_seconds'));
  assert.ok(min > 0 && min < 10, `min ${min} s`);
});
