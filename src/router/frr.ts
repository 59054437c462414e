// Everything cosmolet asks FRR: a vtysh runner (serialised, hard timeout, process-group kill,
// --vty_socket), parsers for the JSON and running-config it prints, the readiness checks, and a
// restart detector. Parsers are pure so they can be tested against captured FRR output.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CosmoletError, ErrorCodes } from '../errors.js';
import type { Logger } from '../observe/log.js';
import { runCommand, type RunResult } from './exec.js';
import { parsePrefix, requireCanonicalPrefix, type Family } from './prefix.js';

export type Origination = 'kernel' | 'static';

export class RouterParseError extends CosmoletError {
  constructor(message: string) {
    super(ErrorCodes.ROUTER_PARSE, message);
  }
}

export interface VtyshOptions {
  vtyshPath: string;
  socketDir: string;
  timeoutMs: number;
  logger?: Logger;
}

/**
 * Runs vtysh one call at a time: FRR's vty is single threaded per daemon, and parallel calls only
 * queue up behind each other while each one holds a process.
 */
export class Vtysh {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(readonly opts: VtyshOptions) {}

  private base(): string[] {
    return [this.opts.vtyshPath, '--vty_socket', this.opts.socketDir];
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    // The queue keeps no result: a 100,000-route table would stay in memory until the next call.
    this.tail = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  /** Runs show/exec commands with `-c`; `daemon` limits vtysh to one daemon (`-d bgpd`). */
  exec(commands: readonly string[], daemon?: string): Promise<RunResult> {
    const argv = [...this.base(), ...(daemon ? ['-d', daemon] : [])];
    for (const c of commands) argv.push('-c', c);
    return this.serial(() => runCommand(argv, { timeoutMs: this.opts.timeoutMs }));
  }

  async show(command: string, daemon?: string): Promise<string> {
    return (await this.exec([command], daemon)).stdout;
  }

  async showJson(command: string, daemon?: string): Promise<unknown> {
    const { stdout: out, stderr } = await this.exec([command], daemon);
    if (out.trim() === '') {
      // vtysh says why on stderr when it can (no permission on the socket, PAM refused it).
      const why = stderr.trim().replace(/\s+/g, ' ').slice(0, 300);
      throw new RouterParseError(
        `vtysh "${command}" printed nothing${why ? `: ${why}` : ' (is the daemon running?)'}`,
      );
    }
    try {
      return JSON.parse(out) as unknown;
    } catch {
      throw new RouterParseError(`vtysh "${command}" did not print JSON: ${out.slice(0, 200)}`);
    }
  }

  /**
   * Feeds config lines (config syntax, no `configure terminal`) through `vtysh -f FILE` in one
   * process. Any exit status is returned: vtysh goes on after bad lines (exit 2) and reports a `no`
   * of a missing route (13 with -c; 0 with -f on 8.4), so the caller judges the outcome by reading
   * the state back. Without `daemon`, vtysh talks to every daemon and hangs while any one is stopped.
   */
  applyConfig(
    lines: readonly string[],
    timeoutMs: number = this.opts.timeoutMs,
    daemon?: string,
  ): Promise<RunResult> {
    return this.serial(async () => {
      const dir = await mkdtemp(join(tmpdir(), 'cosmolet-vtysh-'));
      const file = join(dir, 'apply.conf');
      try {
        await writeFile(file, lines.join('\n') + '\n', { mode: 0o600 });
        return await runCommand([...this.base(), ...(daemon ? ['-d', daemon] : []), '-f', file], {
          timeoutMs,
          okCodes: 'any',
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------
// show bgp ipv4|ipv6 unicast json

export interface BgpRouteState {
  valid: boolean;
  best: boolean;
}
export type BgpView = Map<string, BgpRouteState>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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
    into.set(p.prefix, { valid, best });
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
 * Parses the answers to `show bgp <afi> unicast <prefix> json`, one per asked prefix in order:
 * a prefix bgpd does not hold answers `{}`.
 */
export function parseBgpPrefixes(prefixes: readonly string[], text: string): BgpView {
  const objects = splitJsonObjects(text);
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
    view.set(prefix, { valid, best });
  });
  return view;
}

/**
 * What bgpd holds for a few prefixes, in one vtysh call: after an apply only the prefixes that
 * changed are asked, so bgpd never serializes its whole table because one Service flipped.
 */
export async function bgpPrefixes(vtysh: Vtysh, prefixes: readonly string[]): Promise<BgpView> {
  if (prefixes.length === 0) return new Map();
  const commands = prefixes.map(
    (p) => `show bgp ${p.includes(':') ? 'ipv6' : 'ipv4'} unicast ${requireCanonicalPrefix(p).prefix} json`,
  );
  const r = await vtysh.exec(commands, 'bgpd');
  return parseBgpPrefixes(prefixes, r.stdout);
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
 * none. Gives what `parseBgpRoutes` gives for the parsed text.
 */
export function scanBgpRoutes(text: string, into: BgpView = new Map()): BgpView {
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
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text.charAt(i) !== ':') throw new RouterParseError('show bgp json: expected ":"');
    i = skipSpace(text, i + 1);
    const end = endOfValue(text, i);
    const p = parsePrefix(key);
    if (p === undefined) throw new RouterParseError(`show bgp json: bad prefix ${JSON.stringify(key)}`);
    const value = text.slice(i, end);
    into.set(p.prefix, { valid: VALID.test(value), best: BEST.test(value) });
    i = end;
  }
}

/** What bgpd holds in IPv4 and IPv6 unicast. */
export async function bgpTable(vtysh: Vtysh): Promise<BgpView> {
  const view: BgpView = new Map();
  for (const afi of ['ipv4', 'ipv6']) {
    const command = `show bgp ${afi} unicast json`;
    const { stdout, stderr } = await vtysh.exec([command], 'bgpd');
    if (stdout.trim() === '') {
      const why = stderr.trim().replace(/\s+/g, ' ').slice(0, 300);
      throw new RouterParseError(
        `vtysh "${command}" printed nothing${why ? `: ${why}` : ' (is the daemon running?)'}`,
      );
    }
    scanBgpRoutes(stdout, view);
  }
  return view;
}

// ---------------------------------------------------------------------------------------------
// show bgp summary json

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

export async function bgpSummary(vtysh: Vtysh): Promise<BgpPeer[]> {
  return parseBgpSummary(await vtysh.showJson('show bgp summary json', 'bgpd'));
}

// ---------------------------------------------------------------------------------------------
// running-config: router bgp, export check, ASN check, static routes

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
): Check {
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

export function evaluateAsn(runningConfig: string, asn: number): Check {
  const bgp = parseRouterBgp(runningConfig);
  if (bgp === undefined)
    return { ok: false, message: `bgp.asn is ${asn} but FRR has no "router bgp" instance` };
  if (bgp.asn !== asn)
    return { ok: false, message: `bgp.asn is ${asn} but FRR runs "router bgp ${bgp.asn}"` };
  return { ok: true, message: `FRR runs router bgp ${asn}` };
}

/** bgpd's running configuration, for evaluateExport. */
export function bgpdRunningConfig(vtysh: Vtysh): Promise<string> {
  return vtysh.show('show running-config', 'bgpd');
}

export async function checkAsn(vtysh: Vtysh, asn: number): Promise<Check> {
  return evaluateAsn(await vtysh.show('show running-config', 'bgpd'), asn);
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

// ---------------------------------------------------------------------------------------------
// Restart detection

export interface DaemonIdentity {
  name: string;
  pid?: number;
  /** Process start time in clock ticks since boot (/proc/<pid>/stat field 22), when visible. */
  startTime?: string;
  /** mtime of the daemon's vty socket, which each start re-creates. */
  socketMtimeMs?: number;
}

export interface FrrIdentity {
  /** Changes whenever one of the daemons restarted (or appeared / disappeared). */
  token: string;
  daemons: DaemonIdentity[];
}

async function daemonIdentity(socketDir: string, name: string): Promise<DaemonIdentity> {
  const id: DaemonIdentity = { name };
  try {
    const pid = Number((await readFile(join(socketDir, `${name}.pid`), 'utf8')).trim());
    if (Number.isInteger(pid) && pid > 0) {
      id.pid = pid;
      try {
        const statText = await readFile(`/proc/${pid}/stat`, 'utf8');
        // Fields after the command name, which is in parentheses and may contain spaces.
        const fields = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
        id.startTime = fields[19];
      } catch {
        // Not in our PID namespace (no hostPID): the socket mtime still changes on restart.
      }
    }
  } catch {
    // No pid file: a non-default layout; rely on the socket.
  }
  try {
    id.socketMtimeMs = (await stat(join(socketDir, `${name}.vty`))).mtimeMs;
  } catch {
    // Daemon not running.
  }
  return id;
}

/**
 * An identity of the running FRR daemons (pid + start time, vty socket mtime). The controller calls
 * it every loop; when the token changes, bgpd, zebra or staticd restarted and a full re-read and
 * re-apply is due (a restarted staticd has lost every static route that was not saved).
 */
export async function readFrrIdentity(
  socketDir: string,
  daemons: readonly string[] = ['zebra', 'bgpd', 'staticd', 'mgmtd'],
): Promise<FrrIdentity> {
  const list = await Promise.all(daemons.map((d) => daemonIdentity(socketDir, d)));
  const token = list
    .map((d) => `${d.name}:${d.pid ?? '-'}:${d.startTime ?? '-'}:${d.socketMtimeMs ?? '-'}`)
    .join(',');
  return { token, daemons: list };
}

/** Remembers the last identity; `changed()` is true once after each restart. */
export class FrrWatcher {
  private last: string | undefined;
  constructor(
    private readonly socketDir: string,
    private readonly daemons: readonly string[] = ['zebra', 'bgpd', 'staticd', 'mgmtd'],
  ) {}

  async changed(): Promise<boolean> {
    const { token } = await readFrrIdentity(this.socketDir, this.daemons);
    const changed = this.last !== undefined && this.last !== token;
    this.last = token;
    return changed;
  }
}
