// The controller e2e scenarios, run once per origination backend: the built `cosmolet run` in the
// lab's node namespace, the simulated cluster changed through the API double, and assertions on
// what the FRR leaf and GoBGP actually hold, with deadlines (never fixed sleeps).
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeObject, Service } from '../../../src/model/objects.js';
import { waitFor } from '@cosmolet/lab/wait';
import { computePlan } from '../../../src/plan/plan.js';
import { ControllerLab, sampleLeafWhile, type CosmoletProcess } from './harness.js';
import { NODE, OTHER, expectedRoutes, node, service, services, slice, slices } from './cluster.js';

type Resource = 'services' | 'endpointslices' | 'nodes' | 'events';

interface KubeEvent extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  involvedObject?: { name?: string; namespace?: string };
}

export function controllerSuite(origination: 'kernel' | 'static'): void {
  const lab = new ControllerLab({ origination });

  before(async () => {
    await lab.start();
  });
  after(async () => {
    await lab.teardown();
  });

  function resetCluster(): void {
    for (const r of ['services', 'endpointslices', 'nodes', 'events'] as Resource[]) {
      for (const o of lab.api.list<KubeObject>(r))
        lab.api.delete(r, o.metadata?.namespace, o.metadata?.name ?? '');
    }
    lab.api.clearFaults();
    lab.api.create('nodes', node());
    for (const s of services) lab.api.create('services', structuredClone(s));
    for (const s of slices) lab.api.create('endpointslices', structuredClone(s));
  }

  /** Starts cosmolet on the reset cluster and waits for the expected routes at both peers. */
  async function startConverged(t: TestContext, config: Record<string, unknown> = {}, args: string[] = []) {
    resetCluster();
    const c = lab.startCosmolet(config, args);
    t.after(async () => {
      c.kill('SIGKILL');
      await c.exited;
    });
    await lab.waitPeersHold(expectedRoutes, 30_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\ncosmolet log:\n${c.log().slice(-4000)}`);
    });
    await lab.waitReady();
    return c;
  }

  function setReady(
    name: string,
    family: 'IPv4' | 'IPv6',
    ip: string,
    ready: boolean,
    nodeName = OTHER,
  ): void {
    lab.api.upsert('endpointslices', slice(name, family, [{ ip, ready, node: nodeName }]));
  }

  test(`${origination}: the mixed dual-stack cluster gives exactly the planned prefixes at the leaf and GoBGP`, async (t) => {
    // The fixture agrees with the pure plan, so the e2e checks the same rules as render.
    const plan = computePlan({
      services,
      endpointSlices: slices,
      node: node(),
      nodeName: NODE,
      settings: {
        namespaces: [],
        labelSelector: '',
        clusterIP: true,
        loadBalancerIP: true,
        externalIPs: true,
        allowedCIDRs: ['192.0.2.0/24', '2001:db8:96::/64'],
        loadBalancerClass: '',
        withdrawOnCordon: true,
        routeClasses: [],
        defaultRouteClass: '',
      },
      missingNode: 'advertise-nothing',
    });
    assert.deepEqual(plan.routes.map((r) => r.prefix).sort(), expectedRoutes);
    await startConverged(t);
    await lab.waitReady();
    const status = JSON.parse((await lab.get('/status')).body) as {
      routes: { prefix: string; installed: boolean; bgp: { valid: boolean; best: boolean } }[];
      skipped: { service: string; ip: string; reason: string }[];
    };
    assert.deepEqual(status.routes.map((r) => r.prefix).sort(), expectedRoutes);
    assert.ok(status.routes.every((r) => r.installed));
    await waitFor(
      '/status to show every route valid and best in bgpd',
      async () => {
        const s = JSON.parse((await lab.get('/status')).body) as typeof status;
        return s.routes.every((r) => r.bgp.valid && r.bgp.best);
      },
      15_000,
    );
    await waitFor(
      'a Warning Event for the invalid IP of default/bad',
      () =>
        lab.api
          .list<KubeEvent>('events')
          .some((e) => e.type === 'Warning' && e.reason === 'InvalidIP' && e.involvedObject?.name === 'bad'),
      10_000,
    );
    const reasons = new Set(status.skipped.map((s) => s.reason));
    for (const r of [
      'invalid-ip',
      'opted-out',
      'other-load-balancer-class',
      'outside-allowed-cidrs',
      'no-local-endpoints',
      'no-ready-endpoints',
    ]) {
      assert.ok(reasons.has(r), `skipped has ${r}`);
    }
    // Another implementation's LB IP is skipped as such; a Proxy-mode ingress IP is not listed at all.
    const lbSkips = status.skipped.filter(
      (s) => s.service === 'default/metallb' || s.service === 'default/lbproxy',
    );
    assert.deepEqual(lbSkips, [
      { service: 'default/metallb', ip: '192.0.2.40', reason: 'other-load-balancer-class' },
    ]);
  });

  test(`${origination}: an endpoint turning unready withdraws its prefix, ready re-advertises (latency < 2 s); Events only for the Local-policy IP`, async (t) => {
    await startConverged(t);
    const latencies: number[] = [];
    for (let i = 0; i < 3; i++) {
      let started = Date.now();
      setReady('api', 'IPv4', '10.1.0.2', true);
      await waitFor(
        '10.96.0.11/32 at the leaf',
        async () => (await lab.leafFib()).has('10.96.0.11/32'),
        2000,
        20,
      );
      latencies.push(Date.now() - started);
      started = Date.now();
      setReady('api', 'IPv4', '10.1.0.2', false);
      await waitFor(
        '10.96.0.11/32 gone at the leaf',
        async () => !(await lab.leafFib()).has('10.96.0.11/32'),
        2000,
        20,
      );
      latencies.push(Date.now() - started);
    }
    t.diagnostic(`event-to-leaf latencies (ms): ${latencies.join(' ')}`);
    // A Cluster-policy IP is decided alike on every node: no Event per node, only the metric.
    const metrics = (await lab.get('/metrics')).body;
    assert.match(metrics, /cosmolet_decision_changes_total\{to="advertised"\} [1-9]/);
    assert.ok(
      !lab.api.list<KubeEvent>('events').some((e) => e.involvedObject?.name === 'api'),
      'no Events for a Cluster-policy IP',
    );
    // A Local-policy IP is this node's own: Withdrawn and Advertised Events after the apply.
    setReady('lb', 'IPv4', '10.1.0.4', false, NODE);
    await waitFor(
      '192.0.2.10/32 gone at the leaf',
      async () => !(await lab.leafFib()).has('192.0.2.10/32'),
      2000,
      20,
    );
    setReady('lb', 'IPv4', '10.1.0.4', true, NODE);
    await waitFor(
      '192.0.2.10/32 at the leaf',
      async () => (await lab.leafFib()).has('192.0.2.10/32'),
      2000,
      20,
    );
    await waitFor(
      'Withdrawn and Advertised Events on default/lb for 192.0.2.10/32',
      () => {
        const events = lab.api.list<KubeEvent>('events').filter((e) => e.involvedObject?.name === 'lb');
        return (
          events.some((e) => e.reason === 'Withdrawn' && e.message?.includes('192.0.2.10/32')) &&
          events.some((e) => e.reason === 'Advertised' && e.message?.includes('192.0.2.10/32'))
        );
      },
      10_000,
    );
    await lab.waitPeersHold(expectedRoutes);
  });

  test(`${origination}: Service create and delete`, async (t) => {
    await startConverged(t);
    lab.api.create('services', service('new', { clusterIPs: ['10.96.1.1', 'fd00:10:96::101'] }));
    lab.api.create('endpointslices', slice('new', 'IPv4', [{ ip: '10.1.1.1' }]));
    lab.api.create('endpointslices', slice('new', 'IPv6', [{ ip: 'fd00:1::101' }]));
    await lab.waitPeersHold([...expectedRoutes, '10.96.1.1/32', 'fd00:10:96::101/128']);
    lab.api.delete('services', 'default', 'new');
    await lab.waitPeersHold(expectedRoutes);
  });

  test(`${origination}: cordon withdraws everything, uncordon brings it back; exclusion label likewise`, async (t) => {
    await startConverged(t);
    lab.api.upsert('nodes', node(NODE, { unschedulable: true }));
    await lab.waitPeersHold([]);
    lab.api.upsert('nodes', node(NODE));
    await lab.waitPeersHold(expectedRoutes);
    lab.api.upsert(
      'nodes',
      node(NODE, { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': '' } }),
    );
    await lab.waitPeersHold([]);
    lab.api.upsert('nodes', node(NODE));
    await lab.waitPeersHold(expectedRoutes);
  });

  test(`${origination}: dropped watches, a 410 relist and 30 s of API errors withdraw nothing`, async (t) => {
    await startConverged(t);
    const { missing, samples } = await sampleLeafWhile(lab, expectedRoutes, async () => {
      lab.api.dropWatches();
      lab.api.compact();
      lab.api.expireWatches();
      lab.api.failNext(1_000_000, 503, { retryAfterSeconds: 1 });
      lab.api.dropWatches();
      const until = Date.now() + 30_000;
      await waitFor('30 s of API errors', () => Date.now() >= until, 31_000, 500);
      lab.api.clearFaults();
    });
    t.diagnostic(`${samples} leaf samples during the outage`);
    assert.deepEqual([...missing], [], 'no healthy prefix may be withdrawn during an API outage');
    assert.ok(samples > 100);
    // After the outage cosmolet follows changes again.
    setReady('api', 'IPv4', '10.1.0.2', true);
    await lab.waitPeersHold([...expectedRoutes, '10.96.0.11/32'].sort(), 60_000);
  });

  test(`${origination}: a prefix held by someone else's route is left alone, not retried on every event`, async (t) => {
    // The operator (or another tool) holds 10.96.0.15/32 with a route cosmolet does not own.
    const foreign =
      origination === 'kernel'
        ? () => lab.fabric.exec('node', ['ip', 'route', 'add', 'blackhole', '10.96.0.15/32', 'proto', '99'])
        : () => lab.fabric.vtysh('node').exec(['configure terminal', 'ip route 10.96.0.15/32 blackhole']);
    const unforeign =
      origination === 'kernel'
        ? () => lab.fabric.exec('node', ['ip', 'route', 'del', '10.96.0.15/32', 'proto', '99'])
        : () => lab.fabric.vtysh('node').exec(['configure terminal', 'no ip route 10.96.0.15/32 blackhole']);
    resetCluster();
    // A clean node first: earlier tests leave cosmolet's routes installed.
    const cleaner = lab.startCosmolet({}, ['--withdraw-on-exit']);
    await lab.waitReady();
    cleaner.kill('SIGTERM');
    await cleaner.exited;
    await foreign();
    t.after(() =>
      unforeign().then(
        () => undefined,
        () => undefined,
      ),
    );
    // No full check (which retries the conflict once) falls in the checks below: the route watch runs,
    // so it comes every 300 s.
    const c = lab.startCosmolet({ loopIntervalSeconds: 10 });
    t.after(async () => {
      c.kill('SIGKILL');
      await c.exited;
    });
    await lab.waitReady();
    const installed = async (prefix: string) => {
      const s = JSON.parse((await lab.get('/status')).body) as {
        routes: { prefix: string; installed: boolean }[];
      };
      return s.routes.find((r) => r.prefix === prefix)?.installed;
    };
    assert.equal(await installed('10.96.0.15/32'), false);
    // More changes, each applied: the conflict is not re-applied with every one of them.
    for (const ready of [true, false]) {
      setReady('api', 'IPv4', '10.1.0.2', ready);
      await waitFor(
        `10.96.0.11/32 ${ready ? 'advertised' : 'withdrawn'} at the leaf`,
        async () => (await lab.leafFib()).has('10.96.0.11/32') === ready,
        5000,
        20,
      );
    }
    const warnings = c
      .log()
      .split('\n')
      .filter((l) => l.includes('not installing 10.96.0.15/32'));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    // Once the other route is gone, the route watch sees it go and cosmolet installs its own at once.
    await unforeign();
    await waitFor(
      '10.96.0.15/32 installed by cosmolet',
      async () => (await installed('10.96.0.15/32')) === true,
      25_000,
    );
    await lab.waitPeersHold(expectedRoutes);
  });

  test(`${origination}: bgpd killed and restarted: every prefix comes back`, async (t) => {
    await startConverged(t);
    await lab.fabric.killBgpd('node');
    await lab.waitPeersHold([]);
    await lab.fabric.restartBgpd('node');
    await lab.fabric.waitEstablished(60_000);
    await lab.waitPeersHold(expectedRoutes, 60_000);
  });

  test(`${origination}: bgpd stopped (SIGSTOP) for 30 s: cosmolet stays alive, says FRR is unresponsive, recovers`, async (t) => {
    const c = await startConverged(t);
    const pid = lab.fabric.pid('node', 'bgpd');
    assert.ok(pid !== undefined, 'bgpd pid');
    process.kill(pid, 'SIGSTOP');
    t.after(() => {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    });
    const stoppedAt = Date.now();
    let healthFailures = 0;
    let readyFailedWith = '';
    while (Date.now() - stoppedAt < 30_000) {
      const h = await lab.get('/healthz');
      if (h.status !== 200) healthFailures++;
      const r = await lab.get('/readyz');
      if (r.status === 503) readyFailedWith = r.body;
      await new Promise((res) => setTimeout(res, 500));
    }
    process.kill(pid, 'SIGCONT');
    assert.equal(healthFailures, 0, '/healthz stayed 200 (a stuck FRR is not a stuck cosmolet)');
    assert.match(readyFailedWith, /frr|vtysh|timed out/i, '/readyz named FRR while bgpd was stopped');
    assert.ok(c.running, 'no crash');
    await lab.fabric.waitEstablished(60_000);
    await lab.waitPeersHold(expectedRoutes, 60_000);
    await lab.waitReady(60_000);
  });

  test(`${origination}: vtysh missing: /readyz says so, no crash loop`, async (t) => {
    resetCluster();
    const c = lab.startCosmolet({ frr: { vtyshPath: '/nonexistent/vtysh' } });
    t.after(async () => {
      c.kill('SIGKILL');
      await c.exited;
    });
    const r = await waitFor(
      '/readyz 503 naming vtysh',
      async () => {
        const x = await lab.get('/readyz').catch(() => undefined);
        return x?.status === 503 && x.body.includes('/nonexistent/vtysh') ? x : undefined;
      },
      30_000,
    );
    t.diagnostic(r.body.slice(0, 600));
    // Later FRR checks fail the same way: still running, still saying why.
    await waitFor(
      'two more failed FRR checks in the log',
      () => c.log().split('/nonexistent/vtysh').length > 3,
      30_000,
    );
    assert.ok(c.running, `cosmolet exited:\n${c.log().slice(-2000)}`);
    assert.equal((await lab.get('/healthz')).status, 200);
  });

  test(`${origination}: the FRR socket directory missing at start and appearing later is picked up`, async (t) => {
    resetCluster();
    const late = join(lab.dir, `late-frr-${Date.now()}`);
    const c = lab.startCosmolet({ frr: { socketDir: late } });
    t.after(async () => {
      c.kill('SIGKILL');
      await c.exited;
      rmSync(late, { force: true });
    });
    await waitFor(
      '/readyz 503 while FRR cannot be reached',
      async () => (await lab.get('/readyz').catch(() => undefined))?.status === 503,
      30_000,
    );
    symlinkSync(lab.fabric.socketDir('node'), late);
    await lab.waitPeersHold(expectedRoutes, 60_000);
    await lab.waitReady(60_000);
    assert.ok(c.running);
  });

  test(`${origination}: the Node object deleted and recreated: nothing while it is missing, everything back`, async (t) => {
    await startConverged(t);
    lab.api.delete('nodes', undefined, NODE);
    await lab.waitPeersHold([], 30_000);
    await waitFor(
      '/readyz 503 with node-found',
      async () => {
        const r = await lab.get('/readyz');
        return r.status === 503 && r.body.includes('node-found');
      },
      15_000,
    );
    lab.api.create('nodes', node());
    await lab.waitPeersHold(expectedRoutes, 30_000);
    await lab.waitReady();
  });

  test(`${origination}: an endpoint flapping every 100 ms for 30 s: bounded applies, exact final state`, async (t) => {
    await startConverged(t);
    const applies = async (): Promise<number> =>
      Number(/^cosmolet_router_applies_total (\d+)/m.exec((await lab.get('/metrics')).body)?.[1] ?? 'NaN');
    const before = await applies();
    const started = Date.now();
    let flips = 0;
    while (Date.now() - started < 30_000) {
      setReady('api', 'IPv4', '10.1.0.2', flips % 2 === 0);
      flips++;
      await new Promise((res) => setTimeout(res, 100));
    }
    // End unready (the fixture's state): the leaf must hold exactly the expected routes.
    setReady('api', 'IPv4', '10.1.0.2', false);
    await lab.waitPeersHold(expectedRoutes, 30_000);
    const done = await applies();
    t.diagnostic(`${flips} flips, ${done - before} applies`);
    assert.ok(done - before <= flips + 2, `${done - before} applies for ${flips} flips`);
  });

  test(`${origination}: cosmolet SIGKILLed and restarted withdraws nothing and adopts its routes`, async (t) => {
    const first = await startConverged(t);
    let second: CosmoletProcess | undefined;
    const { missing } = await sampleLeafWhile(lab, expectedRoutes, async () => {
      first.kill('SIGKILL');
      await first.exited;
      second = lab.startCosmolet();
      await lab.waitReady();
    });
    t.after(async () => {
      second?.kill('SIGKILL');
      await second?.exited;
    });
    assert.deepEqual([...missing], []);
    assert.match(second?.log() ?? '', /synced/);
    // Adopted: the restart found everything installed and applied nothing.
    assert.doesNotMatch(second?.log() ?? '', /routes updated/);
    await lab.waitPeersHold(expectedRoutes);
  });

  test(`${origination}: /readyz turns 200 only after sync and reflects a broken FRR`, async (t) => {
    resetCluster();
    // Hold the first lists back: cosmolet cannot be ready before it has seen the cluster.
    lab.api.failNext(3, 503, { retryAfterSeconds: 1, watch: false });
    const c = lab.startCosmolet();
    t.after(async () => {
      c.kill('SIGKILL');
      await c.exited;
    });
    const early = await waitFor(
      'cosmolet HTTP up',
      () => lab.get('/readyz').catch(() => undefined),
      20_000,
      50,
    );
    if (early.status === 503) assert.match(early.body, /kubernetes-synced|router-programmed/);
    await lab.waitReady();
    // Break the export: the operator removes `redistribute` for cosmolet's origination.
    const frrCmd = [
      'configure terminal',
      'router bgp 65001',
      'address-family ipv4 unicast',
      `no redistribute ${origination} route-map COSMOLET-${origination.toUpperCase()}`,
    ];
    await lab.fabric.vtysh('node').exec(frrCmd);
    const broken = await waitFor(
      '/readyz 503 with frr-exports-routes',
      async () => {
        const r = await lab.get('/readyz');
        return r.status === 503 && r.body.includes('frr-exports-routes') ? r : undefined;
      },
      20_000,
    );
    assert.match(broken.body, /redistribute/);
    await lab.fabric.vtysh('node').exec([...frrCmd.slice(0, 3), frrCmd[3]?.replace(/^no /, '') ?? '']);
    await lab.waitReady(20_000);
  });

  test(`${origination}: /metrics is Prometheus text with cosmolet's series`, async (t) => {
    await startConverged(t);
    await lab.waitReady();
    // Peer series appear with the FRR monitor's first full round.
    const r = await waitFor(
      'the unnumbered leaf session in /metrics',
      async () => {
        const m = await lab.get('/metrics');
        return m.body.includes('cosmolet_bgp_peer_established{peer="swp1"} 1') &&
          m.body.includes(
            `cosmolet_bgp_prefixes_valid_best{family="ipv4"} ${expectedRoutes.filter((p) => !p.includes(':')).length}`,
          )
          ? m
          : undefined;
      },
      20_000,
    );
    assert.equal(r.status, 200);
    const names = new Set<string>();
    for (const line of r.body.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
      assert.ok(m, `not a Prometheus sample line: ${line}`);
      names.add(m[1] ?? '');
    }
    for (const n of [
      'cosmolet_advertised_prefixes',
      'cosmolet_reconciles_total',
      'cosmolet_reconcile_duration_seconds_bucket',
      'cosmolet_routes_added_total',
      'cosmolet_reflector_synced',
      'cosmolet_bgp_peer_established',
      'cosmolet_build_info',
      'cosmolet_ready',
      'process_resident_memory_bytes',
    ]) {
      assert.ok(names.has(n), `missing ${n}`);
    }
    const v6 = expectedRoutes.filter((p) => p.includes(':')).length;
    assert.ok(
      r.body.includes(`\ncosmolet_advertised_prefixes{family="ipv4"} ${expectedRoutes.length - v6}\n`),
    );
    assert.ok(r.body.includes(`\ncosmolet_advertised_prefixes{family="ipv6"} ${v6}\n`));
  });

  test(`${origination}: SIGTERM exits 0 within 10 s leaving routes; --withdraw-on-exit withdraws`, async (t) => {
    const c = await startConverged(t);
    const started = Date.now();
    c.kill('SIGTERM');
    const { code, signal } = await c.exited;
    assert.equal(code, 0, `exit ${code} ${signal}; log:\n${c.log().slice(-3000)}`);
    assert.ok(Date.now() - started < 10_000);
    await lab.waitPeersHold(expectedRoutes);
    const d = lab.startCosmolet({}, ['--withdraw-on-exit']);
    t.after(async () => {
      d.kill('SIGKILL');
      await d.exited;
    });
    await lab.waitReady();
    d.kill('SIGTERM');
    assert.equal((await d.exited).code, 0);
    await lab.waitPeersHold([]);
  });

  test(`${origination}: route classes: the leaf receives each Service's community; a reclassification changes it without a withdrawal; an unknown class takes the default and is reported`, async (t) => {
    // The lab's node FRR sets 65000:101 on mark 1001 and 65000:102 on mark 1002 (LAB_ROUTE_CLASSES).
    const GOLD = '65000:101';
    const SILVER = '65000:102';
    // Withdrawn on exit: a cosmolet without these classes would not own static lines tagged 1001/1002.
    const c = await startConverged(
      t,
      { routeClasses: { gold: { mark: 1001 }, silver: { mark: 1002 } }, defaultRouteClass: 'silver' },
      ['--withdraw-on-exit'],
    );
    const web = ['10.96.0.10/32', 'fd00:10:96::a/128'];
    const webService = (cls?: string): Service =>
      service('web', {
        clusterIPs: ['10.96.0.10', 'fd00:10:96::a'],
        ...(cls ? { annotations: { 'cosmolet.io/route-class': cls } } : {}),
      });
    let last = '';
    const communitiesAre = async (gold: readonly string[]): Promise<boolean> => {
      const held = await lab.leafCommunities([GOLD, SILVER]);
      const got = { gold: [...(held.get(GOLD) ?? [])].sort(), silver: [...(held.get(SILVER) ?? [])].sort() };
      last = JSON.stringify(got);
      const silver = expectedRoutes.filter((p) => !gold.includes(p)).sort();
      return JSON.stringify(got) === JSON.stringify({ gold: [...gold].sort(), silver });
    };
    const waitCommunities = (what: string, gold: readonly string[]) =>
      waitFor(what, () => communitiesAre(gold), 20_000, 100).catch((err: unknown) => {
        throw new Error(
          `${(err as Error).message}; last seen ${last}\ncosmolet log:\n${c.log().slice(-3000)}`,
        );
      });
    // Every Service takes the default class: every prefix arrives with silver's community.
    await waitCommunities('every prefix with the default class community', []);

    // gold and back: the community changes, the leaf never loses the prefixes (sampled every 100 ms).
    const toGold = await sampleLeafWhile(lab, web, async () => {
      lab.api.upsert('services', webService('gold'));
      await waitCommunities("web's prefixes with gold's community", web);
    });
    const toSilver = await sampleLeafWhile(lab, web, async () => {
      lab.api.upsert('services', webService());
      await waitCommunities("web's prefixes back to the default class's community", []);
    });
    assert.deepEqual([...toGold.missing, ...toSilver.missing], [], 'a reclassification withdrew a prefix');
    assert.ok(toGold.samples > 0 && toSilver.samples > 0);

    // A typo takes the default class (the prefixes stay, with silver's community) and is reported.
    lab.api.upsert('services', webService('golden'));
    await waitFor(
      'the UnknownRouteClass Warning Event',
      () =>
        lab.api
          .list<KubeEvent>('events')
          .some(
            (e) =>
              e.type === 'Warning' &&
              e.reason === 'UnknownRouteClass' &&
              e.involvedObject?.name === 'web' &&
              (e.message ?? '').includes('"golden"'),
          ),
      10_000,
    );
    assert.ok(await communitiesAre([]), last);
    await lab.waitPeersHold(expectedRoutes);
    const status = JSON.parse((await lab.get('/status')).body) as {
      routes: { prefix: string; class: string | null; installed: boolean }[];
    };
    assert.deepEqual(
      status.routes.filter((r) => web.includes(r.prefix)).map((r) => [r.prefix, r.class, r.installed]),
      web.map((p) => [p, 'silver', true]),
    );
    c.kill('SIGTERM');
    assert.equal((await c.exited).code, 0);
    await lab.waitPeersHold([]);
  });

  test(`${origination}: route classes: a class the node's route-map does not export: /readyz says so and prints the entries to add`, async (t) => {
    resetCluster();
    const c = lab.startCosmolet(
      { routeClasses: { gold: { mark: 1001 }, bronze: { mark: 1003 } }, defaultRouteClass: 'bronze' },
      ['--withdraw-on-exit'],
    );
    t.after(async () => {
      c.kill('SIGKILL');
      await c.exited;
    });
    const kind = origination === 'kernel' ? 'metric' : 'tag';
    let last = '';
    await waitFor(
      '/readyz to name the unexported class',
      async () => {
        const r = await lab.get('/readyz').catch(() => ({ status: 0, body: '' }));
        last = `${r.status} ${r.body}`;
        return r.status === 503 && r.body.includes(`route class \\"bronze\\" (${kind} 1003)`);
      },
      30_000,
      200,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last ${last}\ncosmolet log:\n${c.log().slice(-3000)}`);
    });
    const body = JSON.parse(last.slice(last.indexOf(' ') + 1)) as {
      conditions: { name: string; ok: boolean; message: string; snippet?: string }[];
    };
    const cond = body.conditions.find((x) => x.name === 'frr-exports-routes');
    assert.equal(cond?.ok, false);
    assert.doesNotMatch(cond?.message ?? '', /"gold"/, 'gold is exported by the lab route-map');
    assert.match(
      cond?.snippet ?? '',
      new RegExp(
        `^route-map COSMOLET-(KERNEL|STATIC) permit \\d+\n match ip address prefix-list COSMOLET-V4\n match ${kind} 1003\n set community <the community of route class bronze>`,
      ),
    );
    // Not ready, but the routes were installed (with the mark 1003): withdrawn on exit.
    c.kill('SIGTERM');
    assert.equal((await c.exited).code, 0);
    await lab.waitPeersHold([]);
  });

  test(`${origination}: bgp.enabled false plans and reports but installs nothing`, async (t) => {
    resetCluster();
    // Start from an empty node: earlier tests may have left routes (which cosmolet would adopt).
    const cleaner = lab.startCosmolet({}, ['--withdraw-on-exit']);
    await lab.waitReady();
    cleaner.kill('SIGTERM');
    await cleaner.exited;
    await lab.waitPeersHold([]);
    for (const e of lab.api.list<KubeObject>('events'))
      lab.api.delete('events', e.metadata?.namespace, e.metadata?.name ?? '');
    const c = lab.startCosmolet({ bgp: { enabled: false } });
    t.after(async () => {
      c.kill('SIGKILL');
      await c.exited;
    });
    await lab.waitReady();
    const status = JSON.parse((await lab.get('/status')).body) as {
      routes: { prefix: string; installed: boolean }[];
    };
    assert.deepEqual(status.routes.map((r) => r.prefix).sort(), expectedRoutes);
    assert.ok(status.routes.every((r) => !r.installed));
    assert.deepEqual([...(await lab.leaf())], []);
    // Regression: a plan-only node recorded "Node node-a advertises ..." Events for routes it never
    // installed. A Local-policy flip must not record any either; the invalid IP is still reported.
    setReady('lb', 'IPv4', '10.1.0.4', false, NODE);
    await waitFor(
      'the plan to withdraw 192.0.2.10',
      async () => {
        const s = JSON.parse((await lab.get('/status')).body) as typeof status;
        return !s.routes.some((r) => r.prefix === '192.0.2.10/32');
      },
      10_000,
    );
    await waitFor(
      'the InvalidIP Event',
      () => lab.api.list<KubeEvent>('events').some((e) => e.reason === 'InvalidIP'),
      10_000,
    );
    const told = lab.api
      .list<KubeEvent>('events')
      .filter((e) => e.reason === 'Advertised' || e.reason === 'Withdrawn')
      .map((e) => e.message);
    assert.deepEqual(told, [], 'a plan-only node records no advertise/withdraw Events');
  });
}

export type { Service };
