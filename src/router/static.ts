// static origination: `ip route X/32 blackhole tag T` through ONE `vtysh -f FILE` per apply, read
// back from the running-config. Only lines carrying cosmolet's tag are ever removed.
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

export function staticRouteLine(prefix: string, tag: number): string {
  const p = requireCanonicalPrefix(prefix);
  return `${p.family === 'ipv4' ? 'ip' : 'ipv6'} route ${p.prefix} blackhole tag ${tag}`;
}

export interface StaticPlan {
  lines: string[];
  added: string[];
  removed: string[];
  conflicts: string[];
}

/**
 * The vtysh lines for a diff against the routes FRR has now: removes use FRR's own line for the
 * route (so it matches whatever next hop it has), adds skip what is already there and prefixes that
 * another static route (other tag or none) holds, because adding would retag it.
 */
export function staticPlan(diff: PrefixDiff, current: readonly StaticRouteLine[], tag: number): StaticPlan {
  const owned = new Map<string, string[]>();
  const foreign = new Set<string>();
  for (const r of current) {
    if (r.tag === tag) owned.set(r.prefix, [...(owned.get(r.prefix) ?? []), r.line]);
    else foreign.add(r.prefix);
  }
  const plan: StaticPlan = { lines: [], added: [], removed: [], conflicts: [] };
  for (const p of diff.remove) {
    requireCanonicalPrefix(p);
    const lines = owned.get(p);
    if (!lines) continue;
    for (const l of lines) plan.lines.push(`no ${l}`);
    plan.removed.push(p);
  }
  for (const p of diff.add) {
    const line = staticRouteLine(p, tag);
    if (owned.has(p)) continue;
    if (foreign.has(p)) {
      plan.conflicts.push(p);
      continue;
    }
    plan.lines.push(line);
    plan.added.push(p);
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

  async read(): Promise<Set<string>> {
    return new Set((await this.current()).filter((r) => r.tag === this.opts.staticTag).map((r) => r.prefix));
  }

  async apply(diff: PrefixDiff): Promise<ApplyResult> {
    const started = performance.now();
    const plan = staticPlan(diff, await this.current(), this.opts.staticTag);
    const result: ApplyResult = {
      added: plan.added.length,
      removed: plan.removed.length,
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
      const failed = [
        ...plan.removed.filter((p) => after.has(p)),
        ...plan.added.filter((p) => !after.has(p)),
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
      { added: result.added, removed: result.removed, ms: Math.round(result.durationMs) },
      'applied',
    );
    return result;
  }
}
