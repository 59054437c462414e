// Watches the kernel's route table with `ip -N monitor route`, a long-running child process, and
// reports each route event. The static backend uses it to notice at once that FRR deleted its
// routes behind cosmolet's back (`systemctl reload frr`: frr-reload.py removes every static line
// that is not in the operator's file), instead of at the next resync.
//
// The same discipline as every other command (exec.ts): no shell, a process group of its own that
// is killed as a whole on stop, bounded output. It has no overall timeout (it is meant to run
// forever); instead a monitor that exits or cannot start is restarted with a backoff (1 s doubling
// to 30 s), each failure is logged with what cosmolet falls back to (the periodic resync), and
// after a gap the owner is told so it can read back once (events may have been missed).
// Listening needs no capability (static origination runs without NET_ADMIN). If cosmolet itself is
// SIGKILLed outside a container, the monitor outlives it only until the next route event, when its
// write to the closed pipe ends it.
import { spawn, type ChildProcess } from 'node:child_process';
import { CommandError, ErrorCodes } from '../errors.js';
import type { Logger } from '../logger.js';
import { parsePrefix } from '../net/prefix.js';

export interface RouteEvent {
  deleted: boolean;
  prefix: string;
  /** The protocol as printed (a number with -N), '' when absent (`boot`). */
  protocol: string;
  /** Whether the route is in the main table (`ip` prints no table for it). */
  mainTable: boolean;
  /** The route's device, '' when it has none (a blackhole). */
  device: string;
  /** The metric as printed; absent for an IPv4 route of metric 0. */
  metric?: number;
}

/** `ip monitor` prints the route type first when it is not unicast: a word, or a number with -N. */
const TYPE_WORDS = new Set([
  'unicast',
  'local',
  'broadcast',
  'anycast',
  'multicast',
  'blackhole',
  'unreachable',
  'prohibit',
  'throw',
  'nat',
]);

/** Parses one line of `ip [-N] monitor route` (text: `monitor` ignores -json). */
export function parseMonitorLine(line: string): RouteEvent | undefined {
  const tokens = line.trim().split(/\s+/);
  let i = 0;
  let deleted = false;
  if (tokens[i] === 'Deleted') {
    deleted = true;
    i++;
  }
  const first = tokens[i];
  if (first !== undefined && (/^\d+$/.test(first) || TYPE_WORDS.has(first))) i++;
  const dst = tokens[i];
  if (dst === undefined || dst === 'default') return undefined;
  const p = parsePrefix(dst);
  if (p === undefined) return undefined;
  const after = (key: string): string | undefined => {
    const k = tokens.indexOf(key, i + 1);
    return k >= 0 ? tokens[k + 1] : undefined;
  };
  const table = after('table');
  const metric = after('metric');
  const e: RouteEvent = {
    deleted,
    prefix: p.prefix,
    protocol: after('proto') ?? '',
    mainTable: table === undefined || table === 'main' || table === '254',
    device: after('dev') ?? '',
  };
  if (metric !== undefined && /^\d+$/.test(metric)) e.metric = Number(metric);
  return e;
}

export interface RouteMonitorOptions {
  /** The monitor command, e.g. `ip -n NS -N monitor route`. */
  argv: readonly string[];
  onEvent: (e: RouteEvent) => void;
  /** Every line that is not a route (with `monitor route link`: the link events). */
  onOther?: (line: string) => void;
  /** The monitor runs again after it had stopped: events may have been missed meanwhile. */
  onGap: () => void;
  logger: Logger;
  /** What cosmolet relies on while the monitor is not running, for the log line. */
  fallback: string;
  restartMinMs?: number;
  restartMaxMs?: number;
  /** A monitor that ran this long before it exited restarts after restartMinMs again. */
  stableMs?: number;
}

/** How long a restarted monitor must stay up to count as running again. */
const CONFIRM_MS = 1000;

/** Longest line kept; `ip monitor` lines are about 100 bytes. */
const MAX_LINE = 64 * 1024;

export class RouteMonitor {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private confirm: NodeJS.Timeout | undefined;
  private stopped = false;
  private delayMs: number;
  /** The last start failed or the monitor exited: the next start reports a gap. */
  private down = false;
  private startedAt = 0;

  constructor(private readonly opts: RouteMonitorOptions) {
    this.delayMs = opts.restartMinMs ?? 1000;
  }

  /** Whether the monitor process is running now. */
  get running(): boolean {
    return this.child !== undefined;
  }

  start(): void {
    if (this.stopped || this.child) return;
    const [file, ...args] = this.opts.argv;
    if (file === undefined)
      throw new CommandError(ErrorCodes.COMMAND_FAILED, '', 'RouteMonitor: empty argv', null, '');
    let child: ChildProcess;
    try {
      child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (err) {
      this.failed(`cannot start: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    this.startedAt = Date.now();
    let partial = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      if (partial.length > MAX_LINE) partial = '';
      for (const line of lines) {
        const e = parseMonitorLine(line);
        if (e) this.opts.onEvent(e);
        else this.opts.onOther?.(line);
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    let why = '';
    child.once('error', (err) => {
      why = err.message;
    });
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.child = undefined;
        if (this.confirm) clearTimeout(this.confirm);
        this.confirm = undefined;
        resolve();
        if (this.stopped) return;
        const detail = why || stderr.trim().split('\n').slice(-2).join('; ');
        this.failed(
          `exited (${signal ?? `status ${code ?? '?'}`})${detail ? `: ${detail}` : ''}`,
          Date.now() - this.startedAt,
        );
      });
    });
    child.once('spawn', () => {
      if (!this.down) return;
      // Running again once it has stayed up a moment (an `ip` that cannot subscribe exits at once).
      this.confirm = setTimeout(() => {
        this.confirm = undefined;
        if (this.child !== child) return;
        this.down = false;
        this.opts.logger.info(
          { argv: this.opts.argv.join(' ') },
          'route monitor running again: reading routes back once for what it missed',
        );
        this.opts.onGap();
      }, CONFIRM_MS);
      this.confirm.unref?.();
    });
  }

  private failed(message: string, ranMs = 0): void {
    if (ranMs >= (this.opts.stableMs ?? 10_000)) this.delayMs = this.opts.restartMinMs ?? 1000;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.opts.restartMaxMs ?? 30_000);
    // Warn on the first failure of a streak, then quietly: a missing `ip` would log every 30 s.
    this.opts.logger[this.down ? 'debug' : 'warn'](
      { argv: this.opts.argv.join(' '), retryInMs: delay },
      `route monitor ${message}; until it runs again ${this.opts.fallback}`,
    );
    this.down = true;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, delay);
    this.timer.unref?.();
  }

  /** Stops the monitor: kills its process group and waits for it to exit. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.confirm) clearTimeout(this.confirm);
    const child = this.child;
    if (child?.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await this.exited;
  }
}
