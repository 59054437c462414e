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

/** How a read of bgpd's table in ranges shares bgpd and the CPU with route updates (a flip). */
export interface RangeReadPacing {
  /** Ranges per vtysh call: bgpd runs each range's command on its own, returning to its updates between them. */
  perCall: number;
  /** Awaited after each range's answer is parsed, so a flip waits for one range's parse at most. */
  pause: () => Promise<void>;
  /** Awaited after each call with how long it took (bgpd serializing, vtysh relaying). */
  rest: (callMs: number) => Promise<void>;
}

/**
 * What bgpd holds in these ranges (coveringRanges), paced: at 50,000 Services a whole read is
 * about 13 calls of 8 ranges, each 0.2-0.3 s of bgpd serializing 8,192 routes and 30-85 ms of
 * parsing; parsed in one go and back to back, they delayed flips by up to 200 ms. An aborted
 * `signal` ends it at the next pause.
 */
export async function bgpTableInRanges(
  vtysh: Vtysh,
  ranges: readonly string[],
  pacing: RangeReadPacing,
  known?: { has(prefix: string): boolean },
  signal?: AbortSignal,
): Promise<BgpView> {
  const view: BgpView = new Map();
  for (let i = 0; i < ranges.length; i += pacing.perCall) {
    signal?.throwIfAborted();
    const commands = ranges
      .slice(i, i + pacing.perCall)
      .map((text) => prefixCommand(text, 'longer-prefixes '));
    const started = performance.now();
    const { stdout, stderr } = await vtysh.exec(commands, 'bgpd');
    const callMs = performance.now() - started;
    const answers = splitJsonObjects(stdout);
    if (answers.length !== commands.length)
      throw vtysh.printedNothing(commands[answers.length] ?? commands[0] ?? '', stderr);
    for (const text of answers) {
      scanBgpRoutes(text, view, known);
      await pacing.pause();
      signal?.throwIfAborted();
    }
    await pacing.rest(callMs);
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
