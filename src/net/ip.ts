// Strict IP address parsing and canonical forms. Only plain addresses are accepted: no leading
// zeros in IPv4, no zone, no prefix length, no IPv4-mapped IPv6 (::ffff:0:0/96). Anything else, and
// any special-purpose address (parseServiceIP), is `invalid-ip` in the plan and never reaches a
// command line.

export type Family = 'ipv4' | 'ipv6';

export interface IPv4 {
  family: 'ipv4';
  /** The address as an unsigned 32-bit number. */
  value: number;
  text: string;
}

export interface IPv6 {
  family: 'ipv6';
  /** Eight 16-bit groups. */
  groups: readonly number[];
  text: string;
}

export type IP = IPv4 | IPv6;

const V6_GROUP = /^[0-9a-fA-F]{1,4}$/;

export function parseIPv4(s: string): IPv4 | undefined {
  // A character loop rather than split + regex: the plan parses every Service IP on every reconcile.
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return undefined;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return undefined; // a leading zero
      octet = octet * 10 + (c - 48);
      digits++;
      if (octet > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0) return undefined;
  // A strictly valid dotted quad is already its canonical text.
  return { family: 'ipv4', value: value * 256 + octet, text: s };
}

function parseGroups(s: string): number[] | undefined {
  if (s === '') return [];
  const out: number[] = [];
  for (const g of s.split(':')) {
    if (!V6_GROUP.test(g)) return undefined;
    out.push(parseInt(g, 16));
  }
  return out;
}

export function parseIPv6(s: string): IPv6 | undefined {
  if (s.length > 45 || !s.includes(':')) return undefined;
  let body = s;
  // An embedded dotted quad in the last 32 bits (e.g. 64:ff9b::192.0.2.1) becomes two hex groups.
  const lastColon = body.lastIndexOf(':');
  const last = body.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIPv4(last);
    if (!v4) return undefined;
    body = `${body.slice(0, lastColon + 1)}${(v4.value >>> 16).toString(16)}:${(v4.value & 0xffff).toString(16)}`;
  }
  let groups: number[];
  const dbl = body.indexOf('::');
  if (dbl !== -1) {
    if (body.indexOf('::', dbl + 1) !== -1) return undefined;
    const head = parseGroups(body.slice(0, dbl));
    const rest = parseGroups(body.slice(dbl + 2));
    if (!head || !rest) return undefined;
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return undefined;
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    const all = parseGroups(body);
    if (!all) return undefined;
    groups = all;
  }
  if (groups.length !== 8) return undefined;
  // IPv4-mapped addresses (::ffff:a.b.c.d) are IPv4 in disguise: refused.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return undefined;
  // Kept for every Service IP in the stores: an exactly sized array and a flat string (a spread
  // array over-allocates, a template literal keeps its pieces), about 160 bytes instead of 350.
  const exact = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 8; i++) exact[i] = groups[i] ?? 0;
  return { family: 'ipv6', groups: exact, text: formatIPv6(exact) };
}

/** The family of an address or prefix in text: only IPv6 is written with ':'. */
export function familyOf(text: string): Family {
  return text.includes(':') ? 'ipv6' : 'ipv4';
}

/** How many addresses or prefixes of each family, kept as they come and go (for per-family gauges). */
export class FamilyCount implements Record<Family, number> {
  ipv4 = 0;
  ipv6 = 0;

  /** Counts `text` (an address or prefix) `by` more; a negative `by` counts it out. */
  add(text: string, by = 1): void {
    this[familyOf(text)] += by;
  }

  clear(): void {
    this.ipv4 = 0;
    this.ipv6 = 0;
  }
}

export function parseIP(s: string): IP | undefined {
  if (typeof s !== 'string') return undefined;
  return familyOf(s) === 'ipv6' ? parseIPv6(s) : parseIPv4(s);
}

/**
 * Whether `ip` lies in a special-purpose range that is never a Service's to advertise (docs/decisions.md
 * rule 2): this network, loopback, link-local, multicast, reserved and broadcast for IPv4; the
 * unspecified and loopback addresses, IPv4-mapped and IPv4-translated, link-local and multicast for
 * IPv6. The API server validates some of these for some kinds, never for load-balancer ingress.
 */
export function isSpecialPurpose(ip: IP): boolean {
  if (ip.family === 'ipv4') {
    const first = ip.value >>> 24;
    return (
      first === 0 || // 0.0.0.0/8
      first === 127 || // 127.0.0.0/8
      ip.value >>> 16 === 0xa9fe || // 169.254.0.0/16
      first >= 224 // 224.0.0.0/4 multicast and 240.0.0.0/4 reserved, 255.255.255.255 included
    );
  }
  const g = ip.groups;
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(7) && ((g[7] ?? 0) === 0 || g[7] === 1)) return true; // ::/128 and ::1/128
  if (zeroUpTo(5) && g[5] === 0xffff) return true; // ::ffff:0:0/96 (IPv4-mapped)
  if (zeroUpTo(4) && g[4] === 0xffff && g[5] === 0) return true; // ::ffff:0:0:0/96 (IPv4-translated)
  const g0 = g[0] ?? 0;
  return (g0 & 0xffc0) === 0xfe80 || (g0 & 0xff00) === 0xff00; // fe80::/10, ff00::/8
}

/**
 * A Service IP as the plan reads it: a plain address outside the special-purpose ranges, or
 * undefined (`invalid-ip`).
 */
export function parseServiceIP(raw: string): IP | undefined {
  const ip = parseIP(raw);
  return ip && !isSpecialPurpose(ip) ? ip : undefined;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (>= 2) of zero groups as "::". */
export function formatIPv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return [hex.slice(0, bestStart).join(':'), hex.slice(bestStart + bestLen).join(':')].join('::');
}

export function hostPrefix(ip: IP): string {
  return ip.family === 'ipv4' ? `${ip.text}/32` : `${ip.text}/128`;
}

/** Orders IPv4 before IPv6, then numerically. */
export function compareIP(a: IP, b: IP): number {
  if (a.family !== b.family) return a.family === 'ipv4' ? -1 : 1;
  if (a.family === 'ipv4' && b.family === 'ipv4') return a.value - b.value;
  const ag = (a as IPv6).groups;
  const bg = (b as IPv6).groups;
  for (let i = 0; i < 8; i++) {
    const d = (ag[i] ?? 0) - (bg[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export interface CIDR {
  family: Family;
  network: IP;
  bits: number;
  text: string;
}

/** A CIDR such as 10.0.0.0/8 or fd00::/64; host bits must be zero. Returns a reason when invalid. */
export function parseCIDR(s: string): CIDR | string {
  const slash = s.indexOf('/');
  if (slash === -1) return 'missing prefix length';
  const addr = parseIP(s.slice(0, slash));
  if (!addr) return 'not an IPv4 or IPv6 address';
  const lenText = s.slice(slash + 1);
  const max = addr.family === 'ipv4' ? 32 : 128;
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > max) {
    return `prefix length must be 0 to ${max}`;
  }
  const bits = Number(lenText);
  const cidr: CIDR = { family: addr.family, network: addr, bits, text: `${addr.text}/${bits}` };
  if (!cidrContains(cidr, addr, true)) return 'host bits are set';
  return cidr;
}

/** Whether `ip` lies in `cidr`. With `exactNetwork`, checks that `ip` has no bits past the prefix. */
export function cidrContains(cidr: CIDR, ip: IP, exactNetwork = false): boolean {
  if (ip.family !== cidr.family) return false;
  if (ip.family === 'ipv4') {
    const net = (cidr.network as IPv4).value;
    const mask = cidr.bits === 0 ? 0 : (0xffffffff << (32 - cidr.bits)) >>> 0;
    if (exactNetwork) return (ip.value & ~mask) >>> 0 === 0;
    return (ip.value & mask) >>> 0 === (net & mask) >>> 0;
  }
  const netGroups = (cidr.network as IPv6).groups;
  for (let i = 0; i < 8; i++) {
    const groupBits = Math.max(0, Math.min(16, cidr.bits - i * 16));
    const mask = groupBits === 0 ? 0 : (0xffff << (16 - groupBits)) & 0xffff;
    const g = ip.groups[i] ?? 0;
    if (exactNetwork) {
      if ((g & ~mask & 0xffff) !== 0) return false;
    } else if ((g & mask) !== ((netGroups[i] ?? 0) & mask)) {
      return false;
    }
  }
  return true;
}
