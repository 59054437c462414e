// Regression: an IPv4-only FRR never became ready. The node's FRR has no IPv6 unicast address family
// (and no IPv6 peer), as an IPv4-only fabric rightly has; with IPv4-only Services cosmolet must be
// ready, and only an IPv6 prefix to advertise makes the missing IPv6 export a problem, named in
// /readyz with the snippet to add.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { waitFor } from '@cosmolet/lab/wait';
import { ControllerLab } from './harness.js';
import { NODE, node, service, slice } from './cluster.js';

interface Readyz {
  ready: boolean;
  conditions: { name: string; ok: boolean; message: string; snippet?: string }[];
}

const lab = new ControllerLab({ origination: 'kernel', fabric: { ipv6Unicast: false } });

before(async () => {
  await lab.start();
});
after(async () => {
  await lab.teardown();
});

async function readyz(): Promise<{ status: number; body: Readyz }> {
  const r = await lab.get('/readyz');
  return { status: r.status, body: JSON.parse(r.body) as Readyz };
}

function exportCondition(r: Readyz): Readyz['conditions'][number] {
  const c = r.conditions.find((x) => x.name === 'frr-exports-routes');
  assert.ok(c, 'frr-exports-routes condition');
  return c;
}

test('an IPv4-only FRR node is ready with IPv4-only Services; an IPv6 prefix makes the missing export a named problem', async (t) => {
  lab.api.create('nodes', node());
  lab.api.create('services', service('web', { clusterIPs: ['10.96.0.10'] }));
  lab.api.create('services', service('ext', { clusterIPs: ['10.96.0.15'], externalIPs: ['192.0.2.20'] }));
  lab.api.create('endpointslices', slice('web', 'IPv4', [{ ip: '10.1.0.1', node: NODE }]));
  lab.api.create('endpointslices', slice('ext', 'IPv4', [{ ip: '10.1.0.6' }]));
  const c = lab.startCosmolet();
  t.after(async () => {
    c.kill('SIGKILL');
    await c.exited;
  });
  const v4 = ['10.96.0.10/32', '10.96.0.15/32', '192.0.2.20/32'];
  const withLog = (err: unknown): never => {
    throw new Error(`${(err as Error).message}\ncosmolet log:\n${c.log().slice(-4000)}`);
  };
  await lab.waitPeersHold(v4, 30_000).catch(withLog);
  await lab.waitReady().catch(async (err: unknown) => {
    withLog(new Error(`${(err as Error).message}; /readyz: ${JSON.stringify((await readyz()).body)}`));
  });
  const ok = await readyz();
  assert.equal(ok.status, 200);
  const cond = exportCondition(ok.body);
  assert.equal(cond.ok, true);
  // Says what is not exported and what to add before an IPv6 prefix appears.
  assert.match(cond.message, /address-family ipv6 unicast/);
  assert.match(cond.snippet ?? '', /address-family ipv6 unicast\n {2}redistribute kernel/);

  // The running process's exposition passes promtool, with the counters of this run in it.
  const metrics = await lab.get('/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /^cosmolet_reconcile_errors_total\{reason="COSMOLET_ROUTER_APPLY"\} 0$/m);
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: metrics.body, encoding: 'utf8' });
  assert.ifError(promtool.error);
  assert.equal(`${promtool.stdout}${promtool.stderr}`, '');
  assert.equal(promtool.status, 0);

  // A dual-stack Service appears: its IPv6 ClusterIP cannot reach the fabric through this FRR.
  lab.api.create('services', service('dual', { clusterIPs: ['10.96.0.30', 'fd00:10:96::30'] }));
  lab.api.create('endpointslices', slice('dual', 'IPv4', [{ ip: '10.1.0.30' }]));
  lab.api.create('endpointslices', slice('dual', 'IPv6', [{ ip: 'fd00:1::30' }]));
  await waitFor(
    '/readyz 503 naming the IPv6 export',
    async () => (await readyz()).status === 503,
    15_000,
    100,
  );
  const bad = exportCondition((await readyz()).body);
  assert.equal(bad.ok, false);
  assert.match(bad.message, /address-family ipv6 unicast.*IPv6 prefixes to advertise/);
  assert.doesNotMatch(bad.message, /ipv4 unicast/);
  assert.match(bad.snippet ?? '', /router bgp 65001\n address-family ipv6 unicast\n {2}redistribute kernel/);
  // Not ready never withdraws: the IPv4 routes stay, the new IPv4 one is added.
  await lab.waitPeersHold([...v4, '10.96.0.30/32'], 15_000).catch(withLog);

  // The IPv6 prefix goes away again: ready again.
  lab.api.delete('services', 'default', 'dual');
  await lab.waitReady(15_000);
  await lab.waitPeersHold(v4, 15_000).catch(withLog);
});
