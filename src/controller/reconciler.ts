// The reconcile loop (level-triggered, as client-go controllers are). A watch event only queues the
// key it touched; one worker takes the queued keys, reads their current state from the stores, lets
// the incremental plan decide the affected Services again, and applies just the prefixes that
// flipped. The cost of one change follows the change, not the cluster. A full plan from the stores
// and a full diff against the routes read back from the router happen at start, after a failed
// apply, after an FRR restart and after a gap in the route watch.
// The periodic full check (recheck and read-back beside the worker) is in full-check.ts, the cold
// start's sliced first plan in first-plan.ts; both take what they share from here.
// Fail static: until every reflector has listed once, nothing is planned or applied, and a broken
// API server leaves the stores (and so the routes) as they were; a failed apply keeps the routes
// and forces a read-back, never a withdrawal. The installed routes are in route-ledger.ts, what
// the router should hold in desired-routes.ts (its one diff the router's diffPrefixes), and what is
// told about decisions in decision-reporter.ts.
import { realClock, type Clock, type Timer } from '../clock.js';
import { errorMessage, CosmoletError } from '../errors.js';
import type { ReflectedResource } from '../kube/reflector.js';
import type { Logger } from '../logger.js';
import { PlanState, type PlanUpdate } from '../plan/state.js';
import type { DecisionChange, Plan } from '../plan/types.js';
import { diffSize, type PrefixDiff, type RouteWatch } from '../router/router.js';
import { ChangeQueue } from './change-queue.js';
import { DecisionReporter } from './decision-reporter.js';
import { DesiredRoutes } from './desired-routes.js';
import { FirstPlan } from './first-plan.js';
import { FullCheck } from './full-check.js';
import type { ReconcileStatus, ReconcilerOptions } from './reconciler-options.js';
import { RouteLedger } from './route-ledger.js';
import type { RouteWatchTarget } from './route-watch.js';
import { CoalescingTrigger } from './trigger.js';

export type { ReconcileStatus, ReconcilerOptions } from './reconciler-options.js';

export class Reconciler implements RouteWatchTarget {
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
  private readonly check: FullCheck;
  private readonly desired: DesiredRoutes;
  private readonly first: FirstPlan;
  private pendingEventAt: number | undefined;
  private retryDelayMs: number;
  private retryTimer: Timer | undefined;
  private resyncTimer: Timer | undefined;
  /** Stopped, or withdrawing: no reconcile may run (and re-add what a withdrawal removes). */
  private stopped = false;
  /** Prefixes an apply found held by another protocol's route: retried after each read-back. */
  private readonly conflicts = new Set<string>();
  /** The prefixes installed before cosmolet applied anything (adopted), until the first plan is told. */
  private adoptable: ReadonlySet<string> | undefined;

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
    this.desired = new DesiredRoutes(this.state, this.ledger, opts.classMarks);
    const shared = {
      cluster: opts.cluster,
      state: this.state,
      queue: this.queue,
      ledger: this.ledger,
      recheckSlice: opts.recheckSlice ?? 256,
      pending: this.pendingPrefixes,
      noteUpdate: (update: PlanUpdate) => this.noteUpdate(update, false),
    };
    this.check = new FullCheck({
      ...shared,
      router: opts.router,
      reporter: this.reporter,
      log: this.log,
      applyEnabled: opts.applyEnabled,
      fullEvery: Math.max(1, Math.round((opts.fullCheckSeconds ?? 300) / opts.loopIntervalSeconds)),
      conflicts: this.conflicts,
      planned: () => this.progress.planned,
      stopped: () => this.stopped,
      wake: () => this.trigger.fire(true),
    });
    this.first = new FirstPlan({
      ...shared,
      readBack: () => this.readBack(),
      desired: this.desired,
      applyDiff: (diff) => this.applyDiff(diff, undefined),
      planChanged: () => void this.progress.planVersion++,
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
    this.resyncTimer = this.clock.setInterval(() => this.tick(), this.opts.loopIntervalSeconds * 1000);
    this.trigger.fire(true);
  }

  /** The route watch and what it sees lost are the full check's: they keep the ledger current. */
  watchedBy(watch: RouteWatch): void {
    this.check.watchedBy(watch);
  }

  routesLost(prefixes: readonly string[], freed?: readonly string[]): void {
    this.check.routesLost(prefixes, freed);
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

  /** A full resync (an FRR restart, a gap in the route watch): read back before the next diff, recheck everything. */
  resync(): void {
    this.check.resync();
  }

  /** The loop interval: maybe a full check beside the worker, and a run (which tells /healthz the loop is alive). */
  private tick(): void {
    this.check.tick();
    this.trigger.fire(true);
  }

  /** Records what an update changed: the prefixes to diff, unknown classes, the plan's version. */
  private noteUpdate(update: PlanUpdate, first: boolean): void {
    for (const p of update.flipped) this.pendingPrefixes.add(p);
    for (const p of update.reclassed) this.pendingPrefixes.add(p);
    this.reporter.unknownClasses(update.unknownRouteClasses);
    if (update.decided > 0 || first) this.progress.planVersion++;
  }

  /**
   * A copy: nothing the caller does with it reaches the reconciler. The installed routes are taken
   * when read: /readyz and /healthz never read them, and a snapshot per probe after each flip cost
   * 15 ms at 50,000 Services.
   */
  status(): ReconcileStatus {
    const { ledger } = this;
    return {
      ...this.progress,
      get installed() {
        return ledger.snapshot();
      },
    };
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

  /** One run of the worker; false when it touched the router not at all (no rate bound for it). */
  private async reconcile(): Promise<boolean> {
    if (this.stopped) return false;
    const { cluster, metrics } = this.opts;
    const { progress } = this;
    const started = this.clock.now();
    progress.runningSince = started;
    const eventAt = this.pendingEventAt;
    this.pendingEventAt = undefined;
    let worked = true;
    try {
      if (!cluster.synced()) {
        this.log.debug('waiting for every reflector to list once before planning');
        return false;
      }
      metrics.reconciles.inc();
      const first = !progress.planned;
      const fullDiff = this.check.readBackDue;
      let changes: DecisionChange[];
      if (first && this.opts.applyEnabled && this.queue.takeEverything()) {
        changes = await this.first.run();
      } else {
        this.queue.drainInto(this.state, cluster);
        const update = this.state.update();
        this.noteUpdate(update, first);
        changes = update.changes;
        if (fullDiff) await this.readBack();
        else await this.check.mergeVerified();
      }
      progress.planned = true;
      this.reporter.planUpdated(this.state, changes, first, this.adoptable ?? this.ledger.routes);
      this.adoptable = undefined;
      worked = (await this.converge(fullDiff, eventAt)) || fullDiff;
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
    return worked;
  }

  /** The read-back that holds the worker; the first one also tells which routes were adopted. */
  private async readBack(): Promise<void> {
    await this.check.readBack();
    if (!this.progress.planned && !this.adoptable) this.adoptable = new Set(this.ledger.routes.keys());
  }

  /** Makes the router hold exactly the plan's prefixes; false when nothing had to change. */
  private async converge(full: boolean, eventAt: number | undefined): Promise<boolean> {
    // A plan-only node installs nothing, so it has nothing to tell in Events either.
    const diff = this.opts.applyEnabled ? this.desired.diff(full, this.pendingPrefixes) : undefined;
    this.pendingPrefixes.clear();
    if (!diff || diffSize(diff) === 0) {
      this.reporter.nothingApplied();
      return false;
    }
    await this.applyDiff(diff, eventAt);
    return true;
  }

  /** Applies one diff and records it in the ledger. */
  private async applyDiff(diff: PrefixDiff, eventAt: number | undefined): Promise<void> {
    const { router, metrics } = this.opts;
    // From here on the baseline is unknown until the apply succeeds (a failure forces a full diff).
    this.check.readBackDue = true;
    metrics.applies.inc();
    this.check.applying(diff);
    const result = await router.apply(diff);
    const conflicts = new Set(result.conflicts);
    for (const p of diff.add) {
      if (conflicts.has(p)) this.conflicts.add(p);
      else this.conflicts.delete(p);
    }
    for (const p of diff.remove) this.conflicts.delete(p);
    this.ledger.applied(diff, conflicts);
    this.check.readBackDue = false;
    if (eventAt !== undefined) metrics.eventToInstalled.observe((this.clock.now() - eventAt) / 1000);
    this.reporter.applied(diff, result);
  }

  private fail(err: unknown, eventAt: number | undefined): void {
    const message = errorMessage(err);
    this.progress.lastOk = false;
    this.progress.lastError = message;
    this.check.readBackDue = true;
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
