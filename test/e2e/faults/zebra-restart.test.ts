// zebra killed (kill -9) and restarted under a running cosmolet, with the leaf's FIB sampled every
// 100 ms. Two ways:
//  - as watchfrr does it (zebra is its special daemon: when zebra dies every daemon is restarted):
//    both origination backends; the leaf must end with exactly the planned prefixes without
//    cosmolet restarting, and cosmolet keeps following the cluster afterwards;
//  - zebra alone (no watchfrr), both backends: with `kernel` the routes stay in the node's kernel
//    and the new zebra reads them at start, with `static` staticd sends them to the new zebra;
//    nothing is withdrawn at the leaf and zebra's RIB follows the cluster. bgpd (FRR 8.4 here)
//    keeps its redistributed routes but mostly does not learn new ones from the new zebra (FRR's;
//    see docs/reliability.md): cosmolet's /readyz says so (`bgp-holds-routes`, naming the prefix)
//    once the grace has passed, and is ready again when bgpd is restarted. When bgpd does take it
//    late (seen once in CI), /readyz stays ready: it follows bgpd's table, which the test reads too.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@cosmolet/lab/wait';
import { ControllerLab, sampleLeafWhile } from '../controller/harness.js';
import { OTHER, expectedRoutes, slice } from '../controller/cluster.js';
import { difference, nodeKernelRoutes, resetCluster, startCosmolet } from './common.js';

/** What the node holds, for a failure message: its kernel routes and zebra's and bgpd's view. */
async function nodeState(lab: ControllerLab): Promise<string> {
  const show = async (argv: string[]) =>
    (
      await lab.fabric
        .exec('node', argv, { timeoutMs: 10_000 })
        .catch((e: unknown) => ({ stdout: String(e) }))
    ).stdout;
  const vtysh = ['vtysh', '--vty_socket', lab.fabric.socketDir('node'), '-c'];
  return [
    `node kernel: ${await show(['ip', 'route', 'show', 'proto', '73'])}`,
    `zebra: ${await show([...vtysh, 'show ip route'])}`,
    `bgpd: ${await show([...vtysh, 'show bgp ipv4 unicast'])}`,
  ].join('\n');
}

/** IPv4 routes of cosmolet's origination in the node zebra's RIB (what bgpd's `redistribute` exports). */
async function zebraRoutes(lab: ControllerLab, origination: 'kernel' | 'static'): Promise<Set<string>> {
  const r = await lab.fabric.exec(
    'node',
    ['vtysh', '--vty_socket', lab.fabric.socketDir('node'), '-c', `show ip route ${origination} json`],
    { timeoutMs: 10_000 },
  );
  return new Set(Object.keys(JSON.parse(r.stdout || '{}') as Record<string, unknown>));
}

/** Does the node's bgpd hold `prefix` as a valid path (what cosmolet's bgp-holds-routes judges)? */
async function bgpdHolds(lab: ControllerLab, prefix: string): Promise<boolean> {
  const r = await lab.fabric.exec(
    'node',
    ['vtysh', '--vty_socket', lab.fabric.socketDir('node'), '-c', `show bgp ipv4 unicast ${prefix} json`],
    { timeoutMs: 10_000 },
  );
  const json = JSON.parse(r.stdout || '{}') as { paths?: { valid?: boolean }[] };
  return (json.paths ?? []).some((p) => p.valid === true);
}

const v4 = (ps: readonly string[]) => ps.filter((p) => !p.includes(':'));
const apiReady = (lab: ControllerLab, ready: boolean) =>
  lab.api.upsert('endpointslices', slice('api', 'IPv4', [{ ip: '10.1.0.2', ready, node: OTHER }]));

for (const origination of ['kernel', 'static'] as const) {
  const lab = new ControllerLab({ origination });
  before(() => lab.start());
  after(() => lab.teardown());

  test(`${origination}: zebra killed and every daemon restarted (as watchfrr does): the leaf ends exact, cosmolet keeps following the cluster`, async (t) => {
    resetCluster(lab);
    const c = startCosmolet(t, lab);
    await lab.waitPeersHold(expectedRoutes, 30_000);
    await lab.waitReady();
    let backAfterMs = 0;
    let healthFailures = 0;
    const { missing, samples } = await sampleLeafWhile(lab, expectedRoutes, async () => {
      const killedAt = Date.now();
      await lab.fabric.restartDaemon('node', 'zebra');
      await lab.fabric.restartDaemon('node', 'staticd');
      await lab.fabric.restartBgpd('node');
      await lab.fabric.waitEstablished(60_000);
      await lab.waitPeersHold(expectedRoutes, 60_000).catch(async (err: unknown) => {
        throw new Error(
          `${(err as Error).message}\n${await nodeState(lab)}\ncosmolet log:\n${c.log().slice(-3000)}`,
        );
      });
      backAfterMs = Date.now() - killedAt;
      if ((await lab.get('/healthz')).status !== 200) healthFailures++;
    });
    t.diagnostic(
      `${samples} leaf samples; withdrawn at the leaf meanwhile: ${[...missing].join(' ') || 'nothing'}; ` +
        `exact again ${backAfterMs} ms after the kill`,
    );
    assert.equal(healthFailures, 0);
    assert.ok(c.running, `cosmolet exited:\n${c.log().slice(-2000)}`);
    await lab.waitReady(60_000);
    if (origination === 'kernel') {
      const diff = difference(await nodeKernelRoutes(lab), expectedRoutes);
      assert.deepEqual(diff, { missing: [], stale: [] }, 'the node kernel holds exactly the plan');
    }
    apiReady(lab, true);
    await lab
      .waitPeersHold([...expectedRoutes, '10.96.0.11/32'].sort(), 30_000)
      .catch(async (err: unknown) => {
        throw new Error(
          `${(err as Error).message}\n${await nodeState(lab)}\ncosmolet log:\n${c.log().slice(-3000)}`,
        );
      });
    apiReady(lab, false);
    await lab.waitPeersHold(expectedRoutes, 30_000);
  });

  test(`${origination}: zebra alone killed and restarted: nothing withdrawn at the leaf, zebra gets the routes back and follows the cluster`, async (t) => {
    resetCluster(lab);
    const c = startCosmolet(t, lab);
    await lab.waitPeersHold(expectedRoutes, 30_000);
    await lab.waitReady();
    const oldZebra = lab.fabric.pid('node', 'zebra');
    const { missing, samples } = await sampleLeafWhile(lab, expectedRoutes, async () => {
      await lab.fabric.restartDaemon('node', 'zebra');
      await waitFor(
        "the new zebra's RIB to hold every planned IPv4 prefix",
        async () => {
          const rib = await zebraRoutes(lab, origination);
          return v4(expectedRoutes).every((p) => rib.has(p));
        },
        30_000,
      );
      // A change after the restart reaches zebra (the kernel route cosmolet adds).
      apiReady(lab, true);
      await waitFor(
        "10.96.0.11/32 in the new zebra's RIB",
        async () => (await zebraRoutes(lab, origination)).has('10.96.0.11/32'),
        30_000,
      );
    });
    assert.notEqual(lab.fabric.pid('node', 'zebra'), oldZebra, 'zebra was restarted');
    t.diagnostic(
      `${samples} leaf samples; withdrawn at the leaf meanwhile: ${[...missing].join(' ') || 'nothing'}`,
    );
    assert.deepEqual([...missing], [], 'nothing withdrawn at the leaf');
    assert.deepEqual(
      difference(await zebraRoutes(lab, origination), [...v4(expectedRoutes), '10.96.0.11/32']),
      {
        missing: [],
        stale: [],
      },
    );
    if (origination === 'kernel')
      assert.deepEqual(difference(await nodeKernelRoutes(lab), [...expectedRoutes, '10.96.0.11/32']), {
        missing: [],
        stale: [],
      });
    assert.ok(c.running);
    const atLeaf = await waitFor(
      '10.96.0.11/32 at the leaf',
      async () => (await lab.leaf()).has('10.96.0.11/32'),
      10_000,
    ).then(
      () => 'reached the leaf',
      () => 'did not reach the leaf within 10 s (bgpd is not told by the new zebra)',
    );
    t.diagnostic(`a change after the zebra restart: ${atLeaf}`);
    if (atLeaf !== 'reached the leaf') {
      // cosmolet notices what bgpd's own table says (installed, not in bgpd for the grace: 30 s; bgpd
      // is read every 5 s here). Judged against bgpd itself: once a CI run's bgpd did take the route
      // from the new zebra, later than the 10 s above, and /readyz rightly stayed ready.
      const holds = async (): Promise<{ status: number; message: string }> => {
        const r = await lab.get('/readyz');
        const body = JSON.parse(r.body) as { conditions: { name: string; message: string }[] };
        const c = body.conditions.find((x) => x.name === 'bgp-holds-routes');
        return { status: r.status, message: c?.message ?? '(no bgp-holds-routes condition)' };
      };
      let last = { status: 0, message: '', bgpd: false };
      await waitFor(
        "/readyz to agree with bgpd's table on 10.96.0.11/32",
        async () => {
          const bgpd = await bgpdHolds(lab, '10.96.0.11/32');
          last = { ...(await holds()), bgpd };
          return bgpd
            ? last.status === 200 && /bgpd holds every route/.test(last.message)
            : last.status === 503 &&
                /not held 1 installed prefixes .*\(10\.96\.0\.11\/32\)/.test(last.message);
        },
        60_000,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; last: ${JSON.stringify(last)}`);
      });
      t.diagnostic(`bgpd ${last.bgpd ? 'took' : 'lacks'} 10.96.0.11/32; /readyz meanwhile: ${last.message}`);
    }
    // The FRR way to recover: restart bgpd (what watchfrr does); then the leaf is exact.
    await lab.fabric.restartBgpd('node');
    await lab.fabric.waitEstablished(60_000);
    await lab.waitPeersHold([...expectedRoutes, '10.96.0.11/32'].sort(), 60_000);
    await lab.waitReady();
    apiReady(lab, false);
    await lab.waitPeersHold(expectedRoutes, 30_000);
  });
}
