// What the router should hold for the plan: each advertised prefix with its route class's mark,
// minus the prefixes another protocol's route holds, diffed against the installed routes. The
// worker's converge and the first plan's early batches both ask it; the diff is the router's.
import type { PlanState } from '../plan/state.js';
import { diffPrefixes, type PrefixDiff } from '../router/router.js';
import type { RouteLedger } from './route-ledger.js';

export class DesiredRoutes {
  constructor(
    private readonly state: PlanState,
    private readonly ledger: RouteLedger,
    /** Route class name -> mark; the router carries the mark, not the name. */
    private readonly classMarks: ReadonlyMap<string, number> | undefined,
  ) {}

  /** The mark a prefix of the plan carries: its route class's, 0 for none. */
  markOf(prefix: string): number {
    const cls = this.state.classOf(prefix);
    return cls ? (this.classMarks?.get(cls) ?? 0) : 0;
  }

  /** What the router must change: every prefix after a read-back (full), else only `pending`. */
  diff(full: boolean, pending: ReadonlySet<string>): PrefixDiff {
    const desired = new Map<string, number>();
    for (const p of full ? this.state.advertised() : pending) {
      if (!this.state.advertises(p) || this.ledger.conflicted(p)) continue;
      desired.set(p, this.markOf(p));
    }
    return diffPrefixes(desired, this.ledger.routes, full ? undefined : pending);
  }
}
