// The reconcile loop (level-triggered, as client-go controllers are). A watch event only queues the
// key it touched; one worker takes the queued keys, reads their current state from the stores, lets
// the incremental plan decide the affected Services again, and applies just the prefixes that
// flipped. The cost of one change follows the change, not the cluster. A full plan from the stores
// and a full diff against the routes read back from the router happen at start, after a failed
// apply, after an FRR restart and after a gap in the route watch.
// The periodic full check (a recheck of every Service and a read-back of every route) never holds
// the worker, so a flip never waits for it: the recheck decides a slice of Services at a time and
// yields between slices; the read-back runs beside the worker and is merged with map lookups,
// trusting the ledger for every prefix applied meanwhile. It runs every loop interval while no
// route watch keeps the ledger current, else every fullCheckSeconds (docs/design.md).
// Fail static: until every reflector has listed once, nothing is planned or applied, and a broken
// API server leaves the stores (and so the routes) as they were; a failed apply keeps the routes
// and forces a read-back, never a withdrawal. The installed routes are in route-ledger.ts, the
// diff is the router's diffPrefixes, and what is told about decisions is in decision-reporter.ts.
// Why one file of this length: the worker, the full check beside it and the sliced first plan all
// write the same pending prefixes, ledger and read-back state, in an order that is the correctness
// argument (what a merge may trust, when a withdrawal may go); split, that order is in no one file.
import { realClock, type Clock, type Timer } from '../clock.js';
import { errorMessage, CosmoletError } from '../errors.js';
import type { ReflectedResource } from '../kube/reflector.js';
import type { Logger } from '../logger.js';
import type { SliceInfo } from '../plan/input.js';
import { PlanState, type PlanUpdate } from '../plan/state.js';
import type { DecisionChange, Plan, PlanSettings } from '../plan/types.js';
import {
  diffPrefixes,
  diffSize,
  type InstalledRoutes,
  type PrefixDiff,
  type Router,
  type RouteWatch,
} from '../router/router.js';
import { ChangeQueue, everyKey, type ClusterSource } from './change-queue.js';
import { DecisionReporter, type DecisionReporterOptions } from './decision-reporter.js';
import { RouteLedger } from './route-ledger.js';
import type { RouteWatchTarget } from './route-watch.js';
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
  /**
   * While a route watch runs, the full check (recheck and read-back) runs every this many seconds
   * instead of every loop interval (default 300).
   */
  fullCheckSeconds?: number;
  /** Services decided per step of a full recheck (default 256: a few ms). */
  recheckSlice?: number;
}

/** A read-back running beside the worker: the prefixes applied since it started trust the ledger. */
interface Verify {
  touched: Set<string>;
  routes?: InstalledRoutes;
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
  private readBackDue = true;
  private pendingEventAt: number | undefined;
  private retryDelayMs: number;
  private retryTimer: Timer | undefined;
  private resyncTimer: Timer | undefined;
  /** Stopped, or withdrawing: no reconcile may run (and re-add what a withdrawal removes). */
  private stopped = false;
  /** Loop intervals since start: every fullEvery-th is a full check while a watch runs. */
  private ticks = 0;
  private readonly fullEvery: number;
  private watch: RouteWatch | undefined;
  /** The sliced recheck in progress, if any. */
  private recheckRun: Promise<void> | undefined;
  private verify: Verify | undefined;
  /** Prefixes an apply found held by another protocol's route: retried after each read-back. */
  private readonly conflicts = new Set<string>();

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
    this.fullEvery = Math.max(1, Math.round((opts.fullCheckSeconds ?? 300) / opts.loopIntervalSeconds));
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
    this.resyncTimer = this.clock.setInterval(() => this.tick(), this.opts.loopIntervalSeconds * 1000);
    this.trigger.fire(true);
  }

  /** The route watch keeps the ledger current while it runs: the loop interval skips the read-back. */
  watchedBy(watch: RouteWatch): void {
    this.watch = watch;
  }

  /**
   * The router's watch saw routes of ours go (re-apply them) or another owner's route at a prefix
   * go (a conflict there is tried again); neither named: read everything back.
   */
  routesLost(prefixes: readonly string[], freed: readonly string[] = []): void {
    if ((prefixes.length === 0 && freed.length === 0) || !this.progress.planned) {
      this.resync();
      return;
    }
    const retry = freed.filter((p) => this.conflicts.has(p));
    const ours = prefixes.filter((p) => this.ledger.routes.has(p));
    if (ours.length === 0 && retry.length === 0) return;
    const routes = new Map(this.ledger.routes);
    for (const p of ours) {
      routes.delete(p);
      this.verify?.touched.add(p);
    }
    for (const p of [...ours, ...retry]) this.pendingPrefixes.add(p);
    // Also forgets the conflicts, so the retried prefixes are diffed again.
    this.ledger.reset(routes);
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

  /** A full resync (an FRR restart, a gap in the route watch): read back before the next diff, recheck everything. */
  resync(): void {
    this.readBackDue = true;
    this.verify = undefined;
    this.startRecheck();
    this.trigger.fire(true);
  }

  /**
   * The loop interval. A full check (read-back and recheck, beside the worker) every time while no
   * watch runs, else every fullEvery-th time; otherwise just a run (what is queued; nothing when
   * idle), which also tells /healthz the loop is alive.
   */
  private tick(): void {
    this.ticks++;
    if (!this.watch?.live() || this.ticks % this.fullEvery === 0) {
      this.startRecheck();
      this.startVerify();
    }
    this.trigger.fire(true);
  }

  /** Re-decides every Service from the stores, a slice at a time, yielding to events between slices. */
  private startRecheck(): void {
    if (this.recheckRun || !this.progress.planned) return;
    this.recheckRun = this.recheck().finally(() => (this.recheckRun = undefined));
  }

  private async recheck(): Promise<void> {
    const { cluster } = this.opts;
    const keys = everyKey(cluster);
    const slice = this.opts.recheckSlice ?? 256;
    this.state.setNode(cluster.node());
    let more = true;
    while (more && !this.stopped) {
      more = this.queue.recheck(keys, slice, this.state, cluster);
      const update = this.state.update();
      const drift = update.flipped.length + update.reclassed.length;
      if (drift > 0) {
        this.log.warn(
          { prefixes: [...update.flipped, ...update.reclassed].slice(0, 10), count: drift },
          `the full recheck found ${drift} prefixes the incremental plan had not (a lost event?): applying them`,
        );
      }
      this.noteUpdate(update, false);
      this.reporter.planUpdated(this.state, update.changes, false, this.ledger.routes);
      if (drift > 0) this.trigger.fire(true);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Reads every route back beside the worker; the next reconcile merges what it found. */
  private startVerify(): void {
    if (this.verify || this.readBackDue || !this.progress.planned) return;
    const verify: Verify = { touched: new Set() };
    this.verify = verify;
    this.opts.router.read().then(
      (routes) => {
        if (this.verify !== verify) return;
        verify.routes = routes;
        this.trigger.fire(true);
      },
      (err: unknown) => {
        if (this.verify !== verify) return;
        this.verify = undefined;
        // bgp.enabled false only feeds /status from the read; a failed one is no error there.
        if (!this.opts.applyEnabled) return;
        this.log.warn(
          { err },
          `reading the routes back failed: ${errorMessage(err)}; reading again before the next apply`,
        );
        this.readBackDue = true;
        this.trigger.fire(true);
      },
    );
  }

  /** Records what an update changed: the prefixes to diff, unknown classes, the plan's version. */
  private noteUpdate(update: PlanUpdate, first: boolean): void {
    for (const p of update.flipped) this.pendingPrefixes.add(p);
    for (const p of update.reclassed) this.pendingPrefixes.add(p);
    this.reporter.unknownClasses(update.unknownRouteClasses);
    if (update.decided > 0 || first) this.progress.planVersion++;
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
      const fullDiff = this.readBackDue;
      let changes: DecisionChange[];
      if (first && this.opts.applyEnabled && this.queue.takeEverything()) {
        changes = await this.firstPlan();
      } else {
        this.queue.drainInto(this.state, cluster);
        const update = this.state.update();
        this.noteUpdate(update, first);
        changes = update.changes;
        if (fullDiff) await this.readBack();
        else await this.mergeVerified();
      }
      progress.planned = true;
      this.reporter.planUpdated(this.state, changes, first, this.ledger.routes);
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

  /**
   * The first plan (cold start, issue 23 item 4), once every list is complete: decided a slice of
   * Services at a time, each with its slices, while the routes are read back; once the read-back is
   * in, what is decided so far goes out while the rest is decided. Adds only: a withdrawal waits for
   * the whole plan (the full diff after it), since a Service not decided yet is not a Service to
   * withdraw. A failure starts over with the whole plan at once.
   */
  private async firstPlan(): Promise<DecisionChange[]> {
    const { cluster } = this.opts;
    let readDone = false;
    const reading = this.readBack().then(() => void (readDone = true));
    // Rejections are taken where they are awaited, below; none may go unhandled meanwhile.
    reading.catch(() => undefined);
    let applying: Promise<void> | undefined;
    let applyError: Error | undefined;
    const changes: DecisionChange[] = [];
    const decide = (): void => {
      const update = this.state.update();
      this.noteUpdate(update, false);
      for (const c of update.changes) changes.push(c);
      if (applying || !readDone || this.pendingPrefixes.size === 0) return;
      applying = this.applyAdds()
        .catch((err: unknown) => void (applyError ??= err instanceof Error ? err : new Error(String(err))))
        .finally(() => (applying = undefined));
    };
    try {
      const slicesOf = new Map<string, SliceInfo[]>();
      for (const s of cluster.endpointSlices()) {
        const list = slicesOf.get(s.service ?? '');
        if (list) list.push(s);
        else slicesOf.set(s.service ?? '', [s]);
      }
      this.state.setNode(cluster.node());
      const slice = this.opts.recheckSlice ?? 256;
      let n = 0;
      for (const svc of cluster.services()) {
        for (const s of slicesOf.get(svc.key) ?? []) this.state.setSlice(s.key, s);
        slicesOf.delete(svc.key);
        this.state.setService(svc.key, svc);
        if (++n % slice !== 0) continue;
        decide();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      for (const rest of slicesOf.values()) for (const s of rest) this.state.setSlice(s.key, s);
      decide();
      this.progress.planVersion++;
      await reading;
      while (applying) await applying;
      if (applyError) throw applyError;
    } catch (err) {
      this.queue.everythingAgain();
      throw err;
    }
    return changes;
  }

  /** Adds the pending prefixes the plan advertises and the router lacks (the first plan's early batches). */
  private async applyAdds(): Promise<void> {
    const adds = new Map<string, number>();
    for (const p of this.pendingPrefixes)
      if (this.state.advertises(p) && !this.ledger.routes.has(p) && !this.ledger.conflicted(p))
        adds.set(p, this.markOf(p));
    if (adds.size > 0) await this.applyDiff(diffPrefixes(adds, this.ledger.routes, adds.keys()), undefined);
  }

  /** The mark a prefix of the plan carries: its route class's, 0 for none. */
  private markOf(prefix: string): number {
    const cls = this.state.classOf(prefix);
    return cls ? (this.opts.classMarks?.get(cls) ?? 0) : 0;
  }

  /** Reads the router's actual state back, holding the worker (start, after a failure or FRR restart). */
  private async readBack(): Promise<void> {
    this.verify = undefined;
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

  /**
   * Takes in a read-back that ran beside the worker: the ledger becomes what it found, except the
   * prefixes applied (or lost) since it started, which the ledger knows better; every prefix where
   * the two differ, and every conflict, is diffed again. Costs map lookups, no command.
   */
  private async mergeVerified(): Promise<void> {
    const routes = this.verify?.routes;
    if (!this.verify || !routes) return;
    const { touched } = this.verify;
    this.verify = undefined;
    const installed = this.ledger.routes;
    for (const p of touched) {
      const mark = installed.get(p);
      if (mark === undefined) routes.delete(p);
      else routes.set(p, mark);
    }
    const drifted: string[] = [];
    for (const [p, mark] of installed) if (routes.get(p) !== mark) drifted.push(p);
    for (const p of routes.keys()) if (!installed.has(p)) drifted.push(p);
    if (drifted.length > 0) {
      this.log.warn(
        { prefixes: drifted.slice(0, 10), count: drifted.length },
        `${drifted.length} routes of cosmolet differ from what it installed (changed outside it): diffing them again`,
      );
    }
    for (const p of drifted) this.pendingPrefixes.add(p);
    for (const p of this.conflicts) this.pendingPrefixes.add(p);
    this.ledger.reset(routes);
    if (this.opts.applyEnabled) await this.opts.router.repair?.();
  }

  /** What the router must change: every prefix after a read-back, else only those that flipped. */
  private diff(full: boolean): PrefixDiff {
    const desired = new Map<string, number>();
    for (const p of full ? this.state.advertised() : this.pendingPrefixes) {
      if (!this.state.advertises(p) || this.ledger.conflicted(p)) continue;
      desired.set(p, this.markOf(p));
    }
    return diffPrefixes(desired, this.ledger.routes, full ? undefined : this.pendingPrefixes);
  }

  /** Makes the router hold exactly the plan's prefixes; false when nothing had to change. */
  private async converge(full: boolean, eventAt: number | undefined): Promise<boolean> {
    // A plan-only node installs nothing, so it has nothing to tell in Events either.
    const diff = this.opts.applyEnabled ? this.diff(full) : undefined;
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
    this.readBackDue = true;
    metrics.applies.inc();
    const touched = this.verify?.touched;
    if (touched)
      for (const p of [...diff.add, ...diff.remove, ...(diff.remark ?? []).map((r) => r.prefix)])
        touched.add(p);
    const result = await router.apply(diff);
    const conflicts = new Set(result.conflicts);
    for (const p of diff.add) {
      if (conflicts.has(p)) this.conflicts.add(p);
      else this.conflicts.delete(p);
    }
    for (const p of diff.remove) this.conflicts.delete(p);
    this.ledger.applied(diff, conflicts);
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
