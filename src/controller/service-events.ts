// Which decisions become Kubernetes Events. Only what is specific to this node, so their number
// does not grow with the node count: a Local-policy IP this node advertises or withdraws (after the
// apply that did it), a prefix another route holds, and a refused IP from the Service's few reporter
// nodes. What every node decides alike goes to metrics.
import type { ServiceRef } from '../kube/events.js';
import type { PlanState } from '../plan/state.js';
import { unknownClassMessage } from '../plan/route-class.js';
import type { DecisionChange, UnknownRouteClass } from '../plan/types.js';
import { hostPrefixOf } from '../net/prefix.js';
import { explain, type AppliedChanges } from './decision-reporter.js';
import { isReporter } from './reporter-nodes.js';

/** Where the daemon's Events go (the EventRecorder in production). Calls return at once, never throw. */
export interface EventSink {
  advertised(service: ServiceRef, prefix: string): void;
  withdrawn(service: ServiceRef, prefix: string, why?: string): void;
  conflict(service: ServiceRef, prefix: string): void;
  skipped(service: ServiceRef, ip: string, reason: 'invalid-ip' | 'outside-allowed-cidrs'): void;
  /** A Warning: the Service names a route class the config does not have (rule 7's fallback). */
  unknownRouteClass(service: ServiceRef, message: string): void;
  /** Sends what is queued (bounded in time) and accepts nothing more. */
  close(): Promise<void>;
}

/** Events for one successful apply: Local-policy advertise/withdraw, and conflicting prefixes. */
export function recordAppliedEvents(sink: EventSink, state: PlanState, applied: AppliedChanges): void {
  for (const c of applied.local) {
    const svc = state.serviceInfo(c.service);
    if (!svc) continue; // deleted: nothing to attach an Event to
    const prefix = hostPrefixOf(c.ip);
    if (c.to === 'advertised') sink.advertised(svc, prefix);
    else sink.withdrawn(svc, prefix, c.to ? explain(c.to) : undefined);
  }
  for (const prefix of applied.conflicts) {
    for (const key of state.servicesOf(prefix)) {
      const svc = state.serviceInfo(key);
      if (svc) sink.conflict(svc, prefix);
    }
  }
}

/** A refused IP is the same on every node: only the Service's few reporter nodes record it. */
export function recordRefusals(
  sink: EventSink,
  state: PlanState,
  nodeName: string,
  changes: readonly DecisionChange[],
): void {
  for (const c of changes) {
    if (c.to !== 'invalid-ip' && c.to !== 'outside-allowed-cidrs') continue;
    if (!isReporter(c.service, nodeName, state.knownNodes())) continue;
    const svc = state.serviceInfo(c.service);
    if (svc) sink.skipped(svc, c.ip, c.to);
  }
}

/** An unknown route class is the same on every node: only the Service's reporter nodes record it. */
export function recordUnknownClasses(
  sink: EventSink,
  state: PlanState,
  nodeName: string,
  found: readonly UnknownRouteClass[],
): void {
  for (const u of found) {
    if (!isReporter(u.service, nodeName, state.knownNodes())) continue;
    const svc = state.serviceInfo(u.service);
    if (svc) sink.unknownRouteClass(svc, unknownClassMessage(u));
  }
}
