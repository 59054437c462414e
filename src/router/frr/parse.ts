// Parsers for what FRR prints: bgpd's JSON (routes, single prefixes, the summary) and the
// running-config (router bgp, static routes). Pure, so they are tested against captured output.
import { RouterParseError } from '../../errors.js';
import { isRecord } from '../../model/json.js';
import type { Family } from '../../net/ip.js';
import { parsePrefix } from '../../net/prefix.js';

export interface BgpRouteState {
  valid: boolean;
  best: boolean;
}
export type BgpView = Map<string, BgpRouteState>;

/**
 * The four states, shared: a view of bgpd's table holds one per prefix, and an object each was
 * 200,000 objects at 100,000 Services.
 */
const STATES: readonly BgpRouteState[] = [
  Object.freeze({ valid: false, best: false }),
  Object.freeze({ valid: false, best: true }),
  Object.freeze({ valid: true, best: false }),
  Object.freeze({ valid: true, best: true }),
];

export function bgpRouteState(valid: boolean, best: boolean): BgpRouteState {
  return STATES[(valid ? 2 : 0) + (best ? 1 : 0)] as BgpRouteState;
}

/** FRR 8.x prints `bestpath: true`; the `json detail` form of 9.1+ prints `bestpath: {overall: true}`. */
function isBest(path: Record<string, unknown>): boolean {
  const b = path.bestpath;
  if (b === true) return true;
  if (isRecord(b)) return b.overall === true;
  return false;
}

/** Parses `show bgp <afi> unicast json` into prefix -> {valid, best} (any path valid / best). */
export function parseBgpRoutes(json: unknown, into: BgpView = new Map()): BgpView {
  if (!isRecord(json)) throw new RouterParseError('show bgp json: not an object');
  const routes = json.routes;
  // bgpd answers `{}` (or a warning object) when there is no BGP instance: nothing held.
  if (routes === undefined) return into;
  if (!isRecord(routes)) throw new RouterParseError('show bgp json: "routes" is not an object');
  for (const [key, paths] of Object.entries(routes)) {
    const p = parsePrefix(key);
    if (p === undefined) throw new RouterParseError(`show bgp json: bad prefix ${JSON.stringify(key)}`);
    const list = Array.isArray(paths)
      ? paths
      : isRecord(paths) && Array.isArray(paths.paths)
        ? paths.paths
        : [];
    let valid = false;
    let best = false;
    for (const path of list as unknown[]) {
      if (!isRecord(path)) continue;
      if (path.valid === true) valid = true;
      if (isBest(path)) best = true;
    }
    into.set(p.prefix, bgpRouteState(valid, best));
  }
  return into;
}

/**
 * Splits vtysh's output of several `... json` commands, printed one after another, into the JSON
 * texts (a linear scan that tracks strings, so braces inside them do not count).
 */
export function splitJsonObjects(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \\ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 /* { */) {
      if (depth === 0) start = i;
      depth++;
    } else if (c === 125 /* } */ && depth > 0) {
      depth--;
      if (depth === 0) out.push(text.slice(start, i + 1));
    }
  }
  if (depth !== 0 || inString) throw new RouterParseError('vtysh printed truncated JSON');
  return out;
}

/**
 * The answers to `show bgp summary json` followed by one `show bgp <afi> unicast <prefix> json` per
 * prefix, in one vtysh call: the summary (for parseBgpTableStamp) and what bgpd holds for each.
 */
export function parseBgpSummaryAndPrefixes(
  prefixes: readonly string[],
  text: string,
): { summary: unknown; routes: BgpView } {
  const [first, ...rest] = splitJsonObjects(text);
  let summary: unknown;
  try {
    summary = JSON.parse(first ?? '');
  } catch {
    throw new RouterParseError('show bgp summary json: not JSON');
  }
  return { summary, routes: prefixAnswers(prefixes, rest) };
}

/** One answer per asked prefix, in order: a prefix bgpd does not hold answers `{}`. */
function prefixAnswers(prefixes: readonly string[], objects: readonly string[]): BgpView {
  if (objects.length !== prefixes.length) {
    throw new RouterParseError(
      `show bgp <prefix> json: ${objects.length} answers for ${prefixes.length} prefixes`,
    );
  }
  const view: BgpView = new Map();
  prefixes.forEach((prefix, i) => {
    let json: unknown;
    try {
      json = JSON.parse(objects[i] ?? '');
    } catch {
      throw new RouterParseError(`show bgp ${prefix} json: not JSON`);
    }
    if (!isRecord(json)) throw new RouterParseError(`show bgp ${prefix} json: not an object`);
    let valid = false;
    let best = false;
    if (json.prefix !== undefined && json.prefix !== prefix) {
      throw new RouterParseError(`show bgp ${prefix} json: answered for ${JSON.stringify(json.prefix)}`);
    }
    for (const path of Array.isArray(json.paths) ? (json.paths as unknown[]) : []) {
      if (!isRecord(path)) continue;
      if (path.valid === true) valid = true;
      if (isBest(path)) best = true;
    }
    view.set(prefix, bgpRouteState(valid, best));
  });
  return view;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && /\s/.test(text.charAt(i))) i++;
  return i;
}

/** The index just past the JSON value (object, array, string or literal) that starts at `i`. */
function endOfValue(text: string, i: number): number {
  let depth = 0;
  let inString = false;
  for (let j = i; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (inString) {
      if (c === 92) j++;
      else if (c === 34) {
        inString = false;
        if (depth === 0) return j + 1;
      }
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      depth--;
      if (depth === 0) return j + 1;
      if (depth < 0) return j;
    } else if (depth === 0 && (c === 44 || c === 10)) return j;
  }
  throw new RouterParseError('show bgp json: truncated');
}

const VALID = /"valid"\s*:\s*true/;
const BEST = /"bestpath"\s*:\s*(?:true|\{[^{}]*"overall"\s*:\s*true)/;

/**
 * Reads `show bgp <afi> unicast json` without building its object graph: one linear scan finds each
 * prefix under "routes" and whether any of its paths is valid / best. JSON.parse of a 100,000-route
 * table holds some hundred MB of objects at once (and the process keeps that memory); this holds
 * none. Gives what `parseBgpRoutes` gives for the parsed text. A key found in `known` (canonical
 * prefixes, such as the installed ones) is taken as it is; any other is parsed to its canonical form.
 */
export function scanBgpRoutes(
  text: string,
  into: BgpView = new Map(),
  known?: { has(prefix: string): boolean },
): BgpView {
  const head = /"routes"\s*:\s*/g;
  const m = head.exec(text);
  if (!m) {
    // bgpd answers `{}` (or a warning object) when there is no BGP instance: nothing held.
    if (text.trimStart().startsWith('{')) return into;
    throw new RouterParseError('show bgp json: not an object');
  }
  let i = m.index + m[0].length;
  if (text.charAt(i) !== '{') throw new RouterParseError('show bgp json: "routes" is not an object');
  i++;
  for (;;) {
    i = skipSpace(text, i);
    const c = text.charAt(i);
    if (c === '}') return into;
    if (c === ',') {
      i++;
      continue;
    }
    if (c !== '"') throw new RouterParseError(`show bgp json: unexpected ${JSON.stringify(c)} in "routes"`);
    const keyEnd = endOfValue(text, i);
    // A string of its own (a slice of `text` would keep the whole answer alive in the view).
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text.charAt(i) !== ':') throw new RouterParseError('show bgp json: expected ":"');
    i = skipSpace(text, i + 1);
    const end = endOfValue(text, i);
    // A key that is one of `known` (canonical prefixes) is canonical already: no parse (1.5 µs each).
    const prefix = known?.has(key) ? key : parsePrefix(key)?.prefix;
    if (prefix === undefined) throw new RouterParseError(`show bgp json: bad prefix ${JSON.stringify(key)}`);
    const value = text.slice(i, end);
    into.set(prefix, bgpRouteState(VALID.test(value), BEST.test(value)));
    i = end;
  }
}

export interface BgpPeer {
  /** The peer's address, or the interface name for an unnumbered peer. */
  name: string;
  /** Set for unnumbered (`neighbor IFACE interface`) peers. */
  interface?: string;
  hostname?: string;
  family: Family;
  remoteAs?: number;
  state: string;
  established: boolean;
  prefixesReceived: number;
  prefixesSent: number;
  /** Time in the current state (Established: session uptime), in milliseconds. */
  uptimeMs: number;
}

const AF_KEYS: Record<string, Family> = { ipv4Unicast: 'ipv4', ipv6Unicast: 'ipv6' };

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

export function parseBgpSummary(json: unknown): BgpPeer[] {
  if (!isRecord(json)) throw new RouterParseError('show bgp summary json: not an object');
  const peers: BgpPeer[] = [];
  for (const [afKey, family] of Object.entries(AF_KEYS)) {
    const af = json[afKey];
    if (!isRecord(af) || !isRecord(af.peers)) continue;
    for (const [name, raw] of Object.entries(af.peers)) {
      if (!isRecord(raw)) continue;
      const state = typeof raw.state === 'string' ? raw.state : 'Unknown';
      const peer: BgpPeer = {
        name,
        family,
        state,
        established: state === 'Established',
        prefixesReceived: num(raw.pfxRcd),
        prefixesSent: num(raw.pfxSnt),
        uptimeMs: num(raw.peerUptimeMsec),
      };
      if (raw.idType === 'interface') peer.interface = name;
      if (typeof raw.hostname === 'string') peer.hostname = raw.hostname;
      if (typeof raw.remoteAs === 'number') peer.remoteAs = raw.remoteAs;
      peers.push(peer);
    }
  }
  return peers;
}

/**
 * What in `show bgp summary json` moves whenever bgpd's unicast tables change: each family's table
 * version (bumped by every route bgpd processes) and RIB count. undefined when it prints neither
 * (no BGP instance, another FRR), so the caller cannot tell and reads the table.
 */
export function parseBgpTableStamp(json: unknown): string | undefined {
  if (!isRecord(json)) return undefined;
  const parts: string[] = [];
  for (const [afKey, family] of Object.entries(AF_KEYS)) {
    const af = json[afKey];
    if (!isRecord(af)) continue;
    if (typeof af.tableVersion !== 'number' || typeof af.ribCount !== 'number') return undefined;
    parts.push(`${family}:${af.tableVersion}/${af.ribCount}`);
  }
  return parts.length > 0 ? parts.join(',') : undefined;
}

export interface RouterBgpConfig {
  asn: number;
  /** Lines (trimmed) outside any address-family block. */
  global: string[];
  /** `ipv4 unicast` -> trimmed lines inside that block. */
  addressFamilies: Map<string, string[]>;
}

/** The default-VRF `router bgp` instance of a running-config, or undefined when there is none. */
export function parseRouterBgp(text: string): RouterBgpConfig | undefined {
  let current: RouterBgpConfig | undefined;
  let result: RouterBgpConfig | undefined;
  let af: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    const top = line.length > 0 && !/^\s/.test(line);
    if (current === undefined) {
      const m = /^router bgp (\d+)(\s+vrf\s+\S+)?/.exec(line);
      if (m?.[1] !== undefined && m[2] === undefined) {
        current = { asn: Number(m[1]), global: [], addressFamilies: new Map() };
        result = current;
      }
      continue;
    }
    if (top && line !== '!') {
      // `exit` or any other top-level statement closes the block.
      break;
    }
    const t = line.trim();
    if (t === '' || t === '!') continue;
    const afm = /^address-family (\S+ \S+)/.exec(t);
    if (afm?.[1] !== undefined) {
      af = [];
      current.addressFamilies.set(afm[1], af);
      continue;
    }
    if (t === 'exit-address-family') {
      af = undefined;
      continue;
    }
    (af ?? current.global).push(t);
  }
  return result;
}

export interface StaticRouteLine {
  prefix: string;
  tag: number | undefined;
  /** The configuration line as FRR prints it, used verbatim to remove the route. */
  line: string;
}

/** Static routes (default VRF, top level) of a running-config: `ip route ...` / `ipv6 route ...`. */
export function parseStaticRoutes(text: string): StaticRouteLine[] {
  const out: StaticRouteLine[] = [];
  for (const raw of text.split('\n')) {
    // Indented lines belong to `vrf X` blocks: not ours.
    const m = /^(ip|ipv6) route (\S+)(?: .*)?$/.exec(raw.trimEnd());
    if (m?.[2] === undefined) continue;
    const p = parsePrefix(m[2]);
    if (p === undefined || (m[1] === 'ip') !== (p.family === 'ipv4')) continue;
    const tag = / tag (\d+)(?: |$)/.exec(raw);
    out.push({
      prefix: p.prefix,
      tag: tag?.[1] !== undefined ? Number(tag[1]) : undefined,
      line: raw.trimEnd(),
    });
  }
  return out;
}

export interface RouteMapEntry {
  action: 'permit' | 'deny';
  seq: number;
  /** Trimmed lines inside the entry (`match ...`, `set ...`, `on-match ...`). */
  lines: string[];
}

/** Route-maps of a running-config: name -> entries sorted by sequence number. */
export function parseRouteMaps(text: string): Map<string, RouteMapEntry[]> {
  const maps = new Map<string, RouteMapEntry[]>();
  let entry: RouteMapEntry | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    const head = /^route-map (\S+) (permit|deny) (\d+)$/.exec(line);
    if (head?.[1] !== undefined && head[3] !== undefined) {
      entry = { action: head[2] === 'deny' ? 'deny' : 'permit', seq: Number(head[3]), lines: [] };
      const list = maps.get(head[1]) ?? [];
      list.push(entry);
      maps.set(head[1], list);
      continue;
    }
    if (entry === undefined) continue;
    if (line.length > 0 && !/^\s/.test(line)) {
      // `exit`, `!` or any other top-level statement closes the entry.
      entry = undefined;
      continue;
    }
    const t = line.trim();
    if (t !== '') entry.lines.push(t);
  }
  for (const list of maps.values()) list.sort((a, b) => a.seq - b.seq);
  return maps;
}
