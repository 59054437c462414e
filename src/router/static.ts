// static origination: `ip route X/32 blackhole tag T` through ONE `vtysh -f FILE` per apply, read
// back from the running-config. Only lines carrying cosmolet's tag (frr.staticTag, or a configured
// route class's mark) are ever removed.
//
// A re-mark writes the route's line again with the new tag: staticd (measured on FRR 8.4) keeps one
// route per prefix, next hop and distance and changes its tag in place, so zebra and bgpd update the
// route without withdrawing it. The old line must NOT be removed afterwards: `no ip route X
// blackhole tag OLD` removes the route whatever its tag is now.
//
// A line is cosmolet's only in the exact shape cosmolet writes: `ip route <host prefix> blackhole
// tag T` (`ipv6 route`, /128), T its tag, nothing else on the line. A line with its tag and another
// shape (`ip route 10.0.0.0/8 Null0 tag 7300`, a next hop, a distance, a table) is the operator's:
// never removed or retagged, and a prefix it holds is a conflict. A tag that is neither staticTag
// nor a configured mark is not cosmolet's: static routes are the operator's namespace too, and a
// tag of theirs must never be taken for ours. So a class removed
// from the config while routes still carry its mark leaves those routes to the operator (a prefix
// cosmolet wants again is then a conflict, logged and left alone): retire a class by moving its
// Services off it first (see docs/decisions.md "Route classes").
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { applied, applyError, notApplied } from './apply.js';
import { parseStaticRoutes, type StaticRouteLine } from './frr/parse.js';
import type { Vtysh } from './frr/vtysh.js';
import { requireCanonicalPrefix } from '../net/prefix.js';
import { RouteMonitor } from './route-monitor.js';
import {
  batchTimeoutMs,
  type ApplyResult,
  type PrefixDiff,
  type Router,
  type RouterOptions,
  type RouteWatch,
} from './router.js';

/**
 * The daemon that takes static-route configuration: staticd up to FRR 8.x; from 9.x, mgmtd fronts
 * staticd's configuration (not verified here: only 8.4 is installed), recognised by its vty socket.
 */
export function staticConfigDaemon(socketDir: string): 'staticd' | 'mgmtd' {
  return existsSync(join(socketDir, 'mgmtd.vty')) ? 'mgmtd' : 'staticd';
}

/** The tag of a route with this mark (0: no class, frr.staticTag). */
export function tagOf(mark: number, staticTag: number): number {
  return mark !== 0 ? mark : staticTag;
}

/** The mark of a line of ours with this tag (staticTag: 0, no class). */
export function markOfTag(tag: number, staticTag: number): number {
  return tag === staticTag ? 0 : tag;
}

/** Whether a tag is cosmolet's: frr.staticTag or a configured route class's mark. */
export function ownTags(staticTag: number, marks: readonly number[] = []): ReadonlySet<number> {
  return new Set([staticTag, ...marks]);
}

export function staticRouteLine(prefix: string, tag: number): string {
  const p = requireCanonicalPrefix(prefix);
  return `${p.family === 'ipv4' ? 'ip' : 'ipv6'} route ${p.prefix} blackhole tag ${tag}`;
}

export interface StaticPlan {
  lines: string[];
  added: string[];
  removed: string[];
  remarked: string[];
  conflicts: string[];
}

const OWN_SHAPE = /^(ip|ipv6) route (\S+) blackhole tag (\d+)$/;

/**
 * Whether a line is cosmolet's: exactly `ip route <host prefix> blackhole tag T` (`ipv6 route`,
 * /128) with T one of its tags, as staticRouteLine writes it and FRR prints it back.
 */
export function isOwnLine(r: StaticRouteLine, own: ReadonlySet<number>): boolean {
  const m = OWN_SHAPE.exec(r.line);
  if (m === null || r.tag === undefined || !own.has(r.tag)) return false;
  // r.prefix is the canonical form of the same token (parseStaticRoutes).
  return r.prefix.endsWith(m[1] === 'ip' ? '/32' : '/128');
}

/** Lines with one of cosmolet's tags that are not its shape: the operator's, never touched. */
export function foreignTagged(
  current: readonly StaticRouteLine[],
  staticTag: number,
  marks: readonly number[] = [],
): StaticRouteLine[] {
  const own = ownTags(staticTag, marks);
  return current.filter((r) => r.tag !== undefined && own.has(r.tag) && !isOwnLine(r, own));
}

/**
 * Our lines' routes: prefix -> mark (the first line's, when a prefix has several). A prefix that
 * another static line holds too is not counted: it is a conflict, and our line there goes
 * (`stepBackLines`).
 */
export function staticOwned(
  current: readonly StaticRouteLine[],
  staticTag: number,
  marks: readonly number[] = [],
): Map<string, number> {
  const own = ownTags(staticTag, marks);
  const foreign = new Set(current.filter((r) => !isOwnLine(r, own)).map((r) => r.prefix));
  const out = new Map<string, number>();
  for (const r of current) {
    if (r.tag !== undefined && isOwnLine(r, own) && !out.has(r.prefix) && !foreign.has(r.prefix))
      out.set(r.prefix, markOfTag(r.tag, staticTag));
  }
  return out;
}

/**
 * Our lines at a prefix that another static line holds too (FRR 8.4's staticd keeps one path per
 * prefix, so this takes an FRR that keeps both): their removal, cosmolet steps back.
 */
export function stepBackLines(
  current: readonly StaticRouteLine[],
  staticTag: number,
  marks: readonly number[] = [],
): string[] {
  const own = ownTags(staticTag, marks);
  const foreign = new Set(current.filter((r) => !isOwnLine(r, own)).map((r) => r.prefix));
  return current.filter((r) => isOwnLine(r, own) && foreign.has(r.prefix)).map((r) => `no ${r.line}`);
}

/**
 * The vtysh lines for a diff against the routes FRR has now: removes use FRR's own line for the
 * route (only lines of cosmolet's shape are ever removed), adds skip what is already there and
 * prefixes that another static route (other tag or none, or cosmolet's tag in another shape) holds,
 * because adding would retag it or sit beside it. A re-mark is the
 * route's line with the new tag (staticd retags in place), for prefixes of ours only.
 */
export function staticPlan(
  diff: PrefixDiff,
  current: readonly StaticRouteLine[],
  staticTag: number,
  marks: readonly number[] = [],
): StaticPlan {
  const own = ownTags(staticTag, marks);
  const owned = new Map<string, string[]>();
  const foreign = new Set<string>();
  for (const r of current) {
    if (isOwnLine(r, own)) owned.set(r.prefix, [...(owned.get(r.prefix) ?? []), r.line]);
    else foreign.add(r.prefix);
  }
  const plan: StaticPlan = { lines: [], added: [], removed: [], remarked: [], conflicts: [] };
  for (const p of diff.remove) {
    requireCanonicalPrefix(p);
    const lines = owned.get(p);
    if (!lines) continue;
    for (const l of lines) plan.lines.push(`no ${l}`);
    plan.removed.push(p);
  }
  for (const p of diff.add) {
    const line = staticRouteLine(p, tagOf(diff.marks?.get(p) ?? 0, staticTag));
    if (foreign.has(p)) {
      plan.conflicts.push(p);
      // Ours beside another line of the prefix: cosmolet steps back.
      for (const l of owned.get(p) ?? []) plan.lines.push(`no ${l}`);
      continue;
    }
    if (owned.has(p)) continue;
    plan.lines.push(line);
    plan.added.push(p);
  }
  for (const r of diff.remark ?? []) {
    // Only a line of ours is retagged; a prefix another static route holds stays a conflict.
    if (!owned.has(r.prefix)) continue;
    plan.lines.push(staticRouteLine(r.prefix, tagOf(r.to, staticTag)));
    plan.remarked.push(r.prefix);
  }
  return plan;
}

export class StaticRouter implements Router {
  readonly origination = 'static' as const;
  private readonly log: Logger;
  /** The lines of our tag but not our shape last logged, so each set is logged once. */
  private foreignLogged = '';
  /** `no` lines for ours beside another line of the prefix, as of the last read. */
  private stepBack: string[] = [];
  /** Prefixes of ours as of the last read, minus those an apply is removing: a deletion is news. */
  private expected = new Set<string>();
  constructor(
    private readonly opts: RouterOptions,
    private readonly vtysh: Vtysh,
  ) {
    this.log = opts.logger.child({ component: 'router', origination: 'static' });
  }

  private async current(): Promise<StaticRouteLine[]> {
    // Only the daemon holding static routes: fast, and independent of a stuck bgpd.
    return parseStaticRoutes(
      await this.vtysh.show('show running-config', staticConfigDaemon(this.opts.socketDir)),
    );
  }

  async read(): Promise<Map<string, number>> {
    const current = await this.current();
    this.reportForeign(foreignTagged(current, this.opts.staticTag, this.opts.marks));
    this.stepBack = stepBackLines(current, this.opts.staticTag, this.opts.marks);
    if (this.stepBack.length > 0) {
      this.log.warn(
        { lines: this.stepBack.slice(0, 10), count: this.stepBack.length },
        `${this.stepBack.length} static routes of cosmolet share their prefix with another static route: cosmolet removes its own, the prefix is a conflict`,
      );
    }
    const owned = staticOwned(current, this.opts.staticTag, this.opts.marks);
    this.expected = new Set(owned.keys());
    return owned;
  }

  /**
   * zebra installs the static routes it selects into the kernel too (a blackhole of protocol
   * `static`): `ip monitor route` sees FRR delete one of ours (frr-reload.py, a hand edit, a staticd
   * that lost it) within milliseconds, without a vtysh call. A deletion of a prefix the last read
   * owned and no apply of ours removed calls `onLost` (batched over 20 ms); a gap in the monitor
   * calls it with none. A route zebra does not put in the kernel (another route holds the prefix)
   * is not seen: the periodic full read-back still covers it.
   */
  watch(onLost: (prefixes: string[], freed?: string[]) => void): RouteWatch {
    const pending = new Set<string>();
    const freed = new Set<string>();
    let flush: NodeJS.Timeout | undefined;
    const monitor = new RouteMonitor({
      argv: [
        this.opts.ipPath ?? 'ip',
        ...(this.opts.netns ? ['-n', this.opts.netns] : []),
        '-N',
        'monitor',
        'route',
      ],
      onEvent: (e) => {
        if (!e.deleted || !e.mainTable) return;
        // Another owner's host route gone: a conflict of ours may go in now.
        if (this.expected.delete(e.prefix)) pending.add(e.prefix);
        else if (e.prefix.endsWith('/32') || e.prefix.endsWith('/128')) freed.add(e.prefix);
        else return;
        flush ??= setTimeout(() => {
          flush = undefined;
          const lost = [...pending].sort();
          const gone = [...freed].sort();
          pending.clear();
          freed.clear();
          onLost(lost, gone);
        }, 20);
      },
      onGap: () => onLost([]),
      logger: this.log,
      fallback:
        'static routes of cosmolet that FRR deletes (frr-reload.py) come back at the next loop interval',
    });
    monitor.start();
    return {
      live: () => monitor.running,
      stop: async () => {
        if (flush) clearTimeout(flush);
        await monitor.stop();
      },
    };
  }

  /** Removes our lines that the last read found beside another line of their prefix. */
  async repair(): Promise<number> {
    const lines = this.stepBack;
    this.stepBack = [];
    if (lines.length === 0) return 0;
    await this.vtysh.applyConfig(
      lines,
      batchTimeoutMs(this.opts.commandTimeoutSeconds, lines.length),
      staticConfigDaemon(this.opts.socketDir),
    );
    return lines.length;
  }

  /** Lines with our tag but not our shape: not ours, logged once per set. */
  private reportForeign(foreign: readonly StaticRouteLine[]): void {
    const key = foreign
      .map((r) => r.line)
      .sort()
      .join('\n');
    if (key === this.foreignLogged) return;
    this.foreignLogged = key;
    if (foreign.length === 0) return;
    this.log.warn(
      { routes: foreign.slice(0, 10).map((r) => r.line), count: foreign.length },
      `${foreign.length} static routes carry cosmolet's tag but are not its shape (ip route <host prefix> blackhole tag T): left alone, never removed; a prefix they hold is a conflict`,
    );
  }

  async apply(diff: PrefixDiff): Promise<ApplyResult> {
    const started = performance.now();
    const plan = staticPlan(diff, await this.current(), this.opts.staticTag, this.opts.marks);
    // Steps back the last read found and no repair() carried out (a withdrawal on exit reads, then applies).
    plan.lines = [...new Set([...this.stepBack, ...plan.lines])];
    this.stepBack = [];
    const result: ApplyResult = {
      added: plan.added.length,
      removed: plan.removed.length,
      remarked: plan.remarked.length,
      conflicts: plan.conflicts,
      durationMs: 0,
    };
    if (plan.conflicts.length > 0) {
      this.log.warn(
        { conflicts: plan.conflicts.slice(0, 20), count: plan.conflicts.length },
        'prefixes held by static routes without cosmolet tag; left alone',
      );
    }
    if (plan.lines.length > 0) {
      // Our own removals are no news to watch().
      for (const p of plan.removed) this.expected.delete(p);
      const r = await this.vtysh.applyConfig(
        plan.lines,
        batchTimeoutMs(this.opts.commandTimeoutSeconds, plan.lines.length),
        // One daemon only: without -d, vtysh also talks to bgpd and hangs while bgpd is stopped.
        staticConfigDaemon(this.opts.socketDir),
      );
      // vtysh -f exits 0 when staticd is down and goes on after bad lines: the read-back decides.
      const after = await this.read();
      const remarked = new Set(plan.remarked);
      const remarks = (diff.remark ?? []).filter((m) => remarked.has(m.prefix));
      const failed = notApplied(after, plan.added, plan.removed, remarks);
      if (failed.length > 0)
        throw applyError(`vtysh -f (exit ${r.exitCode})`, failed, plan.lines.length, r.stdout + r.stderr);
    }
    return applied(this.log, result, started);
  }
}
