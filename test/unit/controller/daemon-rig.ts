// The daemon in-process: the real reflectors, Events and HTTP endpoints against the API double over
// loopback HTTPS with the real kube client (configured as in a pod); a router and an FRR client that keep their state in
// memory (the real ones need FRR, which the e2e tests cover); and a manual clock, so outage and
// health thresholds are crossed by moving time, not by waiting.
import { cidrContains, parseCIDR, parseIP } from '../../../src/net/ip.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { Daemon } from '../../../src/controller/daemon.js';
import { CosmoletError, ErrorCodes, RouterApplyError } from '../../../src/errors.js';
import type { EndpointSlice, KubeObject, Node, Service } from '../../../src/model/objects.js';
import { FakeApiServer } from '@cosmolet/kube-double/apiserver';
import { silentLogger } from '../../../src/observe/log.js';
import type { Logger } from '../../../src/logger.js';
import { Vtysh } from '../../../src/router/frr/vtysh.js';
import type { RunResult } from '../../../src/router/exec.js';
import type { ApplyResult, PrefixDiff, Router } from '../../../src/router/router.js';
import { inClusterClient } from '../kube/helpers.js';
import { ManualClock } from '../manual-clock.js';

export const NODE = 'node-a';
export const OTHER = 'node-b';

/** A router that keeps cosmolet's routes in a set; `foreign` prefixes are held by someone else. */
export class MemoryRouter implements Router {
  readonly origination = 'kernel' as const;
  readonly routes = new Set<string>();
  /** The mark of each route that has one (a route class's). */
  readonly marks = new Map<string, number>();
  readonly foreign = new Set<string>();
  readonly applies: PrefixDiff[] = [];
  /** Set: read and apply fail with this message (an unprogrammable router). */
  broken: string | undefined;
  /** Set: apply waits until this promise settles (a router that does not answer). */
  hang: Promise<void> | undefined;

  read(): Promise<Map<string, number>> {
    if (this.broken) return Promise.reject(new RouterApplyError(this.broken, []));
    return Promise.resolve(new Map([...this.routes].map((p) => [p, this.marks.get(p) ?? 0])));
  }

  async apply(diff: PrefixDiff): Promise<ApplyResult> {
    await this.hang;
    if (this.broken) throw new RouterApplyError(this.broken, diff.add);
    this.applies.push({ ...diff, add: [...diff.add], remove: [...diff.remove] });
    const conflicts = diff.add.filter((p) => this.foreign.has(p));
    const mark = (p: string, m: number) => (m === 0 ? this.marks.delete(p) : this.marks.set(p, m));
    for (const p of diff.add) {
      if (this.foreign.has(p)) continue;
      this.routes.add(p);
      mark(p, diff.marks?.get(p) ?? 0);
    }
    for (const p of diff.remove) {
      this.routes.delete(p);
      this.marks.delete(p);
    }
    for (const r of diff.remark ?? []) mark(r.prefix, r.to);
    return {
      added: diff.add.length - conflicts.length,
      removed: diff.remove.length,
      remarked: diff.remark?.length ?? 0,
      conflicts,
      durationMs: 0,
    };
  }

  /** Every prefix ever withdrawn. */
  withdrawn(): string[] {
    return this.applies.flatMap((a) => a.remove);
  }
}

/**
 * vtysh answered from memory: bgpd runs `router bgp 65001`, redistributes the router's routes in
 * both families and holds them as best paths. `unresponsive` makes every call time out; prefixes in
 * `notHeld` are missing from bgpd's table although installed (a stale bgpd, a prefix-list gap).
 */
export class MemoryVtysh extends Vtysh {
  unresponsive = false;
  readonly notHeld = new Set<string>();
  calls = 0;

  constructor(
    private readonly router: MemoryRouter,
    private readonly asn = 65001,
  ) {
    super({ vtyshPath: 'vtysh', socketDir: '/nonexistent', timeoutMs: 1000 });
  }

  override exec(commands: readonly string[]): Promise<RunResult> {
    this.calls++;
    if (this.unresponsive) {
      return Promise.reject(
        new CosmoletError(ErrorCodes.COMMAND_TIMEOUT, 'vtysh: no answer within 1000 ms, killed'),
      );
    }
    const stdout = commands.map((c) => this.answer(c)).join('\n');
    return Promise.resolve({ stdout, stderr: '', exitCode: 0, durationMs: 0 });
  }

  override applyConfig(): Promise<RunResult> {
    return Promise.reject(new Error('MemoryVtysh: the memory router changes no FRR config'));
  }

  private answer(command: string): string {
    if (command === 'show running-config') {
      // As FRR prints it: a header, the configuration, and a bare `end` line last.
      return [
        'Building configuration...',
        '',
        'Current configuration:',
        '!',
        `router bgp ${this.asn}`,
        ' address-family ipv4 unicast',
        '  redistribute kernel',
        ' exit-address-family',
        ' address-family ipv6 unicast',
        '  redistribute kernel',
        ' exit-address-family',
        'exit',
        '!',
        'end',
      ].join('\n');
    }
    if (command === 'show bgp summary json') return '{}';
    // A full read asks for ranges of the installed routes (longer-prefixes).
    const range = /^show bgp (?:ipv4|ipv6) unicast (\S+) longer-prefixes json$/.exec(command);
    if (range?.[1]) {
      const cidr = parseCIDR(range[1]);
      if (typeof cidr === 'string') throw new Error(`MemoryVtysh: ${cidr}`);
      const routes: Record<string, unknown> = {};
      for (const p of this.router.routes) {
        const ip = parseIP(p.split('/')[0] ?? '');
        if (this.notHeld.has(p) || !ip || !cidrContains(cidr, ip)) continue;
        routes[p] = [{ valid: true, bestpath: true }];
      }
      return JSON.stringify({ routes });
    }
    const one = /^show bgp (?:ipv4|ipv6) unicast (\S+) json$/.exec(command);
    if (one?.[1]) {
      return this.router.routes.has(one[1]) && !this.notHeld.has(one[1])
        ? JSON.stringify({ prefix: one[1], paths: [{ valid: true, bestpath: { overall: true } }] })
        : '{}';
    }
    throw new Error(`MemoryVtysh: unexpected command ${command}`);
  }
}

type KubeEvent = KubeObject & {
  reason?: string;
  message?: string;
  count?: number;
  involvedObject?: { name?: string };
};

export interface Rig {
  daemon: Daemon;
  api: FakeApiServer;
  clock: ManualClock;
  router: MemoryRouter;
  vtysh: MemoryVtysh;
  config: Config;
  /**
   * Waits until `cond` holds, moving the clock `stepMs` per poll (yielding to I/O between polls) so
   * the daemon's timers keep firing; `stepMs: 0` runs only the timers already due. The deadline is
   * on the manual clock (`clockMs`, default 60 s), never on real time: a loaded machine polls more
   * slowly but reaches the same clock time. `realMs` only guards against a hang (default 120 s), or
   * bounds a wait on what runs on real time (the Event recorder's timers).
   */
  until(
    what: string,
    cond: () => boolean | Promise<boolean>,
    options?: { stepMs?: number; clockMs?: number; realMs?: number },
  ): Promise<void>;
  /** GET on the daemon's HTTP endpoint. */
  get(path: string): Promise<{ status: number; body: string }>;
  /** The Events the daemon posted, as `Reason name: message`, with ` (xN)` for a repeated one. */
  events(): string[];
}

export interface RigOptions {
  /** Merged into the config (validated like a config file). */
  config?: Record<string, unknown>;
  objects?: KubeObject[];
  /** Do not start the daemon (the test starts it). */
  noStart?: boolean;
  /** Default: silent. */
  logger?: Logger;
}

/** Starts the API double with `objects`, and the daemon against it; everything stops after the test. */
export async function startRig(t: TestContext, options: RigOptions = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-daemon-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const api = await FakeApiServer.start({ token: 'test-token' });
  t.after(() => api.close());
  for (const o of options.objects ?? []) api.load([o]);
  const client = await inClusterClient(api, join(dir, 'serviceaccount'));
  const config = validateConfig({
    nodeName: NODE,
    advertise: { loadBalancerIP: true, externalIPs: true, allowedCIDRs: ['192.0.2.0/24'] },
    frr: { socketDir: join(dir, 'frr') },
    http: { address: '127.0.0.1:1' },
    ...options.config,
  });
  config.http.address = '127.0.0.1:0';
  // Any free port: tests run side by side, the default 8081 would collide.
  config.http.probeAddress = '127.0.0.1:0';
  const clock = new ManualClock();
  const router = new MemoryRouter();
  const vtysh = new MemoryVtysh(router);
  const daemon = new Daemon({
    config,
    client,
    router,
    vtysh,
    logger: options.logger ?? silentLogger(),
    clock,
  });
  // A test that stopped the daemon itself gets its own stop's promise back here.
  t.after(() => daemon.stop({ withdraw: false }));
  if (!options.noStart) await daemon.start();

  const until: Rig['until'] = async (what, cond, o = {}) => {
    const clockDeadline = clock.now() + (o.clockMs ?? 60_000);
    const hangGuard = Date.now() + (o.realMs ?? 120_000);
    const step = o.stepMs ?? 10;
    while (!(await cond())) {
      if (clock.now() >= clockDeadline)
        throw new Error(`not within ${o.clockMs ?? 60_000} ms of clock: ${what}`);
      if (Date.now() > hangGuard)
        throw new Error(`no progress within ${o.realMs ?? 120_000} ms of real time: ${what}`);
      await clock.advance(step);
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  return {
    daemon,
    api,
    clock,
    router,
    vtysh,
    config,
    until,
    async get(path) {
      const res = await fetch(`http://127.0.0.1:${daemon.httpPort}${path}`);
      return { status: res.status, body: await res.text() };
    },
    events() {
      return api
        .list<KubeEvent>('events')
        .map((e) => {
          const times = (e.count ?? 1) > 1 ? ` (x${e.count})` : '';
          return `${e.reason ?? ''} ${e.involvedObject?.name ?? ''}: ${e.message ?? ''}${times}`;
        })
        .sort();
    },
  };
}

export function node(name = NODE, spec: Node['spec'] = {}): Node {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name }, spec };
}

export function service(
  name: string,
  spec: Service['spec'],
  status?: Service['status'],
  namespace = 'default',
): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP' }], ...spec },
    ...(status ? { status } : {}),
  };
}

export function slice(
  svc: string,
  endpoints: { ip: string; ready?: boolean; node?: string }[],
  name = `${svc}-v4`,
  namespace = 'default',
): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true },
      nodeName: e.node ?? OTHER,
    })),
  };
}

/** A ClusterIP Service with one ready endpoint on another node: every node advertises it. */
export function clusterService(name: string, ip: string): KubeObject[] {
  return [service(name, { clusterIP: ip, clusterIPs: [ip] }), slice(name, [{ ip: '10.1.0.1' }])];
}

/** The names of the readiness conditions that fail. */
export function failing(daemon: Daemon): string[] {
  return daemon
    .readiness()
    .conditions.filter((c) => !c.ok)
    .map((c) => c.name);
}

export function condition(daemon: Daemon, name: string): { ok: boolean; message: string } | undefined {
  return daemon.readiness().conditions.find((c) => c.name === name);
}

/** How many watches the reflectors restarted for `reason` so far (the daemon's metric). */
export async function watchRestarts(daemon: Daemon, reason: string): Promise<number> {
  const { values } = await daemon.metrics.reflectorWatchRestarts.get();
  return values.filter((v) => v.labels.reason === reason).reduce((n, v) => n + v.value, 0);
}
