// The daemon behind `cosmolet run`: the reflectors feed the reconciler, the reconciler programs the
// router, the FRR monitor watches bgpd, and the HTTP endpoints report on all of them. It is built
// from its dependencies (API client, router, FRR client, clock, logger, metrics, Event sink), so a
// test can run it in-process against the API double, a fake router and a manual clock; the CLI
// only builds the real ones, starts it and stops it on a signal.
import { realClock, type Clock } from '../clock.js';
import { planSettings, type Config } from '../config/schema.js';
import { EventRecorder } from '../kube/events.js';
import type { KubeClient } from '../kube/client.js';
import {
  DEFAULT_TIMERS,
  stallLimitMs,
  type ReflectorHooks,
  type ReflectorTimers,
} from '../kube/reflector.js';
import { ReflectorSet } from '../kube/reflector-set.js';
import { DelegatingAuthorizer, isLoopbackOnly } from '../observe/auth.js';
import { liveness, readiness, type Condition } from '../observe/health.js';
import { startHttpServer, type HttpRoutes, type RunningHttpServer } from '../observe/http.js';
import type { Logger } from '../logger.js';
import { Metrics } from '../observe/metrics.js';
import { statusDocument } from '../observe/status.js';
import type { Family } from '../net/ip.js';
import type { NodeInfo, ServiceInfo, SliceInfo } from '../plan/input.js';
import type { Vtysh } from '../router/frr/vtysh.js';
import type { Router, RouteWatch } from '../router/router.js';
import { buildInfo, sourceInfo } from '../version.js';
import { FrrMonitor } from './frr-monitor.js';
import { KubeHealth } from './kube-health.js';
import { planProjections } from './projections.js';
import { Reconciler } from './reconciler.js';
import { startRouteWatch } from './route-watch.js';
import {
  recordAppliedEvents,
  recordRefusals,
  recordUnknownClasses,
  type EventSink,
} from './service-events.js';

/** The kubelet opens one connection per probe; a few at once, never dozens. */
const PROBE_MAX_CONNECTIONS = 16;

export interface DaemonDeps {
  config: Config;
  /** The API client: the reflectors, the Events and the HTTP authorizer use it. */
  client: KubeClient;
  router: Router;
  /** The process's one FRR client: the monitor reads bgpd through it, the router (static) programs it. */
  vtysh: Vtysh;
  logger: Logger;
  /** Default: the real clock. */
  clock?: Clock;
  /** Default: a new registry. */
  metrics?: Metrics;
  /** Default: an EventRecorder posting to the API server. */
  events?: EventSink;
  /** Default: the reflectors' own (DEFAULT_TIMERS). */
  reflectorTimers?: Partial<ReflectorTimers>;
}

export interface Readiness {
  ready: boolean;
  conditions: Condition[];
}

export class Daemon {
  readonly metrics: Metrics;
  readonly reflectors: ReflectorSet<ServiceInfo, SliceInfo, NodeInfo>;
  readonly reconciler: Reconciler;
  readonly monitor: FrrMonitor;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly events: EventSink;
  private readonly kube: KubeHealth;
  private readonly reflectorTimers: ReflectorTimers;
  private readonly malformedSeen = new Set<string>();
  private http: RunningHttpServer | undefined;
  private probes: RunningHttpServer | undefined;
  private routeWatch: RouteWatch | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly deps: DaemonDeps) {
    const { config, client, router, logger: log } = deps;
    this.config = config;
    this.log = log;
    this.clock = deps.clock ?? realClock;
    this.metrics = deps.metrics ?? new Metrics(buildInfo());
    this.kube = new KubeHealth(this.clock, this.metrics);
    this.reflectorTimers = { ...DEFAULT_TIMERS, ...deps.reflectorTimers };
    this.events =
      deps.events ??
      new EventRecorder({
        client,
        nodeName: config.nodeName,
        logger: log,
        hooks: { dropped: (reason) => this.metrics.kubeEventsDropped.inc({ reason }) },
        clock: this.clock,
      });
    this.reflectors = new ReflectorSet({
      client,
      namespaces: config.services.namespaces,
      serviceLabelSelector: config.services.labelSelector,
      nodeName: config.nodeName,
      projections: planProjections(config.nodeName, (field) => this.malformed(field)),
      logger: log.child({ component: 'reflector' }),
      hooks: this.reflectorHooks(),
      onChange: (resource, key) => this.reconciler.changed(resource, key),
      timers: this.reflectorTimers,
      clock: this.clock,
    });
    this.reconciler = new Reconciler({
      cluster: {
        synced: () => this.reflectors.synced,
        services: () => this.reflectors.serviceItems(),
        endpointSlices: () => this.reflectors.endpointSliceItems(),
        service: (key) => this.reflectors.service(key),
        endpointSlice: (key) => this.reflectors.endpointSlice(key),
        node: () => this.reflectors.nodeObject(),
      },
      router,
      // The reflectors ask the API server for services.labelSelector and keep no labels.
      settings: { ...planSettings(config), labelSelector: '' },
      classMarks: new Map(Object.entries(config.routeClasses).map(([name, c]) => [name, c.mark])),
      nodeName: config.nodeName,
      applyEnabled: config.bgp.enabled,
      loopIntervalSeconds: config.loopIntervalSeconds,
      logger: log,
      metrics: this.metrics,
      clock: this.clock,
      onAppliedChanges: (applied) => {
        this.monitor.refreshSoon([...applied.added, ...applied.removed]);
        recordAppliedEvents(this.events, this.reconciler.state, applied);
      },
      onDecisionChanges: (changes) =>
        recordRefusals(this.events, this.reconciler.state, config.nodeName, changes),
      onUnknownRouteClasses: (found) =>
        recordUnknownClasses(this.events, this.reconciler.state, config.nodeName, found),
    });
    this.monitor = new FrrMonitor({
      vtysh: deps.vtysh,
      origination: config.frr.origination,
      routeClasses: Object.entries(config.routeClasses).map(([name, c]) => ({ name, mark: c.mark })),
      socketDir: config.frr.socketDir,
      asn: config.bgp.asn,
      intervalSeconds: config.loopIntervalSeconds,
      logger: log,
      metrics: this.metrics,
      clock: this.clock,
      onRestart: () => this.reconciler.resync(),
      advertises: (prefix) => this.reconciler.state.advertises(prefix),
      installed: () => this.reconciler.status().installed.keys(),
    });
  }

  /** The port the HTTP endpoints listen on (after start). */
  get httpPort(): number | undefined {
    return this.http?.port;
  }

  /** The port of the probe listener (after start; undefined when http.probeAddress is ""). */
  get probePort(): number | undefined {
    return this.probes?.port;
  }

  /** Serves the HTTP endpoints, then starts watching, reconciling and checking FRR. */
  async start(): Promise<void> {
    const { config, log } = this;
    log.info(
      {
        node: config.nodeName,
        origination: config.frr.origination,
        namespaces: config.services.namespaces,
        bgpEnabled: config.bgp.enabled,
        ...buildInfo(),
      },
      'cosmolet starting',
    );
    // Off loopback, /metrics and /status need a token the API server vouches for (auth.ts).
    const authorizer = isLoopbackOnly(config.http.address)
      ? undefined
      : new DelegatingAuthorizer({ client: this.deps.client, audiences: config.http.tokenAudiences });
    const { certFile, keyFile } = config.http.tls;
    this.http = await startHttpServer(config.http.address, this.routes(), log, {
      ...(authorizer ? { authorizer } : {}),
      ...(certFile !== undefined && keyFile !== undefined ? { tls: { certFile, keyFile } } : {}),
    });
    // The kubelet's own listener: clients of http.address cannot take its connections (issue 21).
    const probeAddress = config.http.probeAddress;
    if (probeAddress !== '') {
      const probeRoutes = this.probeRoutes(isLoopbackOnly(probeAddress));
      this.probes = await startHttpServer(probeAddress, probeRoutes, log, {
        maxConnections: PROBE_MAX_CONNECTIONS,
        maxConnectionsPerSource: PROBE_MAX_CONNECTIONS,
      }).catch(async (err: unknown) => {
        await this.http?.close();
        throw err;
      });
    }
    this.reflectors.start();
    this.reconciler.start();
    this.monitor.start();
    if (config.bgp.enabled)
      this.routeWatch = startRouteWatch(this.deps.router, () => this.reconciler.resync(), log);
  }

  /**
   * Stops watching, reconciling and serving. Routes stay installed for the next instance to adopt,
   * unless `withdraw` (default: withdrawOnExit) asks to remove every route cosmolet owns. Never throws;
   * a second call waits for the first.
   */
  stop(options: { withdraw?: boolean } = {}): Promise<void> {
    this.stopping ??= this.shutdown(options.withdraw ?? this.config.withdrawOnExit);
    return this.stopping;
  }

  private async shutdown(withdraw: boolean): Promise<void> {
    const { log } = this;
    try {
      await this.reflectors.stop();
      await this.routeWatch?.stop();
      await this.reconciler.stop();
      await this.monitor.stop();
      if (withdraw) {
        await this.reconciler.withdrawAll();
      } else {
        const installed = this.reconciler.status().installed.size;
        log.info({ installed }, `leaving ${installed} routes installed for the next instance to adopt`);
      }
    } catch (err) {
      log.error({ err }, 'error during shutdown');
    }
    await this.events.close();
    await this.http?.close();
    await this.probes?.close();
    log.info('stopped');
  }

  /** /readyz: every condition with its message; also sets the cosmolet_ready gauge. */
  readiness(): Readiness {
    const { config } = this;
    const status = this.reconciler.status();
    const reflectorsSynced: Record<string, boolean> = {};
    for (const r of this.reflectors.all)
      reflectorsSynced[r.resource] = (reflectorsSynced[r.resource] ?? true) && r.synced;
    const result = readiness({
      reflectorsSynced,
      kubernetesProblem: this.kube.unreachable(),
      kubernetesAuthProblem: this.kube.unauthorized(),
      kubernetesWatchProblem: this.kube.watchesSilent(),
      nodeName: config.nodeName,
      nodeFound: this.reflectors.nodeObject() !== undefined,
      reconcileOk: status.lastOk,
      reconcileError: status.lastError,
      applyEnabled: config.bgp.enabled,
      exportCheck: this.monitor.exportCheck(this.familiesInUse()),
      holdCheck: this.monitor.holdCheck(),
      asnCheck: this.monitor.state.asnCheck,
      asnConfigured: config.bgp.asn !== 0,
    });
    this.metrics.ready.set(result.ready ? 1 : 0);
    return result;
  }

  /** /healthz: whether the reconcile loop and every reflector loop still make progress. */
  liveness(): { alive: boolean; problems: string[] } {
    const status = this.reconciler.status();
    const loopMs = this.config.loopIntervalSeconds * 1000;
    const reflectorProgress: Record<string, number> = {};
    for (const r of this.reflectors.all) {
      const name = `${r.resource}${r.namespace ? `/${r.namespace}` : ''}`;
      reflectorProgress[name] = r.lastProgressAt;
    }
    return liveness({
      now: this.clock.now(),
      reconcileRunningSince: status.runningSince,
      reconcileLastRunAt: status.lastRunAt,
      // A batch of 10,000 FRR lines takes ~5 s; allow several command timeouts before calling it stuck.
      reconcileStuckAfterMs: this.config.frr.commandTimeoutSeconds * 1000 * 4 + 30_000,
      reconcileIdleLimitMs: loopMs * 3 + 30_000,
      reflectorProgress,
      reflectorStuckAfterMs: stallLimitMs(this.reflectorTimers),
    });
  }

  /** A field of the wrong type in a cluster object: counted always, logged once per field. */
  /** The health hooks, and the first reconcile once the last reflector has synced. */
  private reflectorHooks(): ReflectorHooks {
    const health = this.kube.hooks();
    return {
      ...health,
      synced: (resource, synced) => {
        health.synced?.(resource, synced);
        if (synced && this.reflectors.synced) this.reconciler.clusterSynced();
      },
    };
  }

  private malformed(field: string): void {
    this.metrics.malformedFields.inc({ field });
    if (this.malformedSeen.has(field)) return;
    this.malformedSeen.add(field);
    this.log.warn({ field }, `ignoring ${field} of the wrong type in a cluster object (logged once)`);
  }

  /** The families the plan has prefixes of (the FRR export is required for those only). */
  private familiesInUse(): Family[] {
    const counts = this.reconciler.state.advertisedByFamily();
    return (['ipv4', 'ipv6'] as const).filter((f) => counts[f] > 0);
  }

  private routes(): HttpRoutes {
    return {
      ...this.probeRoutes(true),
      '/metrics': {
        protected: true,
        heavy: true,
        handler: async () => {
          this.readiness();
          return {
            status: 200,
            body: await this.metrics.registry.metrics(),
            contentType: this.metrics.registry.contentType,
          };
        },
      },
      '/status': {
        protected: true,
        heavy: true,
        // Serialized once per change: the plan and the bgpd view carry versions; every apply is
        // part of a reconcile, which moves lastRunAt.
        cacheKey: () => {
          const s = this.reconciler.status();
          const f = this.monitor.state;
          return [
            s.planVersion,
            s.installed.size,
            s.lastRunAt,
            s.lastError,
            f.viewVersion,
            f.lastCheckAt,
            f.bgpError,
          ];
        },
        handler: () => {
          const s = this.reconciler.status();
          const f = this.monitor.state;
          return {
            status: 200,
            body: statusDocument({
              nodeName: this.config.nodeName,
              plan: this.reconciler.plan(),
              installed: s.installed,
              bgp: f.bgp,
              bgpCheckedAt: f.lastCheckAt,
              bgpError: f.bgpError,
              reconciledAt: s.planned ? s.lastRunAt : undefined,
              lastError: s.lastError,
            }),
          };
        },
      },
    };
  }

  /**
   * The open paths, on both listeners. /readyz's messages (node name, FRR snippets) only where the
   * caller may see details: a loopback listener (`details`) that checks no tokens.
   */
  private probeRoutes(details: boolean): HttpRoutes {
    return {
      '/healthz': () => {
        const l = this.liveness();
        return { status: l.alive ? 200 : 503, body: l.alive ? 'ok\n' : `stuck: ${l.problems.join('; ')}\n` };
      },
      '/readyz': ({ authorized }) => {
        const r = this.readiness();
        const body =
          authorized && details
            ? r
            : { ready: r.ready, conditions: r.conditions.map((c) => ({ name: c.name, ok: c.ok })) };
        return { status: r.ready ? 200 : 503, body };
      },
      // AGPL-3.0 section 13: users who reach cosmolet over the network are told where its source is.
      '/version': () => ({ status: 200, body: { ...buildInfo(), ...sourceInfo() } }),
    };
  }
}
