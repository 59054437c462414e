// Prefixes in text: host prefixes of addresses, and the validation of the prefixes that reach `ip`
// and `vtysh` command lines. The plan already produces canonical host prefixes; the router checks
// again so that no string from the cluster can ever be interpolated into a command (defence in depth).
import { InvalidPrefixError } from '../errors.js';
import { familyOf, parseCIDR, type Family } from './ip.js';

/** The host prefix (/32 or /128) of an address in text, as the plan writes it. */
export function hostPrefixOf(address: string): string {
  return `${address}/${familyOf(address) === 'ipv6' ? 128 : 32}`;
}

export interface ParsedPrefix {
  prefix: string;
  address: string;
  length: number;
  family: Family;
}

/**
 * Parses a prefix and returns its canonical form, or undefined when it is not a plain IPv4/IPv6
 * network prefix without host bits (the plan's own strict parser: no leading zeros, zones or
 * IPv4-mapped addresses). A missing length means a host route (/32 or /128), which is how
 * `ip -json` prints them.
 */
export function parsePrefix(text: string): ParsedPrefix | undefined {
  if (text.length > 64) return undefined;
  const withLength = text.includes('/') ? text : hostPrefixOf(text);
  const cidr = parseCIDR(withLength);
  if (typeof cidr === 'string') return undefined;
  return { prefix: cidr.text, address: cidr.network.text, length: cidr.bits, family: cidr.family };
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
