// The full check of the reconcile loop: a recheck of every Service from the stores and a read-back
// of every route from the router. Neither holds the worker, so a flip never waits for it: the
// recheck decides a slice of Services at a time and yields between slices; the read-back runs
// beside the worker and is merged with map lookups, trusting the ledger for every prefix applied
// meanwhile. It runs every loop interval while no route watch keeps the ledger current, else every
// fullCheckSeconds (docs/design.md). The read-back that holds the worker (at start, after a failed
// apply, after an FRR restart or a gap in the route watch) is here too: it is the same baseline.
// The route watch's losses land here too: they keep the ledger current between full checks.
// The reconciler hands in what it shares (the pending prefixes, the conflicts, a way to wake it);
// this file knows nothing of it.
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { PlanState, PlanUpdate } from '../plan/state.js';
import type { InstalledRoutes, PrefixDiff, Router, RouteWatch } from '../router/router.js';
import { everyKey, type ChangeQueue, type ClusterSource } from './change-queue.js';
import type { DecisionReporter } from './decision-reporter.js';
import type { RouteLedger } from './route-ledger.js';

export interface FullCheckOptions {
  cluster: ClusterSource;
  router: Router;
  state: PlanState;
  queue: ChangeQueue;
  ledger: RouteLedger;
  reporter: DecisionReporter;
  log: Logger;
  /** false (bgp.enabled): a read-back only feeds /status, so its failure is no error. */
  applyEnabled: boolean;
  /** While a route watch runs, every this many loop intervals is a full check. */
  fullEvery: number;
  /** Services decided per step of the recheck. */
  recheckSlice: number;
  /** The prefixes the worker diffs next: a merge adds those that drifted and the conflicts. */
  pending: Set<string>;
  /** Prefixes an apply found held by another protocol's route: diffed again after each read-back. */
  conflicts: ReadonlySet<string>;
  /** Whether the first plan was made: there is nothing to check before it. */
  planned: () => boolean;
  stopped: () => boolean;
  /** Records what a recheck's update changed (the prefixes to diff, the plan's version). */
  noteUpdate: (update: PlanUpdate) => void;
  /** Asks the worker for a run. */
  wake: () => void;
}

/** A read-back running beside the worker: the prefixes applied since it started trust the ledger. */
interface Verify {
  touched: Set<string>;
  routes?: InstalledRoutes;
}

export class FullCheck {
  /** The ledger's baseline is unknown: the next run reads back, holding the worker, and diffs everything. */
  readBackDue = true;
  /** Loop intervals since start: every fullEvery-th is a full check while a watch runs. */
  private ticks = 0;
  /** The sliced recheck in progress, if any. */
  private recheckRun: Promise<void> | undefined;
  private verify: Verify | undefined;
  private watch: RouteWatch | undefined;

  constructor(private readonly opts: FullCheckOptions) {}

  /** The route watch keeps the ledger current while it runs: the loop interval skips the read-back. */
  watchedBy(watch: RouteWatch): void {
    this.watch = watch;
  }

  /** A loop interval: a full check every time while no watch is live, else every fullEvery-th. */
  tick(): void {
    this.ticks++;
    if (!this.watch?.live() || this.ticks % this.opts.fullEvery === 0) {
      this.startRecheck();
      this.startVerify();
    }
  }

  /** A full resync: read back before the next diff (dropping a read-back beside the worker), recheck everything. */
  resync(): void {
    this.readBackDue = true;
    this.verify = undefined;
    this.startRecheck();
    this.opts.wake();
  }

  /**
   * The router's watch saw routes of ours go (re-apply them) or another owner's route at a prefix
   * go (a conflict there is tried again); neither named: read everything back.
   */
  routesLost(prefixes: readonly string[], freed: readonly string[] = []): void {
    if ((prefixes.length === 0 && freed.length === 0) || !this.opts.planned()) {
      this.resync();
      return;
    }
    const { ledger, pending } = this.opts;
    const retry = freed.filter((p) => this.opts.conflicts.has(p));
    const ours = prefixes.filter((p) => ledger.routes.has(p));
    if (ours.length === 0 && retry.length === 0) return;
    const routes = new Map(ledger.routes);
    for (const p of ours) {
      routes.delete(p);
      this.touch(p);
    }
    for (const p of [...ours, ...retry]) pending.add(p);
    // Also forgets the conflicts, so the retried prefixes are diffed again.
    ledger.reset(routes);
    this.opts.wake();
  }

  /** A prefix applied or lost while a read-back runs beside the worker: the ledger knows it better. */
  private touch(prefix: string): void {
    this.verify?.touched.add(prefix);
  }

  /** A diff about to be applied: while a read-back runs beside the worker, its prefixes trust the ledger. */
  applying(diff: PrefixDiff): void {
    const touched = this.verify?.touched;
    if (!touched) return;
    for (const p of [...diff.add, ...diff.remove, ...(diff.remark ?? []).map((r) => r.prefix)])
      touched.add(p);
  }

  /** Re-decides every Service from the stores, a slice at a time, yielding to events between slices. */
  private startRecheck(): void {
    if (this.recheckRun || !this.opts.planned()) return;
    this.recheckRun = this.recheck().finally(() => (this.recheckRun = undefined));
  }

  private async recheck(): Promise<void> {
    const { cluster, state, queue, log } = this.opts;
    const keys = everyKey(cluster);
    state.setNode(cluster.node());
    let more = true;
    while (more && !this.opts.stopped()) {
      more = queue.recheck(keys, this.opts.recheckSlice, state, cluster);
      const update = state.update();
      const drift = update.flipped.length + update.reclassed.length;
      if (drift > 0) {
        log.warn(
          { prefixes: [...update.flipped, ...update.reclassed].slice(0, 10), count: drift },
          `the full recheck found ${drift} prefixes the incremental plan had not (a lost event?): applying them`,
        );
      }
      this.opts.noteUpdate(update);
      this.opts.reporter.planUpdated(state, update.changes, false, this.opts.ledger.routes);
      if (drift > 0) this.opts.wake();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Reads every route back beside the worker; the next run merges what it found. */
  private startVerify(): void {
    if (this.verify || this.readBackDue || !this.opts.planned()) return;
    const verify: Verify = { touched: new Set() };
    this.verify = verify;
    this.opts.router.read().then(
      (routes) => {
        if (this.verify !== verify) return;
        verify.routes = routes;
        this.opts.wake();
      },
      (err: unknown) => {
        if (this.verify !== verify) return;
        this.verify = undefined;
        // bgp.enabled false only feeds /status from the read; a failed one is no error there.
        if (!this.opts.applyEnabled) return;
        this.opts.log.warn(
          { err },
          `reading the routes back failed: ${errorMessage(err)}; reading again before the next apply`,
        );
        this.readBackDue = true;
        this.opts.wake();
      },
    );
  }

  /** Reads the router's actual state back, holding the worker (start, after a failure or FRR restart). */
  async readBack(): Promise<void> {
    const { router, ledger } = this.opts;
    this.verify = undefined;
    if (this.opts.applyEnabled) {
      ledger.reset(await router.read());
      await router.repair?.();
    } else {
      // bgp.enabled false touches nothing; reading back only feeds /status, so its failure is no error.
      const routes = await router.read().catch(() => undefined);
      if (routes) ledger.reset(routes);
    }
    this.readBackDue = false;
  }

  /**
   * Takes in a read-back that ran beside the worker: the ledger becomes what it found, except the
   * prefixes applied (or lost) since it started, which the ledger knows better; every prefix where
   * the two differ, and every conflict, is diffed again. Costs map lookups, no command.
   */
  async mergeVerified(): Promise<void> {
    const routes = this.verify?.routes;
    if (!this.verify || !routes) return;
    const { touched } = this.verify;
    this.verify = undefined;
    const { ledger, pending } = this.opts;
    const installed = ledger.routes;
    for (const p of touched) {
      const mark = installed.get(p);
      if (mark === undefined) routes.delete(p);
      else routes.set(p, mark);
    }
    const drifted: string[] = [];
    for (const [p, mark] of installed) if (routes.get(p) !== mark) drifted.push(p);
    for (const p of routes.keys()) if (!installed.has(p)) drifted.push(p);
    if (drifted.length > 0) {
      this.opts.log.warn(
        { prefixes: drifted.slice(0, 10), count: drifted.length },
        `${drifted.length} routes of cosmolet differ from what it installed (changed outside it): diffing them again`,
      );
    }
    for (const p of drifted) pending.add(p);
    for (const p of this.opts.conflicts) pending.add(p);
    ledger.reset(routes);
    if (this.opts.applyEnabled) await this.opts.router.repair?.();
  }
}
