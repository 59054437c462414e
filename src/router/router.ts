// The router: what the controller uses to make the node's routes equal to the plan. Two backends,
// chosen by frr.origination: kernel routes with cosmolet's protocol number (zebra imports them), or
// FRR static routes with cosmolet's tag. Both read the actual state back from the system. This
// module holds the interface only; `create.ts` picks the backend.
//
// Each route carries a mark, its route class's number (rule 7): the kernel route's metric, the
// static route's tag. The router knows marks only as numbers; the controller maps classes to them.
import type { Logger } from '../logger.js';

export type Origination = 'kernel' | 'static';

export interface RouterOptions {
  origination: Origination;
  socketDir: string;
  kernelProtocol: number;
  staticTag: number;
  /**
   * The configured route classes' marks. Static origination owns the lines tagged with one of them
   * (or staticTag); kernel origination owns every route of its protocol, whatever its metric.
   */
  marks?: readonly number[];
  commandTimeoutSeconds: number;
  /** Path of the `ip` binary (default `ip`). */
  ipPath?: string;
  /** Run `ip` in this network namespace (`ip -n NS`); for tests and the lab. */
  netns?: string;
  logger: Logger;
}

/** What cosmolet owns: prefix -> mark (0: no class; kernel: metric 0, static: frr.staticTag). */
export type InstalledRoutes = Map<string, number>;

/** An installed prefix whose mark changes: the new route goes in before the old one goes. */
export interface Remark {
  prefix: string;
  from: number;
  to: number;
}

export interface PrefixDiff {
  add: string[];
  remove: string[];
  /** The mark of each prefix in `add` (absent: 0, no class). */
  marks?: ReadonlyMap<string, number>;
  remark?: Remark[];
}

export interface ApplyResult {
  added: number;
  removed: number;
  /** Prefixes whose mark changed (never withdrawn meanwhile). */
  remarked: number;
  /**
   * Prefixes that were not installed because a route that is not cosmolet's (another protocol
   * number or tag) holds the same prefix; cosmolet never touches it. They stay "not installed".
   */
  conflicts: string[];
  durationMs: number;
}

export interface Router {
  readonly origination: Origination;
  /** Canonical prefixes cosmolet owns now with their marks, read back from the kernel or FRR's running-config. */
  read(): Promise<InstalledRoutes>;
  /** Applies one batch; throws a CosmoletError when the read-back disagrees afterwards. */
  apply(diff: PrefixDiff): Promise<ApplyResult>;
  /**
   * Brings routes of ours that the last read found in an outdated form up to date, in place,
   * without withdrawing them. Returns how many it changed. Only called when changes are allowed.
   */
  repair?(): Promise<number>;
  /**
   * Starts noticing at once, between full checks, that routes of ours disappeared behind cosmolet's
   * back (static: FRR deleted them, as `frr-reload.py` does on `systemctl reload frr`; kernel: a
   * `ip route del`, or cosmolet's device went). Calls `onLost` with them, or with none after a gap
   * in watching (or a loss it cannot name); the caller re-applies them, or reads everything back.
   * `freed` are host prefixes whose route of another owner was deleted: a conflict there can go in.
   */
  watch?(onLost: (prefixes: string[], freed?: string[]) => void): RouteWatch;
}

export interface RouteWatch {
  /** Whether the watch runs now: while it does not, only a full read-back sees a lost route. */
  live(): boolean;
  /** Stops watching (kills the watcher's processes) and waits for it. */
  stop(): Promise<void>;
}

type Routes = ReadonlySet<string> | ReadonlyMap<string, number>;

/** A prefix's mark in a set (always 0) or a map of prefix -> mark. */
export function markIn(routes: Routes, prefix: string): number {
  return 'get' in routes ? (routes.get(prefix) ?? 0) : 0;
}

/**
 * desired minus actual to add, actual minus desired to remove, both with another mark to re-mark;
 * sorted for stable batches. A set means every prefix has no class. `only` (distinct prefixes)
 * compares just those, for a caller that knows which prefixes can have changed since the last
 * diff: the cost then follows the change, not the number of routes.
 */
export function diffPrefixes(desired: Routes, actual: Routes, only?: Iterable<string>): PrefixDiff {
  const add: string[] = [];
  const remove: string[] = [];
  const remark: Remark[] = [];
  const marks = new Map<string, number>();
  const compare = (p: string): void => {
    if (!desired.has(p)) {
      if (actual.has(p)) remove.push(p);
      return;
    }
    const to = markIn(desired, p);
    if (!actual.has(p)) {
      add.push(p);
      if (to !== 0) marks.set(p, to);
    } else {
      const from = markIn(actual, p);
      if (from !== to) remark.push({ prefix: p, from, to });
    }
  };
  if (only) {
    for (const p of only) compare(p);
  } else {
    for (const p of desired.keys()) compare(p);
    for (const p of actual.keys()) if (!desired.has(p)) remove.push(p);
  }
  const diff: PrefixDiff = { add: add.sort(), remove: remove.sort() };
  if (marks.size > 0) diff.marks = marks;
  if (remark.length > 0) diff.remark = remark.sort((a, b) => (a.prefix < b.prefix ? -1 : 1));
  return diff;
}

/** How many route changes a diff asks for (a re-mark is one). */
export function diffSize(diff: PrefixDiff): number {
  return diff.add.length + diff.remove.length + (diff.remark?.length ?? 0);
}

/**
 * Timeout for one batch: the configured one plus 3 ms per change. 10,000 FRR static lines take
 * 3-5 s on an idle 2-vCPU machine and up to 16 s when it is loaded; a hang is still caught.
 */
export function batchTimeoutMs(commandTimeoutSeconds: number, changes: number): number {
  return commandTimeoutSeconds * 1000 + 3 * changes;
}
