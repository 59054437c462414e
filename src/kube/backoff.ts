// How long a reflector waits before trying again, as client-go's wait.Backoff and backoff manager:
// jittered exponential delays, with the randomness and the time handed in (tests fix both).
// Two counters: failed requests, and watches that keep ending in 410 (expired resourceVersion).
// And the wait itself, on the clock, cut short when the reflector stops.
import type { Clock } from '../clock.js';

export interface BackoffTimers {
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** A watch lasting this long, or this long without a 410, resets the relist backoff. */
  relistBackoffResetMs: number;
}

/** The exponent's cap: 2^20 times any sane initial delay is far past any cap. */
const MAX_DOUBLINGS = 20;

/**
 * Delay number `attempt` (0-based): initialMs doubled per attempt, capped at maxMs, with full
 * jitter on the upper half (`random` uniform in [0, 1)): reconnecting agents spread out, and none
 * ever waits less than half.
 */
export function jitteredDelayMs(
  attempt: number,
  timers: Pick<BackoffTimers, 'backoffInitialMs' | 'backoffMaxMs'>,
  random: () => number,
): number {
  const base = Math.min(timers.backoffMaxMs, timers.backoffInitialMs * 2 ** Math.min(attempt, MAX_DOUBLINGS));
  return Math.min(timers.backoffMaxMs, base / 2 + random() * (base / 2));
}

/** Failed lists and watches in a row: each waits longer, at least what Retry-After asked. */
export class FailureBackoff {
  private count = 0;

  constructor(
    private readonly timers: BackoffTimers,
    private readonly random: () => number,
  ) {}

  /** Failures in a row so far. */
  get failures(): number {
    return this.count;
  }

  /** The wait after one more failure. */
  next(retryAfterSeconds?: number): number {
    let delay = jitteredDelayMs(this.count, this.timers, this.random);
    if (retryAfterSeconds !== undefined) delay = Math.max(delay, retryAfterSeconds * 1000);
    this.count += 1;
    return delay;
  }

  /** A request succeeded. */
  reset(): void {
    this.count = 0;
  }
}

/**
 * Relists after 410s. The first relists at once (compaction, a restarted server). More of them
 * before a watch has lasted a while: the server keeps expiring watches, and is not listed twice a
 * second. A 410 long after the last one starts afresh too (as client-go's backoff manager resets).
 */
export class RelistBackoff {
  /** 410s since a watch last lasted relistBackoffResetMs: the exponent. */
  private streak = 0;
  private lastGoneAt = -Infinity;

  constructor(
    private readonly timers: BackoffTimers,
    private readonly random: () => number,
  ) {}

  /** 410s in a row, counting the one being handled once gone() has been called. */
  get inARow(): number {
    return this.streak;
  }

  /** A 410 at `now`: the wait before relisting (undefined: relist at once). */
  gone(now: number): number | undefined {
    if (now - this.lastGoneAt >= this.timers.relistBackoffResetMs) this.streak = 0;
    this.lastGoneAt = now;
    const delay = this.streak > 0 ? jitteredDelayMs(this.streak - 1, this.timers, this.random) : undefined;
    this.streak += 1;
    return delay;
  }

  /** A watch ended after lasting `ms`: one that lasted shows whatever caused the 410s is over. */
  watchLasted(ms: number): void {
    if (ms >= this.timers.relistBackoffResetMs) this.streak = 0;
  }
}

/** A backoff's wait on the clock; wake() ends it at once (the reflector is stopping). */
export class Pause {
  private wakeUp: (() => void) | undefined;

  constructor(private readonly clock: Clock) {}

  /** Whether a wait is under way. */
  get waiting(): boolean {
    return this.wakeUp !== undefined;
  }

  async wait(ms: number): Promise<void> {
    try {
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(done, ms);
        function done(): void {
          timer.cancel();
          resolve();
        }
        this.wakeUp = done;
      });
    } finally {
      this.wakeUp = undefined;
    }
  }

  wake(): void {
    this.wakeUp?.();
  }
}
