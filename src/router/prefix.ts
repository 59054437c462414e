// Validation of the prefixes that reach `ip` and `vtysh` command lines. The plan already produces
// canonical host prefixes; the router checks again so that no string from the cluster can ever be
// interpolated into a command (defence in depth).
import { CosmoletError, ErrorCodes } from '../errors.js';

export type Family = 'ipv4' | 'ipv6';

export interface ParsedPrefix {
  prefix: string;
  address: string;
  length: number;
  family: Family;
}

const V4_OCTET = /^(0|[1-9]\d{0,2})$/;

function v4ToBigInt(addr: string): bigint | undefined {
  const parts = addr.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!V4_OCTET.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = (n << 8n) | BigInt(v);
  }
  return n;
}

/** RFC 5952 text form of an IPv6 address, or undefined when `addr` is not a plain IPv6 address. */
export function canonicalIPv6(addr: string): string | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(addr) || !addr.includes(':')) return undefined;
  try {
    // The WHATWG URL parser implements RFC 5952 compression and rejects zones and junk.
    const host = new URL(`http://[${addr}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return undefined;
  }
}

function v6ToBigInt(canonical: string): bigint {
  const [head = '', tail] = canonical.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(parseInt(g, 16));
  return n;
}

/**
 * Parses a prefix and returns its canonical form, or undefined when it is not a plain IPv4/IPv6
 * network prefix without host bits. A missing length means a host route (/32 or /128), which is how
 * `ip -json` prints them.
 */
export function parsePrefix(text: string): ParsedPrefix | undefined {
  if (text.length > 64) return undefined;
  const slash = text.indexOf('/');
  const addr = slash === -1 ? text : text.slice(0, slash);
  const lenText = slash === -1 ? undefined : text.slice(slash + 1);
  if (lenText !== undefined && !/^(0|[1-9]\d{0,2})$/.test(lenText)) return undefined;
  const v4 = v4ToBigInt(addr);
  if (v4 !== undefined) {
    const length = lenText === undefined ? 32 : Number(lenText);
    if (length > 32) return undefined;
    const hostBits = 32 - length;
    if (hostBits > 0 && (v4 & ((1n << BigInt(hostBits)) - 1n)) !== 0n) return undefined;
    return { prefix: `${addr}/${length}`, address: addr, length, family: 'ipv4' };
  }
  const v6 = canonicalIPv6(addr);
  if (v6 === undefined || v6.includes('.')) return undefined;
  const length = lenText === undefined ? 128 : Number(lenText);
  if (length > 128) return undefined;
  const hostBits = 128 - length;
  if (hostBits > 0 && (v6ToBigInt(v6) & ((1n << BigInt(hostBits)) - 1n)) !== 0n) return undefined;
  return { prefix: `${v6}/${length}`, address: v6, length, family: 'ipv6' };
}

export class InvalidPrefixError extends CosmoletError {
  readonly prefix: string;
  constructor(prefix: string) {
    super(ErrorCodes.ROUTER_PARSE, `refusing prefix ${JSON.stringify(prefix)}: not a canonical IP prefix`);
    this.prefix = prefix;
  }
}

/**
 * The gate in front of every command line: the prefix must already be in canonical form
 * (`10.96.0.10/32`, `fd00:10:96::a/128`), exactly as the plan emits it.
 */
export function requireCanonicalPrefix(prefix: string): ParsedPrefix {
  const p = parsePrefix(prefix);
  if (p === undefined || p.prefix !== prefix || !prefix.includes('/')) throw new InvalidPrefixError(prefix);
  return p;
}
