// What bgpd holds and how it is set up, read through the shared vtysh client. Both backends
// export through bgpd, so reading bgpd's table is the same for either of them.
import { requireCanonicalPrefix } from '../../net/prefix.js';
import {
  parseBgpSummary,
  parseBgpSummaryAndPrefixes,
  scanBgpRoutes,
  splitJsonObjects,
  type BgpPeer,
  type BgpView,
} from './parse.js';
import type { Vtysh } from './vtysh.js';

/**
 * What bgpd holds in these ranges (coveringRanges), `perCall` ranges per vtysh call, pausing between
 * calls: bgpd runs each range's command on its own, so it goes on sending updates between them, and
 * cosmolet parses one call's answers at a time.
 */
export async function bgpTableInRanges(
  vtysh: Vtysh,
  ranges: readonly string[],
  perCall: number,
  pause: () => Promise<void>,
  known?: { has(prefix: string): boolean },
): Promise<BgpView> {
  const view: BgpView = new Map();
  for (let i = 0; i < ranges.length; i += perCall) {
    const commands = ranges.slice(i, i + perCall).map((text) => prefixCommand(text, 'longer-prefixes '));
    const { stdout, stderr } = await vtysh.exec(commands, 'bgpd');
    const answers = splitJsonObjects(stdout);
    if (answers.length !== commands.length)
      throw vtysh.printedNothing(commands[answers.length] ?? commands[0] ?? '', stderr);
    for (const text of answers) scanBgpRoutes(text, view, known);
    await pause();
  }
  return view;
}

/**
 * The summary, then a few prefixes, in one vtysh call: after an apply only the prefixes that
 * changed are asked, so bgpd never serializes its whole table because one Service flipped. The
 * summary, read first, carries the stamp the view is current for once the answers are in.
 */
export async function bgpSummaryAndPrefixes(
  vtysh: Vtysh,
  prefixes: readonly string[],
): Promise<{ summary: unknown; routes: BgpView }> {
  const commands = ['show bgp summary json', ...prefixes.map((p) => prefixCommand(p))];
  const r = await vtysh.exec(commands, 'bgpd');
  return parseBgpSummaryAndPrefixes(prefixes, r.stdout);
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

/** `show bgp <afi> unicast <prefix> [longer-prefixes ]json`, behind the canonical-prefix gate. */
function prefixCommand(text: string, options = ''): string {
  const p = requireCanonicalPrefix(text);
  return `show bgp ${p.family} unicast ${p.prefix} ${options}json`;
}
