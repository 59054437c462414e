// The reconcile loop (level-triggered, as client-go controllers are). A watch event only queues the
// key it touched; one worker takes the queued keys, reads their current state from the stores, lets
// the incremental plan decide the affected Services again, and applies just the prefixes that
// flipped. The cost of one change follows the change, not the cluster. A full recompute from the
// stores and a full diff against the routes read back from the router happen at start, at every
// resync (loopIntervalSeconds), after a failed apply and after an FRR restart.
// Fail static: until every reflector has listed once, nothing is planned or applied, and a broken
// API server leaves the stores (and so the routes) as they were; a failed apply keeps the routes
// and forces a read-back, never a withdrawal. The installed routes are in route-ledger.ts, the
// diff is the router's diffPrefixes, and what is told about decisions is in decision-reporter.ts.
import { realClock, type Clock, type Timer } from '../clock.js';
import { errorMessage, CosmoletError } from '../errors.js';
import type { ReflectedResource } from '../kube/reflector.js';
import type { Logger } from '../logger.js';
import { PlanState } from '../plan/state.js';
import type { Plan, PlanSettings } from '../plan/types.js';
import { diffPrefixes, diffSize, type PrefixDiff, type Router } from '../router/router.js';
import { ChangeQueue, type ClusterSource } from './change-queue.js';
import { DecisionReporter, type DecisionReporterOptions } from './decision-reporter.js';
import { RouteLedger } from './route-ledger.js';
import { CoalescingTrigger } from './trigger.js';

export interface ReconcilerOptions extends Omit<DecisionReporterOptions, 'logger'> {
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
  /** Where the installed routes are published (default: a ledger of its own). */
  ledger?: RouteLedger;
  /** The plan it keeps, for readers built before it (default: one of its own from `settings`). */
  state?: PlanState;
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
  readonly state: PlanState;
  private readonly trigger: CoalescingTrigger;
  private readonly ledger: RouteLedger;
  private readonly reporter: DecisionReporter;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly progress: Omit<ReconcileStatus, 'installed'>;
  private readonly queue = new ChangeQueue();
  /** Prefixes that flipped since the last converge; a full diff replaces them when one is due. */
  private readonly pendingPrefixes = new Set<string>();
  private readBackDue = true;
  private pendingEventAt: number | undefined;
  private retryDelayMs: number;
  private retryTimer: Timer | undefined;
  private resyncTimer: Timer | undefined;
  /** Stopped, or withdrawing: no reconcile may run (and re-add what a withdrawal removes). */
  private stopped = false;

  constructor(private readonly opts: ReconcilerOptions) {
    this.log = opts.logger.child({ component: 'reconciler' });
    this.clock = opts.clock ?? realClock;
    this.retryDelayMs = opts.retryMinMs ?? 500;
    this.progress = {
      planned: false,
      lastOk: undefined,
      lastError: undefined,
      lastRunAt: this.clock.now(),
      runningSince: undefined,
      planVersion: 0,
    };
    this.state =
      opts.state ??
      new PlanState({ nodeName: opts.nodeName, settings: opts.settings, missingNode: 'advertise-nothing' });
    this.ledger = opts.ledger ?? new RouteLedger(opts.metrics);
    this.reporter = new DecisionReporter({ ...opts, logger: this.log });
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
  changed(resource: ReflectedResource, key: string, at: number = this.clock.now()): void {
    this.queue.add(resource, key);
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
    this.queue.addEverything();
    this.readBackDue = true;
    this.trigger.fire(true);
  }

  /** A copy: nothing the caller does with it reaches the reconciler. */
  status(): ReconcileStatus {
    return { ...this.progress, installed: this.ledger.snapshot() };
  }

  /** The whole plan (built on demand, kept until it changes); undefined before the first plan. */
  plan(): Plan | undefined {
    return this.progress.planned ? this.state.plan() : undefined;
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
    this.stopped = true;
    const owned = await this.opts.router.read();
    if (owned.size === 0) return 0;
    await this.opts.router.apply({ add: [], remove: [...owned.keys()].sort() });
    this.ledger.reset(new Map());
    this.log.info({ withdrawn: owned.size }, `withdrew all ${owned.size} routes cosmolet owned`);
    return owned.size;
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    const { cluster, metrics } = this.opts;
    const { progress } = this;
    const started = this.clock.now();
    progress.runningSince = started;
    const eventAt = this.pendingEventAt;
    this.pendingEventAt = undefined;
    try {
      if (!cluster.synced()) {
        this.log.debug('waiting for every reflector to list once before planning');
        return;
      }
      metrics.reconciles.inc();
      this.queue.drainInto(this.state, cluster);
      const update = this.state.update();
      for (const p of update.flipped) this.pendingPrefixes.add(p);
      for (const p of update.reclassed) this.pendingPrefixes.add(p);
      this.reporter.unknownClasses(update.unknownRouteClasses);
      const first = !progress.planned;
      progress.planned = true;
      if (update.decided > 0 || first) progress.planVersion++;
      const fullDiff = this.readBackDue;
      await this.readBack();
      this.reporter.planUpdated(this.state, update.changes, first, this.ledger.routes);
      await this.converge(fullDiff, eventAt);
      progress.lastOk = true;
      progress.lastError = undefined;
      this.retryDelayMs = this.opts.retryMinMs ?? 500;
    } catch (err) {
      this.fail(err, eventAt);
    } finally {
      const end = this.clock.now();
      metrics.reconcileDuration.observe((end - started) / 1000);
      progress.lastRunAt = end;
      progress.runningSince = undefined;
    }
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

  /** What the router must change: every prefix after a read-back, else only those that flipped. */
  private diff(full: boolean): PrefixDiff {
    const desired = new Map<string, number>();
    for (const p of full ? this.state.advertised() : this.pendingPrefixes) {
      if (!this.state.advertises(p) || this.ledger.conflicted(p)) continue;
      const cls = this.state.classOf(p);
      desired.set(p, cls ? (this.opts.classMarks?.get(cls) ?? 0) : 0);
    }
    return diffPrefixes(desired, this.ledger.routes, full ? undefined : this.pendingPrefixes);
  }

  /** Makes the router hold exactly the plan's prefixes. */
  private async converge(full: boolean, eventAt: number | undefined): Promise<void> {
    const { router, metrics } = this.opts;
    // A plan-only node installs nothing, so it has nothing to tell in Events either.
    const diff = this.opts.applyEnabled ? this.diff(full) : undefined;
    this.pendingPrefixes.clear();
    if (!diff || diffSize(diff) === 0) {
      this.reporter.nothingApplied();
      return;
    }
    // From here on the baseline is unknown until the apply succeeds (a failure forces a full diff).
    this.readBackDue = true;
    metrics.applies.inc();
    const result = await router.apply(diff);
    this.ledger.applied(diff, new Set(result.conflicts));
    this.readBackDue = false;
    if (eventAt !== undefined) metrics.eventToInstalled.observe((this.clock.now() - eventAt) / 1000);
    this.reporter.applied(diff, result);
  }

  private fail(err: unknown, eventAt: number | undefined): void {
    const message = errorMessage(err);
    this.progress.lastOk = false;
    this.progress.lastError = message;
    this.readBackDue = true;
    // The events of this batch are not handled yet: keep their time for the latency metric.
    if (eventAt !== undefined) this.pendingEventAt = Math.min(eventAt, this.pendingEventAt ?? eventAt);
    const reason = err instanceof CosmoletError ? err.code : 'UNEXPECTED';
    this.opts.metrics.reconcileErrors.inc({ reason });
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.opts.retryMaxMs ?? 30_000);
    this.log.error({ err, code: reason, retryInMs: delay }, `reconcile failed: ${message}`);
    if (this.stopped) return;
    this.retryTimer?.cancel();
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.trigger.fire(true);
    }, delay);
  }
}
