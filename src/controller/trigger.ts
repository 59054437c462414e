// Coalesces "something changed" signals into reconcile runs: a run starts `settleMs` after the
// last signal, but never later than `maxDelayMs` after the first unhandled one, so a burst of
// 1,000 events is one run and a constant stream of events cannot starve reconciles. Runs never
// overlap: a signal during a run schedules one more run after it. Runs start at least
// `minIntervalMs` apart, so a source that changes faster (an endpoint flapping every 100 ms) is
// applied at a bounded rate, each run taking the state as it is then; an isolated signal after a
// quiet time is not delayed by it. A run that says it changed nothing (an idle loop interval) does
// not count: a flip right after one is not held back by the rate bound.
import { realClock, type Clock, type Timer } from '../clock.js';

export interface TriggerOptions {
  settleMs: number;
  maxDelayMs: number;
  /** Least time between the starts of two runs (a rate bound); 0 for none. */
  minIntervalMs?: number;
  /**
   * The work; its rejection is the caller's to handle inside `run` (it is caught and ignored here).
   * Resolving to false says it changed nothing, so it does not count against minIntervalMs.
   */
  run: () => Promise<boolean | void>;
  /** Default: the real clock. */
  clock?: Clock;
}

export class CoalescingTrigger {
  private readonly clock: Clock;
  private timer: Timer | undefined;
  private firstPendingAt: number | undefined;
  private lastStartAt = -Infinity;
  private running = false;
  private rerun = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: TriggerOptions) {
    this.clock = opts.clock ?? realClock;
  }

  /** Marks dirty; `immediate` skips the settle window (a retry or a resync). */
  fire(immediate = false): void {
    if (this.stopped) return;
    if (this.running) {
      this.rerun = true;
      return;
    }
    const now = this.clock.now();
    this.firstPendingAt ??= now;
    const deadline = this.firstPendingAt + this.opts.maxDelayMs;
    const at = Math.max(
      immediate ? now : Math.min(now + this.opts.settleMs, deadline),
      this.lastStartAt + (this.opts.minIntervalMs ?? 0),
    );
    this.timer?.cancel();
    this.timer = this.clock.setTimeout(() => void this.execute(), Math.max(0, at - now));
  }

  get busy(): boolean {
    return this.running;
  }

  private async execute(): Promise<void> {
    this.timer = undefined;
    this.firstPendingAt = undefined;
    this.running = true;
    const previousStart = this.lastStartAt;
    this.lastStartAt = this.clock.now();
    try {
      if ((await this.opts.run()) === false) this.lastStartAt = previousStart;
    } catch {
      // `run` handles its own failures; nothing may escape into an unhandled rejection.
    } finally {
      this.running = false;
    }
    if (this.rerun && !this.stopped) {
      this.rerun = false;
      this.fire();
    } else if (!this.timer) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Stops scheduling and resolves when no run is in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    if (!this.running) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}
