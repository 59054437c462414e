// The kernel's routes as `ip -json route show` prints them, and which of them are cosmolet's.
//
// A route is cosmolet's only in the exact shape cosmolet creates: a host prefix (/32, /128) in the
// main table with its protocol number, through its device (`cosmolet0`) without a next hop, or a
// blackhole (the form of an earlier version, converted in place). Any other route with that
// protocol number (a /8, a route through a gateway or another device) is not cosmolet's: it is
// never deleted, converted or counted, and a prefix it holds is a conflict like any other.
//
// A conflict is a host prefix that a route which is not cosmolet's holds in the main table, at any
// metric: the kernel refuses a second route only at an equal metric, so cosmolet's route could
// otherwise sit beside the other one, shadowing it or shadowed by it, and nobody would be told.
// Routes FRR's zebra installed (its protocol numbers: a path to the same Service IP learned over
// BGP from other nodes, say) are not conflicts: zebra chose them among its own routes, of which
// cosmolet's is one (a kernel route, distance 0), and it replaces them when cosmolet's appears.
import { requireCanonicalPrefix, parsePrefix } from '../net/prefix.js';
import type { Family } from '../net/ip.js';
import { RouterParseError } from '../errors.js';

/**
 * Route protocol numbers zebra owns and deletes at start: cosmolet must never use them. Here, with
 * the routes they mark, so the router needs no config; the config's schema refuses them too.
 */
export const ZEBRA_PROTOCOLS: ReadonlySet<number> = new Set([
  11, 42, 186, 187, 188, 189, 190, 191, 192, 193, 194, 195, 196, 197, 198,
]);

/** The device cosmolet's kernel routes point at; created (dummy, else ifb) and set up when missing. */
export const KERNEL_DEVICE = 'cosmolet0';

export interface KernelRoute {
  prefix: string;
  family: Family;
  /** Prefix length: 32 / 128 for a host route. */
  length: number;
  /** `unicast`, `blackhole`, ...; `ip -N` prints numbers, which are turned into these names. */
  type: string;
  /** The protocol as printed: a number with `ip -N` (cosmolet reads with it), '' for `boot`. */
  protocol: string;
  /** The route's metric (`ip` omits it for IPv4 metric 0). */
  metric: number;
  /** Output device, when the route has one. */
  dev?: string;
  /** Next-hop address, when the route has one. */
  gateway?: string;
  /** A route with several next hops (`nexthops`). */
  multipath?: boolean;
}

/** rtm_type numbers (linux/rtnetlink.h) as `ip -N` prints them. */
const ROUTE_TYPES: Record<string, string> = {
  '1': 'unicast',
  '2': 'local',
  '3': 'broadcast',
  '4': 'anycast',
  '5': 'multicast',
  '6': 'blackhole',
  '7': 'unreachable',
  '8': 'prohibit',
  '9': 'throw',
  '10': 'nat',
};

/** Parses `ip [-N] -json route show ...`; host routes come without a length (`"dst":"10.96.0.10"`). */
export function parseIpRoutes(stdout: string): KernelRoute[] {
  if (stdout.trim() === '') return [];
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw new RouterParseError(`ip -json route: not JSON: ${stdout.slice(0, 200)}`);
  }
  if (!Array.isArray(json)) throw new RouterParseError('ip -json route: not an array');
  const out: KernelRoute[] = [];
  for (const r of json as unknown[]) {
    if (typeof r !== 'object' || r === null) continue;
    const rec = r as Record<string, unknown>;
    if (typeof rec.dst !== 'string' || rec.dst === 'default') continue;
    const p = parsePrefix(rec.dst);
    if (p === undefined) throw new RouterParseError(`ip -json route: bad dst ${JSON.stringify(rec.dst)}`);
    const type = typeof rec.type === 'string' ? (ROUTE_TYPES[rec.type] ?? rec.type) : 'unicast';
    const route: KernelRoute = {
      prefix: p.prefix,
      family: p.family,
      length: p.length,
      type,
      protocol:
        typeof rec.protocol === 'string' || typeof rec.protocol === 'number' ? String(rec.protocol) : '',
      metric: typeof rec.metric === 'number' ? rec.metric : 0,
    };
    if (typeof rec.dev === 'string') route.dev = rec.dev;
    if (typeof rec.gateway === 'string') route.gateway = rec.gateway;
    if (Array.isArray(rec.nexthops)) route.multipath = true;
    out.push(route);
  }
  return out;
}

/**
 * The kernel gives an IPv6 route installed without a metric the metric 1024 (IP6_RT_PRIO_USER), an
 * IPv4 one 0: that is an unclassed route. The config refuses 1024 as a mark under kernel origination.
 */
export const IPV6_DEFAULT_METRIC = 1024;

/** The metric a route with this mark gets (0: no class, the kernel's default for the family). */
export function metricOf(prefix: string, mark: number): number {
  return mark !== 0 ? mark : requireCanonicalPrefix(prefix).family === 'ipv6' ? IPV6_DEFAULT_METRIC : 0;
}

/** A kernel route's mark: its metric, except the family's default metric, which is no class (0). */
export function markOf(r: KernelRoute): number {
  return r.metric === metricOf(r.prefix, 0) ? 0 : r.metric;
}

function isHost(r: KernelRoute): boolean {
  return r.length === (r.family === 'ipv6' ? 128 : 32);
}

/**
 * Whether a route is cosmolet's: its protocol number, a host prefix, and either through its device
 * without a next hop (the current form) or a blackhole (an earlier version's form; IPv6 blackholes
 * show `dev lo`). The metric is the route class's mark, any value.
 */
export function isOwnShape(r: KernelRoute, protocol: number, device: string = KERNEL_DEVICE): boolean {
  if (r.protocol !== String(protocol) || !isHost(r)) return false;
  if (r.type === 'blackhole') return r.dev === undefined || r.dev === 'lo';
  return isCurrentForm(r, device);
}

/** Whether a route of ours has the current form (through the device, not a blackhole of an older version). */
export function isCurrentForm(r: KernelRoute, device: string = KERNEL_DEVICE): boolean {
  return r.type === 'unicast' && r.dev === device && r.gateway === undefined && r.multipath !== true;
}

/**
 * The `ip route del` arguments that match exactly this route of ours (by its form and metric), so
 * that another route of the prefix with the same protocol number is never the one deleted.
 */
export function deleteSelector(r: KernelRoute, protocol: number, device: string = KERNEL_DEVICE): string {
  const form = r.type === 'blackhole' ? `blackhole ${r.prefix}` : `${r.prefix} dev ${device}`;
  return `${form} proto ${protocol} metric ${r.metric}`;
}

export interface KernelReadBack {
  /** prefix -> mark of the route zebra announces (the lowest metric) when there are several. */
  routes: Map<string, number>;
  /** Routes of ours beside the announced one of the same prefix (an interrupted re-mark). */
  extras: KernelRoute[];
  /** Routes with cosmolet's protocol number that are not its shape: never touched. */
  foreign: KernelRoute[];
  /** Host prefixes a route that is not cosmolet's holds (not one zebra installed), at any metric. */
  conflicts: Set<string>;
  /** Routes of ours at a prefix in `conflicts`: cosmolet steps back, they are deleted, not owned. */
  stepBack: KernelRoute[];
}

/** Whether a route that is not cosmolet's makes its prefix a conflict (see the top of this file). */
export function isConflicting(r: KernelRoute): boolean {
  if (!isHost(r)) return false;
  const proto = /^\d+$/.test(r.protocol) ? Number(r.protocol) : undefined;
  return proto === undefined || !ZEBRA_PROTOCOLS.has(proto);
}

/**
 * Our routes by prefix (the announced one's mark, and the extra routes of a prefix). Given
 * `protocol`, `all` is the whole main table: the routes with that number in another shape are
 * `foreign`, every other route that is not ours makes its host prefix a conflict, and ours at a
 * conflict go to `stepBack`. Without it, every route given is taken for ours.
 */
export function kernelReadBack(
  all: readonly KernelRoute[],
  protocol?: number,
  device: string = KERNEL_DEVICE,
): KernelReadBack {
  const best = new Map<string, KernelRoute>();
  const extras: KernelRoute[] = [];
  const foreign: KernelRoute[] = [];
  const conflicts = new Set<string>();
  const ours: KernelRoute[] = [];
  for (const r of all) {
    if (protocol === undefined || isOwnShape(r, protocol, device)) ours.push(r);
    else {
      if (r.protocol === String(protocol)) foreign.push(r);
      if (isConflicting(r)) conflicts.add(r.prefix);
    }
  }
  const stepBack: KernelRoute[] = [];
  for (const r of ours) {
    if (conflicts.has(r.prefix)) {
      stepBack.push(r);
      continue;
    }
    const seen = best.get(r.prefix);
    if (seen === undefined) best.set(r.prefix, r);
    else if (r.metric < seen.metric) {
      extras.push(seen);
      best.set(r.prefix, r);
    } else extras.push(r);
  }
  return {
    routes: new Map([...best].map(([p, r]) => [p, markOf(r)])),
    extras,
    foreign,
    conflicts,
    stepBack,
  };
}

/** A short text of routes for a log line: `10.0.0.0/8 proto 73 dev eth0`. */
export function describeRoutes(routes: readonly KernelRoute[], max = 10): string[] {
  return routes
    .slice(0, max)
    .map(
      (r) =>
        `${r.type === 'unicast' ? '' : `${r.type} `}${r.prefix}${r.gateway ? ` via ${r.gateway}` : ''}${
          r.dev ? ` dev ${r.dev}` : ''
        } proto ${r.protocol || 'boot'} metric ${r.metric}`,
    );
}
