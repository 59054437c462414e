// Prometheus metrics, all prefixed cosmolet_. Labels are bounded (family, reason, resource, peer):
// never a Service name, so 10,000 Services do not make 10,000 series.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { EVENT_LOOP_LAG_NAMES, registerEventLoopLag } from './event-loop-lag.js';
import { ErrorCodes } from '../errors.js';
import type { ReflectedResource, WatchEventType, WatchRestartReason } from '../kube/reflector.js';
import type { EventDropReason } from '../kube/events.js';
import { MALFORMED_FIELDS } from '../plan/input.js';
import { SKIP_REASONS } from '../plan/types.js';
import type { BuildInfo } from '../version.js';

// The known values of bounded labels (records, so a new value in the union fails to compile here).
const RESOURCES = keys<ReflectedResource>({ services: 1, endpointslices: 1, nodes: 1 });
const WATCH_RESTART_REASONS = keys<WatchRestartReason>({ closed: 1, gone: 1, watchdog: 1, error: 1 });
const WATCH_EVENT_TYPES = keys<WatchEventType>({ ADDED: 1, MODIFIED: 1, DELETED: 1, BOOKMARK: 1, ERROR: 1 });
const EVENT_DROP_REASONS = keys<EventDropReason>({
  'queue-full': 1,
  'rate-limited': 1,
  'api-error': 1,
  closed: 1,
});
/** What a reconcile fails with: the router's error codes, or UNEXPECTED (src/controller/reconciler.ts). */
export const RECONCILE_ERROR_REASONS = [
  ErrorCodes.COMMAND_TIMEOUT,
  ErrorCodes.COMMAND_FAILED,
  ErrorCodes.ROUTER_PARSE,
  ErrorCodes.ROUTER_APPLY,
  ErrorCodes.PREFIX_INVALID,
  'UNEXPECTED',
];

function keys<K extends string>(record: Record<K, 1>): K[] {
  return Object.keys(record) as K[];
}

/**
 * prom-client's default gauges that `promtool check metrics` rejects (a gauge named `_total`); the
 * same counts stay available per type in nodejs_active_{handles,requests,resources}.
 */
const NON_CONFORMING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * prom-client's own event-loop delay monitor cannot be turned off; its metrics are replaced by
 * observe/event-loop-lag.ts, and it samples once a second so that it costs nothing.
 */
const PROM_CLIENT_LOOP_SAMPLE_MS = 1000;

export class Metrics {
  readonly registry = new Registry();

  readonly ready = this.gauge('cosmolet_ready', '1 when /readyz answers 200');
  readonly advertisedPrefixes = this.gauge('cosmolet_advertised_prefixes', 'Prefixes the plan advertises', [
    'family',
  ]);
  readonly advertisedByClass = this.gauge(
    'cosmolet_advertised_prefixes_by_class',
    'Prefixes the plan advertises, by route class (class="" for routes without one)',
    ['class'],
  );
  readonly installedPrefixes = this.gauge(
    'cosmolet_installed_prefixes',
    'Prefixes installed by cosmolet (kernel routes or FRR static routes), by family',
    ['family'],
  );
  readonly skippedIPs = this.gauge('cosmolet_skipped_ips', 'Service IPs not advertised, by reason', [
    'reason',
  ]);
  readonly reconciles = new Counter({
    name: 'cosmolet_reconciles_total',
    help: 'Reconciles run',
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'cosmolet_reconcile_errors_total',
    help: 'Reconciles that failed, by reason (error code)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'cosmolet_reconcile_duration_seconds',
    help: 'Time of one reconcile: plan, read-back when due, apply',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly applies = new Counter({
    name: 'cosmolet_router_applies_total',
    help: 'Batches applied to the router',
    registers: [this.registry],
  });
  readonly routesAdded = new Counter({
    name: 'cosmolet_routes_added_total',
    help: 'Prefixes installed',
    labelNames: ['family'],
    registers: [this.registry],
  });
  readonly routesWithdrawn = new Counter({
    name: 'cosmolet_routes_withdrawn_total',
    help: 'Prefixes withdrawn',
    labelNames: ['family'],
    registers: [this.registry],
  });
  readonly eventToInstalled = new Histogram({
    name: 'cosmolet_event_to_installed_seconds',
    help: 'Time from the first Kubernetes watch event of a batch to its routes being installed',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly reflectorSynced = this.gauge('cosmolet_reflector_synced', '1 once the first full list arrived', [
    'resource',
  ]);
  readonly reflectorRelists = new Counter({
    name: 'cosmolet_reflector_relists_total',
    help: 'Full lists (initial and after 410 Gone)',
    labelNames: ['resource'],
    registers: [this.registry],
  });
  readonly reflectorWatchRestarts = new Counter({
    name: 'cosmolet_reflector_watch_restarts_total',
    help: 'Watches restarted, by reason',
    labelNames: ['resource', 'reason'],
    registers: [this.registry],
  });
  readonly reflectorEvents = new Counter({
    name: 'cosmolet_reflector_events_total',
    help: 'Watch events received, by type',
    labelNames: ['resource', 'type'],
    registers: [this.registry],
  });
  readonly reflectorLastEvent = this.gauge(
    'cosmolet_reflector_last_event_timestamp_seconds',
    'Unix time of the last watch event',
    ['resource'],
  );
  readonly kubeEventsDropped = new Counter({
    name: 'cosmolet_kube_events_dropped_total',
    help: 'Kubernetes Events not posted (queue full, rate limit, or refused by the API)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly peerEstablished = this.gauge(
    'cosmolet_bgp_peer_established',
    '1 when the BGP session is Established',
    ['peer'],
  );
  readonly peerPrefixesSent = this.gauge('cosmolet_bgp_peer_prefixes_sent', 'Prefixes sent to the peer', [
    'peer',
    'afi',
  ]);
  readonly bgpHeld = this.gauge(
    'cosmolet_bgp_prefixes_valid_best',
    'Advertised prefixes that bgpd holds as a valid best path, by family',
    ['family'],
  );
  readonly decisionChanges = new Counter({
    name: 'cosmolet_decision_changes_total',
    help: 'Service IP decisions that changed on this node, by new state (advertised, a skip reason, or gone); Events are recorded only for node-specific ones',
    labelNames: ['to'],
    registers: [this.registry],
  });
  readonly malformedFields = new Counter({
    name: 'cosmolet_malformed_fields_total',
    help: 'Fields of Kubernetes objects dropped at ingest for having the wrong type (resource.field)',
    labelNames: ['field'],
    registers: [this.registry],
  });
  readonly frrRestarts = new Counter({
    name: 'cosmolet_frr_restarts_detected_total',
    help: 'FRR daemon restarts detected (each triggers a full read-back and re-apply)',
    registers: [this.registry],
  });
  readonly buildInfo = this.gauge('cosmolet_build_info', 'Build information (always 1)', [
    'version',
    'commit',
    'nodejs',
  ]);

  constructor(info: BuildInfo) {
    collectDefaultMetrics({
      register: this.registry,
      eventLoopMonitoringPrecision: PROM_CLIENT_LOOP_SAMPLE_MS,
    });
    for (const name of [...NON_CONFORMING_DEFAULTS, ...EVENT_LOOP_LAG_NAMES])
      this.registry.removeSingleMetric(name);
    registerEventLoopLag(this.registry);
    // Series with a bounded label set exist from the start, so rate(), increase() and alerts see a
    // 0 before the first occurrence, not nothing (which would hide the first error).
    for (const family of ['ipv4', 'ipv6']) {
      this.advertisedPrefixes.set({ family }, 0);
      this.installedPrefixes.set({ family }, 0);
      this.bgpHeld.set({ family }, 0);
      this.routesAdded.inc({ family }, 0);
      this.routesWithdrawn.inc({ family }, 0);
    }
    for (const to of ['advertised', 'gone', ...SKIP_REASONS]) this.decisionChanges.inc({ to }, 0);
    for (const field of MALFORMED_FIELDS) this.malformedFields.inc({ field }, 0);
    for (const reason of RECONCILE_ERROR_REASONS) this.reconcileErrors.inc({ reason }, 0);
    for (const resource of RESOURCES) {
      this.reflectorRelists.inc({ resource }, 0);
      for (const reason of WATCH_RESTART_REASONS) this.reflectorWatchRestarts.inc({ resource, reason }, 0);
      for (const type of WATCH_EVENT_TYPES) this.reflectorEvents.inc({ resource, type }, 0);
    }
    for (const reason of EVENT_DROP_REASONS) this.kubeEventsDropped.inc({ reason }, 0);
    this.buildInfo.set({ version: info.version, commit: info.commit, nodejs: info.nodejs }, 1);
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}
