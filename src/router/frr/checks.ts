// Readiness checks on bgpd's running-config: does bgpd export cosmolet's routes for the families it
// has prefixes of, and does it run the configured ASN. Pure; the FRR monitor feeds them.
import type { Origination } from '../router.js';
import type { Family } from '../../net/ip.js';
import { parseRouterBgp } from './parse.js';

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
