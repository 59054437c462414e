// The controller e2e scenarios on a real control plane, run once per origination backend: Services
// and Pods applied with kubectl, pods bound by kube-scheduler and made Ready/NotReady by the node
// agent, EndpointSlices written by kube-controller-manager (never by the test), and the built
// `cosmolet run` in-cluster in the node namespace. Assertions are on what the FRR leaf and GoBGP
// hold, what /status says, and what `kubectl get events` shows; every wait has a deadline.
//
// Each test works in a namespace of its own (deleted when it ends) and runs its own cosmolet,
// restricted to that namespace (config services.namespaces), so a namespace still being deleted by
// an earlier test cannot change what the leaf must hold.
import { before, after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { validateConfig } from '../../../src/config/load.js';
import { planSettings } from '../../../src/config/schema.js';
import { waitFor } from '@cosmolet/lab/wait';
import type { EndpointSlice, KubeObject, Node, Service } from '../../../src/model/objects.js';
import { computePlan } from '../../../src/plan/plan.js';
import type { Plan } from '../../../src/plan/types.js';
import { sampleLeafWhile, type CosmoletProcess } from '../controller/harness.js';
import { pod, service, type ServiceSpec } from './objects.js';
import { RealClusterLab } from './real-cluster.js';

const NODE = 'node-a';
const OTHER = 'node-b';
/** The communities the lab's node FRR sets for marks 1001 and 1002 (LAB_ROUTE_CLASSES). */
const GOLD = '65000:101';
const SILVER = '65000:102';
/** The end-to-end bound the double-based suite asserts for a readiness change to reach the leaf. */
const LATENCY_BOUND_MS = 2000;

interface KubeEvent extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  involvedObject?: {
    apiVersion?: string;
    kind?: string;
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
  };
  source?: { component?: string; host?: string };
  reportingComponent?: string;
  reportingInstance?: string;
}

interface Status {
  routes: {
    prefix: string;
    family: string;
    services: string[];
    kinds: string[];
    class: string | null;
    installed: boolean;
    bgp: { valid: boolean; best: boolean };
  }[];
  skipped: { service: string; ip: string; reason: string }[];
}

interface Ingress {
  ip: string;
  ipMode?: 'VIP' | 'Proxy';
}

function hostPrefix(ip: string): string {
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}

function sorted(xs: Iterable<string>): string[] {
  return [...xs].sort();
}

export function realControllerSuite(origination: 'kernel' | 'static'): void {
  const lab = new RealClusterLab({ origination });

  before(async () => {
    await lab.start();
  });
  after(async () => {
    await lab.teardown();
  });

  /**
   * kubectl with the admin kubeconfig, without blocking this process (lab.kubectl is synchronous:
   * while it runs, the leaf sampler and every exec timer here would stand still).
   */
  function kubectl(args: string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(lab.cp.bin('kubectl'), ['--kubeconfig', lab.cp.adminKubeconfig, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`kubectl ${args.join(' ')}: exit ${code ?? signal}: ${err}`));
      });
      child.stdin.end(input ?? '');
    });
  }

  async function apply(docs: unknown[]): Promise<void> {
    await kubectl(['apply', '-f', '-'], docs.map((d) => JSON.stringify(d)).join('\n---\n'));
  }

  async function getJson<T>(args: string[]): Promise<T> {
    return JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
  }

  /** A namespace of the test's own (with its default ServiceAccount), deleted when the test ends. */
  async function namespace(t: TestContext, name: string): Promise<string> {
    await kubectl(['create', 'namespace', name]);
    t.after(async () => {
      await kubectl(['delete', 'namespace', name, '--wait=false']);
      await waitFor(
        `namespace ${name} to be deleted`,
        async () => (await lab.admin.request('GET', `/api/v1/namespaces/${name}`)).status === 404,
        120_000,
        250,
      );
    });
    // The ServiceAccount admission plugin refuses pods until the controller made `default`.
    await waitFor(
      `the default ServiceAccount of ${name}`,
      async () =>
        (await lab.admin.request('GET', `/api/v1/namespaces/${name}/serviceaccounts/default`)).status === 200,
      60_000,
      100,
    );
    return name;
  }

  /** The config a test's cosmolet runs with: its own namespace only, plus `config`. */
  function configFor(ns: string, config: Record<string, unknown>): Record<string, unknown> {
    return { ...config, services: { namespaces: [ns] } };
  }

  function startCosmolet(
    t: TestContext,
    ns: string,
    config: Record<string, unknown> = {},
    args: string[] = [],
  ): CosmoletProcess {
    const c = lab.startCosmolet(configFor(ns, config), args);
    t.after(async () => {
      // One started to withdraw on exit gets SIGTERM so it does (a later cosmolet without this one's
      // route classes would not own its static lines), and SIGKILL if it has not exited in 15 s.
      if (args.includes('--withdraw-on-exit') && c.running) {
        c.kill('SIGTERM');
        await Promise.race([c.exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
      }
      c.kill('SIGKILL');
      await c.exited;
    });
    return c;
  }

  function withLog(err: unknown, c: CosmoletProcess): Error {
    const agent = lab.agentErrors.length ? `\nnode agent errors:\n${lab.agentErrors.join('\n')}` : '';
    return new Error(`${(err as Error).message}\ncosmolet log:\n${c.log().slice(-4000)}${agent}`);
  }

  /** Plays the load-balancer controller: writes status.loadBalancer.ingress (status subresource). */
  async function setIngress(ns: string, name: string, ingress: Ingress[]): Promise<void> {
    await kubectl([
      '-n',
      ns,
      'patch',
      'service',
      name,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { loadBalancer: { ingress } } }),
    ]);
  }

  /** Flips a pod's readiness as a probe would, once the scheduler has bound it. */
  async function setReady(ns: string, name: string, ready: boolean): Promise<void> {
    await waitFor(
      `pod ${ns}/${name} bound and set ${ready ? 'Ready' : 'NotReady'}`,
      async () => {
        await lab.agent.setReady(ns, name, ready);
        return true;
      },
      60_000,
      100,
    );
  }

  /** The Service's ClusterIPs from the real allocator, as host prefixes. */
  async function clusterPrefixes(ns: string, name: string): Promise<string[]> {
    const svc = await getJson<Service>(['-n', ns, 'get', 'service', name]);
    return svc.spec?.clusterIPs?.map(hostPrefix) ?? [];
  }

  async function serviceUid(ns: string, name: string): Promise<string> {
    return (await getJson<Service>(['-n', ns, 'get', 'service', name])).metadata?.uid ?? '';
  }

  /** The pure plan (what `render` prints) for the objects read back from the real server. */
  async function planFor(ns: string, config: Record<string, unknown> = {}): Promise<Plan> {
    const services = (await getJson<{ items: Service[] }>(['-n', ns, 'get', 'services'])).items;
    const endpointSlices = (
      await getJson<{ items: EndpointSlice[] }>(['-n', ns, 'get', 'endpointslices.discovery.k8s.io'])
    ).items;
    const node = await getJson<Node>(['get', 'node', NODE]);
    return computePlan({
      services,
      endpointSlices,
      node,
      nodeName: NODE,
      settings: planSettings(validateConfig(lab.config(configFor(ns, config)))),
      missingNode: 'advertise-nothing',
    });
  }

  /** Waits until the plan of the read-back objects is `expected` (the controllers have caught up). */
  async function waitPlanned(
    ns: string,
    expected: readonly string[],
    config: Record<string, unknown> = {},
  ): Promise<Plan> {
    let last = '';
    return waitFor(
      `the plan from the real server's objects to be ${expected.join(' ')}`,
      async () => {
        const plan = await planFor(ns, config);
        const got = sorted(plan.routes.map((r) => r.prefix));
        last = got.join(' ');
        return JSON.stringify(got) === JSON.stringify(sorted(expected)) ? plan : undefined;
      },
      60_000,
      250,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last planned ${last}`);
    });
  }

  /** Checks the plan, starts cosmolet and waits for exactly `expected` at both peers and /readyz 200. */
  async function startConverged(
    t: TestContext,
    ns: string,
    expected: readonly string[],
    config: Record<string, unknown> = {},
    args: string[] = [],
  ): Promise<{ c: CosmoletProcess; plan: Plan }> {
    const plan = await waitPlanned(ns, expected, config);
    const c = startCosmolet(t, ns, config, args);
    await lab.waitPeersHold(expected, 60_000).catch((err: unknown) => {
      throw withLog(err, c);
    });
    await lab.waitReady(60_000).catch((err: unknown) => {
      throw withLog(err, c);
    });
    return { c, plan };
  }

  async function status(): Promise<Status> {
    return JSON.parse((await lab.get('/status')).body) as Status;
  }

  /** cosmolet's Events in `ns`, as `kubectl get events` shows them. */
  async function cosmoletEvents(ns: string): Promise<KubeEvent[]> {
    return (await getJson<{ items: KubeEvent[] }>(['-n', ns, 'get', 'events'])).items.filter(
      (e) => e.source?.component === 'cosmolet',
    );
  }

  /** Waits for the leaf's FIB to hold (or lack) every one of `prefixes`; returns the milliseconds since `since`. */
  async function leafHas(prefixes: readonly string[], present: boolean, since: number): Promise<number> {
    await waitFor(
      `${prefixes.join(' ')} ${present ? 'at' : 'gone from'} the leaf`,
      async () => {
        const fib = await lab.leafFib();
        return prefixes.every((p) => fib.has(p) === present);
      },
      15_000,
      20,
    );
    return Date.now() - since;
  }

  /** The ClusterIP prefixes of several Services. */
  async function clusterPrefixesOf(ns: string, names: readonly string[]): Promise<string[]> {
    return (await Promise.all(names.map((n) => clusterPrefixes(ns, n)))).flat();
  }

  /** Waits for an Event of cosmolet's in `ns` that `match` accepts. */
  async function waitEvent(
    what: string,
    ns: string,
    c: CosmoletProcess,
    match: (e: KubeEvent) => boolean,
  ): Promise<KubeEvent> {
    let seen: KubeEvent[] = [];
    return waitFor(
      what,
      async () => {
        seen = await cosmoletEvents(ns);
        return seen.find(match);
      },
      30_000,
      250,
    ).catch((err: unknown) => {
      const events = seen.map((e) => `${e.involvedObject?.name ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`);
      throw withLog(new Error(`${(err as Error).message}; cosmolet's Events: ${events.join('; ')}`), c);
    });
  }

  test(`${origination}: real cluster: the mixed dual-stack cluster gives exactly the planned prefixes at the leaf and GoBGP`, async (t) => {
    const ns = await namespace(t, 'advertise');
    const svc = (name: string, s: ServiceSpec = {}) => service(name, s, ns);
    const p = (name: string, app: string, node: string) => pod(name, app, node, ns);
    await apply([
      svc('web'),
      p('web-a', 'web', NODE),
      p('web-b', 'web', OTHER),
      // Its only pod is NotReady; `empty` has none.
      svc('api'),
      p('api-1', 'api', OTHER),
      svc('empty'),
      svc('local', { internalTrafficPolicy: 'Local' }),
      p('local-1', 'local', OTHER),
      svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }),
      p('lb-1', 'lb', NODE),
      svc('outside', { type: 'LoadBalancer' }),
      p('outside-1', 'outside', OTHER),
      svc('ext', { externalIPs: ['192.0.2.20'] }),
      p('ext-1', 'ext', OTHER),
      svc('optout', { annotations: { 'cosmolet.io/advertise': 'false' } }),
      p('optout-1', 'optout', OTHER),
      // The real server refuses an invalid ClusterIP; a reserved externalIP is what it lets through.
      svc('bad', { externalIPs: ['240.0.0.7'] }),
      svc('proxied', { labels: { 'service.kubernetes.io/service-proxy-name': 'other' } }),
      p('proxied-1', 'proxied', OTHER),
      svc('headless', { clusterIPs: ['None'] }),
      p('headless-1', 'headless', OTHER),
      svc('shared-a', { externalIPs: ['192.0.2.30'] }),
      p('shared-a-1', 'shared-a', OTHER),
      svc('shared-b', { externalIPs: ['192.0.2.30'] }),
      p('shared-b-1', 'shared-b', OTHER),
      svc('v4only', { ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'] }),
      p('v4only-1', 'v4only', NODE),
      // One pod NotReady, one Ready: advertised.
      svc('v6only', { ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv6'] }),
      p('v6only-1', 'v6only', OTHER),
      p('v6only-2', 'v6only', OTHER),
      // Another implementation's Service (its ready endpoint makes its ClusterIPs count, not its LB IP).
      svc('metallb', { type: 'LoadBalancer', loadBalancerClass: 'metallb.universe.tf/metallb' }),
      p('metallb-1', 'metallb', OTHER),
      // A proxying load balancer's address is not the Service's IP (neither advertised nor listed).
      svc('lbproxy', { type: 'LoadBalancer' }),
      p('lbproxy-1', 'lbproxy', OTHER),
    ]);
    await setReady(ns, 'api-1', false);
    await setReady(ns, 'shared-b-1', false);
    await setReady(ns, 'v6only-1', false);
    await setIngress(ns, 'lb', [{ ip: '192.0.2.10' }, { ip: '2001:db8:96::10' }]);
    await setIngress(ns, 'outside', [{ ip: '198.51.100.5' }]);
    await setIngress(ns, 'metallb', [{ ip: '192.0.2.40' }]);
    await setIngress(ns, 'lbproxy', [{ ip: '192.0.2.41', ipMode: 'Proxy' }]);

    assert.equal((await clusterPrefixes(ns, 'web')).length, 2, 'RequireDualStack: two ClusterIPs');
    assert.deepEqual(
      (await clusterPrefixes(ns, 'v4only')).map((x) => x.endsWith('/32')),
      [true],
    );
    assert.deepEqual(
      (await clusterPrefixes(ns, 'v6only')).map((x) => x.endsWith('/128')),
      [true],
    );
    const expected = sorted([
      ...(await clusterPrefixesOf(ns, [
        'web',
        'lb',
        'outside',
        'ext',
        'shared-a',
        'v4only',
        'v6only',
        'metallb',
        'lbproxy',
      ])),
      '192.0.2.10/32',
      '2001:db8:96::10/128',
      '192.0.2.20/32',
      '192.0.2.30/32',
    ]);
    // The expectation agrees with the pure plan of what the real server holds (as render would say).
    const { c, plan } = await startConverged(t, ns, expected);
    const reasons = new Set<string>(plan.skipped.map((s) => s.reason));
    for (const r of [
      'invalid-ip',
      'opted-out',
      'other-load-balancer-class',
      'outside-allowed-cidrs',
      'no-local-endpoints',
      'no-ready-endpoints',
    ]) {
      assert.ok(reasons.has(r), `the plan skips something as ${r}`);
    }
    assert.ok(
      !plan.skipped.some((s) => [`${ns}/proxied`, `${ns}/headless`].includes(s.service)),
      'Services cosmolet does not consider are not listed',
    );

    // /status: the same routes and skips as the pure plan, each route installed and valid/best in bgpd.
    const st = await waitFor(
      '/status to show every route installed, valid and best in bgpd',
      async () => {
        const s = await status();
        return s.routes.every((r) => r.installed && r.bgp.valid && r.bgp.best) ? s : undefined;
      },
      30_000,
    );
    assert.deepEqual(
      st.routes.map(({ prefix, family, services, kinds, class: cls }) => ({
        prefix,
        family,
        services,
        kinds,
        class: cls,
      })),
      plan.routes,
    );
    assert.deepEqual(st.skipped, plan.skipped);
    // Another implementation's LB IP is skipped as such; a Proxy-mode ingress IP is not listed at all.
    assert.deepEqual(
      st.skipped.filter((s) => s.service === `${ns}/metallb` || s.service === `${ns}/lbproxy`),
      [{ service: `${ns}/metallb`, ip: '192.0.2.40', reason: 'other-load-balancer-class' }],
    );
    assert.deepEqual(
      st.skipped.filter((s) => s.service === `${ns}/bad` && s.reason === 'invalid-ip'),
      [{ service: `${ns}/bad`, ip: '240.0.0.7', reason: 'invalid-ip' }],
    );
    // Outside the service ranges the harness compares: the leaf's whole table must lack it.
    assert.ok(!(await lab.fabric.leafRoutes()).has('198.51.100.5/32'));
    const uid = await serviceUid(ns, 'bad');
    await waitEvent(
      `a Warning Event InvalidIP on ${ns}/bad in kubectl get events`,
      ns,
      c,
      (e) => e.type === 'Warning' && e.reason === 'InvalidIP' && e.involvedObject?.uid === uid,
    );
  });

  test(`${origination}: real cluster: a pod turning NotReady withdraws its Service's prefixes, Ready re-advertises (latency < 2 s); Events only for the Local-policy IP`, async (t) => {
    const ns = await namespace(t, 'readiness');
    await apply([
      service('api', {}, ns),
      pod('api-1', 'api', OTHER, ns),
      service('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }, ns),
      pod('lb-1', 'lb', NODE, ns),
    ]);
    await setIngress(ns, 'lb', [{ ip: '192.0.2.10' }]);
    const api = await clusterPrefixes(ns, 'api');
    const expected = sorted([...api, ...(await clusterPrefixes(ns, 'lb')), '192.0.2.10/32']);
    const { c } = await startConverged(t, ns, expected);

    // From the probe's verdict (the pod status written) to the leaf's FIB, both families.
    const withdraw: number[] = [];
    const advertise: number[] = [];
    for (let i = 0; i < 3; i++) {
      let started = Date.now();
      await lab.agent.setReady(ns, 'api-1', false);
      withdraw.push(await leafHas(api, false, started));
      started = Date.now();
      await lab.agent.setReady(ns, 'api-1', true);
      advertise.push(await leafHas(api, true, started));
    }
    t.diagnostic(
      `pod readiness -> leaf FIB, both families (ms): NotReady->withdrawn ${withdraw.join(' ')}; Ready->advertised ${advertise.join(' ')}`,
    );
    const slowest = Math.max(...withdraw, ...advertise);
    assert.ok(
      slowest < LATENCY_BOUND_MS,
      `slowest ${slowest} ms (bound ${LATENCY_BOUND_MS} ms): withdraw ${withdraw.join(' ')}, advertise ${advertise.join(' ')}`,
    );

    // A Cluster-policy IP is decided alike on every node: no Event per node, only the metric.
    const metrics = (await lab.get('/metrics')).body;
    assert.match(metrics, /cosmolet_decision_changes_total\{to="advertised"\} [1-9]/);
    assert.deepEqual(
      (await cosmoletEvents(ns)).filter((e) => e.involvedObject?.name === 'api'),
      [],
      'no Events for a Cluster-policy IP',
    );

    // A Local-policy IP is this node's own: Withdrawn and Advertised Events after the apply.
    let started = Date.now();
    await lab.agent.setReady(ns, 'lb-1', false);
    const lbWithdraw = await leafHas(['192.0.2.10/32'], false, started);
    started = Date.now();
    await lab.agent.setReady(ns, 'lb-1', true);
    const lbAdvertise = await leafHas(['192.0.2.10/32'], true, started);
    t.diagnostic(`Local-policy LB IP (ms): withdrawn ${lbWithdraw}, advertised ${lbAdvertise}`);
    assert.ok(lbWithdraw < LATENCY_BOUND_MS, `Local-policy withdraw took ${lbWithdraw} ms`);
    assert.ok(lbAdvertise < LATENCY_BOUND_MS, `Local-policy advertise took ${lbAdvertise} ms`);
    const uid = await serviceUid(ns, 'lb');
    for (const reason of ['Withdrawn', 'Advertised'])
      await waitEvent(
        `a ${reason} Event on ${ns}/lb for 192.0.2.10/32`,
        ns,
        c,
        (e) =>
          e.reason === reason && e.involvedObject?.uid === uid && (e.message ?? '').includes('192.0.2.10/32'),
      );
    await lab.waitPeersHold(expected, 30_000);
  });

  test(`${origination}: real cluster: kubectl cordon withdraws everything (node-unschedulable), uncordon restores; the exclusion label likewise`, async (t) => {
    const ns = await namespace(t, 'cordon');
    await apply([
      service('web', {}, ns),
      pod('web-1', 'web', OTHER, ns),
      service('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }, ns),
      pod('lb-1', 'lb', NODE, ns),
    ]);
    await setIngress(ns, 'lb', [{ ip: '192.0.2.10' }]);
    const expected = sorted([...(await clusterPrefixesOf(ns, ['web', 'lb'])), '192.0.2.10/32']);
    const { c } = await startConverged(t, ns, expected);
    // Later tests schedule pods on node-a: leave it uncordoned and unlabelled whatever happens here.
    t.after(async () => {
      await kubectl(['uncordon', NODE]);
      await kubectl(['label', 'node', NODE, 'node.kubernetes.io/exclude-from-external-load-balancers-']);
    });

    const blocked = async (reason: string): Promise<void> => {
      await waitFor(
        `/status to skip every IP as ${reason}`,
        async () => {
          const s = await status();
          return s.routes.length === 0 && s.skipped.length > 0 && s.skipped.every((x) => x.reason === reason);
        },
        30_000,
      ).catch((err: unknown) => {
        throw withLog(err, c);
      });
    };
    const figures: string[] = [];
    let started = Date.now();
    await kubectl(['cordon', NODE]);
    await lab.waitPeersHold([], 30_000);
    figures.push(`cordon->withdrawn ${Date.now() - started}`);
    await blocked('node-unschedulable');
    assert.deepEqual((await planFor(ns)).routes, [], 'the pure plan of the cordoned node is empty too');
    started = Date.now();
    await kubectl(['uncordon', NODE]);
    await lab.waitPeersHold(expected, 30_000);
    figures.push(`uncordon->restored ${Date.now() - started}`);

    started = Date.now();
    await kubectl(['label', 'node', NODE, 'node.kubernetes.io/exclude-from-external-load-balancers=']);
    await lab.waitPeersHold([], 30_000);
    figures.push(`exclusion label->withdrawn ${Date.now() - started}`);
    await blocked('node-excluded');
    started = Date.now();
    await kubectl(['label', 'node', NODE, 'node.kubernetes.io/exclude-from-external-load-balancers-']);
    await lab.waitPeersHold(expected, 30_000);
    figures.push(`label removed->restored ${Date.now() - started}`);
    t.diagnostic(`node changes -> both peers (ms): ${figures.join(', ')}`);
    await lab.waitReady(30_000);
  });

  test(`${origination}: real cluster: a Local-policy LoadBalancer IP is advertised only while a ready pod runs on this node; a Cluster-policy LB IP stays`, async (t) => {
    const ns = await namespace(t, 'local-policy');
    await apply([
      service('store', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }, ns),
      pod('store-1', 'store', NODE, ns),
      service('shared', { type: 'LoadBalancer' }, ns),
      pod('shared-1', 'shared', OTHER, ns),
    ]);
    await setIngress(ns, 'store', [{ ip: '192.0.2.10' }, { ip: '2001:db8:96::10' }]);
    await setIngress(ns, 'shared', [{ ip: '192.0.2.11' }]);
    const storeIPs = await clusterPrefixes(ns, 'store');
    const sharedIPs = [...(await clusterPrefixes(ns, 'shared')), '192.0.2.11/32'];
    const storeLB = ['192.0.2.10/32', '2001:db8:96::10/128'];
    const all = sorted([...storeIPs, ...sharedIPs, ...storeLB]);
    const { c } = await startConverged(t, ns, all);
    const storeSlices = async () =>
      (
        await getJson<{ items: EndpointSlice[] }>([
          '-n',
          ns,
          'get',
          'endpointslices.discovery.k8s.io',
          '-l',
          'kubernetes.io/service-name=store',
        ])
      ).items.flatMap((x) => x.endpoints ?? []);

    const figures: string[] = [];
    // The pod moves to node-b (deleted, created again with the other nodeSelector): the Local IPs go,
    // the ClusterIPs stay (their policy is Cluster), and the Cluster-policy LB never leaves the leaf.
    const moved = sorted([...storeIPs, ...sharedIPs]);
    const { missing, samples } = await sampleLeafWhile(lab, sharedIPs, async () => {
      let started = Date.now();
      await kubectl(['-n', ns, 'delete', 'pod', 'store-1', '--timeout=60s']);
      await apply([pod('store-1', 'store', OTHER, ns)]);
      await lab.waitPeersHold(moved, 30_000).catch((err: unknown) => {
        throw withLog(err, c);
      });
      figures.push(`moved to node-b->withdrawn ${Date.now() - started}`);
      assert.deepEqual(
        (await status()).skipped.filter((x) => x.service === `${ns}/store`),
        [
          { service: `${ns}/store`, ip: '192.0.2.10', reason: 'no-local-endpoints' },
          { service: `${ns}/store`, ip: '2001:db8:96::10', reason: 'no-local-endpoints' },
        ],
      );
      assert.deepEqual(sorted((await planFor(ns)).routes.map((r) => r.prefix)), moved);

      // Back on node-a, but NotReady: not advertised (nor are its ClusterIPs: no ready endpoint
      // anywhere); Ready: advertised.
      await kubectl(['-n', ns, 'delete', 'pod', 'store-1', '--timeout=60s']);
      await apply([pod('store-1', 'store', NODE, ns)]);
      await setReady(ns, 'store-1', false);
      await waitFor(
        'only the NotReady pod on node-a in the EndpointSlices of store',
        async () => {
          const eps = await storeSlices();
          return eps.length === 2 && eps.every((e) => e.nodeName === NODE && e.conditions?.ready === false);
        },
        30_000,
        250,
      );
      await lab.waitPeersHold(sorted(sharedIPs), 30_000);
      started = Date.now();
      await lab.agent.setReady(ns, 'store-1', true);
      await lab.waitPeersHold(all, 30_000);
      figures.push(`Ready on node-a->advertised ${Date.now() - started}`);
    });
    t.diagnostic(`Local-policy moves -> both peers (ms): ${figures.join(', ')}; ${samples} leaf samples`);
    assert.deepEqual([...missing], [], 'the Cluster-policy LB IP and ClusterIPs never left the leaf');
    assert.ok(samples > 0);
    const uid = await serviceUid(ns, 'store');
    await waitEvent(
      `a Withdrawn Event on ${ns}/store naming the reason`,
      ns,
      c,
      (e) =>
        e.reason === 'Withdrawn' &&
        e.involvedObject?.uid === uid &&
        e.message === 'Node node-a withdrew 192.0.2.10/32 (no ready endpoint on this node)',
    );
  });

  test(`${origination}: real cluster: externalIPs inside advertise.allowedCIDRs are advertised, outside are not (and reported)`, async (t) => {
    const ns = await namespace(t, 'external-ips');
    await apply([
      service('inside', { externalIPs: ['192.0.2.20', '2001:db8:96::20'] }, ns),
      pod('inside-1', 'inside', OTHER, ns),
      service('outside', { externalIPs: ['198.51.100.20'] }, ns),
      pod('outside-1', 'outside', OTHER, ns),
    ]);
    const clusterIPs = await clusterPrefixesOf(ns, ['inside', 'outside']);
    const expected = sorted([...clusterIPs, '192.0.2.20/32', '2001:db8:96::20/128']);
    const { c } = await startConverged(t, ns, expected);
    const st = await status();
    assert.deepEqual(
      st.skipped.filter((s) => s.service === `${ns}/outside`),
      [{ service: `${ns}/outside`, ip: '198.51.100.20', reason: 'outside-allowed-cidrs' }],
    );
    assert.ok(!st.routes.some((r) => r.prefix === '198.51.100.20/32'));
    assert.ok(!(await lab.fabric.leafRoutes()).has('198.51.100.20/32'), 'not at the leaf at all');
    const uid = await serviceUid(ns, 'outside');
    await waitEvent(
      `a Warning Event OutsideAllowedCIDRs on ${ns}/outside`,
      ns,
      c,
      (e) =>
        e.type === 'Warning' &&
        e.reason === 'OutsideAllowedCIDRs' &&
        e.involvedObject?.uid === uid &&
        (e.message ?? '').includes('198.51.100.20'),
    );

    // The owner fixes the Service (an address inside the allowed range): advertised. The other one
    // drops its externalIPs: withdrawn, its ClusterIPs stay.
    const patch = (name: string, spec: unknown) =>
      kubectl(['-n', ns, 'patch', 'service', name, '--type=merge', '-p', JSON.stringify({ spec })]);
    await patch('outside', { externalIPs: ['192.0.2.21'] });
    await patch('inside', { externalIPs: null });
    const fixed = sorted([...clusterIPs, '192.0.2.21/32']);
    await lab.waitPeersHold(fixed, 30_000);
    assert.deepEqual(sorted((await planFor(ns)).routes.map((r) => r.prefix)), fixed);
  });

  test(`${origination}: real cluster: route classes: the leaf receives each Service's community; a reclassification changes it without a withdrawal; an unknown class takes the default and is reported`, async (t) => {
    const ns = await namespace(t, 'route-classes');
    await apply([
      service('web', { annotations: { 'cosmolet.io/route-class': 'gold' } }, ns),
      pod('web-1', 'web', OTHER, ns),
      service('plain', {}, ns),
      pod('plain-1', 'plain', NODE, ns),
    ]);
    const web = await clusterPrefixes(ns, 'web');
    const expected = sorted([...web, ...(await clusterPrefixes(ns, 'plain'))]);
    const config = {
      routeClasses: { gold: { mark: 1001 }, silver: { mark: 1002 } },
      defaultRouteClass: 'silver',
    };
    // Withdrawn on exit: a later cosmolet without these classes would not own static lines tagged 1001/1002.
    const { c, plan } = await startConverged(t, ns, expected, config, ['--withdraw-on-exit']);
    assert.deepEqual(
      Object.fromEntries(plan.routes.map((r) => [r.prefix, r.class])),
      Object.fromEntries(expected.map((p) => [p, web.includes(p) ? 'gold' : 'silver'])),
    );
    let last = '';
    const communitiesAre = async (gold: readonly string[]): Promise<boolean> => {
      const held = await lab.leafCommunities([GOLD, SILVER]);
      const got = { gold: sorted(held.get(GOLD) ?? []), silver: sorted(held.get(SILVER) ?? []) };
      last = JSON.stringify(got);
      const silver = expected.filter((p) => !gold.includes(p));
      return JSON.stringify(got) === JSON.stringify({ gold: sorted(gold), silver });
    };
    const waitCommunities = (what: string, gold: readonly string[]) =>
      waitFor(what, () => communitiesAre(gold), 30_000, 100).catch((err: unknown) => {
        throw withLog(new Error(`${(err as Error).message}; last seen ${last}`), c);
      });
    await waitCommunities("web's prefixes with gold's community, plain's with the default class's", web);

    // To the default class and back to gold, with kubectl annotate: the leaf never loses a prefix.
    const toSilver = await sampleLeafWhile(lab, web, async () => {
      await kubectl(['-n', ns, 'annotate', 'service', 'web', 'cosmolet.io/route-class-']);
      await waitCommunities("web's prefixes with the default class's community", []);
    });
    const toGold = await sampleLeafWhile(lab, web, async () => {
      await kubectl(['-n', ns, 'annotate', 'service', 'web', 'cosmolet.io/route-class=gold']);
      await waitCommunities("web's prefixes back to gold's community", web);
    });
    t.diagnostic(`leaf samples during the reclassifications: ${toSilver.samples} + ${toGold.samples}`);
    assert.deepEqual([...toSilver.missing, ...toGold.missing], [], 'a reclassification withdrew a prefix');
    assert.ok(toSilver.samples > 0 && toGold.samples > 0);

    // A typo takes the default class (the prefixes stay, with silver's community) and is reported.
    await kubectl(['-n', ns, 'annotate', '--overwrite', 'service', 'web', 'cosmolet.io/route-class=golden']);
    const uid = await serviceUid(ns, 'web');
    await waitEvent(
      `the UnknownRouteClass Warning Event on ${ns}/web`,
      ns,
      c,
      (e) =>
        e.type === 'Warning' &&
        e.reason === 'UnknownRouteClass' &&
        e.involvedObject?.uid === uid &&
        (e.message ?? '').includes('"golden"'),
    );
    await waitCommunities('every prefix with the default class community', []);
    await lab.waitPeersHold(expected);
    assert.deepEqual(
      (await status()).routes
        .filter((r) => web.includes(r.prefix))
        .map((r) => [r.prefix, r.class, r.installed]),
      web.map((p) => [p, 'silver', true]),
    );
    c.kill('SIGTERM');
    assert.equal((await c.exited).code, 0);
    await lab.waitPeersHold([], 30_000);
  });

  test(`${origination}: real cluster: cosmolet's Events are in kubectl get events, attributed to the right Service, repeats counted`, async (t) => {
    const ns = await namespace(t, 'events');
    await apply([
      service('bad', { externalIPs: ['240.0.0.7'] }, ns),
      pod('bad-1', 'bad', OTHER, ns),
      service('outside', { externalIPs: ['198.51.100.30'] }, ns),
      pod('outside-1', 'outside', OTHER, ns),
      service('typo', { annotations: { 'cosmolet.io/route-class': 'golden' } }, ns),
      pod('typo-1', 'typo', OTHER, ns),
      service('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }, ns),
      pod('lb-1', 'lb', NODE, ns),
    ]);
    await setIngress(ns, 'lb', [{ ip: '192.0.2.10' }]);
    const expected = sorted([
      ...(await clusterPrefixesOf(ns, ['bad', 'outside', 'typo', 'lb'])),
      '192.0.2.10/32',
    ]);
    // No route classes configured: an annotation naming one is still reported.
    const { c } = await startConverged(t, ns, expected);
    // The Local-policy IP withdrawn twice for the same reason: one Event, its count 2 (a PATCH).
    for (let i = 0; i < 2; i++) {
      await lab.agent.setReady(ns, 'lb-1', false);
      await leafHas(['192.0.2.10/32'], false, Date.now());
      await lab.agent.setReady(ns, 'lb-1', true);
      await leafHas(['192.0.2.10/32'], true, Date.now());
    }
    const want: { service: string; type: string; reason: string; message: string; count: number }[] = [
      {
        service: 'bad',
        type: 'Warning',
        reason: 'InvalidIP',
        message: 'Not advertising "240.0.0.7": not a plain IPv4 or IPv6 address',
        count: 1,
      },
      {
        service: 'outside',
        type: 'Warning',
        reason: 'OutsideAllowedCIDRs',
        message: 'Not advertising 198.51.100.30: outside advertise.allowedCIDRs',
        count: 1,
      },
      {
        service: 'typo',
        type: 'Warning',
        reason: 'UnknownRouteClass',
        message: `Service ${ns}/typo: cosmolet.io/route-class "golden" names no class in routeClasses; its routes take no class (defaultRouteClass is "")`,
        count: 1,
      },
      {
        service: 'lb',
        type: 'Normal',
        reason: 'Withdrawn',
        message: 'Node node-a withdrew 192.0.2.10/32 (no ready endpoint on this node)',
        count: 2,
      },
    ];
    for (const w of want) {
      const uid = await serviceUid(ns, w.service);
      const e = await waitEvent(
        `a ${w.reason} Event on ${ns}/${w.service} with count ${w.count}`,
        ns,
        c,
        (x) => x.involvedObject?.uid === uid && x.reason === w.reason && x.count === w.count,
      );
      // Only the fields a user reads; the real server adds metadata and eventTime: null.
      const { resourceVersion: _, ...involvedObject } = e.involvedObject ?? {};
      assert.deepEqual(
        {
          namespace: e.metadata?.namespace,
          involvedObject,
          type: e.type,
          message: e.message,
          source: e.source,
          reportingComponent: e.reportingComponent,
          reportingInstance: e.reportingInstance,
        },
        {
          namespace: ns,
          involvedObject: { apiVersion: 'v1', kind: 'Service', namespace: ns, name: w.service, uid },
          type: w.type,
          message: w.message,
          source: { component: 'cosmolet', host: NODE },
          reportingComponent: 'cosmolet',
          reportingInstance: NODE,
        },
      );
      const same = (await cosmoletEvents(ns)).filter(
        (x) => x.involvedObject?.uid === uid && x.reason === w.reason,
      );
      assert.equal(same.length, 1, `one ${w.reason} Event object on ${w.service}, repeats counted in it`);
    }
    // What a user runs: kubectl describe finds the Events by the Service's kind, name, namespace and uid.
    assert.match(
      await kubectl(['-n', ns, 'describe', 'service', 'bad']),
      /Warning\s+InvalidIP\s+.*cosmolet.*Not advertising "240\.0\.0\.7"/,
    );
    assert.match(
      await kubectl(['-n', ns, 'describe', 'service', 'lb']),
      /Normal\s+Withdrawn\s+.*\(x2 over .*Node node-a withdrew 192\.0\.2\.10\/32/,
    );
  });
}
