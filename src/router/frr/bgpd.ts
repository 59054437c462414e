// What bgpd holds and how it is set up, read through the shared vtysh client. Both backends
// export through bgpd, so reading bgpd's table is the same for either of them.
import { requireCanonicalPrefix } from '../../net/prefix.js';
import { parseBgpPrefixes, parseBgpSummary, scanBgpRoutes, type BgpPeer, type BgpView } from './parse.js';
import type { Vtysh } from './vtysh.js';

/** What bgpd holds in IPv4 and IPv6 unicast. */
export async function bgpTable(vtysh: Vtysh): Promise<BgpView> {
  const view: BgpView = new Map();
  for (const afi of ['ipv4', 'ipv6']) {
    const command = `show bgp ${afi} unicast json`;
    const { stdout, stderr } = await vtysh.exec([command], 'bgpd');
    if (stdout.trim() === '') throw vtysh.printedNothing(command, stderr);
    scanBgpRoutes(stdout, view);
  }
  return view;
}

/**
 * What bgpd holds for a few prefixes, in one vtysh call: after an apply only the prefixes that
 * changed are asked, so bgpd never serializes its whole table because one Service flipped.
 */
export async function bgpPrefixes(vtysh: Vtysh, prefixes: readonly string[]): Promise<BgpView> {
  if (prefixes.length === 0) return new Map();
  const commands = prefixes.map((text) => {
    const p = requireCanonicalPrefix(text);
    return `show bgp ${p.family} unicast ${p.prefix} json`;
  });
  const r = await vtysh.exec(commands, 'bgpd');
  return parseBgpPrefixes(prefixes, r.stdout);
}

export async function bgpSummary(vtysh: Vtysh): Promise<BgpPeer[]> {
  return parseBgpSummary(await vtysh.showJson('show bgp summary json', 'bgpd'));
}

/**
 * bgpd's running configuration, for evaluateExport and evaluateAsn. It is never empty when bgpd
 * answered, so empty means vtysh could not reach it: an error saying why, not "no router bgp".
 */
export async function bgpdRunningConfig(vtysh: Vtysh): Promise<string> {
  const command = 'show running-config';
  const { stdout, stderr } = await vtysh.exec([command], 'bgpd');
  if (stdout.trim() === '') throw vtysh.printedNothing(command, stderr);
  return stdout;
}
