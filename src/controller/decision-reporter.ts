// What the reconciler tells about its decisions: the plan's metrics, one log line per (Service, IP)
// that changed (a summary per outcome for the first plan of a large cluster), and the handlers the
// daemon turns into Events. Local-policy decisions wait here for the apply that carries them out.
// A reconcile that changes nothing tells nothing, so logs say what happened, not that a loop ran.
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { hostPrefixOf } from '../net/prefix.js';
import type { Metrics } from '../observe/metrics.js';
import { unknownClassMessage } from '../plan/route-class.js';
import type { PlanState } from '../plan/state.js';
import type { DecisionChange, DecisionState, SkipReason, UnknownRouteClass } from '../plan/types.js';
import type { ApplyResult, PrefixDiff } from '../router/router.js';

/** What one successful apply did, with the decision changes behind it (for Events). */
export interface AppliedChanges {
  added: ReadonlySet<string>;
  removed: ReadonlySet<string>;
  conflicts: readonly string[];
  /** Node-specific (Local policy) advertise/withdraw decisions whose prefix this apply changed. */
  local: DecisionChange[];
}

export interface DecisionReporterOptions {
  logger: Logger;
  metrics: Metrics;
  /** Called with the decision changes of each plan update. Must not throw. */
  onDecisionChanges?: (changes: DecisionChange[], first: boolean) => void;
  /** Called with Services whose route-class annotation names no configured class, once per change. */
  onUnknownRouteClasses?: (found: UnknownRouteClass[]) => void;
  /** Called after an apply changed the router's routes. Must not throw. */
  onAppliedChanges?: (applied: AppliedChanges) => void;
}

export class DecisionReporter {
  private readonly log: Logger;
  /** Local-policy advertise/withdraw decisions waiting for the apply that carries them out. */
  private readonly pendingLocal = new Map<string, DecisionChange[]>();

  constructor(private readonly opts: DecisionReporterOptions) {
    this.log = opts.logger;
  }

  /** Rule 7: a class annotation naming no configured class is a log line and (by the handler) an Event. */
  unknownClasses(found: UnknownRouteClass[]): void {
    if (found.length === 0) return;
    for (const u of found)
      this.log.warn({ service: u.service, routeClass: u.annotated }, unknownClassMessage(u));
    try {
      this.opts.onUnknownRouteClasses?.(found);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'unknown route class handler failed');
    }
  }

  /** Metrics, log lines and the change handler for one plan update; `installed` counts adoptions. */
  planUpdated(
    state: PlanState,
    changes: DecisionChange[],
    first: boolean,
    installed: { has(prefix: string): boolean },
  ): void {
    const { metrics } = this.opts;
    const fam = state.advertisedByFamily();
    metrics.advertisedPrefixes.set({ family: 'ipv4' }, fam.ipv4);
    metrics.advertisedPrefixes.set({ family: 'ipv6' }, fam.ipv6);
    for (const [reason, n] of state.skippedByReason()) metrics.skippedIPs.set({ reason }, n);
    for (const [cls, n] of state.advertisedByClass()) metrics.advertisedByClass.set({ class: cls }, n);
    const byState = new Map<string, number>();
    for (const c of changes) {
      const to = c.to ?? 'gone';
      byState.set(to, (byState.get(to) ?? 0) + 1);
      if (c.local && (c.to === 'advertised' || c.from === 'advertised')) {
        const prefix = hostPrefixOf(c.ip);
        const list = this.pendingLocal.get(prefix);
        if (list) list.push(c);
        else this.pendingLocal.set(prefix, [c]);
      }
    }
    for (const [to, n] of byState) metrics.decisionChanges.inc({ to }, n);
    if (first) this.summarizeFirstPlan(changes, installed);
    else {
      for (const c of changes) {
        const refused = c.to === 'invalid-ip' || c.to === 'outside-allowed-cidrs';
        const level = refused ? 'warn' : c.to === 'advertised' || c.from === 'advertised' ? 'info' : 'debug';
        this.log[level]({ service: c.service, ip: c.ip, from: c.from, to: c.to }, describeChange(c));
      }
    }
    if (changes.length === 0) return;
    try {
      this.opts.onDecisionChanges?.(changes, first);
    } catch (err) {
      this.log.warn({ err }, 'decision change handler failed');
    }
  }

  /** Nothing was applied (plan-only, or no route to change): the held decisions have no Event. */
  nothingApplied(): void {
    this.pendingLocal.clear();
  }

  /** Log lines and the applied-changes handler for one successful apply. */
  applied(diff: PrefixDiff, result: ApplyResult): void {
    for (const p of result.conflicts) {
      this.log.warn({ prefix: p }, `not installing ${p}: a route that is not cosmolet's holds it`);
    }
    const conflicts = new Set(result.conflicts);
    const added = new Set(diff.add.filter((p) => !conflicts.has(p)));
    const removed = new Set(diff.remove);
    const local: DecisionChange[] = [];
    for (const [prefix, changes] of this.pendingLocal) {
      if (added.has(prefix)) local.push(...changes.filter((c) => c.to === 'advertised'));
      else if (removed.has(prefix)) local.push(...changes.filter((c) => c.from === 'advertised'));
    }
    this.pendingLocal.clear();
    try {
      this.opts.onAppliedChanges?.({ added, removed, conflicts: result.conflicts, local });
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'applied-changes handler failed');
    }
    const remarked = diff.remark?.length ?? 0;
    this.log.info(
      { added: diff.add.length, withdrawn: diff.remove.length, remarked, ms: result.durationMs },
      `routes updated: +${diff.add.length} -${diff.remove.length}${remarked > 0 ? ` re-marked ${remarked}` : ''}`,
    );
  }

  /**
   * The first plan of a large cluster is thousands of "new" decisions: one summary line per
   * outcome (with how many advertised routes were adopted, already installed by an earlier run),
   * and a debug line per (Service, IP).
   */
  private summarizeFirstPlan(changes: DecisionChange[], installed: { has(prefix: string): boolean }): void {
    const byOutcome = new Map<string, DecisionChange[]>();
    const debug = this.log.isLevelEnabled('debug');
    for (const c of changes) {
      if (debug) this.log.debug({ service: c.service, ip: c.ip, from: c.from, to: c.to }, describeChange(c));
      const k = c.to ?? 'gone';
      const list = byOutcome.get(k);
      if (list) list.push(c);
      else byOutcome.set(k, [c]);
    }
    for (const [outcome, list] of byOutcome) {
      if (outcome === 'advertised') {
        const adopted = list.filter((c) => installed.has(hostPrefixOf(c.ip))).length;
        this.log.info(
          { outcome, count: list.length, adopted },
          `first plan: ${list.length} Service IPs to advertise (${adopted} already installed, adopted)`,
        );
      } else {
        const refused = outcome === 'invalid-ip' || outcome === 'outside-allowed-cidrs';
        const examples = list.slice(0, 5).map((c) => `${c.service} ${c.ip}`);
        this.log[refused ? 'warn' : 'info'](
          { outcome, count: list.length, examples },
          `first plan: ${list.length} Service IPs not advertised: ${outcome as SkipReason}`,
        );
      }
    }
  }
}

const EXPLAIN: Record<SkipReason, string> = {
  'invalid-ip': 'not a valid IP address',
  'opted-out': 'the Service has cosmolet.io/advertise: "false"',
  'kind-disabled': 'this kind of IP is not enabled in the config',
  'other-load-balancer-class': 'another load-balancer implementation owns it (spec.loadBalancerClass)',
  'outside-allowed-cidrs': 'outside advertise.allowedCIDRs',
  'node-excluded': 'the node carries node.kubernetes.io/exclude-from-external-load-balancers',
  'node-unschedulable': 'the node is cordoned',
  'node-missing': 'the Node object is not in the API',
  'no-local-endpoints': 'no ready endpoint on this node',
  'no-ready-endpoints': 'no ready endpoint',
};

/** Why a (Service, IP) is in this state, in words (log lines and Events). */
export function explain(state: DecisionState): string {
  return state === 'advertised' ? 'endpoints ready' : EXPLAIN[state];
}

/** One readable line per change, e.g. "advertising 10.96.0.10/32 for default/web: endpoints ready". */
export function describeChange(c: DecisionChange): string {
  const prefix = c.to === 'invalid-ip' || c.from === 'invalid-ip' ? c.ip : hostPrefixOf(c.ip);
  if (c.to === 'advertised') return `advertising ${prefix} for ${c.service}: ${explain('advertised')}`;
  if (c.to === undefined) {
    return c.from === 'advertised'
      ? `withdrawing ${prefix} for ${c.service}: the Service no longer carries it`
      : `forgetting ${prefix} for ${c.service}: the Service no longer carries it`;
  }
  const verb = c.from === 'advertised' ? 'withdrawing' : 'not advertising';
  return `${verb} ${prefix} for ${c.service}: ${c.to} (${explain(c.to)})`;
}
