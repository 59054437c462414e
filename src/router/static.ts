// static origination: `ip route X/32 blackhole tag T` through ONE `vtysh -f FILE` per apply, read
// back from the running-config. Only lines carrying cosmolet's tag (frr.staticTag, or a configured
// route class's mark) are ever removed.
//
// A re-mark writes the route's line again with the new tag: staticd (measured on FRR 8.4) keeps one
// route per prefix, next hop and distance and changes its tag in place, so zebra and bgpd update the
// route without withdrawing it. The old line must NOT be removed afterwards: `no ip route X
// blackhole tag OLD` removes the route whatever its tag is now.
//
// A tag that is neither staticTag nor a configured mark is not cosmolet's: static routes are the
// operator's namespace too, and a tag of theirs must never be taken for ours. So a class removed
// from the config while routes still carry its mark leaves those routes to the operator (a prefix
// cosmolet wants again is then a conflict, logged and left alone): retire a class by moving its
// Services off it first (see docs/decisions.md "Route classes").
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { RouterApplyError } from '../errors.js';
import { parseStaticRoutes, type StaticRouteLine } from './frr/parse.js';
import type { Vtysh } from './frr/vtysh.js';
import { requireCanonicalPrefix } from '../net/prefix.js';
import {
  batchTimeoutMs,
  type ApplyResult,
  type PrefixDiff,
  type Router,
  type RouterOptions,
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

/** Our lines' routes: prefix -> mark (the first line's, when a prefix has several). */
export function staticOwned(
  current: readonly StaticRouteLine[],
  staticTag: number,
  marks: readonly number[] = [],
): Map<string, number> {
  const own = ownTags(staticTag, marks);
  const out = new Map<string, number>();
  for (const r of current) {
    if (r.tag !== undefined && own.has(r.tag) && !out.has(r.prefix))
      out.set(r.prefix, markOfTag(r.tag, staticTag));
  }
  return out;
}

/**
 * The vtysh lines for a diff against the routes FRR has now: removes use FRR's own line for the
 * route (so it matches whatever next hop it has), adds skip what is already there and prefixes that
 * another static route (other tag or none) holds, because adding would retag it. A re-mark is the
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
    if (r.tag !== undefined && own.has(r.tag)) owned.set(r.prefix, [...(owned.get(r.prefix) ?? []), r.line]);
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
    if (owned.has(p)) continue;
    if (foreign.has(p)) {
      plan.conflicts.push(p);
      continue;
    }
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
    return staticOwned(await this.current(), this.opts.staticTag, this.opts.marks);
  }

  async apply(diff: PrefixDiff): Promise<ApplyResult> {
    const started = performance.now();
    const plan = staticPlan(diff, await this.current(), this.opts.staticTag, this.opts.marks);
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
      const r = await this.vtysh.applyConfig(
        plan.lines,
        batchTimeoutMs(this.opts.commandTimeoutSeconds, plan.lines.length),
        // One daemon only: without -d, vtysh also talks to bgpd and hangs while bgpd is stopped.
        staticConfigDaemon(this.opts.socketDir),
      );
      // vtysh -f exits 0 when staticd is down and goes on after bad lines: the read-back decides.
      const after = await this.read();
      const wantedMark = new Map((diff.remark ?? []).map((r) => [r.prefix, r.to]));
      const failed = [
        ...plan.removed.filter((p) => after.has(p)),
        ...plan.added.filter((p) => !after.has(p)),
        ...plan.remarked.filter((p) => after.get(p) !== wantedMark.get(p)),
      ];
      if (failed.length > 0) {
        throw new RouterApplyError(
          `vtysh -f (exit ${r.exitCode}): ${failed.length} of ${plan.lines.length} route changes did not take effect${
            r.stdout.trim() || r.stderr.trim()
              ? `: ${(r.stdout + r.stderr).trim().split('\n').slice(0, 4).join('; ')}`
              : ''
          }`,
          failed,
        );
      }
    }
    result.durationMs = performance.now() - started;
    this.log.debug(
      {
        added: result.added,
        removed: result.removed,
        remarked: result.remarked,
        ms: Math.round(result.durationMs),
      },
      'applied',
    );
    return result;
  }
}
