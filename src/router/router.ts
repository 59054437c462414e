// The router: what the controller uses to make the node's routes equal to the plan. Two backends,
// chosen by frr.origination: kernel routes with cosmolet's protocol number (zebra imports them), or
// FRR static routes with cosmolet's tag. Both read the actual state back from the system. This
// module holds the interface only; `create.ts` picks the backend.
import type { Logger } from '../logger.js';

export type Origination = 'kernel' | 'static';

export interface RouterOptions {
  origination: Origination;
  socketDir: string;
  kernelProtocol: number;
  staticTag: number;
  commandTimeoutSeconds: number;
  /** Path of the `ip` binary (default `ip`). */
  ipPath?: string;
  /** Run `ip` in this network namespace (`ip -n NS`); for tests and the lab. */
  netns?: string;
  logger: Logger;
}

export interface PrefixDiff {
  add: string[];
  remove: string[];
}

export interface ApplyResult {
  added: number;
  removed: number;
  /**
   * Prefixes that were not installed because a route that is not cosmolet's (another protocol
   * number or tag) holds the same prefix; cosmolet never touches it. They stay "not installed".
   */
  conflicts: string[];
  durationMs: number;
}

export interface Router {
  readonly origination: Origination;
  /** Canonical prefixes cosmolet owns now, read back from the kernel or FRR's running-config. */
  read(): Promise<Set<string>>;
  /** Applies one batch; throws a CosmoletError when the read-back disagrees afterwards. */
  apply(diff: PrefixDiff): Promise<ApplyResult>;
  /**
   * Brings routes of ours that the last read found in an outdated form up to date, in place,
   * without withdrawing them. Returns how many it changed. Only called when changes are allowed.
   */
  repair?(): Promise<number>;
}

/** desired minus actual to add, actual minus desired to remove; both sorted for stable batches. */
export function diffPrefixes(desired: ReadonlySet<string>, actual: ReadonlySet<string>): PrefixDiff {
  const add: string[] = [];
  const remove: string[] = [];
  for (const p of desired) if (!actual.has(p)) add.push(p);
  for (const p of actual) if (!desired.has(p)) remove.push(p);
  return { add: add.sort(), remove: remove.sort() };
}

/**
 * Timeout for one batch: the configured one plus 3 ms per change. 10,000 FRR static lines take
 * 3-5 s on an idle 2-vCPU machine and up to 16 s when it is loaded; a hang is still caught.
 */
export function batchTimeoutMs(commandTimeoutSeconds: number, changes: number): number {
  return commandTimeoutSeconds * 1000 + 3 * changes;
}
