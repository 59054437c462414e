// The plan document from what was decided: the one order and shape (sorted lists, null for no
// class) that `computeProjectedPlan` and the incremental `PlanState` must both print.
import { compareIP, hostPrefix, type IP } from '../net/ip.js';
import type { IPKind, Plan, PlannedRoute, SkippedIP, SkipReason } from './types.js';

/** An advertised IP. */
export interface RouteRow {
  ip: IP;
  /** The Services that qualify for it, in any order (sorted in place). */
  services: string[];
  /** The kinds it qualifies through, each once, in any order (sorted in place). */
  kinds: IPKind[];
  /** "" = none. */
  routeClass: string;
}

/** A (Service, IP) that is not advertised, and why. */
export interface SkipRow {
  service: string;
  /** The IP as written (shown when it does not parse). */
  raw: string;
  ip: IP | undefined;
  reason: SkipReason;
}

/**
 * Routes by address; skips by Service, then address. The caller leaves out the skips whose IP another
 * Service advertises. Sorts both arrays in place.
 */
export function planDocument(node: string, routes: RouteRow[], skips: SkipRow[]): Plan {
  const routeList: PlannedRoute[] = routes
    .sort((a, b) => compareIP(a.ip, b.ip))
    .map((r) => ({
      prefix: hostPrefix(r.ip),
      family: r.ip.family,
      services: r.services.length > 1 ? r.services.sort() : r.services,
      kinds: r.kinds.length > 1 ? r.kinds.sort() : r.kinds,
      class: r.routeClass === '' ? null : r.routeClass,
    }));
  const skipped: SkippedIP[] = skips
    .sort(compareSkips)
    .map((s) => ({ service: s.service, ip: s.ip ? s.ip.text : s.raw, reason: s.reason }));
  return { node, routes: routeList, skipped };
}

/** By Service, then IPv4 before IPv6 numerically, then invalid strings (no family) by text. */
function compareSkips(a: SkipRow, b: SkipRow): number {
  if (a.service !== b.service) return a.service < b.service ? -1 : 1;
  if (a.ip && b.ip) return compareIP(a.ip, b.ip);
  if (a.ip) return -1;
  if (b.ip) return 1;
  return a.raw < b.raw ? -1 : a.raw > b.raw ? 1 : 0;
}
