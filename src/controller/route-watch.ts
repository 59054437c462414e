// Routes of cosmolet that disappear behind its back between full checks: the router notices
// (static: FRR deleted them, as `frr-reload.py` does on `systemctl reload frr`; kernel: a route or
// cosmolet's device deleted by hand), and the reconciler re-applies just those at once instead of
// at the next full read-back. While the watch runs, that read-back is rare (full-check.ts).
import type { Logger } from '../logger.js';
import type { Router, RouteWatch } from '../router/router.js';

/** What the watch tells: the reconciler. */
export interface RouteWatchTarget {
  /**
   * These prefixes were lost (re-apply them), and these had another owner's route deleted (a
   * conflict there can go in); neither: something was missed, read everything back.
   */
  routesLost(prefixes: readonly string[], freed?: readonly string[]): void;
  /** The watch that keeps the routes current, so the loop interval needs no full read-back. */
  watchedBy(watch: RouteWatch): void;
}

/** Starts the router's watch, if it has one. */
export function startRouteWatch(
  router: Router,
  target: RouteWatchTarget,
  logger: Logger,
): RouteWatch | undefined {
  if (!router.watch) return undefined;
  const log = logger.child({ component: 'route-watch' });
  const watch = router.watch((lost, freed) => {
    if (lost.length > 0) {
      log.warn(
        { count: lost.length, prefixes: lost.slice(0, 10) },
        `${lost.length} routes of cosmolet were deleted outside it (an FRR reload?): re-applying them`,
      );
    }
    target.routesLost(lost, freed);
  });
  target.watchedBy(watch);
  return watch;
}
