// The reconcile loop (level-triggered, as client-go controllers are). A watch event only queues the
// key it touched; one worker takes the queued keys, reads their current state from the stores, lets
// the incremental plan decide the affected Services again, and applies just the prefixes that
// flipped. The cost of one change follows the change, not the cluster. A full recompute from the
// stores and a full diff against the routes read back from the router happen at start, at every
// resync (loopIntervalSeconds), after a failed apply and after an FRR restart.
// Fail static: until every reflector has listed once, nothing is planned or applied, and a broken
// API server leaves the stores (and so the routes) as they were.
// Why one file of this length: the incremental path and the full path share the installed-routes
// view, the retry and the metrics, and their order of effects (plan, diff, apply, read-back) must be
// read in one place to see that a failure never withdraws. What changed per Service IP (the unit
// of log lines and Events) is in decisions.ts.
import { realClock, type Clock, type Timer } from '../clock.js';
import { errorMessage, CosmoletError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { NodeInfo, ServiceInfo, SliceInfo } from '../plan/input.js';
import { hostPrefixOf } from '../net/prefix.js';
import { PlanState } from '../plan/state.js';
import { unknownClassMessage } from '../plan/route-class.js';
import type { DecisionChange, Plan, PlanSettings, SkipReason, UnknownRouteClass } from '../plan/types.js';
import { diffPrefixes, diffSize, type PrefixDiff, type Remark, type Router } from '../router/router.js';
import { describeChange } from './decisions.js';
import { RouteLedger } from './route-ledger.js';
import { CoalescingTrigger } from './trigger.js';

/** What the reconciler reads from the cluster: the reflectors' stores (projections). */
export interface ClusterSource {
  /** True once every reflector has completed its first full list. */
  synced(): boolean;
  services(): Iterable<ServiceInfo>;
  endpointSlices(): Iterable<SliceInfo>;
  service(key: string): ServiceInfo | undefined;
  endpointSlice(key: string): SliceInfo | undefined;
  node(): NodeInfo | undefined;
}

export type ChangedResource = 'services' | 'endpointslices' | 'nodes';

/** What one successful apply did, with the decision changes behind it (for Events). */
export interface AppliedChanges {
  added: ReadonlySet<string>;
  removed: ReadonlySet<string>;
  conflicts: readonly string[];
  /** Node-specific (Local policy) advertise/withdraw decisions whose prefix this apply changed. */
  local: DecisionChange[];
}

export interface ReconcilerOptions {
  cluster: ClusterSource;
  router: Router;
  settings: PlanSettings;
  /** Route class name -> mark (routeClasses); the router carries the mark, not the name. */
  classMarks?: ReadonlyMap<string, number>;
  nodeName: string;
  /** false: plan, log and report, but never apply anything (bgp.enabled). */
  applyEnabled: boolean;
  loopIntervalSeconds: number;
  logger: Logger;
  metrics: Metrics;
  /** Called with the decision changes of each plan update. Must not throw. */
  onDecisionChanges?: (changes: DecisionChange[], first: boolean) => void;
  /** Called with Services whose route-class annotation names no configured class, once per change. */
  onUnknownRouteClasses?: (found: UnknownRouteClass[]) => void;
  /** Called after an apply changed the router's routes. Must not throw. */
  onAppliedChanges?: (applied: AppliedChanges) => void;
  /** Quiet time after the last event before a reconcile starts. */
  settleMs?: number;
  /** Longest a pending event waits, however many follow it. */
  maxDelayMs?: number;
  /** Least time between two reconciles: a flapping endpoint is applied at most 4 times a second. */
  minIntervalMs?: number;
  /** Retry backoff after a failed reconcile: doubles from `retryMinMs` up to `retryMaxMs`. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Default: the real clock. */
  clock?: Clock;
}

export interface ReconcileStatus {
  /** Whether a plan was made (every reflector listed once). */
  planned: boolean;
  /**
   * Prefixes cosmolet has installed with their marks, as of the last read-back or successful apply:
   * a snapshot, which later reconciles do not change and which cannot change the reconciler.
   */
  installed: ReadonlyMap<string, number>;
  /** Whether the last reconcile succeeded; undefined before the first one ran against the router. */
  lastOk: boolean | undefined;
  lastError: string | undefined;
  /** Time of the last finished reconcile attempt (ms since epoch). */
  lastRunAt: number;
  /** When the reconcile in progress started, if one is running. */
  runningSince: number | undefined;
  /** Bumped whenever the plan changes (for caches of documents built from it). */
  planVersion: number;
}

export class Reconciler {
  private readonly trigger: CoalescingTrigger;
  private readonly log: Logger;
  private readonly clock: Clock;
  readonly state: PlanState;
  private planned = false;
  private planVersion = 0;
  private readonly ledger: RouteLedger;
  private readonly queued = { services: new Set<string>(), slices: new Set<string>(), node: false };
  /** Prefixes that flipped since the last converge; a full diff replaces them when one is due. */
  private pendingPrefixes = new Set<string>();
  /** Local-policy advertise/withdraw decisions waiting for the apply that carries them out. */
  private pendingLocal = new Map<string, DecisionChange[]>();
  private recomputeDue = true;
  private readBackDue = true;
  private lastOk: boolean | undefined;
  private lastError: string | undefined;
  private lastRunAt: number;
  private runningSince: number | undefined;
  private pendingEventAt: number | undefined;
  private retryDelayMs: number;
  private retryTimer: Timer | undefined;
  private resyncTimer: Timer | undefined;
  private stopped = false;
  private applying = true;

  constructor(private readonly opts: ReconcilerOptions) {
    this.log = opts.logger.child({ component: 'reconciler' });
    this.clock = opts.clock ?? realClock;
    this.lastRunAt = this.clock.now();
    this.retryDelayMs = opts.retryMinMs ?? 500;
    this.ledger = new RouteLedger(opts.metrics);
    this.state = new PlanState({
      nodeName: opts.nodeName,
      settings: opts.settings,
      missingNode: 'advertise-nothing',
    });
    this.trigger = new CoalescingTrigger({
      // Short: a reconcile costs what changed, so coalescing only needs to catch a burst in flight.
      settleMs: opts.settleMs ?? 5,
      maxDelayMs: opts.maxDelayMs ?? 200,
      minIntervalMs: opts.minIntervalMs ?? 250,
      run: () => this.reconcile(),
      clock: this.clock,
    });
  }

  start(): void {
    this.resyncTimer = this.clock.setInterval(() => this.resync(), this.opts.loopIntervalSeconds * 1000);
    this.trigger.fire(true);
  }

  /** A watch event: the object under `key` may have changed. */
  changed(resource: ChangedResource, key: string, at: number = this.clock.now()): void {
    if (resource === 'services') this.queued.services.add(key);
    else if (resource === 'endpointslices') this.queued.slices.add(key);
    else this.queued.node = true;
    this.pendingEventAt ??= at;
    this.trigger.fire();
  }

  /**
   * Every reflector has listed once: plan now. Needed on its own, since a first list that finds
   * nothing new (an empty namespace retried after a failure) reports no change to wake the loop.
   */
  clusterSynced(): void {
    this.trigger.fire(true);
  }

  /** A full resync: recompute from the stores, read the router back and reconcile now. */
  resync(): void {
    this.recomputeDue = true;
    this.readBackDue = true;
    this.trigger.fire(true);
  }

  status(): ReconcileStatus {
    return {
      planned: this.planned,
      installed: this.ledger.snapshot(),
      lastOk: this.lastOk,
      lastError: this.lastError,
      lastRunAt: this.lastRunAt,
      runningSince: this.runningSince,
      planVersion: this.planVersion,
    };
  }

  /** The whole plan (built on demand, kept until it changes); undefined before the first plan. */
  plan(): Plan | undefined {
    return this.planned ? this.state.plan() : undefined;
  }

  /** Stops reconciling; waits for a reconcile in progress to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.resyncTimer?.cancel();
    this.retryTimer?.cancel();
    await this.trigger.stop();
  }

  /** Decommissioning: removes every route cosmolet owns (read back from the router). */
  async withdrawAll(): Promise<number> {
    this.applying = false;
    const owned = await this.opts.router.read();
    if (owned.size === 0) return 0;
    await this.opts.router.apply({ add: [], remove: [...owned.keys()].sort() });
    this.ledger.reset(new Map());
    this.log.info({ withdrawn: owned.size }, `withdrew all ${owned.size} routes cosmolet owned`);
    return owned.size;
  }

  private async reconcile(): Promise<void> {
    if (this.stopped || !this.applying) return;
    const { cluster, metrics } = this.opts;
    const started = this.clock.now();
    this.runningSince = started;
    const eventAt = this.pendingEventAt;
    this.pendingEventAt = undefined;
    try {
      if (!cluster.synced()) {
        this.log.debug('waiting for every reflector to list once before planning');
        return;
      }
      metrics.reconciles.inc();
      this.takeQueued();
      const update = this.state.update();
      for (const p of update.flipped) this.pendingPrefixes.add(p);
      for (const p of update.reclassed) this.pendingPrefixes.add(p);
      this.reportUnknownClasses(update.unknownRouteClasses);
      const first = !this.planned;
      this.planned = true;
      if (update.decided > 0 || first) this.planVersion++;
      const fullDiff = this.readBackDue;
      await this.readBack();
      this.report(update.changes, first);
      await this.converge(fullDiff, eventAt);
      this.lastOk = true;
      this.lastError = undefined;
      this.retryDelayMs = this.opts.retryMinMs ?? 500;
    } catch (err) {
      this.fail(err, eventAt);
    } finally {
      const end = this.clock.now();
      metrics.reconcileDuration.observe((end - started) / 1000);
      this.lastRunAt = end;
      this.runningSince = undefined;
    }
  }

  /** Feeds the queued keys (or, when due, every object) from the stores into the plan. */
  private takeQueued(): void {
    const { cluster } = this.opts;
    const q = this.queued;
    if (this.recomputeDue) {
      this.state.reset(cluster.services(), cluster.endpointSlices(), cluster.node());
      this.recomputeDue = false;
    } else {
      for (const key of q.slices) this.state.setSlice(key, cluster.endpointSlice(key));
      for (const key of q.services) this.state.setService(key, cluster.service(key));
      if (q.node) this.state.setNode(cluster.node());
    }
    q.services.clear();
    q.slices.clear();
    q.node = false;
  }

  /** Reads the router's actual state back when due (start, resync, after a failure or FRR restart). */
  private async readBack(): Promise<void> {
    if (!this.readBackDue) return;
    if (this.opts.applyEnabled) {
      this.ledger.reset(await this.opts.router.read());
      await this.opts.router.repair?.();
    } else {
      // bgp.enabled false touches nothing; reading back only feeds /status, so its failure is no error.
      const routes = await this.opts.router.read().catch(() => undefined);
      if (routes) this.ledger.reset(routes);
    }
    this.readBackDue = false;
  }

  /** The mark an advertised prefix's route carries: its class's (0: no class). */
  private markOf(prefix: string): number {
    const cls = this.state.classOf(prefix);
    return cls ? (this.opts.classMarks?.get(cls) ?? 0) : 0;
  }

  /** What the router must change: every prefix after a read-back, else only those that flipped. */
  private diff(full: boolean): PrefixDiff {
    const installed = this.ledger.routes;
    const wanted = (p: string): boolean => this.state.advertises(p) && !this.ledger.conflicted(p);
    if (full) {
      const desired = new Map<string, number>();
      for (const p of this.state.advertised()) if (!this.ledger.conflicted(p)) desired.set(p, this.markOf(p));
      return diffPrefixes(desired, installed);
    }
    const add: string[] = [];
    const remove: string[] = [];
    const remark: Remark[] = [];
    const marks = new Map<string, number>();
    for (const p of this.pendingPrefixes) {
      if (wanted(p)) {
        const to = this.markOf(p);
        const from = installed.get(p);
        if (from === undefined) {
          add.push(p);
          if (to !== 0) marks.set(p, to);
        } else if (from !== to) remark.push({ prefix: p, from, to });
      } else if (installed.has(p)) {
        remove.push(p);
      }
    }
    const diff: PrefixDiff = { add: add.sort(), remove: remove.sort() };
    if (marks.size > 0) diff.marks = marks;
    if (remark.length > 0) diff.remark = remark.sort((a, b) => (a.prefix < b.prefix ? -1 : 1));
    return diff;
  }

  /** Makes the router hold exactly the plan's prefixes. */
  private async converge(full: boolean, eventAt: number | undefined): Promise<void> {
    const { router, metrics } = this.opts;
    if (!this.opts.applyEnabled) {
      // A plan-only node installs nothing, so it has nothing to tell in Events either.
      this.pendingPrefixes.clear();
      this.pendingLocal.clear();
      return;
    }
    const diff = this.diff(full);
    this.pendingPrefixes.clear();
    if (diffSize(diff) === 0) {
      this.pendingLocal.clear();
      return;
    }
    // From here on the baseline is unknown until the apply succeeds (a failure forces a full diff).
    this.readBackDue = true;
    metrics.applies.inc();
    const result = await router.apply(diff);
    const conflicts = new Set(result.conflicts);
    this.ledger.applied(diff, conflicts);
    this.readBackDue = false;
    if (eventAt !== undefined) metrics.eventToInstalled.observe((this.clock.now() - eventAt) / 1000);
    for (const p of result.conflicts) {
      this.log.warn({ prefix: p }, `not installing ${p}: a route that is not cosmolet's holds it`);
    }
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

  /** Rule 7: a class annotation naming no configured class is a log line and (by the handler) an Event. */
  private reportUnknownClasses(found: UnknownRouteClass[]): void {
    if (found.length === 0) return;
    for (const u of found)
      this.log.warn({ service: u.service, routeClass: u.annotated }, unknownClassMessage(u));
    try {
      this.opts.onUnknownRouteClasses?.(found);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'unknown route class handler failed');
    }
  }

  /** Metrics, log lines and the change handler for one plan update. */
  private report(changes: DecisionChange[], first: boolean): void {
    const { metrics } = this.opts;
    const fam = this.state.advertisedByFamily();
    metrics.advertisedPrefixes.set({ family: 'ipv4' }, fam.ipv4);
    metrics.advertisedPrefixes.set({ family: 'ipv6' }, fam.ipv6);
    for (const [reason, n] of this.state.skippedByReason()) metrics.skippedIPs.set({ reason }, n);
    for (const [cls, n] of this.state.advertisedByClass()) metrics.advertisedByClass.set({ class: cls }, n);
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
    if (first) this.summarizeFirstPlan(changes);
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

  /**
   * The first plan of a large cluster is thousands of "new" decisions: one summary line per
   * outcome (with how many advertised routes were adopted, already installed by an earlier run),
   * and a debug line per (Service, IP).
   */
  private summarizeFirstPlan(changes: DecisionChange[]): void {
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
        const adopted = list.filter((c) => this.ledger.routes.has(hostPrefixOf(c.ip))).length;
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

  private fail(err: unknown, eventAt: number | undefined): void {
    this.lastOk = false;
    this.lastError = errorMessage(err);
    this.readBackDue = true;
    // The events of this batch are not handled yet: keep their time for the latency metric.
    if (eventAt !== undefined) this.pendingEventAt = Math.min(eventAt, this.pendingEventAt ?? eventAt);
    const reason = err instanceof CosmoletError ? err.code : 'UNEXPECTED';
    this.opts.metrics.reconcileErrors.inc({ reason });
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.opts.retryMaxMs ?? 30_000);
    this.log.error({ err, code: reason, retryInMs: delay }, `reconcile failed: ${this.lastError}`);
    if (this.stopped) return;
    this.retryTimer?.cancel();
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.trigger.fire(true);
    }, delay);
  }
}
