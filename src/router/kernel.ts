// kernel origination: host routes with cosmolet's protocol number in the main table, through a
// device of cosmolet's own that drops what it is given (`cosmolet0`, a dummy interface), one
// `ip -batch -` per apply, read back with `ip -N -json route show table main`. Only routes of the exact
// shape cosmolet creates are its own (kernel-routes.ts): any other route with its protocol number
// is left alone.
//
// Why not blackhole routes (the first design, see docs/design.md): for traffic that is forwarded both forms are
// the same (kube-proxy's PREROUTING DNAT catches served traffic before routing, the rest is
// dropped). But a socket on the node itself looks the route up at connect(), before kube-proxy's
// OUTPUT DNAT: a blackhole makes connect() fail with EINVAL, so host-network pods, the node's own
// clients and cosmolet itself (through the `kubernetes` Service) could no longer reach an advertised
// ClusterIP. A route through a dummy device is an ordinary route at connect(), the OUTPUT DNAT then
// sends the packet to the real endpoint, and anything nobody serves is dropped by the device.
// Why one file of this length: it is one backend (the device, apply, read-back and the conflict check
// before an add share the same ip invocations and ownership rule); the route shapes are kernel-routes.ts.
import { CosmoletError, ErrorCodes } from '../errors.js';
import type { Logger } from '../logger.js';
import { applied, applyError, notApplied } from './apply.js';
import { runCommand } from './exec.js';
import { RouteMonitor, type RouteEvent } from './route-monitor.js';
import { requireCanonicalPrefix } from '../net/prefix.js';
import {
  deleteSelector,
  describeRoutes,
  isCurrentForm,
  isOwnShape,
  KERNEL_DEVICE,
  kernelReadBack,
  markOf,
  metricOf,
  parseIpRoutes,
  ZEBRA_PROTOCOLS,
  type KernelRoute,
} from './kernel-routes.js';
import {
  batchTimeoutMs,
  type ApplyResult,
  type PrefixDiff,
  type Router,
  type RouterOptions,
  type RouteWatch,
} from './router.js';

export {
  IPV6_DEFAULT_METRIC,
  KERNEL_DEVICE,
  isCurrentForm,
  isOwnShape,
  kernelReadBack,
  markOf,
  metricOf,
  parseIpRoutes,
  type KernelReadBack,
  type KernelRoute,
} from './kernel-routes.js';

/** Up to this many adds of a family are checked for conflicts prefix by prefix, more by the whole table. */
const EXACT_LOOKUPS = 8;

export function validKernelProtocol(n: number): boolean {
  return Number.isInteger(n) && n >= 5 && n <= 255 && !ZEBRA_PROTOCOLS.has(n);
}

function metricArg(prefix: string, mark: number): string {
  return mark !== 0 ? ` metric ${mark}` : '';
}

/**
 * The `ip -batch` lines for a diff: removals first, matched by protocol and device so only ours go
 * (a route of another shape with the same protocol number is not ours); adds with
 * `add`, never `replace`, so a route of another protocol holding the prefix is never taken over.
 * A re-mark adds the route with the new metric next to the old one (the kernel keeps both, zebra
 * keeps announcing the old one, the better metric) and then deletes the old one by its metric:
 * zebra then announces the new one in place, the prefix is never withdrawn. The old metric is
 * always spelled out: an IPv6 `del` without one would take the route with the lowest metric.
 */
export function kernelBatch(
  diff: PrefixDiff,
  protocol: number,
  device: string = KERNEL_DEVICE,
  blackholes: ReadonlySet<string> = new Set(),
): string[] {
  // A route of ours still in an earlier version's form (a blackhole, until repair() converts it).
  const del = (prefix: string): string =>
    blackholes.has(prefix) ? `route del blackhole ${prefix}` : `route del ${prefix} dev ${device}`;
  const lines: string[] = [];
  for (const p of diff.remove) lines.push(`${del(requireCanonicalPrefix(p).prefix)} proto ${protocol}`);
  for (const p of diff.add) {
    const mark = diff.marks?.get(p) ?? 0;
    lines.push(
      `route add ${requireCanonicalPrefix(p).prefix} dev ${device} proto ${protocol}${metricArg(p, mark)}`,
    );
  }
  for (const r of diff.remark ?? []) {
    const prefix = requireCanonicalPrefix(r.prefix).prefix;
    // The same kernel route (the config refuses the mark 1024 that makes this happen for IPv6):
    // deleting "the old one" would delete the only one.
    if (metricOf(prefix, r.from) === metricOf(prefix, r.to)) continue;
    lines.push(`route add ${prefix} dev ${device} proto ${protocol}${metricArg(prefix, r.to)}`);
    lines.push(`${del(prefix)} proto ${protocol} metric ${metricOf(prefix, r.from)}`);
  }
  return lines;
}

/** Whether `ip -json link show` says the interface is administratively up. */
export function isUp(stdout: string): boolean {
  try {
    const links = JSON.parse(stdout) as { flags?: unknown }[];
    const flags = links[0]?.flags;
    return Array.isArray(flags) && flags.includes('UP');
  } catch {
    return false;
  }
}

export class KernelRouter implements Router {
  readonly origination = 'kernel' as const;
  private readonly log: Logger;
  /** Routes of ours in an older form, as of the last read. */
  private outdated: KernelRoute[] = [];
  /** Second routes of ours for a prefix (an interrupted re-mark), as of the last read. */
  private extras: KernelRoute[] = [];
  /** Routes of ours beside a route of another protocol, as of the last read: to delete. */
  private stepBack: KernelRoute[] = [];
  /** Prefixes whose route of ours is a blackhole (an earlier form), as of the last read and applies. */
  private blackholes = new Set<string>();
  private deviceReady = false;
  /** Our routes as of the last read and applies since (prefix -> kernel metric), for watch(). */
  private expected = new Map<string, number>();
  /** The routes of our protocol but not our shape last logged, so each set is logged once. */
  private foreignLogged = '';
  /**
   * Host prefixes held by a route that is not ours, as of the last read and kept current by the
   * watch's monitor: answers a large batch's conflict check without printing the whole table
   * again (each early batch of a cold start did, 0.1-0.3 s apiece on a growing table). Per family,
   * only while the monitor ran without a gap since that table's read began (its epoch).
   */
  private foreignHosts = new Map<'-4' | '-6', { hosts: Set<string>; epoch: number }>();
  /** Prefixes a route that is not ours left since the last read: another may still hold them. */
  private foreignDoubtful = new Set<string>();
  /** Bumped at every start, gap and stop of the monitor: a cache of another epoch may have missed an event. */
  private monitorEpoch = 0;
  private monitorLive: () => boolean = () => false;
  constructor(private readonly opts: RouterOptions) {
    if (!validKernelProtocol(opts.kernelProtocol)) {
      throw new CosmoletError(
        ErrorCodes.CONFIG_INVALID,
        `frr.kernelProtocol ${opts.kernelProtocol} is not usable (5-255, not zebra's 11, 42, 186-198)`,
      );
    }
    this.log = opts.logger.child({ component: 'router', origination: 'kernel' });
  }

  private ip(): string[] {
    return [this.opts.ipPath ?? 'ip', ...(this.opts.netns ? ['-n', this.opts.netns] : [])];
  }

  /** `-N`: protocol numbers as numbers (a name in rt_protos, `static` of the kernel or of zebra, is ambiguous). */
  private async show(family: '-4' | '-6', selector: string[]): Promise<KernelRoute[]> {
    const r = await runCommand(
      [...this.ip(), '-N', family, '-json', 'route', 'show', 'table', 'main', ...selector],
      {
        timeoutMs: this.opts.commandTimeoutSeconds * 1000,
      },
    );
    return parseIpRoutes(r.stdout);
  }

  private async ipRun(args: string[], okCodes: readonly number[] | 'any' = [0]) {
    return runCommand([...this.ip(), ...args], {
      timeoutMs: this.opts.commandTimeoutSeconds * 1000,
      okCodes,
    });
  }

  /**
   * Makes sure the device exists and is up. A dummy interface where the kernel has the driver; an
   * ifb interface (which also drops what it is given) where it has not, as in some sandboxes.
   */
  private async ensureDevice(): Promise<void> {
    // Checked once, not before every batch (it is a process of its own, on the path of every flip);
    // a batch that fails checks it again, and a read-back (resync) does too.
    if (this.deviceReady) return;
    await this.checkDevice();
    this.deviceReady = true;
  }

  private async checkDevice(): Promise<void> {
    const show = await this.ipRun(['-json', 'link', 'show', 'dev', KERNEL_DEVICE], 'any');
    if (show.exitCode !== 0) {
      const dummy = await this.ipRun(['link', 'add', KERNEL_DEVICE, 'type', 'dummy'], 'any');
      if (dummy.exitCode !== 0) {
        const ifb = await this.ipRun(['link', 'add', KERNEL_DEVICE, 'type', 'ifb'], 'any');
        if (ifb.exitCode !== 0) {
          throw new CosmoletError(
            ErrorCodes.COMMAND_FAILED,
            `cannot create the ${KERNEL_DEVICE} device (dummy: ${dummy.stderr.trim()}; ifb: ${ifb.stderr.trim()})`,
          );
        }
        this.log.info(`created ${KERNEL_DEVICE} as an ifb device: this kernel has no dummy driver`);
      } else {
        this.log.info(`created the ${KERNEL_DEVICE} dummy device for cosmolet's routes`);
      }
    } else if (isUp(show.stdout)) {
      return;
    } else {
      this.log.warn(`${KERNEL_DEVICE} was down; setting it up`);
    }
    await this.ipRun(['link', 'set', 'dev', KERNEL_DEVICE, 'up']);
  }

  /** Only reads: with bgp.enabled false cosmolet must touch nothing, not even create its device. */
  async read(): Promise<Map<string, number>> {
    // The whole main table: filtered by protocol, `ip` leaves the protocol out of its output; the
    // shape decides what is ours, and the other routes tell which prefixes are conflicts. Costs
    // about as much as the filtered read (the kernel dumps the whole table either way).
    const epoch = this.monitorLive() ? this.monitorEpoch : -1;
    const [v4, v6] = await Promise.all([this.show('-4', []), this.show('-6', [])]);
    const back = kernelReadBack([...v4, ...v6], this.opts.kernelProtocol);
    this.cacheForeign('-4', v4, epoch);
    this.cacheForeign('-6', v6, epoch);
    this.foreignDoubtful = new Set();
    this.deviceReady = false;
    this.extras = back.extras;
    this.stepBack = back.stepBack;
    // The announced routes of ours in an older form (a blackhole): converted by repair().
    this.outdated = [...v4, ...v6].filter(
      (r) =>
        isOwnShape(r, this.opts.kernelProtocol) &&
        !isCurrentForm(r) &&
        !back.extras.includes(r) &&
        !back.stepBack.includes(r),
    );
    this.blackholes = new Set(this.outdated.filter((r) => r.type === 'blackhole').map((r) => r.prefix));
    this.expected = new Map([...back.routes].map(([p, mark]) => [p, metricOf(p, mark)]));
    this.reportForeign(back.foreign);
    if (back.stepBack.length > 0) {
      this.log.warn(
        { routes: describeRoutes(back.stepBack), count: back.stepBack.length },
        `${back.stepBack.length} routes of cosmolet share their prefix with a route of another protocol (at another metric): cosmolet withdraws its own, the prefix is a conflict`,
      );
    }
    return back.routes;
  }

  /** Routes with our protocol number that are not our shape: not ours, logged once per set. */
  private reportForeign(foreign: readonly KernelRoute[]): void {
    const key = describeRoutes(foreign, foreign.length).sort().join(',');
    if (key === this.foreignLogged) return;
    this.foreignLogged = key;
    if (foreign.length === 0) return;
    this.log.warn(
      { routes: describeRoutes(foreign), count: foreign.length },
      `${foreign.length} routes with protocol ${this.opts.kernelProtocol} are not cosmolet's (not a /32 or /128 through ${KERNEL_DEVICE}): left alone, never deleted; a prefix they hold is a conflict`,
    );
  }

  /** Deletes routes of ours that the last read found beside a route of another protocol (once). */
  private takeStepBack(): string[] {
    const lines = this.stepBack.map((r) => `route del ${deleteSelector(r, this.opts.kernelProtocol)}`);
    this.stepBack = [];
    return lines;
  }

  /**
   * Converts routes of ours in an older form (a blackhole of an earlier version) found by the last
   * read, with `replace`: it swaps the route atomically, so the prefix is never withdrawn meanwhile.
   * Deletes the second route of a prefix (left by an interrupted re-mark): not the announced one.
   * Deletes our routes at a prefix a route of another protocol holds: cosmolet steps back, and the
   * next apply reports the prefix as a conflict.
   */
  async repair(): Promise<number> {
    const outdated = this.outdated;
    const extras = this.extras;
    const stepBack = this.takeStepBack();
    if (outdated.length === 0 && extras.length === 0 && stepBack.length === 0) return 0;
    await this.ensureDevice();
    const proto = this.opts.kernelProtocol;
    const lines = [
      ...stepBack,
      ...extras.map((r) => `route del ${deleteSelector(r, proto)}`),
      ...outdated.map(
        (r) =>
          `route replace ${r.prefix} dev ${KERNEL_DEVICE} proto ${proto}${metricArg(r.prefix, markOf(r))}`,
      ),
    ];
    const r = await runCommand([...this.ip(), '-force', '-batch', '-'], {
      input: lines.join('\n') + '\n',
      timeoutMs: batchTimeoutMs(this.opts.commandTimeoutSeconds, lines.length),
      okCodes: 'any',
    });
    this.outdated = [];
    this.extras = [];
    this.blackholes = new Set();
    this.log.info(
      {
        converted: outdated.length,
        duplicates: extras.length,
        steppedBack: stepBack.length,
        exitCode: r.exitCode,
      },
      `converted ${outdated.length} routes of an older form to routes through ${KERNEL_DEVICE}, deleted ${extras.length} second routes of a prefix and ${stepBack.length} beside a route of another protocol`,
    );
    return outdated.length + extras.length + stepBack.length;
  }

  /**
   * The prefixes to add that a route which is not ours holds, at any metric (the kernel would
   * refuse ours only at an equal one), and our routes at them (to delete: cosmolet steps back).
   * While the route monitor runs, the foreign-host cache answers (a flip spawns no lookup). Else a
   * few prefixes are looked up one by one (`route show exact`, one `ip -batch` per family):
   * printing a 20,000-route table as JSON took 0.25-0.45 s on a loaded 2-CPU machine, an exact
   * lookup 0.06 s. More read the tables of their families once.
   */
  private async conflictsOf(
    add: readonly string[],
  ): Promise<{ conflicts: Set<string>; ours: KernelRoute[] }> {
    const wanted = new Set(add);
    const byFamily = new Map<'-4' | '-6', string[]>();
    for (const p of add) {
      const f = p.includes(':') ? '-6' : '-4';
      // Pushed, not copied: a copy per prefix was quadratic (a 100,000-route first batch took minutes).
      const list = byFamily.get(f);
      if (list) list.push(p);
      else byFamily.set(f, [p]);
    }
    const cached = this.cachedConflicts(byFamily);
    const epoch = this.monitorLive() ? this.monitorEpoch : -1;
    const tables = await Promise.all(
      [...byFamily].map(async ([f, prefixes]) => {
        if (prefixes.length <= EXACT_LOOKUPS) return this.exact(f, prefixes);
        const table = await this.show(f, []);
        // The whole table read with the monitor running: the next batches ask the cache.
        this.cacheForeign(f, table, epoch);
        return table;
      }),
    );
    const back = kernelReadBack(tables.flat(), this.opts.kernelProtocol);
    const conflicts = new Set([...back.conflicts, ...cached].filter((p) => wanted.has(p)));
    return { conflicts, ours: back.stepBack.filter((r) => conflicts.has(r.prefix)) };
  }

  /**
   * Answers what the foreign-host cache can (see `foreignHosts`): takes those prefixes out of
   * `byFamily` and returns the ones another route holds. Left for a lookup: prefixes another route
   * left since the read (a second one may still be there) and held ones where a route of ours is
   * too (to delete it, its exact route is needed).
   */
  private cachedConflicts(byFamily: Map<'-4' | '-6', string[]>): string[] {
    const held: string[] = [];
    if (!this.monitorLive()) return held;
    for (const [f, prefixes] of byFamily) {
      const entry = this.foreignHosts.get(f);
      // A flip too: a lookup is one more `ip` spawned before the batch (fork costs grow with the heap).
      if (entry?.epoch !== this.monitorEpoch) continue;
      const cache = entry.hosts;
      const lookup: string[] = [];
      for (const p of prefixes) {
        if (this.foreignDoubtful.has(p) || (cache.has(p) && this.expected.has(p))) lookup.push(p);
        else if (cache.has(p)) held.push(p);
      }
      if (lookup.length > 0) byFamily.set(f, lookup);
      else byFamily.delete(f);
    }
    return held;
  }

  /** Every main-table route of each prefix (`route show table main exact P` in one batch). */
  private async exact(family: '-4' | '-6', prefixes: readonly string[]): Promise<KernelRoute[]> {
    const r = await runCommand([...this.ip(), '-N', family, '-json', '-force', '-batch', '-'], {
      input:
        prefixes.map((p) => `route show table main exact ${requireCanonicalPrefix(p).prefix}`).join('\n') +
        '\n',
      timeoutMs: batchTimeoutMs(this.opts.commandTimeoutSeconds, prefixes.length),
      okCodes: 'any',
    });
    // One JSON array per line; a lookup that failed is judged by the whole table instead.
    if (r.exitCode !== 0) return this.show(family, []);
    return r.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .flatMap((l) => parseIpRoutes(l));
  }

  async apply(diff: PrefixDiff): Promise<ApplyResult> {
    const started = performance.now();
    const result: ApplyResult = {
      added: diff.add.length,
      removed: diff.remove.length,
      remarked: diff.remark?.length ?? 0,
      conflicts: [],
      durationMs: 0,
    };
    let batch = diff;
    const stepBack = this.takeStepBack();
    if (diff.add.length > 0) {
      const found = await this.conflictsOf(diff.add);
      if (found.conflicts.size > 0) {
        result.conflicts = diff.add.filter((p) => found.conflicts.has(p));
        batch = { ...diff, add: diff.add.filter((p) => !found.conflicts.has(p)) };
        for (const r of found.ours) stepBack.push(`route del ${deleteSelector(r, this.opts.kernelProtocol)}`);
      }
    }
    const lines = [
      ...stepBack,
      ...kernelBatch(batch, this.opts.kernelProtocol, KERNEL_DEVICE, this.blackholes),
    ];
    for (const p of batch.remove) this.blackholes.delete(p);
    if (lines.length === 0) return applied(this.log, result, started);
    // Our own removals (and a re-mark's old route) are no news to watch().
    for (const p of batch.remove) this.expected.delete(p);
    for (const r of diff.remark ?? []) this.expected.delete(r.prefix);
    await this.ensureDevice();
    // -force: go on after a failed line (a `del` of a route already gone); the read-back judges.
    const r = await runCommand([...this.ip(), '-force', '-batch', '-'], {
      input: lines.join('\n') + '\n',
      timeoutMs: batchTimeoutMs(this.opts.commandTimeoutSeconds, lines.length),
      okCodes: 'any',
    });
    if (r.exitCode !== 0) {
      this.deviceReady = false;
      const owned = await this.read();
      const failed = notApplied(owned, batch.add, batch.remove, diff.remark ?? []);
      const raced: string[] = [];
      if (batch.add.some((p) => !owned.has(p))) {
        // A route of another protocol added since the check (an equal metric refuses ours): a
        // conflict, not a failure.
        const all = [...(await this.show('-4', [])), ...(await this.show('-6', []))];
        const foreign = new Set(all.map((x) => x.prefix));
        raced.push(...batch.add.filter((p) => !owned.has(p) && foreign.has(p)));
      }
      const unexplained = failed.filter((p) => !raced.includes(p));
      if (unexplained.length > 0) throw applyError('ip -batch', unexplained, lines.length, r.stderr);
      result.conflicts = [...result.conflicts, ...raced].sort();
    }
    if (result.conflicts.length > 0) {
      this.log.warn(
        { conflicts: result.conflicts.slice(0, 20), count: result.conflicts.length },
        'prefixes held by routes of another protocol (at any metric); left alone',
      );
    }
    result.added -= result.conflicts.length;
    const refused = new Set(result.conflicts);
    for (const p of batch.add)
      if (!refused.has(p)) this.expected.set(p, metricOf(p, diff.marks?.get(p) ?? 0));
    for (const r of diff.remark ?? []) this.expected.set(r.prefix, metricOf(r.prefix, r.to));
    return applied(this.log, result, started);
  }

  /**
   * `ip monitor route link` sees a route of ours deleted (`ip route del`, a script flushing the
   * protocol) within milliseconds: a deletion of a route the last read or an apply installed, at
   * its metric, that no apply of ours removed calls `onLost` (batched over 20 ms), and so does the
   * deletion of another owner's host route (freed: a conflict of ours may go in now). A link event of
   * cosmolet's device (deleted, set down: the kernel then drops its IPv4 routes without a route
   * event) and a gap in the monitor call it with none: the caller reads everything back. What the
   * watch cannot see (a route of ours added or changed by hand) the periodic full read-back does.
   */
  watch(onLost: (prefixes: string[], freed?: string[]) => void): RouteWatch {
    const pending = new Set<string>();
    const freed = new Set<string>();
    let deviceEvent = false;
    let flush: NodeJS.Timeout | undefined;
    const report = (): void => {
      flush ??= setTimeout(() => {
        flush = undefined;
        if (deviceEvent) {
          this.deviceReady = false;
          onLost([]);
        } else {
          onLost([...pending].sort(), [...freed].sort());
        }
        deviceEvent = false;
        pending.clear();
        freed.clear();
      }, 20);
    };
    const monitor = new RouteMonitor({
      argv: [...this.ip(), '-N', 'monitor', 'route', 'link'],
      onEvent: (e) => {
        this.trackForeign(e);
        if (this.lostRoute(e)) {
          this.expected.delete(e.prefix);
          pending.add(e.prefix);
        } else if (e.deleted && e.mainTable && isHostPrefix(e.prefix) && !this.expected.has(e.prefix)) {
          freed.add(e.prefix);
        } else {
          return;
        }
        report();
      },
      onOther: (line) => {
        // Our own device setup (ensureDevice) is one too: harmless, one read-back.
        if (!isDeviceEvent(line)) return;
        deviceEvent = true;
        report();
      },
      onGap: () => {
        this.monitorEpoch++;
        onLost([]);
      },
      logger: this.log,
      fallback: 'routes of cosmolet deleted by hand come back at the next loop interval',
    });
    this.monitorEpoch++;
    monitor.start();
    this.monitorLive = () => monitor.running;
    return {
      live: () => monitor.running,
      stop: async () => {
        this.monitorEpoch++;
        this.monitorLive = () => false;
        if (flush) clearTimeout(flush);
        await monitor.stop();
      },
    };
  }

  /** Caches a family's foreign host prefixes from its whole table (read in monitor epoch `epoch`, -1: none). */
  private cacheForeign(family: '-4' | '-6', table: readonly KernelRoute[], epoch: number): void {
    if (epoch < 0) {
      this.foreignHosts.delete(family);
      return;
    }
    const hosts = kernelReadBack(table, this.opts.kernelProtocol).conflicts;
    // Routes added while the table printed were seen by the monitor, maybe not by the table (the
    // ones left since are doubtful: not carried over).
    const seen = this.foreignHosts.get(family);
    if (seen?.epoch === epoch) for (const p of seen.hosts) if (!this.foreignDoubtful.has(p)) hosts.add(p);
    this.foreignHosts.set(family, { hosts, epoch });
  }

  /** Keeps `foreignHosts` current: a host route added that may not be ours holds its prefix. */
  private trackForeign(e: RouteEvent): void {
    if (!e.mainTable || !isHostPrefix(e.prefix)) return;
    const ours = e.protocol === String(this.opts.kernelProtocol) && e.device === KERNEL_DEVICE;
    if (ours || ZEBRA_PROTOCOLS.has(Number(e.protocol))) return;
    if (e.deleted) this.foreignDoubtful.add(e.prefix);
    else this.foreignHosts.get(e.prefix.includes(':') ? '-6' : '-4')?.hosts.add(e.prefix);
  }

  /** A deletion of a route that is ours now (our protocol, our device, the metric we installed). */
  private lostRoute(e: RouteEvent): boolean {
    if (!e.deleted || !e.mainTable || e.device !== KERNEL_DEVICE) return false;
    if (e.protocol !== String(this.opts.kernelProtocol)) return false;
    const metric = this.expected.get(e.prefix);
    return metric !== undefined && metric === (e.metric ?? 0);
  }
}

/** A /32 or /128: the only prefixes cosmolet installs, so the only ones another route can block. */
function isHostPrefix(prefix: string): boolean {
  return prefix.endsWith('/32') || prefix.endsWith('/128');
}

/** A line of `ip monitor link` about cosmolet's device (`5: cosmolet0: <...>`, `Deleted 5: cosmolet0: ...`). */
export function isDeviceEvent(line: string): boolean {
  return new RegExp(`^(Deleted )?\\d+: ${KERNEL_DEVICE}[:@]`).test(line.trim());
}
