// kernel origination: host routes with cosmolet's protocol number in the main table, through a
// device of cosmolet's own that drops what it is given (`cosmolet0`, a dummy interface), one
// `ip -batch -` per apply, read back with `ip -json route show proto N`.
//
// Why not blackhole routes (the first design, see docs/design.md): for traffic that is forwarded both forms are
// the same (kube-proxy's PREROUTING DNAT catches served traffic before routing, the rest is
// dropped). But a socket on the node itself looks the route up at connect(), before kube-proxy's
// OUTPUT DNAT: a blackhole makes connect() fail with EINVAL, so host-network pods, the node's own
// clients and cosmolet itself (through the `kubernetes` Service) could no longer reach an advertised
// ClusterIP. A route through a dummy device is an ordinary route at connect(), the OUTPUT DNAT then
// sends the packet to the real endpoint, and anything nobody serves is dropped by the device.
import { ZEBRA_PROTOCOLS } from '../config/schema.js';
import { CosmoletError, ErrorCodes, RouterApplyError, RouterParseError } from '../errors.js';
import type { Logger } from '../logger.js';
import { runCommand } from './exec.js';
import { parsePrefix, requireCanonicalPrefix } from '../net/prefix.js';
import {
  batchTimeoutMs,
  type ApplyResult,
  type PrefixDiff,
  type Router,
  type RouterOptions,
} from './router.js';

export function validKernelProtocol(n: number): boolean {
  return Number.isInteger(n) && n >= 5 && n <= 255 && !ZEBRA_PROTOCOLS.has(n);
}

/** The device cosmolet's kernel routes point at; created (dummy, else ifb) and set up when missing. */
export const KERNEL_DEVICE = 'cosmolet0';

export interface KernelRoute {
  prefix: string;
  type: string;
  protocol: string;
  /** The route's metric (`ip` omits it for IPv4 metric 0). */
  metric: number;
  /** Output device, when the route has one. */
  dev?: string;
}

/** Parses `ip -json route show ...`; host routes come without a length (`"dst":"10.96.0.10"`). */
export function parseIpRoutes(stdout: string): KernelRoute[] {
  if (stdout.trim() === '') return [];
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw new RouterParseError(`ip -json route: not JSON: ${stdout.slice(0, 200)}`);
  }
  if (!Array.isArray(json)) throw new RouterParseError('ip -json route: not an array');
  const out: KernelRoute[] = [];
  for (const r of json as unknown[]) {
    if (typeof r !== 'object' || r === null) continue;
    const rec = r as Record<string, unknown>;
    if (typeof rec.dst !== 'string' || rec.dst === 'default') continue;
    const p = parsePrefix(rec.dst);
    if (p === undefined) throw new RouterParseError(`ip -json route: bad dst ${JSON.stringify(rec.dst)}`);
    const route: KernelRoute = {
      prefix: p.prefix,
      type: typeof rec.type === 'string' ? rec.type : 'unicast',
      protocol:
        typeof rec.protocol === 'string' || typeof rec.protocol === 'number' ? String(rec.protocol) : '',
      metric: typeof rec.metric === 'number' ? rec.metric : 0,
    };
    if (typeof rec.dev === 'string') route.dev = rec.dev;
    out.push(route);
  }
  return out;
}

/**
 * The kernel gives an IPv6 route installed without a metric the metric 1024 (IP6_RT_PRIO_USER), an
 * IPv4 one 0: that is an unclassed route. The config refuses 1024 as a mark under kernel origination.
 */
export const IPV6_DEFAULT_METRIC = 1024;

/** The metric a route with this mark gets (0: no class, the kernel's default for the family). */
export function metricOf(prefix: string, mark: number): number {
  return mark !== 0 ? mark : requireCanonicalPrefix(prefix).family === 'ipv6' ? IPV6_DEFAULT_METRIC : 0;
}

/** A kernel route's mark: its metric, except the family's default metric, which is no class (0). */
export function markOf(r: KernelRoute): number {
  return r.metric === metricOf(r.prefix, 0) ? 0 : r.metric;
}

function metricArg(prefix: string, mark: number): string {
  return mark !== 0 ? ` metric ${mark}` : '';
}

/**
 * The `ip -batch` lines for a diff: removals first, matched by protocol so only ours go; adds with
 * `add`, never `replace`, so a route of another protocol holding the prefix is never taken over.
 * A re-mark adds the route with the new metric next to the old one (the kernel keeps both, zebra
 * keeps announcing the old one, the better metric) and then deletes the old one by its metric:
 * zebra then announces the new one in place, the prefix is never withdrawn. The old metric is
 * always spelled out: an IPv6 `del` without one would take the route with the lowest metric.
 */
export function kernelBatch(diff: PrefixDiff, protocol: number, device: string = KERNEL_DEVICE): string[] {
  const lines: string[] = [];
  for (const p of diff.remove) lines.push(`route del ${requireCanonicalPrefix(p).prefix} proto ${protocol}`);
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
    lines.push(`route del ${prefix} proto ${protocol} metric ${metricOf(prefix, r.from)}`);
  }
  return lines;
}

export interface KernelReadBack {
  /** prefix -> mark of the route zebra announces (the lowest metric) when there are several. */
  routes: Map<string, number>;
  /** Routes of ours beside the announced one of the same prefix (an interrupted re-mark). */
  extras: KernelRoute[];
}

/** Our routes by prefix: the announced one's mark, and the extra routes of a prefix. */
export function kernelReadBack(all: readonly KernelRoute[]): KernelReadBack {
  const best = new Map<string, KernelRoute>();
  const extras: KernelRoute[] = [];
  for (const r of all) {
    const seen = best.get(r.prefix);
    if (seen === undefined) best.set(r.prefix, r);
    else if (r.metric < seen.metric) {
      extras.push(seen);
      best.set(r.prefix, r);
    } else extras.push(r);
  }
  return { routes: new Map([...best].map(([p, r]) => [p, markOf(r)])), extras };
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

/** Whether a route of ours has the current form (through the device, not a blackhole of an older version). */
export function isCurrentForm(r: KernelRoute, device: string = KERNEL_DEVICE): boolean {
  return r.type === 'unicast' && r.dev === device;
}

export class KernelRouter implements Router {
  readonly origination = 'kernel' as const;
  private readonly log: Logger;
  /** Routes of ours in an older form, as of the last read. */
  private outdated: KernelRoute[] = [];
  /** Second routes of ours for a prefix (an interrupted re-mark), as of the last read. */
  private extras: KernelRoute[] = [];
  private deviceReady = false;
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

  private async show(family: '-4' | '-6', selector: string[]): Promise<KernelRoute[]> {
    const r = await runCommand(
      [...this.ip(), family, '-json', 'route', 'show', 'table', 'main', ...selector],
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
    const proto = ['proto', String(this.opts.kernelProtocol)];
    const [v4, v6] = await Promise.all([this.show('-4', proto), this.show('-6', proto)]);
    const all = [...v4, ...v6];
    this.deviceReady = false;
    const back = kernelReadBack(all);
    this.extras = back.extras;
    this.outdated = all.filter((r) => !isCurrentForm(r) && !back.extras.includes(r));
    return back.routes;
  }

  /**
   * Converts routes of ours in an older form (a blackhole of an earlier version) found by the last
   * read, with `replace`: it swaps the route atomically, so the prefix is never withdrawn meanwhile.
   * Deletes the second route of a prefix (left by an interrupted re-mark): not the announced one.
   */
  async repair(): Promise<number> {
    const outdated = this.outdated;
    const extras = this.extras;
    if (outdated.length === 0 && extras.length === 0) return 0;
    await this.ensureDevice();
    const proto = this.opts.kernelProtocol;
    const lines = [
      ...extras.map((r) => `route del ${r.prefix} proto ${proto} metric ${r.metric}`),
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
    this.log.info(
      { converted: outdated.length, duplicates: extras.length, exitCode: r.exitCode },
      `converted ${outdated.length} routes of an older form to routes through ${KERNEL_DEVICE}, deleted ${extras.length} second routes of a prefix`,
    );
    return outdated.length + extras.length;
  }

  async apply(diff: PrefixDiff): Promise<ApplyResult> {
    const started = performance.now();
    const lines = kernelBatch(diff, this.opts.kernelProtocol);
    const result: ApplyResult = {
      added: diff.add.length,
      removed: diff.remove.length,
      remarked: diff.remark?.length ?? 0,
      conflicts: [],
      durationMs: 0,
    };
    if (lines.length === 0) return result;
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
      const stillThere = diff.remove.filter((p) => owned.has(p));
      const missing = diff.add.filter((p) => !owned.has(p));
      if (missing.length > 0) {
        // A prefix held by a route of another protocol is a conflict, not a failure.
        const all = [...(await this.show('-4', [])), ...(await this.show('-6', []))];
        const foreign = new Set(all.map((x) => x.prefix));
        result.conflicts = missing.filter((p) => foreign.has(p));
      }
      const unmarked = (diff.remark ?? []).filter((r) => owned.get(r.prefix) !== r.to).map((r) => r.prefix);
      const failed = [...stillThere, ...missing.filter((p) => !result.conflicts.includes(p)), ...unmarked];
      if (failed.length > 0) {
        throw new RouterApplyError(
          `ip -batch: ${failed.length} of ${lines.length} route changes did not take effect: ${r.stderr
            .trim()
            .split('\n')
            .slice(0, 4)
            .join('; ')}`,
          failed,
        );
      }
      if (result.conflicts.length > 0) {
        this.log.warn(
          { conflicts: result.conflicts.slice(0, 20), count: result.conflicts.length },
          'prefixes held by routes of another protocol; left alone',
        );
      }
      result.added -= result.conflicts.length;
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
