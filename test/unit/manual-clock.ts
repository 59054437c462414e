// A Clock for tests: time stands still until the test moves it. advance() runs every timer that
// falls due on the way, in order, each at its own due time, and lets promise callbacks and pending
// I/O callbacks run between timers, so a loop that sets its next timer after an await keeps up.
import type { Clock, Timer } from '../../src/clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  every: number | undefined;
}

export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  /** Timers waiting to fire. */
  get timers(): number {
    return this.pending.size;
  }

  /** Moves time forward by `ms`, firing what falls due. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      await turn();
      const next = this.nextDue(target);
      if (!next) break;
      this.time = Math.max(this.time, next.at);
      if (next.every === undefined) this.pending.delete(next.seq);
      else next.at += next.every;
      next.fn();
    }
    this.time = Math.max(this.time, target);
    await turn();
  }

  private nextDue(until: number): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.pending.values()) {
      if (p.at > until) continue;
      if (!best || p.at < best.at || (p.at === best.at && p.seq < best.seq)) best = p;
    }
    return best;
  }

  private add(fn: () => void, ms: number, every: number | undefined): Timer {
    const seq = ++this.seq;
    this.pending.set(seq, { at: this.time + Math.max(0, ms), seq, fn, every });
    return { cancel: () => void this.pending.delete(seq) };
  }
}

/** One turn of the event loop: promise callbacks and ready I/O callbacks run. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
