// What bgpd holds and how it is set up, read through the shared vtysh client. Both backends
// export through bgpd, so reading bgpd's table is the same for either of them.
import { RouterParseError } from '../../errors.js';
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

const RUNNING_CONFIG = 'show running-config';
const SUMMARY = 'show bgp summary json';

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
  const commands = [SUMMARY, ...prefixes.map((p) => prefixCommand(p))];
  const r = await vtysh.exec(commands, 'bgpd');
  return parseBgpSummaryAndPrefixes(prefixes, r.stdout);
}

export async function bgpSummary(vtysh: Vtysh): Promise<BgpPeer[]> {
  return parseBgpSummary(await vtysh.showJson(SUMMARY, 'bgpd'));
}

/** What the FRR monitor reads every loop interval, in one vtysh call. */
export interface ConfigAndSummary {
  /** bgpd's running configuration, for evaluateExport and evaluateAsn. */
  config: string;
  /** `show bgp summary json` (the peers, and the stamp of bgpd's table), or why it was not JSON. */
  summary: { json: unknown } | { error: string };
}

/**
 * bgpd's running configuration and its summary in one vtysh call: each vtysh start builds FRR's
 * whole command tree (about 30 ms of CPU) and forks cosmolet, and at 10,000 Services two calls each
 * loop interval were a third of cosmolet's idle CPU. The configuration ends with its `end` line (FRR
 * prints one bare `end` line, last); the summary's JSON follows it. A call that printed no
 * configuration means vtysh could not reach bgpd: an error saying why, not "no router bgp".
 */
export async function bgpdConfigAndSummary(vtysh: Vtysh): Promise<ConfigAndSummary> {
  const { stdout, stderr } = await vtysh.exec([RUNNING_CONFIG, SUMMARY], 'bgpd');
  const end = /^end$/m.exec(stdout);
  if (end === null) {
    if (stdout.trim() === '') throw vtysh.printedNothing(RUNNING_CONFIG, stderr);
    throw new RouterParseError(`vtysh "${RUNNING_CONFIG}" printed no "end" line: ${stdout.slice(0, 200)}`);
  }
  const cut = end.index + end[0].length;
  const answer = stdout.slice(cut).trim();
  let summary: ConfigAndSummary['summary'];
  try {
    summary = { json: JSON.parse(answer) as unknown };
  } catch {
    summary = {
      error:
        answer === ''
          ? `vtysh "${SUMMARY}" printed nothing`
          : `vtysh "${SUMMARY}" did not print JSON: ${answer.slice(0, 200)}`,
    };
  }
  return { config: stdout.slice(0, cut), summary };
}

/** `show bgp <afi> unicast <prefix> [longer-prefixes ]json`, behind the canonical-prefix gate. */
function prefixCommand(text: string, options = ''): string {
  const p = requireCanonicalPrefix(text);
  return `show bgp ${p.family} unicast ${p.prefix} ${options}json`;
}
