// The ranges bgpd's table is read in: prefixes that together cover a set of host prefixes, each
// holding at most a given number of them. `show bgp <afi> unicast <range> longer-prefixes json`
// then reads one range per command, and bgpd, which runs one command at a time between its other
// work, is never busy with one read for long: serializing a table of 100,000 routes per family at
// once took it about a second, with every route update (a flip) waiting behind it.
import { parseIP } from '../../net/ip.js';

/** Addresses of one family as 32-bit words, `words` per address. */
interface Addresses {
  family: 'ipv4' | 'ipv6';
  words: 1 | 4;
  data: number[];
}

/** Parsing is the cost (about 1.5 µs a prefix): done in slices of this many, yielding between. */
const PARSE_SLICE = 4096;

/**
 * Ranges (canonical prefixes, IPv4 first) that cover every host prefix in `prefixes`, each holding
 * at most `max` of them (more only when they are one address). Each range is split where its
 * addresses first differ, so the ranges are disjoint. `pause` is awaited between slices of work.
 */
export async function coveringRanges(
  prefixes: Iterable<string>,
  max: number,
  pause: () => Promise<void> = () => Promise.resolve(),
): Promise<string[]> {
  const v4: Addresses = { family: 'ipv4', words: 1, data: [] };
  const v6: Addresses = { family: 'ipv6', words: 4, data: [] };
  let n = 0;
  for (const p of prefixes) {
    const slash = p.indexOf('/');
    const ip = parseIP(slash < 0 ? p : p.slice(0, slash));
    if (ip?.family === 'ipv4') v4.data.push(ip.value);
    else if (ip) {
      const g = ip.groups;
      for (let i = 0; i < 8; i += 2) v6.data.push((((g[i] ?? 0) << 16) | (g[i + 1] ?? 0)) >>> 0);
    }
    if (++n % PARSE_SLICE === 0) await pause();
  }
  const ranges = split(v4, max);
  await pause();
  return [...ranges, ...split(v6, max)];
}

function split(a: Addresses, max: number): string[] {
  const { words, data } = a;
  const bits = words * 32;
  const out: string[] = [];
  const visit = (members: number[]): void => {
    const first = members[0];
    if (first === undefined) return;
    // The leading bits every member shares with the first: the OR of their differences.
    const diff = new Array<number>(words).fill(0);
    for (const m of members)
      for (let w = 0; w < words; w++)
        diff[w] = ((diff[w] ?? 0) | ((data[m * words + w] ?? 0) ^ (data[first * words + w] ?? 0))) >>> 0;
    let common = bits;
    for (let w = 0; w < words; w++) {
      const d = diff[w] ?? 0;
      if (d !== 0) {
        common = w * 32 + Math.clz32(d);
        break;
      }
    }
    if (members.length <= max || common === bits) {
      out.push(format(a, first, common));
      return;
    }
    const w = common >> 5;
    const mask = (1 << (31 - (common & 31))) >>> 0;
    const zero: number[] = [];
    const one: number[] = [];
    for (const m of members) (((data[m * words + w] ?? 0) & mask) >>> 0 === 0 ? zero : one).push(m);
    visit(zero);
    visit(one);
  };
  visit(Array.from({ length: data.length / words }, (_, i) => i));
  return out;
}

/** The range of `length` bits around member `m`, in canonical text. */
function format(a: Addresses, m: number, length: number): string {
  const word = (w: number): number => {
    const v = a.data[m * a.words + w] ?? 0;
    const keep = Math.max(0, Math.min(32, length - w * 32));
    return keep === 0 ? 0 : keep === 32 ? v : (v & ~((1 << (32 - keep)) - 1)) >>> 0;
  };
  if (a.family === 'ipv4') {
    const v = word(0);
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${length}`;
  }
  const groups: string[] = [];
  for (let w = 0; w < 4; w++) {
    const v = word(w);
    groups.push((v >>> 16).toString(16), (v & 0xffff).toString(16));
  }
  // The canonical text (RFC 5952) from the parser that defines it.
  const text = groups.join(':');
  return `${parseIP(text)?.text ?? text}/${length}`;
}
