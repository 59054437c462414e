// When a silent watch is stalled. Past the watch's own timeout plus a grace, the server has failed
// to end it: stalled. Once bookmarks have been seen arriving at some interval, a watch silent for
// several intervals may be stalled, or may just have nothing to say: kube-apiserver sends bookmarks
// only once its version has moved past the watch's, so a watch opened at the latest version stays
// silent on a quiet resource. A probe (a second watch from the same version) decides.
import type { Clock, Timer } from '../clock.js';

/** Bookmark gaps kept: the interval is the longest of the last few. */
const GAPS_KEPT = 5;

/** The server's bookmark interval, learned across watches, and the silence it allows. */
export class BookmarkRhythm {
  private gaps: number[] = [];
  private lastAt: number | undefined;

  constructor(private readonly limits: { bookmarkSilenceFactor: number; minSilenceMs: number }) {}

  /** Whether bookmarks have been seen arriving at some interval. */
  get known(): boolean {
    return this.gaps.length > 0;
  }

  /** Gaps are measured within one watch: a new watch's first bookmark starts afresh. */
  newWatch(): void {
    this.lastAt = undefined;
  }

  bookmark(now: number): void {
    if (this.lastAt !== undefined) {
      this.gaps.push(now - this.lastAt);
      if (this.gaps.length > GAPS_KEPT) this.gaps.shift();
    }
    this.lastAt = now;
  }

  /** The longest silence a watch is allowed: several bookmark intervals once known, at most `watchdogMs`. */
  silenceLimitMs(watchdogMs: number): number {
    if (this.gaps.length === 0) return watchdogMs;
    const interval = Math.max(...this.gaps);
    return Math.min(
      watchdogMs,
      Math.max(this.limits.minSilenceMs, interval * this.limits.bookmarkSilenceFactor),
    );
  }
}

export type ProbeVerdict = 'quiet' | 'stalled';

export interface WatchdogOptions {
  clock: Clock;
  /** The watch's timeoutSeconds plus the grace: silent this long, it is stalled without a probe. */
  watchdogMs: number;
  rhythm: BookmarkRhythm;
  /** Whether the silent watch missed something; aborted when the watchdog stops. */
  probe: (signal: AbortSignal) => Promise<ProbeVerdict>;
  /** The watch is stalled: end it. */
  stalled: () => void;
  /** A probe vouched for the silent watch: the watch path answers. */
  quiet: () => void;
}

/** One watch's inactivity watchdog: armed at once, re-armed by every delivery, until stopped. */
export class Watchdog {
  private timer: Timer;
  private probing = false;
  private deliveredWhileProbing = false;
  private stopped = false;
  private readonly probeAbort = new AbortController();

  constructor(private readonly options: WatchdogOptions) {
    this.timer = this.arm();
  }

  /** The watch delivered bytes: it is alive. */
  delivered(): void {
    if (this.stopped) return;
    this.deliveredWhileProbing = true;
    this.timer.cancel();
    this.timer = this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.timer.cancel();
    this.probeAbort.abort();
  }

  private arm(): Timer {
    const o = this.options;
    return o.clock.setTimeout(() => this.fire(), o.rhythm.silenceLimitMs(o.watchdogMs));
  }

  private fire(): void {
    const o = this.options;
    if (this.stopped) return;
    if (this.probing) {
      // Re-armed by a delivery during the probe: look again once the probe is over.
      this.timer = this.arm();
      return;
    }
    if (o.rhythm.silenceLimitMs(o.watchdogMs) >= o.watchdogMs) {
      o.stalled();
      return;
    }
    this.probing = true;
    this.deliveredWhileProbing = false;
    void o.probe(this.probeAbort.signal).then((verdict) => {
      this.probing = false;
      // The watch delivered meanwhile: it is alive (and the watchdog was re-armed).
      if (this.stopped || this.deliveredWhileProbing) return;
      if (verdict === 'stalled') {
        o.stalled();
        return;
      }
      o.quiet();
      this.timer = this.arm();
    });
  }
}
