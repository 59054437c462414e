// What the reconcile loop is built from (its options) and what it tells about itself (its status),
// apart from the loop itself so that its readers need not import it.
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { PlanState } from '../plan/state.js';
import type { PlanSettings } from '../plan/types.js';
import type { Router } from '../router/router.js';
import type { ClusterSource } from './change-queue.js';
import type { DecisionReporterOptions } from './decision-reporter.js';
import type { RouteLedger } from './route-ledger.js';

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
