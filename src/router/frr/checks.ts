// Why one file of this length: it is every check the FRR monitor schedules, each a pure function of
// what was read from FRR (and its own previous result), so the monitor holds no decision of its own.
// On bgpd's running-config: does bgpd export cosmolet's routes for the families it has prefixes of
// (and every route class's mark through an entry of the operator's route-map that matches it), and
// does it run the configured ASN. On what FRR reports: did a daemon restart, must bgpd's whole table
// be read this interval, does it hold every route cosmolet installed, how are the peers.
import type { Origination } from '../router.js';
import { FamilyCount, type Family } from '../../net/ip.js';
import {
  parseRouteMaps,
  parseRouterBgp,
  type BgpPeer,
  type BgpRouteState,
  type RouteMapEntry,
} from './parse.js';

export interface Check {
  ok: boolean;
  message: string;
  /** FRR config to add when not ok. */
  snippet?: string;
}

export function exportSnippet(
  origination: Origination,
  asn: number | string,
  families: readonly string[],
): string {
  const lines = [
    'ip prefix-list COSMOLET-V4 seq 5 permit <service IPv4 range> ge 32',
    'ipv6 prefix-list COSMOLET-V6 seq 5 permit <service IPv6 range> ge 128',
    'route-map COSMOLET-EXPORT permit 10',
    ' match ip address prefix-list COSMOLET-V4',
    'route-map COSMOLET-EXPORT permit 20',
    ' match ipv6 address prefix-list COSMOLET-V6',
    `router bgp ${asn}`,
  ];
  for (const f of families) {
    lines.push(
      ` address-family ${f}`,
      `  redistribute ${origination} route-map COSMOLET-EXPORT`,
      ' exit-address-family',
    );
  }
  return lines.join('\n');
}

const UNICAST: Record<Family, string> = { ipv4: 'ipv4 unicast', ipv6: 'ipv6 unicast' };
const FAMILY_NAME: Record<Family, string> = { ipv4: 'IPv4', ipv6: 'IPv6' };

/**
 * Does bgpd export cosmolet's routes: `redistribute <origination>` in the unicast address family of
 * every family cosmolet has prefixes to advertise (`needed`)? An IPv4-only fabric needs no IPv6
 * unicast. With no prefix at all, one exporting family is enough (FRR is set up for cosmolet).
 */
export function evaluateExport(
  runningConfig: string,
  origination: Origination,
  needed: readonly Family[],
  classes: readonly RouteClassMark[] = [],
): Check {
  const check = evaluateFamilies(runningConfig, origination, needed);
  if (!check.ok || classes.length === 0) return check;
  const marks = evaluateMarks(
    runningConfig,
    origination,
    exportedFamilies(runningConfig, origination),
    classes,
  );
  if (marks.ok) return { ...check, message: `${check.message}; ${marks.message}` };
  return marks;
}

function evaluateFamilies(runningConfig: string, origination: Origination, needed: readonly Family[]): Check {
  const bgp = parseRouterBgp(runningConfig);
  const wanted: Family[] = needed.length > 0 ? [...new Set(needed)].sort() : ['ipv4', 'ipv6'];
  if (bgp === undefined) {
    return {
      ok: false,
      message:
        'FRR has no "router bgp" instance in the default VRF, so nothing cosmolet installs is advertised',
      snippet: exportSnippet(
        origination,
        '<ASN>',
        wanted.map((f) => UNICAST[f]),
      ),
    };
  }
  const re = new RegExp(`^redistribute ${origination}(\\s|$)`);
  const exports = (f: Family) => (bgp.addressFamilies.get(UNICAST[f]) ?? []).some((l) => re.test(l));
  const exported = (['ipv4', 'ipv6'] as const).filter(exports);
  const missing = needed.length > 0 ? wanted.filter((f) => !exports(f)) : exported.length > 0 ? [] : wanted;
  const not = (families: Family[]) =>
    `router bgp ${bgp.asn} does not "redistribute ${origination}" in ${families
      .map((f) => `address-family ${UNICAST[f]}`)
      .join(' and ')}`;
  if (missing.length > 0) {
    return {
      ok: false,
      message:
        needed.length > 0
          ? `${not(missing)}, but cosmolet has ${missing.map((f) => FAMILY_NAME[f]).join(' and ')} prefixes to advertise: they would not reach the fabric`
          : `${not(missing)}: cosmolet's routes would not be advertised`,
      snippet: exportSnippet(
        origination,
        bgp.asn,
        missing.map((f) => UNICAST[f]),
      ),
    };
  }
  const names = exported.map((f) => FAMILY_NAME[f]).join(' and ');
  const idle = (['ipv4', 'ipv6'] as const).filter((f) => !exports(f));
  if (idle.length === 0) {
    return {
      ok: true,
      message: `router bgp ${bgp.asn} redistributes ${origination} routes in ${names} unicast`,
    };
  }
  // Fine while cosmolet has no prefix of that family; say what to add before one appears.
  return {
    ok: true,
    message: `router bgp ${bgp.asn} redistributes ${origination} routes in ${names} unicast; ${not(idle)}, which is needed only once cosmolet has ${idle.map((f) => FAMILY_NAME[f]).join(' and ')} prefixes to advertise (add the snippet then)`,
    snippet: exportSnippet(
      origination,
      bgp.asn,
      idle.map((f) => UNICAST[f]),
    ),
  };
}

/** A configured route class: its name and its mark (kernel: the route's metric, static: its tag). */
export interface RouteClassMark {
  name: string;
  mark: number;
}

const MARK_MATCH: Record<Origination, string> = { kernel: 'metric', static: 'tag' };
const PREFIX_LIST_MATCH: Record<Family, RegExp> = {
  ipv4: /^match ip address /,
  ipv6: /^match ipv6 address /,
};
const PLACEHOLDER_LIST: Record<Family, string> = {
  ipv4: 'match ip address prefix-list COSMOLET-V4',
  ipv6: 'match ipv6 address prefix-list COSMOLET-V6',
};

/** The route-map of `redistribute <origination> [route-map X]` per exporting family ("" = none). */
function redistributeMaps(runningConfig: string, origination: Origination): Map<Family, string> {
  const out = new Map<Family, string>();
  const bgp = parseRouterBgp(runningConfig);
  if (bgp === undefined) return out;
  const re = new RegExp(`^redistribute ${origination}(?:\\s|$)(?:.*\\broute-map (\\S+))?`);
  for (const f of ['ipv4', 'ipv6'] as const) {
    for (const l of bgp.addressFamilies.get(UNICAST[f]) ?? []) {
      const m = re.exec(l);
      if (m) out.set(f, m[1] ?? '');
    }
  }
  return out;
}

function exportedFamilies(runningConfig: string, origination: Origination): Family[] {
  return [...redistributeMaps(runningConfig, origination).keys()];
}

/**
 * The entry of a route-map that decides for a route of this family and mark: the first (by
 * sequence) whose matches do not exclude it. Prefix-lists are assumed to match (they are the Service
 * ranges); a `match ip address` entry never applies to IPv6 and the reverse, a `match metric|tag N`
 * entry only to mark N. undefined: no entry applies, the route-map's implicit deny drops the route.
 */
export function decidingEntry(
  entries: readonly RouteMapEntry[],
  family: Family,
  origination: Origination,
  mark: number,
): RouteMapEntry | undefined {
  const other: Family = family === 'ipv4' ? 'ipv6' : 'ipv4';
  const markRe = new RegExp(`^match ${MARK_MATCH[origination]} (\\d+)$`);
  return entries.find((e) => {
    if (e.lines.some((l) => PREFIX_LIST_MATCH[other].test(l))) return false;
    const m = e.lines.map((l) => markRe.exec(l)).find((x) => x !== null);
    return m?.[1] === undefined || Number(m[1]) === mark;
  });
}

/**
 * Does the operator's route-map export each route class's mark through an entry that matches it
 * (`match metric N` for kernel routes, `match tag N` for static ones), where it can set the class's
 * community, local-preference or MED? A class whose routes are dropped, denied, or caught first by an
 * entry that does not match the mark (they would reach the fabric without the class's attributes) is
 * not ok, and the snippet has the entries to add before the one that catches them.
 */
export function evaluateMarks(
  runningConfig: string,
  origination: Origination,
  families: readonly Family[],
  classes: readonly RouteClassMark[],
): Check {
  const maps = redistributeMaps(runningConfig, origination);
  const routeMaps = parseRouteMaps(runningConfig);
  const problems: string[] = [];
  const snippet: string[] = [];
  const used = new Map<string, Set<number>>();
  const kind = MARK_MATCH[origination];
  for (const f of [...families].sort()) {
    const name = maps.get(f);
    if (name === undefined) continue;
    const mapName = name === '' ? 'COSMOLET-EXPORT' : name;
    const entries = routeMaps.get(name) ?? [];
    const seqs = used.get(mapName) ?? new Set(entries.map((e) => e.seq));
    used.set(mapName, seqs);
    for (const c of [...classes].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const what = `route class "${c.name}" (${kind} ${c.mark}), ${FAMILY_NAME[f]}`;
      let caught: RouteMapEntry | undefined;
      if (name === '') {
        problems.push(
          `${what}: "redistribute ${origination}" has no route-map, so no class gets its attributes`,
        );
      } else {
        caught = decidingEntry(entries, f, origination, c.mark);
        const marked = caught?.lines.some((l) => l === `match ${kind} ${c.mark}`) ?? false;
        if (caught?.action === 'permit' && marked) continue;
        problems.push(
          caught === undefined
            ? `${what}: route-map ${name} has no entry for it, so the route is not advertised`
            : caught.action === 'deny'
              ? `${what}: route-map ${name} denies it (entry ${caught.seq})`
              : `${what}: route-map ${name} exports it through entry ${caught.seq}, which does not match ${kind} ${c.mark}: it reaches the fabric without the class's attributes`,
        );
      }
      const seq = freeSeq(seqs, caught?.seq);
      seqs.add(seq);
      const list = caught?.lines.find((l) => PREFIX_LIST_MATCH[f].test(l)) ?? PLACEHOLDER_LIST[f];
      snippet.push(
        `route-map ${mapName} permit ${seq}`,
        ` ${list}`,
        ` match ${kind} ${c.mark}`,
        ` set community <the community of route class ${c.name}>`,
      );
    }
  }
  if (problems.length === 0) {
    return {
      ok: true,
      message: `the route-map exports every route class's ${kind} (${[...classes]
        .map((c) => `${c.name} ${c.mark}`)
        .sort()
        .join(', ')})`,
    };
  }
  const bare = [...families].sort().filter((f) => maps.get(f) === '');
  if (bare.length > 0) {
    const bgp = parseRouterBgp(runningConfig);
    snippet.push('route-map COSMOLET-EXPORT permit 100', `router bgp ${bgp?.asn ?? '<ASN>'}`);
    for (const f of bare) {
      snippet.push(
        ` address-family ${UNICAST[f]}`,
        `  redistribute ${origination} route-map COSMOLET-EXPORT`,
        ' exit-address-family',
      );
    }
  }
  return {
    ok: false,
    message: `${problems.join('; ')} (the snippet has the route-map entries to add)`,
    snippet: snippet.join('\n'),
  };
}

/**
 * A sequence number not in use: the highest below `before` (the entry that catches the routes now,
 * so the new entry comes first), else one past the last.
 */
function freeSeq(used: ReadonlySet<number>, before: number | undefined): number {
  if (before !== undefined) {
    for (let s = before - 1; s >= 1; s--) if (!used.has(s)) return s;
  }
  return Math.max(0, ...used) + 1;
}

export function evaluateAsn(runningConfig: string, asn: number): Check {
  const bgp = parseRouterBgp(runningConfig);
  if (bgp === undefined)
    return { ok: false, message: `bgp.asn is ${asn} but FRR has no "router bgp" instance` };
  if (bgp.asn !== asn)
    return { ok: false, message: `bgp.asn is ${asn} but FRR runs "router bgp ${bgp.asn}"` };
  return { ok: true, message: `FRR runs router bgp ${asn}` };
}

/** A read of bgpd's running-config: its text, or why it could not be read. */
export type ConfigRead = { text: string } | { error: string };

/** The ASN check on the last running-config read. */
export function asnCheck(config: ConfigRead, asn: number): Check {
  return 'text' in config ? evaluateAsn(config.text, asn) : { ok: false, message: config.error };
}

/** The export check on the last running-config read; undefined before the first read. */
export function exportCheck(
  config: ConfigRead | undefined,
  origination: Origination,
  families: readonly Family[],
  classes: readonly RouteClassMark[] = [],
): Check | undefined {
  if (config === undefined) return undefined;
  if ('error' in config) return { ok: false, message: config.error };
  return evaluateExport(config.text, origination, families, classes);
}

/** The FRR daemons' identity token (restarts.ts) and whether it moved since the last read. */
export interface RestartResult {
  token: string | undefined;
  restarted: boolean;
}

/** `token` undefined: the identity could not be read, which says nothing about a restart. */
export function restartCheck(token: string | undefined, previous: RestartResult | undefined): RestartResult {
  if (token === undefined) return { token: previous?.token, restarted: false };
  const before = previous?.token;
  return { token, restarted: before !== undefined && before !== token };
}

/** What says whether bgpd's table may have changed since it was last read whole. */
export interface TableStamp {
  /** bgpd's table versions and RIB counts (parseBgpTableStamp); undefined when it printed none. */
  bgpd: string | undefined;
  /** The installed routes' version (the reconciler's ledger). */
  installed: number;
}

/**
 * Even with nothing changed, bgpd's whole table is read this often: a safety net for a change the
 * stamps miss. At 20,000 routes one read costs cosmolet about 0.2 s of CPU (docs/benchmarks.md).
 */
export const FULL_READ_MAX_AGE_MS = 5 * 60_000;

export interface FullReadInput {
  stamp: TableStamp;
  now: number;
  /** The stamp the view is current for (a full read's, or one a refresh moved it to), and when it was last read whole. */
  last: { stamp: TableStamp; at: number } | undefined;
  /** A daemon restarted this round. */
  restarted: boolean;
  /** Installed prefixes bgpd lacked at the last read: the next read judges them. */
  lacking: number;
  /** A ledger change no refresh covered (too large, a failed read, a read-back). */
  uncovered: boolean;
  /** Prefixes an apply touched wait for their refresh, which moves `last.stamp` to what it reads. */
  refreshPending: boolean;
}

/**
 * Must bgpd's whole table be read this round? Only when something may have changed that no refresh
 * accounts for: bgpd's table version or RIB count moved, or cosmolet installed or withdrew routes,
 * with no refresh of the touched prefixes pending; a change too large to refresh; a daemon
 * restarted; prefixes are pending; the summary said nothing; or the last read is old. At idle and
 * after a flip this leaves one small `show bgp summary json` per interval instead of serializing
 * the whole table (at 50,000 Services that took bgpd and cosmolet about 2 s of CPU, and a flip
 * meanwhile waited for bgpd).
 */
export function fullReadDue(i: FullReadInput): boolean {
  const { last, stamp } = i;
  if (last === undefined || stamp.bgpd === undefined || i.restarted || i.lacking > 0 || i.uncovered)
    return true;
  if (i.now - last.at >= FULL_READ_MAX_AGE_MS) return true;
  const moved = stamp.bgpd !== last.stamp.bgpd || stamp.installed !== last.stamp.installed;
  return moved && !i.refreshPending;
}

/**
 * How long an installed prefix may be missing from bgpd's table before /readyz says so. bgpd takes
 * a route from zebra in well under a second; a cold start of 20,000 routes took up to 35 s to reach
 * the leaf on a loaded machine, so a shorter grace would call a busy bgpd broken.
 */
export const BGP_HOLD_GRACE_MS = 30_000;

/** Prefixes named in a message at most; the count says how many there are. */
const NAMED_PREFIXES = 5;

/** Installed, advertised prefixes bgpd's table lacked at the last full read, since when. */
export interface HoldResult {
  missingSince: ReadonlyMap<string, number>;
  readAt: number;
}

/** After a full read of bgpd's table: which installed, advertised prefixes it lacks, since when. */
export function trackMissing(
  table: ReadonlyMap<string, BgpRouteState>,
  installed: Iterable<string>,
  advertises: (prefix: string) => boolean,
  now: number,
  previous: HoldResult | undefined,
): HoldResult {
  const missingSince = new Map<string, number>();
  for (const p of installed) {
    if (!advertises(p) || table.get(p)?.valid === true) continue;
    missingSince.set(p, previous?.missingSince.get(p) ?? now);
  }
  return { missingSince, readAt: now };
}

/**
 * After a read of a few prefixes: those bgpd now holds are missing no more, and installed,
 * advertised ones it lacks are missing from now on (so the next rounds read and judge them). Before,
 * a prefix an apply installed that bgpd lacked at its refresh was never judged: the refresh moved
 * the stamp, no full read followed, and /readyz said bgpd held everything.
 */
export function noteRefreshed(
  previous: HoldResult | undefined,
  read: ReadonlyMap<string, BgpRouteState>,
  installed: { has(prefix: string): boolean },
  advertises: (prefix: string) => boolean,
  now: number,
): HoldResult | undefined {
  if (previous === undefined) return undefined;
  const lacks = (p: string, r: BgpRouteState) => !r.valid && installed.has(p) && advertises(p);
  const changes = [...read].some(([p, r]) =>
    r.valid ? previous.missingSince.has(p) : !previous.missingSince.has(p) && lacks(p, r),
  );
  if (!changes) return previous;
  const missingSince = new Map(previous.missingSince);
  for (const [p, r] of read) {
    if (r.valid) missingSince.delete(p);
    else if (lacks(p, r) && !missingSince.has(p)) missingSince.set(p, now);
  }
  return { ...previous, missingSince };
}

/**
 * Does bgpd hold every prefix cosmolet installed and advertises? A prefix missing for longer than
 * the grace is a problem: installed but not reaching the fabric. Seen when zebra restarted alone
 * (FRR 8.4's bgpd then takes no new route until it restarts too) and when the export route-map's
 * prefix-lists do not cover a Service range. undefined before the first read of bgpd's table.
 */
export function holdCheck(hold: HoldResult | undefined): Check | undefined {
  if (hold === undefined) return undefined;
  const grace = BGP_HOLD_GRACE_MS;
  // Judged at the last full read, not now: a prefix is late when two reads at least the grace
  // apart both lacked it (bgpd may have taken it since the last read).
  const late = [...hold.missingSince].filter(([, since]) => hold.readAt - since >= grace).map(([p]) => p);
  if (late.length === 0) {
    const pending = hold.missingSince.size;
    return {
      ok: true,
      message:
        pending === 0
          ? 'bgpd holds every route cosmolet installed'
          : `${pending} installed prefixes not in bgpd yet (for less than ${grace / 1000} s)`,
    };
  }
  late.sort();
  const named = late.slice(0, NAMED_PREFIXES).join(', ') + (late.length > NAMED_PREFIXES ? ', ...' : '');
  return {
    ok: false,
    message:
      `bgpd has not held ${late.length} installed prefixes for ${grace / 1000} s or more (${named}): ` +
      'they are in the kernel / staticd but do not reach the fabric. Check that the export ' +
      "route-map's prefix-lists cover them (show bgp <prefix>); if zebra restarted without bgpd, " +
      'restart bgpd too (FRR 8.4 bgpd takes no new route from a new zebra)',
  };
}

/**
 * Advertised prefixes bgpd holds as valid best paths, per family (the bgp_held metric). Kept as the
 * view changes: a refresh of the few prefixes an apply touched costs those prefixes, not a recount
 * of the whole view (at 50,000 Services the recount was 0.2 s of CPU per flip).
 */
export class HeldPrefixes {
  private readonly held = new Set<string>();
  readonly count = new FamilyCount();

  /** What bgpd holds for `prefix` now (undefined: nothing), and whether the plan advertises it. */
  note(prefix: string, state: BgpRouteState | undefined, advertised: boolean): void {
    const holds = state !== undefined && state.valid && state.best && advertised;
    if (holds === this.held.has(prefix)) return;
    if (holds) this.held.add(prefix);
    else this.held.delete(prefix);
    this.count.add(prefix, holds ? 1 : -1);
  }

  /**
   * After a full read: counted from the whole view, `pause` awaited every `slice` prefixes (at
   * 100,000 Services one pass is about 100 ms, too long to hold a flip up).
   */
  static async counted(
    table: ReadonlyMap<string, BgpRouteState>,
    advertises: (prefix: string) => boolean,
    pause: () => Promise<void>,
    slice = 4096,
  ): Promise<HeldPrefixes> {
    const held = new HeldPrefixes();
    let n = 0;
    for (const [p, r] of table) {
      held.note(p, r, advertises(p));
      if (++n % slice === 0) await pause();
    }
    return held;
  }
}

/** The peers as the metrics show them: one established flag per peer, the ones that went away. */
export interface PeersResult {
  peers: readonly BgpPeer[];
  established: ReadonlyMap<string, boolean>;
  /** Peers seen before but not now: they report 0 rather than their last value. */
  gone: readonly string[];
  /** Every peer seen so far. */
  known: ReadonlySet<string>;
}

export function peersCheck(peers: readonly BgpPeer[], previous: PeersResult | undefined): PeersResult {
  const established = new Map<string, boolean>();
  for (const p of peers) established.set(p.name, (established.get(p.name) ?? false) || p.established);
  const known = new Set(previous?.known);
  const gone = [...known].filter((peer) => !established.has(peer));
  for (const peer of established.keys()) known.add(peer);
  return { peers, established, gone, known };
}
