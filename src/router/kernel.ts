// kernel origination: blackhole host routes with cosmolet's protocol number in the main table,
// one `ip -batch -` per apply, read back with `ip -json route show proto N`.
import { CosmoletError, ErrorCodes } from '../errors.js';
import type { Logger } from '../observe/log.js';
import { runCommand } from './exec.js';
import { bgpTable, RouterParseError, type BgpView, type Vtysh } from './frr.js';
import { parsePrefix, requireCanonicalPrefix } from './prefix.js';
import {
  batchTimeoutMs,
  RouterApplyError,
  type ApplyResult,
  type PrefixDiff,
  type Router,
  type RouterOptions,
} from './router.js';

/** Zebra deletes routes with its own protocol numbers when it starts. */
export const ZEBRA_PROTOCOLS: ReadonlySet<number> = new Set([
  11,
  42,
  ...Array.from({ length: 13 }, (_, i) => 186 + i),
]);

export function validKernelProtocol(n: number): boolean {
  return Number.isInteger(n) && n >= 5 && n <= 255 && !ZEBRA_PROTOCOLS.has(n);
}

export interface KernelRoute {
  prefix: string;
  type: string;
  protocol: string;
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
    out.push({
      prefix: p.prefix,
      type: typeof rec.type === 'string' ? rec.type : 'unicast',
      protocol:
        typeof rec.protocol === 'string' || typeof rec.protocol === 'number' ? String(rec.protocol) : '',
    });
  }
  return out;
}

/** The `ip -batch` lines for a diff: removals first, matched by protocol so only ours go. */
export function kernelBatch(diff: PrefixDiff, protocol: number): string[] {
  const lines: string[] = [];
  for (const p of diff.remove) lines.push(`route del ${requireCanonicalPrefix(p).prefix} proto ${protocol}`);
  for (const p of diff.add)
    lines.push(`route add blackhole ${requireCanonicalPrefix(p).prefix} proto ${protocol}`);
  return lines;
}

export class KernelRouter implements Router {
  readonly origination = 'kernel' as const;
  private readonly log: Logger;
  constructor(
    private readonly opts: RouterOptions,
    private readonly vtysh: Vtysh,
  ) {
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

  async read(): Promise<Set<string>> {
    const proto = ['proto', String(this.opts.kernelProtocol)];
    const [v4, v6] = await Promise.all([this.show('-4', proto), this.show('-6', proto)]);
    return new Set([...v4, ...v6].map((r) => r.prefix));
  }

  async apply(diff: PrefixDiff): Promise<ApplyResult> {
    const started = performance.now();
    const lines = kernelBatch(diff, this.opts.kernelProtocol);
    const result: ApplyResult = {
      added: diff.add.length,
      removed: diff.remove.length,
      conflicts: [],
      durationMs: 0,
    };
    if (lines.length === 0) return result;
    // -force: go on after a failed line (a `del` of a route already gone); the read-back judges.
    const r = await runCommand([...this.ip(), '-force', '-batch', '-'], {
      input: lines.join('\n') + '\n',
      timeoutMs: batchTimeoutMs(this.opts.commandTimeoutSeconds, lines.length),
      okCodes: 'any',
    });
    if (r.exitCode !== 0) {
      const owned = await this.read();
      const stillThere = diff.remove.filter((p) => owned.has(p));
      const missing = diff.add.filter((p) => !owned.has(p));
      if (missing.length > 0) {
        // A prefix held by a route of another protocol is a conflict, not a failure.
        const all = [...(await this.show('-4', [])), ...(await this.show('-6', []))];
        const foreign = new Set(all.map((x) => x.prefix));
        result.conflicts = missing.filter((p) => foreign.has(p));
      }
      const failed = [...stillThere, ...missing.filter((p) => !result.conflicts.includes(p))];
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
      { added: result.added, removed: result.removed, ms: Math.round(result.durationMs) },
      'applied',
    );
    return result;
  }

  verify(): Promise<BgpView> {
    return bgpTable(this.vtysh);
  }
}
