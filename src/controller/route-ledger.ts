// The ledger of the routes cosmolet has installed on this node (prefix -> mark), as of the last
// read-back from the router and every apply since, with the prefixes that a route which is not
// cosmolet's holds. The reconciler writes it and diffs the plan against it; everyone else reads its
// published view (a version, a snapshot, the prefixes each change touched) and never writes back.
import { FamilyCount, familyOf } from '../net/ip.js';
import type { Metrics } from '../observe/metrics.js';
import type { InstalledRoutes, PrefixDiff } from '../router/router.js';

/** The prefixes one change touched; undefined: the ledger started over from a read-back. */
export type InstalledChange = readonly string[] | undefined;

/** What the ledger publishes: read-only, so data flows from the reconciler to its readers only. */
export interface InstalledRoutesView {
  /** Bumped by every change of the routes (not by a read-back that found what the ledger held). */
  readonly version: number;
  /** An unchanging copy: what the ledger held when it was taken, whatever happens after. */
  snapshot(): ReadonlyMap<string, number>;
  /**
   * The installed prefixes now, to be read at once (not across an await): no copy, which a reader
   * that only scans them would leave the ledger holding until its next change.
   */
  prefixes(): IterableIterator<string>;
  /** Whether the prefix is installed now. */
  has(prefix: string): boolean;
  /** Called after each change; returns the unsubscribe function. */
  subscribe(listener: (change: InstalledChange) => void): () => void;
}

export class RouteLedger implements InstalledRoutesView {
  private installed: InstalledRoutes = new Map();
  private readonly installedCount = new FamilyCount();
  /** Prefixes held by routes that are not cosmolet's, as of the last apply; retried after a read-back. */
  private conflicts = new Set<string>();
  /** The snapshot handed out since the last change (one copy per change, not per reader). */
  private shared: RoutesSnapshot | undefined;
  private changes = 0;
  private readonly listeners = new Set<(change: InstalledChange) => void>();

  constructor(private readonly metrics: Metrics) {}

  /** The live routes, for the reconciler's own diff: nobody else may hold on to them. */
  get routes(): ReadonlyMap<string, number> {
    return this.installed;
  }

  get version(): number {
    return this.changes;
  }

  snapshot(): ReadonlyMap<string, number> {
    this.shared ??= new RoutesSnapshot(this.installed);
    return this.shared;
  }

  prefixes(): IterableIterator<string> {
    return this.installed.keys();
  }

  has(prefix: string): boolean {
    return this.installed.has(prefix);
  }

  subscribe(listener: (change: InstalledChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  conflicted(prefix: string): boolean {
    return this.conflicts.has(prefix);
  }

  /** What the router read back: the ledger starts over from it, and conflicts are tried again. */
  reset(routes: InstalledRoutes): void {
    this.conflicts = new Set();
    // Every resync reads back; finding what the ledger held is no change for its readers.
    if (sameRoutes(routes, this.installed)) return;
    this.installed = routes;
    this.installedCount.clear();
    for (const p of routes.keys()) this.installedCount.add(p);
    this.changed(undefined);
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
    const touched = [
      ...diff.add.filter((p) => !conflicts.has(p)),
      ...(diff.remark ?? []).map((r) => r.prefix),
      ...diff.remove,
    ];
    if (touched.length > 0) this.changed(touched);
  }

  private changed(change: InstalledChange): void {
    this.changes++;
    this.shared = undefined;
    this.metrics.installedPrefixes.set({ family: 'ipv4' }, this.installedCount.ipv4);
    this.metrics.installedPrefixes.set({ family: 'ipv6' }, this.installedCount.ipv6);
    for (const listener of this.listeners) listener(change);
  }
}

function sameRoutes(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [prefix, mark] of a) if (b.get(prefix) !== mark) return false;
  return true;
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
