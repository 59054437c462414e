// The daemon behind `cosmolet run`: its parts are built in wiring.ts (the reflectors feed the
// reconciler, the reconciler publishes its installed routes, the FRR monitor reads them), its HTTP
// endpoints in endpoints.ts from read-only views of the parts, and here only the order they start
// and stop in. It is built from its dependencies (API client, router, FRR client, clock, logger,
// metrics, Event sink), so a test can run it in-process against the API double, a fake router and a
// manual clock; the CLI only builds the real ones, starts it and stops it on a signal.
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { DelegatingAuthorizer, isLoopbackOnly } from '../observe/auth.js';
import { startHttpServer, type RunningHttpServer } from '../observe/http.js';
import type { Metrics } from '../observe/metrics.js';
import type { RouteWatch } from '../router/router.js';
import { buildInfo } from '../version.js';
import {
  httpRoutes,
  livenessOf,
  probeRoutes,
  readinessOf,
  type DaemonViews,
  type Readiness,
} from './endpoints.js';
import type { FrrMonitor } from './frr-monitor.js';
import { Lifecycle, type Stage } from './lifecycle.js';
import type { Reconciler } from './reconciler.js';
import { startRouteWatch } from './route-watch.js';
import { wireDaemon, type DaemonDeps, type DaemonParts, type Reflectors } from './wiring.js';

export type { DaemonDeps } from './wiring.js';
export type { Readiness } from './endpoints.js';

/** The kubelet opens one connection per probe; a few at once, never dozens. */
const PROBE_MAX_CONNECTIONS = 16;

interface StopOptions {
  withdraw: boolean;
}

export class Daemon {
  readonly metrics: Metrics;
  readonly reflectors: Reflectors;
  readonly reconciler: Reconciler;
  readonly monitor: FrrMonitor;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly views: DaemonViews;
  private readonly lifecycle: Lifecycle<StopOptions>;
  private http: RunningHttpServer | undefined;
  private probes: RunningHttpServer | undefined;
  private routeWatch: RouteWatch | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly deps: DaemonDeps) {
    const parts = wireDaemon(deps);
    this.config = deps.config;
    this.log = deps.logger;
    this.metrics = parts.metrics;
    this.reflectors = parts.reflectors;
    this.reconciler = parts.reconciler;
    this.monitor = parts.monitor;
    this.views = { ...parts, config: deps.config, frr: parts.monitor };
    this.lifecycle = new Lifecycle(this.stages(parts), this.log);
  }

  /** The stage names in start order; they stop in the reverse order. */
  get stageOrder(): string[] {
    return this.lifecycle.order;
  }

  /** The port the HTTP endpoints listen on (after start). */
  get httpPort(): number | undefined {
    return this.http?.port;
  }

  /** The port of the probe listener (after start; undefined when http.probeAddress is ""). */
  get probePort(): number | undefined {
    return this.probes?.port;
  }

  /** Serves the HTTP endpoints, then starts reconciling, checking FRR and watching. */
  async start(): Promise<void> {
    const { config } = this;
    this.log.info(
      {
        node: config.nodeName,
        origination: config.frr.origination,
        namespaces: config.services.namespaces,
        bgpEnabled: config.bgp.enabled,
        ...buildInfo(),
      },
      'cosmolet starting',
    );
    await this.lifecycle.start({ withdraw: false });
  }

  /**
   * Stops watching, reconciling and serving. Routes stay installed for the next instance to adopt,
   * unless `withdraw` (default: withdrawOnExit) asks to remove every route cosmolet owns. Never throws;
   * a second call waits for the first.
   */
  stop(options: { withdraw?: boolean } = {}): Promise<void> {
    this.stopping ??= this.lifecycle
      .stop({ withdraw: options.withdraw ?? this.config.withdrawOnExit })
      .then(() => this.log.info('stopped'));
    return this.stopping;
  }

  /** /readyz: every condition with its message; also sets the cosmolet_ready gauge. */
  readiness(): Readiness {
    return readinessOf(this.views);
  }

  /** /healthz: whether the reconcile loop and every reflector loop still make progress. */
  liveness(): { alive: boolean; problems: string[] } {
    return livenessOf(this.views);
  }

  /**
   * Start order: the HTTP endpoints (probes answer while the rest starts), the Events, the
   * reconciler and the FRR monitor, then their inputs: the reflectors and the router's watch. So the
   * inputs stop first, the monitor before the reconciler it signals, and HTTP last.
   */
  private stages(parts: DaemonParts): Stage<StopOptions>[] {
    const { config, log } = this;
    const { reconciler, monitor, reflectors, events } = parts;
    return [
      {
        name: 'http',
        start: async () => {
          // Off loopback, /metrics and /status need a token the API server vouches for (auth.ts).
          const authorizer = isLoopbackOnly(config.http.address)
            ? undefined
            : new DelegatingAuthorizer({ client: this.deps.client, audiences: config.http.tokenAudiences });
          const { certFile, keyFile } = config.http.tls;
          this.http = await startHttpServer(config.http.address, httpRoutes(this.views), log, {
            ...(authorizer ? { authorizer } : {}),
            ...(certFile !== undefined && keyFile !== undefined ? { tls: { certFile, keyFile } } : {}),
          });
        },
        stop: () => this.http?.close(),
      },
      {
        // The kubelet's own listener: clients of http.address cannot take its connections (issue 21).
        name: 'probes',
        start: async () => {
          const address = config.http.probeAddress;
          if (address === '') return;
          this.probes = await startHttpServer(
            address,
            probeRoutes(this.views, isLoopbackOnly(address)),
            log,
            {
              maxConnections: PROBE_MAX_CONNECTIONS,
              maxConnectionsPerSource: PROBE_MAX_CONNECTIONS,
            },
          );
        },
        stop: () => this.probes?.close(),
      },
      { name: 'events', stop: () => events.close() },
      {
        name: 'reconciler',
        start: () => reconciler.start(),
        stop: async ({ withdraw }) => {
          await reconciler.stop();
          if (withdraw) {
            await reconciler.withdrawAll();
            return;
          }
          const installed = reconciler.status().installed.size;
          log.info({ installed }, `leaving ${installed} routes installed for the next instance to adopt`);
        },
      },
      { name: 'frr-monitor', start: () => monitor.start(), stop: () => monitor.stop() },
      { name: 'reflectors', start: () => reflectors.start(), stop: () => reflectors.stop() },
      {
        name: 'route-watch',
        start: () => {
          if (config.bgp.enabled) this.routeWatch = startRouteWatch(this.deps.router, reconciler, log);
        },
        stop: () => this.routeWatch?.stop(),
      },
    ];
  }
}
