// The ledger of the routes cosmolet has installed on this node (prefix -> mark), as of the last
// read-back from the router and every apply since, with the prefixes that a route which is not
// cosmolet's holds. The reconciler diffs the plan against it; everyone else gets a snapshot.
import { FamilyCount, familyOf } from '../net/ip.js';
import type { Metrics } from '../observe/metrics.js';
import type { InstalledRoutes, PrefixDiff } from '../router/router.js';

export class RouteLedger {
  private installed: InstalledRoutes = new Map();
  private readonly installedCount = new FamilyCount();
  /** Prefixes held by routes that are not cosmolet's, as of the last apply; retried after a read-back. */
  private conflicts = new Set<string>();
  /** The snapshot handed out since the last change (one copy per change, not per reader). */
  private shared: RoutesSnapshot | undefined;

  constructor(private readonly metrics: Metrics) {}

  /** The live routes, for the reconciler's own diff: nobody else may hold on to them. */
  get routes(): ReadonlyMap<string, number> {
    return this.installed;
  }

  /** An unchanging copy: what the ledger held when it was taken, whatever happens after. */
  snapshot(): ReadonlyMap<string, number> {
    this.shared ??= new RoutesSnapshot(this.installed);
    return this.shared;
  }

  conflicted(prefix: string): boolean {
    return this.conflicts.has(prefix);
  }

  /** What the router read back: the ledger starts over from it, and conflicts are tried again. */
  reset(routes: InstalledRoutes): void {
    this.installed = routes;
    this.conflicts = new Set();
    this.installedCount.clear();
    for (const p of routes.keys()) this.installedCount.add(p);
    this.changed();
  }

  /** Records a successful apply of `diff`; `conflicts` are the prefixes it could not add. */
  applied(diff: PrefixDiff, conflicts: ReadonlySet<string>): void {
    const { metrics } = this;
    for (const p of diff.add) {
      if (conflicts.has(p)) continue;
      metrics.routesAdded.inc({ family: familyOf(p) });
      if (this.installed.has(p)) continue;
      this.installed.set(p, diff.marks?.get(p) ?? 0);
      this.installedCount.add(p);
    }
    for (const r of diff.remark ?? []) if (this.installed.has(r.prefix)) this.installed.set(r.prefix, r.to);
    for (const p of diff.remove) {
      metrics.routesWithdrawn.inc({ family: familyOf(p) });
      if (this.installed.delete(p)) this.installedCount.add(p, -1);
    }
    for (const p of conflicts) this.conflicts.add(p);
    this.changed();
  }

  private changed(): void {
    this.shared = undefined;
    this.metrics.installedPrefixes.set({ family: 'ipv4' }, this.installedCount.ipv4);
    this.metrics.installedPrefixes.set({ family: 'ipv6' }, this.installedCount.ipv6);
  }
}

/** A copy no method can change, so one can be handed to every reader until the ledger changes. */
class RoutesSnapshot implements ReadonlyMap<string, number> {
  readonly #routes: Map<string, number>;

  constructor(routes: ReadonlyMap<string, number>) {
    this.#routes = new Map(routes);
  }

  get size(): number {
    return this.#routes.size;
  }

  get(prefix: string): number | undefined {
    return this.#routes.get(prefix);
  }

  has(prefix: string): boolean {
    return this.#routes.has(prefix);
  }

  keys(): MapIterator<string> {
    return this.#routes.keys();
  }

  values(): MapIterator<number> {
    return this.#routes.values();
  }

  entries(): MapIterator<[string, number]> {
    return this.#routes.entries();
  }

  [Symbol.iterator](): MapIterator<[string, number]> {
    return this.#routes.entries();
  }

  forEach(
    fn: (mark: number, prefix: string, map: ReadonlyMap<string, number>) => void,
    thisArg?: unknown,
  ): void {
    for (const [prefix, mark] of this.#routes) fn.call(thisArg, mark, prefix, this);
  }
}
