// Routes of cosmolet that disappear behind its back between resyncs: the router notices (static:
// FRR deleted them, as `frr-reload.py` does on `systemctl reload frr`), and the reconciler reads
// back and re-applies at once instead of at the next resync (loopIntervalSeconds).
import type { Logger } from '../logger.js';
import type { Router, RouteWatch } from '../router/router.js';

/** Starts the router's watch, if it has one; every loss is a full resync. */
export function startRouteWatch(router: Router, resync: () => void, logger: Logger): RouteWatch | undefined {
  if (!router.watch) return undefined;
  const log = logger.child({ component: 'route-watch' });
  return router.watch((lost) => {
    if (lost.length > 0) {
      log.warn(
        { count: lost.length, prefixes: lost.slice(0, 10) },
        `${lost.length} routes of cosmolet were deleted outside it (an FRR reload?): reading back and re-applying`,
      );
    }
    resync();
  });
}
