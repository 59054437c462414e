// cosmolet's Prometheus exposition as tools read it: `promtool check metrics` (Debian's prometheus
// package, installed by scripts/setup.sh) accepts it, and labelled counters exist at 0 for their
// known label values before the first occurrence, so increase() sees the first error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ErrorCodes } from '../../../src/errors.js';
import { RECONCILE_ERROR_REASONS, Metrics } from '../../../src/observe/metrics.js';
import { buildInfo } from '../../../src/version.js';

/** Runs `promtool check metrics` on an exposition; fails the test (never skips) without promtool. */
function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (r.error) assert.fail(`cannot run promtool (scripts/setup.sh installs it): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A registry that has seen some of everything: labelled series, histogram observations, peers. */
function exercised(): Metrics {
  const m = new Metrics(buildInfo());
  m.ready.set(1);
  m.reconciles.inc();
  m.reconcileErrors.inc({ reason: ErrorCodes.COMMAND_TIMEOUT });
  m.reconcileDuration.observe(0.02);
  m.eventToInstalled.observe(0.3);
  m.skippedIPs.inc({ reason: 'no-ready-endpoints' });
  m.peerEstablished.set({ peer: 'swp1' }, 1);
  m.peerPrefixesSent.set({ peer: 'swp1', afi: 'ipv4' }, 3);
  m.reflectorSynced.set({ resource: 'services' }, 1);
  m.reflectorLastEvent.set({ resource: 'services' }, Date.now() / 1000);
  m.frrRestarts.inc();
  return m;
}

test('promtool check metrics passes on the exposition, fresh and after use', async () => {
  for (const m of [new Metrics(buildInfo()), exercised()]) {
    const text = await m.registry.metrics();
    const r = promtoolCheck(text);
    assert.equal(r.output, '', r.output);
    assert.equal(r.status, 0);
  }
});

test('the check itself fails on the gauges prom-client names _total (which cosmolet drops)', async () => {
  const text = await new Metrics(buildInfo()).registry.metrics();
  assert.doesNotMatch(text, /^nodejs_active_handles_total/m);
  assert.match(text, /^nodejs_active_handles\b/m, 'the per-type counts stay');
  const bad = `${text}# HELP nodejs_active_handles_total x\n# TYPE nodejs_active_handles_total gauge\nnodejs_active_handles_total 1\n`;
  const r = promtoolCheck(bad);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /nodejs_active_handles_total non-counter metrics should not have "_total" suffix/);
});

test('labelled counters start at 0 for every known label value', async () => {
  const text = await new Metrics(buildInfo()).registry.metrics();
  const has = (series: string) => assert.ok(text.includes(`\n${series} 0\n`), `${series} 0`);
  for (const reason of RECONCILE_ERROR_REASONS) has(`cosmolet_reconcile_errors_total{reason="${reason}"}`);
  for (const resource of ['services', 'endpointslices', 'nodes']) {
    has(`cosmolet_reflector_relists_total{resource="${resource}"}`);
    for (const reason of ['closed', 'gone', 'watchdog', 'error'])
      has(`cosmolet_reflector_watch_restarts_total{resource="${resource}",reason="${reason}"}`);
    for (const type of ['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR'])
      has(`cosmolet_reflector_events_total{resource="${resource}",type="${type}"}`);
  }
  for (const reason of ['queue-full', 'rate-limited', 'api-error', 'closed'])
    has(`cosmolet_kube_events_dropped_total{reason="${reason}"}`);
  for (const family of ['ipv4', 'ipv6']) {
    has(`cosmolet_routes_added_total{family="${family}"}`);
    has(`cosmolet_routes_withdrawn_total{family="${family}"}`);
  }
  // Every labelled counter is covered: none is exposed with its TYPE line but no sample.
  for (const m of text.matchAll(/^# TYPE (\S+) counter$/gm)) {
    const name = m[1] ?? '';
    assert.match(text, new RegExp(`^${name}(\\{[^}]*\\})? `, 'm'), `${name} has a sample`);
  }
});

test('the first error counts from 0: one inc gives 1 on the same series', async () => {
  const m = new Metrics(buildInfo());
  m.reconcileErrors.inc({ reason: ErrorCodes.ROUTER_APPLY });
  const text = await m.registry.metrics();
  assert.match(text, /^cosmolet_reconcile_errors_total\{reason="COSMOLET_ROUTER_APPLY"\} 1$/m);
});
