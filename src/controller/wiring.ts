// The daemon's parts, built in dependency order: each from parts built before it, no closure
// pointing at one built later. Data flows one way: reflectors -> reconciler (through a relay, since
// the reconciler reads the reflectors' stores) -> route ledger -> FRR monitor, which reads the
// ledger's published view. The monitor's "FRR restarted" goes to the reconciler's resync() through
// a hook given here; the reconciler never calls the monitor.
import { realClock, type Clock } from '../clock.js';
import { planSettings, type Config } from '../config/schema.js';
import { EventRecorder } from '../kube/events.js';
import type { KubeClient } from '../kube/client.js';
import {
  DEFAULT_TIMERS,
  type ReflectedResource,
  type ReflectorHooks,
  type ReflectorTimers,
} from '../kube/reflector.js';
import { ReflectorSet } from '../kube/reflector-set.js';
import type { Logger } from '../logger.js';
import { Metrics } from '../observe/metrics.js';
import type { NodeInfo, ServiceInfo, SliceInfo } from '../plan/input.js';
import { PlanState } from '../plan/state.js';
import type { Vtysh } from '../router/frr/vtysh.js';
import type { Router } from '../router/router.js';
import { buildInfo } from '../version.js';
import { FrrMonitor } from './frr-monitor.js';
import { KubeHealth } from './kube-health.js';
import { planProjections } from './projections.js';
import { Reconciler } from './reconciler.js';
import { RouteLedger } from './route-ledger.js';
import {
  recordAppliedEvents,
  recordRefusals,
  recordUnknownClasses,
  type EventSink,
} from './service-events.js';

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

export type Reflectors = ReflectorSet<ServiceInfo, SliceInfo, NodeInfo>;

export interface DaemonParts {
  clock: Clock;
  metrics: Metrics;
  kube: KubeHealth;
  reflectorTimers: ReflectorTimers;
  events: EventSink;
  reflectors: Reflectors;
  ledger: RouteLedger;
  reconciler: Reconciler;
  monitor: FrrMonitor;
}

/**
 * Where watch events go: the reconciler, connected as soon as it is built (it reads the stores of
 * the reflectors that feed it, so one of the two must come first). Nothing runs before the daemon
 * starts, so no event arrives unconnected.
 */
class ClusterChanges {
  private target: Pick<Reconciler, 'changed' | 'clusterSynced'> | undefined;

  connect(target: Pick<Reconciler, 'changed' | 'clusterSynced'>): void {
    this.target = target;
  }

  changed(resource: ReflectedResource, key: string): void {
    this.target?.changed(resource, key);
  }

  synced(): void {
    this.target?.clusterSynced();
  }
}

/** A field of the wrong type in a cluster object: counted always, logged once per field. */
function malformedFieldReporter(metrics: Metrics, log: Logger): (field: string) => void {
  const seen = new Set<string>();
  return (field) => {
    metrics.malformedFields.inc({ field });
    if (seen.has(field)) return;
    seen.add(field);
    log.warn({ field }, `ignoring ${field} of the wrong type in a cluster object (logged once)`);
  };
}

export function wireDaemon(deps: DaemonDeps): DaemonParts {
  const { config, client, router, logger: log } = deps;
  const clock = deps.clock ?? realClock;
  const metrics = deps.metrics ?? new Metrics(buildInfo());
  const kube = new KubeHealth(clock, metrics);
  const reflectorTimers = { ...DEFAULT_TIMERS, ...deps.reflectorTimers };
  const events =
    deps.events ??
    new EventRecorder({
      client,
      nodeName: config.nodeName,
      logger: log,
      hooks: { dropped: (reason) => metrics.kubeEventsDropped.inc({ reason }) },
      clock,
    });

  const changes = new ClusterChanges();
  const health = kube.hooks();
  const hooks: ReflectorHooks = {
    ...health,
    // A reflector listed: plan now (the reconciler plans only once every reflector has listed).
    synced: (resource, synced) => {
      health.synced?.(resource, synced);
      if (synced) changes.synced();
    },
  };
  const reflectors: Reflectors = new ReflectorSet({
    client,
    namespaces: config.services.namespaces,
    serviceLabelSelector: config.services.labelSelector,
    nodeName: config.nodeName,
    projections: planProjections(config.nodeName, malformedFieldReporter(metrics, log)),
    logger: log.child({ component: 'reflector' }),
    hooks,
    onChange: (resource, key) => changes.changed(resource, key),
    timers: reflectorTimers,
    clock,
  });

  // The reflectors ask the API server for services.labelSelector and keep no labels.
  const settings = { ...planSettings(config), labelSelector: '' };
  const state = new PlanState({ nodeName: config.nodeName, settings, missingNode: 'advertise-nothing' });
  const ledger = new RouteLedger(metrics);
  const reconciler = new Reconciler({
    cluster: {
      synced: () => reflectors.synced,
      services: () => reflectors.serviceItems(),
      endpointSlices: () => reflectors.endpointSliceItems(),
      service: (key) => reflectors.service(key),
      endpointSlice: (key) => reflectors.endpointSlice(key),
      node: () => reflectors.nodeObject(),
    },
    router,
    settings,
    state,
    ledger,
    classMarks: new Map(Object.entries(config.routeClasses).map(([name, c]) => [name, c.mark])),
    nodeName: config.nodeName,
    applyEnabled: config.bgp.enabled,
    loopIntervalSeconds: config.loopIntervalSeconds,
    logger: log,
    metrics,
    clock,
    onAppliedChanges: (applied) => recordAppliedEvents(events, state, applied),
    onDecisionChanges: (found) => recordRefusals(events, state, config.nodeName, found),
    onUnknownRouteClasses: (found) => recordUnknownClasses(events, state, config.nodeName, found),
  });
  changes.connect(reconciler);

  const monitor = new FrrMonitor({
    vtysh: deps.vtysh,
    origination: config.frr.origination,
    routeClasses: Object.entries(config.routeClasses).map(([name, c]) => ({ name, mark: c.mark })),
    socketDir: config.frr.socketDir,
    asn: config.bgp.asn,
    intervalSeconds: config.loopIntervalSeconds,
    logger: log,
    metrics,
    clock,
    installed: ledger,
    advertises: (prefix) => state.advertises(prefix),
    onRestart: () => reconciler.resync(),
  });
  return { clock, metrics, kube, reflectorTimers, events, reflectors, ledger, reconciler, monitor };
}
