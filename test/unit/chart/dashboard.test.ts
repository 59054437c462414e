// The Grafana dashboard (charts/cosmolet/dashboards/cosmolet.json): well-formed, every query reads
// only metrics cosmolet exports (names read from the real registry), and the panels the operator
// guide promises are there.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CHART_DIR } from '../../../scripts/render-deploy.js';
import { exportedMetricNames, promqlMetricNames } from './metric-names.js';

interface Target {
  expr?: string;
  refId?: string;
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  targets?: Target[];
  gridPos?: { h: number; w: number; x: number; y: number };
}
interface Variable {
  name?: string;
  type?: string;
  query?: string | { query?: string };
}
interface Dashboard {
  uid?: string;
  title?: string;
  panels?: Panel[];
  templating?: { list?: Variable[] };
}

const dashboard = JSON.parse(
  readFileSync(join(CHART_DIR, 'dashboards', 'cosmolet.json'), 'utf8'),
) as Dashboard;
const panels = dashboard.panels ?? [];
const EXPORTED = await exportedMetricNames();

/** Every PromQL expression of the dashboard, with where it is. */
function queries(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of panels)
    for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr ?? '' });
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    const inner = /^label_values\((.*),\s*[a-z_]+\)$/.exec(q);
    out.push({ where: `variable ${v.name}`, expr: inner?.[1] ?? q });
  }
  return out;
}

describe('grafana dashboard', () => {
  test('has a uid, a title, unique panel ids and grid positions inside 24 columns', () => {
    assert.equal(dashboard.uid, 'cosmolet');
    assert.equal(dashboard.title, 'cosmolet');
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of panels) {
      assert.ok(p.gridPos && p.gridPos.x + p.gridPos.w <= 24, `panel "${p.title}" fits the grid`);
      if (p.type !== 'row') assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has a query`);
    }
  });

  test('every metric its queries use is one cosmolet exports', () => {
    const all = queries();
    assert.ok(all.length > 10);
    for (const { where, expr } of all) {
      const names = promqlMetricNames(expr);
      assert.ok(names.length > 0, `${where} reads no metric: ${expr}`);
      for (const n of names)
        assert.ok(EXPORTED.has(n), `${where} queries ${n}, which cosmolet does not export`);
    }
  });

  test('the check itself catches a misspelt metric, and sees through functions and labels', () => {
    assert.deepEqual(
      promqlMetricNames(
        'histogram_quantile(0.99, sum by (le) (rate(cosmolet_reconcile_duration_seconds_bucket{node=~"$node"}[$__rate_interval])))',
      ),
      ['cosmolet_reconcile_duration_seconds_bucket'],
    );
    assert.deepEqual(promqlMetricNames('count(cosmolet_ready == 0) or vector(0)'), ['cosmolet_ready']);
    assert.ok(!EXPORTED.has('cosmolet_reconcile_total'));
    assert.ok(EXPORTED.has('process_resident_memory_bytes'));
  });

  test('has the panels the operator guide lists', () => {
    const used = new Set(queries().flatMap((q) => promqlMetricNames(q.expr)));
    for (const m of [
      'cosmolet_advertised_prefixes',
      'cosmolet_installed_prefixes',
      'cosmolet_bgp_prefixes_valid_best',
      'cosmolet_skipped_ips',
      'cosmolet_reconciles_total',
      'cosmolet_reconcile_errors_total',
      'cosmolet_reconcile_duration_seconds_bucket',
      'cosmolet_event_to_installed_seconds_bucket',
      'cosmolet_reflector_relists_total',
      'cosmolet_reflector_watch_restarts_total',
      'cosmolet_frr_restarts_detected_total',
      'cosmolet_bgp_peer_established',
      'cosmolet_bgp_peer_prefixes_sent',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
    ])
      assert.ok(used.has(m), `no panel queries ${m}`);
  });
});
