// `cosmolet run`: the controller. Wires the reflectors, the reconciler, the router, the FRR
// monitor and the HTTP endpoints together, and owns the process lifecycle (signals, exit).
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { planSettings, type Config } from '../config/schema.js';
import { CosmoletError, ErrorCodes, KubeApiError, UsageError } from '../errors.js';
import { FrrMonitor } from '../controller/frr-monitor.js';
import { Reconciler } from '../controller/reconciler.js';
import { loadKubeClient, type KubeClient } from '../kube/client.js';
import { DelegatingAuthorizer, isLoopbackOnly } from '../observe/auth.js';
import { EventRecorder } from '../kube/events.js';
import { ReflectorSet, type ReflectorHooks } from '../kube/reflector.js';
import type { AppliedChanges } from '../controller/reconciler.js';
import { isReporter } from '../controller/reporters.js';
import type { DecisionChange } from '../controller/decisions.js';
import { unknownClassMessage } from '../plan/route-class.js';
import type { UnknownRouteClass } from '../plan/types.js';
import { explain } from '../controller/decisions.js';
import { hostPrefixOf } from '../net/prefix.js';
import { liveness, readiness } from '../observe/health.js';
import { startHttpServer, type HttpRoutes } from '../observe/http.js';
import type { Logger } from '../logger.js';
import { createLogger } from '../observe/log.js';
import { Metrics } from '../observe/metrics.js';
import { statusDocument } from '../observe/status.js';
import { createRouter } from '../router/create.js';
import { Vtysh } from '../router/frr/vtysh.js';
import type { Family } from '../net/ip.js';
import { buildInfo } from '../version.js';
import { COMMON_FLAGS, configOverrides, helpText, parseFlags, type FlagSpecs } from './flags.js';
import type { CommandIO } from './render.js';

export const RUN_FLAGS: FlagSpecs = {
  ...COMMON_FLAGS,
  kubeconfig: {
    type: 'string',
    arg: 'FILE',
    help: 'kubeconfig to use (default: $KUBECONFIG, else the in-cluster service account)',
  },
  'http-address': {
    type: 'string',
    arg: 'HOST:PORT',
    help: 'address for /healthz /readyz /metrics /version /status (default :8080)',
    configKey: 'http.address',
  },
  'withdraw-on-exit': {
    type: 'boolean',
    help: 'withdraw every route cosmolet owns before exiting (decommissioning)',
    configKey: 'withdrawOnExit',
  },
};

export const RUN_HELP = helpText(
  'cosmolet run [flags]',
  "Watches Services, EndpointSlices and this Node, and keeps this node's routes equal to the plan.",
  RUN_FLAGS,
);

/** Shutdown must finish within the contract's 10 s; past this, the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 9_000;

export async function runCommand(argv: string[], io: CommandIO): Promise<number> {
  // Listen for signals first: a SIGTERM during start-up must still end in a clean exit 0.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const { values, positionals } = parseFlags(argv, RUN_FLAGS, 'run');
  if (values.help) {
    io.stdout.write(RUN_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`cosmolet run: unexpected argument "${positionals[0]}"`);
  const overrides: ConfigOverrides = configOverrides(values, RUN_FLAGS);
  const config = loadConfig({
    file: typeof values.config === 'string' ? values.config : undefined,
    overrides,
    env: io.env,
  });
  if (config.nodeName === '') {
    throw new UsageError(
      'cosmolet run: no node name: pass --node-name, set nodeName in the config, or NODE_NAME',
    );
  }
  const kubeconfig = typeof values.kubeconfig === 'string' ? values.kubeconfig : undefined;
  const client = await loadKubeClient({ ...(kubeconfig ? { kubeconfigPath: kubeconfig } : {}), env: io.env });
  const logger = createLogger(config.logging.level, config.logging.format, io.stdout);
  return new Controller(config, client, logger).run(stopSignal);
}

class Controller {
  private readonly metrics = new Metrics(buildInfo());
  private readonly reflectors: ReflectorSet;
  private readonly reconciler: Reconciler;
  private readonly monitor: FrrMonitor;
  private readonly events: EventRecorder;
  private readonly malformedSeen = new Set<string>();
  /** Reflector resource -> when its requests started failing (cleared by any success). */
  private readonly failingSince = new Map<string, number>();
  /** Reflector resource -> the credential problem of its last failure (401, 403, no credential). */
  private readonly authFailure = new Map<string, string>();

  constructor(
    private readonly config: Config,
    private readonly client: KubeClient,
    private readonly log: Logger,
  ) {
    const frr = config.frr;
    // One FRR client for the process: vtysh calls run one at a time, router and monitor alike.
    const vtysh = new Vtysh({
      vtyshPath: frr.vtyshPath,
      socketDir: frr.socketDir,
      timeoutMs: frr.commandTimeoutSeconds * 1000,
    });
    const router = createRouter({ ...frr, logger: log.child({ component: 'router' }) }, vtysh);
    this.events = new EventRecorder({
      client,
      nodeName: config.nodeName,
      logger: log,
      hooks: { dropped: (reason) => this.metrics.kubeEventsDropped.inc({ reason }) },
    });
    this.reflectors = new ReflectorSet({
      client,
      namespaces: config.services.namespaces,
      serviceLabelSelector: config.services.labelSelector,
      nodeName: config.nodeName,
      logger: log.child({ component: 'reflector' }),
      hooks: this.reflectorHooks(),
      onChange: (resource, key) => this.reconciler.changed(resource, key),
      onMalformed: (field) => this.malformed(field),
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
      nodeName: config.nodeName,
      applyEnabled: config.bgp.enabled,
      loopIntervalSeconds: config.loopIntervalSeconds,
      logger: log,
      metrics: this.metrics,
      onAppliedChanges: (applied) => {
        this.monitor.refreshSoon([...applied.added, ...applied.removed]);
        this.recordAppliedEvents(applied);
      },
      onDecisionChanges: (changes) => this.recordRefusals(changes),
      onUnknownRouteClasses: (found) => this.recordUnknownClasses(found),
    });
    this.monitor = new FrrMonitor({
      vtysh,
      origination: frr.origination,
      socketDir: frr.socketDir,
      asn: config.bgp.asn,
      intervalSeconds: config.loopIntervalSeconds,
      logger: log,
      metrics: this.metrics,
      onRestart: () => this.reconciler.resync(),
      advertises: (prefix) => this.reconciler.state.advertises(prefix),
    });
  }

  /** A field of the wrong type in a cluster object: counted always, logged once per field. */
  private malformed(field: string): void {
    this.metrics.malformedFields.inc({ field });
    if (this.malformedSeen.has(field)) return;
    this.malformedSeen.add(field);
    this.log.warn({ field }, `ignoring ${field} of the wrong type in a cluster object (logged once)`);
  }

  /**
   * Events only for what is specific to this node, so their number does not grow with the node
   * count: a Local-policy IP this node advertises or withdraws, after the apply that did it, and a
   * prefix another route holds. What every node decides alike goes to metrics.
   */
  private recordAppliedEvents(applied: AppliedChanges): void {
    const state = this.reconciler.state;
    for (const c of applied.local) {
      const svc = state.serviceInfo(c.service);
      if (!svc) continue; // deleted: nothing to attach an Event to
      const prefix = hostPrefixOf(c.ip);
      if (c.to === 'advertised') this.events.advertised(svc, prefix);
      else this.events.withdrawn(svc, prefix, c.to ? explain(c.to) : undefined);
    }
    for (const prefix of applied.conflicts) {
      for (const key of state.servicesOf(prefix)) {
        const svc = state.serviceInfo(key);
        if (svc) this.events.conflict(svc, prefix);
      }
    }
  }

  /** An unknown route class is the same on every node: only the Service's reporter nodes record it. */
  private recordUnknownClasses(found: UnknownRouteClass[]): void {
    const state = this.reconciler.state;
    for (const u of found) {
      if (!isReporter(u.service, this.config.nodeName, state.knownNodes())) continue;
      const svc = state.serviceInfo(u.service);
      if (svc) this.events.unknownRouteClass(svc, unknownClassMessage(u));
    }
  }

  /** A refused IP is the same on every node: only the Service's few reporter nodes record it. */
  private recordRefusals(changes: DecisionChange[]): void {
    const state = this.reconciler.state;
    for (const c of changes) {
      if (c.to !== 'invalid-ip' && c.to !== 'outside-allowed-cidrs') continue;
      if (!isReporter(c.service, this.config.nodeName, state.knownNodes())) continue;
      const svc = state.serviceInfo(c.service);
      if (svc) this.events.skipped(svc, c.ip, c.to);
    }
  }

  private reflectorHooks(): ReflectorHooks {
    const m = this.metrics;
    const ok = (resource: string) => {
      this.failingSince.delete(resource);
      this.authFailure.delete(resource);
    };
    return {
      failed: (resource, err) => {
        const auth = authProblem(err);
        if (auth) this.authFailure.set(resource, auth);
        else this.authFailure.delete(resource);
      },
      relist: (resource) => m.reflectorRelists.inc({ resource }),
      // Any answer from the API ends an outage, even on a quiet cluster with no events.
      listed: (resource) => ok(resource),
      watchOpened: (resource) => ok(resource),
      watchRestart: (resource, reason) => {
        m.reflectorWatchRestarts.inc({ resource, reason });
        // A watch that went silent while bookmarks were due is a failure too, not progress.
        if (reason === 'error' || reason === 'watchdog') {
          if (!this.failingSince.has(resource)) this.failingSince.set(resource, Date.now());
        } else {
          ok(resource);
        }
      },
      event: (resource, type) => {
        ok(resource);
        m.reflectorEvents.inc({ resource, type });
        m.reflectorLastEvent.set({ resource }, Date.now() / 1000);
      },
      synced: (resource, synced) => {
        if (synced) ok(resource);
        m.reflectorSynced.set({ resource }, synced ? 1 : 0);
      },
    };
  }

  /** Credential problems count at once: waiting does not fix a refused token. */
  private kubernetesAuthProblem(): string | undefined {
    const [first] = this.authFailure.entries();
    if (!first) return undefined;
    const resources = [...this.authFailure.keys()].join(', ');
    return `kubernetes-unauthorized: requests for ${resources} are refused: ${first[1]}; keeping the routes as they are`;
  }

  private kubernetesProblem(): string | undefined {
    const now = Date.now();
    const failing = [...this.failingSince.entries()].filter(
      ([r, since]) => now - since > 10_000 && !this.authFailure.has(r),
    );
    if (failing.length === 0) return undefined;
    return `kubernetes-unreachable: requests for ${failing.map(([r]) => r).join(', ')} have failed for ${Math.round(
      (now - Math.min(...failing.map(([, s]) => s))) / 1000,
    )} s; keeping the routes as they are`;
  }

  private readiness() {
    const status = this.reconciler.status();
    const reflectorsSynced: Record<string, boolean> = {};
    for (const r of this.reflectors.all)
      reflectorsSynced[r.resource] = (reflectorsSynced[r.resource] ?? true) && r.synced;
    const result = readiness({
      reflectorsSynced,
      kubernetesProblem: this.kubernetesProblem(),
      kubernetesAuthProblem: this.kubernetesAuthProblem(),
      nodeName: this.config.nodeName,
      nodeFound: this.reflectors.nodeObject() !== undefined,
      reconcileOk: status.lastOk,
      reconcileError: status.lastError,
      applyEnabled: this.config.bgp.enabled,
      exportCheck: this.monitor.exportCheck(this.familiesInUse()),
      asnCheck: this.monitor.state.asnCheck,
      asnConfigured: this.config.bgp.asn !== 0,
    });
    this.metrics.ready.set(result.ready ? 1 : 0);
    return result;
  }

  /** The families the plan has prefixes of (the FRR export is required for those only). */
  private familiesInUse(): Family[] {
    const counts = this.reconciler.state.advertisedByFamily();
    return (['ipv4', 'ipv6'] as const).filter((f) => counts[f] > 0);
  }

  private liveness() {
    const status = this.reconciler.status();
    const frr = this.config.frr;
    const loopMs = this.config.loopIntervalSeconds * 1000;
    const reflectorProgress: Record<string, number> = {};
    for (const r of this.reflectors.all) {
      const name = `${r.resource}${r.namespace ? `/${r.namespace}` : ''}`;
      reflectorProgress[name] = r.lastProgressAt;
    }
    return liveness({
      now: Date.now(),
      reconcileRunningSince: status.runningSince,
      reconcileLastRunAt: status.lastRunAt,
      // A batch of 10,000 FRR lines takes ~5 s; allow several command timeouts before calling it stuck.
      reconcileStuckAfterMs: frr.commandTimeoutSeconds * 1000 * 4 + 30_000,
      reconcileIdleLimitMs: loopMs * 3 + 30_000,
      reflectorProgress,
      // The watch timeout is at most 600 s and the watchdog grace 30 s.
      reflectorStuckAfterMs: 700_000,
    });
  }

  private routes(): HttpRoutes {
    return {
      '/healthz': () => {
        const l = this.liveness();
        return { status: l.alive ? 200 : 503, body: l.alive ? 'ok\n' : `stuck: ${l.problems.join('; ')}\n` };
      },
      // Open for the kubelet; the messages (node name, FRR snippets) only for an authorized caller.
      '/readyz': ({ authorized }) => {
        const r = this.readiness();
        const body = authorized
          ? r
          : { ready: r.ready, conditions: r.conditions.map((c) => ({ name: c.name, ok: c.ok })) };
        return { status: r.ready ? 200 : 503, body };
      },
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
      '/version': () => ({ status: 200, body: buildInfo() }),
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

  async run(stopSignal: Promise<NodeJS.Signals>): Promise<number> {
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
      : new DelegatingAuthorizer({ client: this.client });
    const http = await startHttpServer(
      config.http.address,
      this.routes(),
      log,
      authorizer ? { authorizer } : {},
    );
    this.reflectors.start();
    this.reconciler.start();
    this.monitor.start();

    const signal = await stopSignal;
    log.info({ signal }, `${signal} received: shutting down`);
    const deadline = setTimeout(() => {
      log.error('shutdown took too long; exiting now');
      process.exit(0);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    try {
      await this.reflectors.stop();
      await this.reconciler.stop();
      await this.monitor.stop();
      if (config.withdrawOnExit) {
        await this.reconciler.withdrawAll();
      } else {
        const installed = this.reconciler.status().installed.size;
        log.info({ installed }, `leaving ${installed} routes installed for the next instance to adopt`);
      }
    } catch (err) {
      log.error({ err }, 'error during shutdown');
    }
    await this.events.close();
    await http.close();
    log.info('stopped');
    log.flush();
    // Sockets kept alive by the API client must not hold the process open.
    process.exit(0);
  }
}

/** Why the API server refuses cosmolet, when that is the failure (else undefined). */
export function authProblem(err: unknown): string | undefined {
  if (err instanceof KubeApiError && err.status === 401) {
    return `401 Unauthorized even after refreshing the credential (${err.message})`;
  }
  if (err instanceof KubeApiError && err.status === 403) {
    return `403 Forbidden: the service account lacks RBAC permissions (${err.message})`;
  }
  if (err instanceof CosmoletError && err.code === ErrorCodes.KUBE_AUTH) return err.message;
  return undefined;
}
