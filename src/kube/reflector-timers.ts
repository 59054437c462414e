// How long a reflector waits for what, and the limits it holds a server to: each number is a decision,
// named here with its reason. The loop that uses them is ./reflector.ts.

export interface ReflectorTimers {
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Watch timeoutSeconds is drawn uniformly from [min, max]. */
  watchTimeoutMinSeconds: number;
  watchTimeoutMaxSeconds: number;
  /** The watchdog fires after timeoutSeconds + this many ms without a byte. */
  watchdogGraceMs: number;
  /** A watch that closes sooner than this without delivering anything counts as a failure. */
  shortWatchMs: number;
  /**
   * Once bookmarks have been seen arriving at some interval, a watch silent for this many intervals
   * (but at least minSilenceMs) may be stalled: a probe watch decides, and a stalled one is reopened
   * (and relisted if its version is gone).
   */
  bookmarkSilenceFactor: number;
  minSilenceMs: number;
  /**
   * The probe of a silent watch: a second watch from the same version with this timeoutSeconds. A
   * live server ends it cleanly with nothing in it when the silent watch has missed nothing.
   */
  probeWatchSeconds: number;
  /** A probe that has not ended this long after its timeoutSeconds: the server is stalled. */
  probeGraceMs: number;
  listTimeoutMs: number;
  pageSize: number;
  /** A watch line longer than this ends the watch and forces a relist (etcd objects are <= ~1.5 MB). */
  maxLineBytes: number;
  /**
   * A list page body larger than this is cut off: the page is asked again with half the limit
   * (down to 1); a single object over it fails the list.
   */
  maxPageBytes: number;
  /** A list with more objects or pages than this is a runaway (endless continue tokens): it fails. */
  maxListObjects: number;
  maxListPages: number;
  /**
   * Relists after 410s back off (jittered exponential, backoffInitialMs to backoffMaxMs) until a
   * watch has lasted this long: a server whose watches keep ending in 410 is not listed twice a second.
   */
  relistBackoffResetMs: number;
  /** This many silent watches in a row (reopened by the watchdog) and the watch path is bypassed by lists. */
  silentWatchesBeforeRelist: number;
}

export const DEFAULT_TIMERS: ReflectorTimers = {
  backoffInitialMs: 800,
  backoffMaxMs: 30_000,
  watchTimeoutMinSeconds: 300,
  watchTimeoutMaxSeconds: 600,
  watchdogGraceMs: 30_000,
  shortWatchMs: 1_000,
  bookmarkSilenceFactor: 3,
  minSilenceMs: 5_000,
  probeWatchSeconds: 3,
  probeGraceMs: 2_000,
  listTimeoutMs: 60_000,
  pageSize: 500,
  maxLineBytes: 16 << 20,
  maxPageBytes: 64 << 20,
  maxListObjects: 1_000_000,
  maxListPages: 20_000,
  relistBackoffResetMs: 60_000,
  silentWatchesBeforeRelist: 2,
};

/**
 * The longest a healthy reflector loop goes without progress: a watch that stays silent until its
 * watchdog fires (the longest watch timeout plus the grace), then a list that takes its whole timeout.
 * Longer than this, the loop is stuck (/healthz).
 */
export function stallLimitMs(timers: ReflectorTimers = DEFAULT_TIMERS): number {
  return timers.watchTimeoutMaxSeconds * 1000 + timers.watchdogGraceMs + timers.listTimeoutMs;
}

/** The watch's timeoutSeconds, uniform in [min, max]: watches of many agents end spread out. */
export function watchTimeoutSeconds(t: ReflectorTimers, random: () => number): number {
  const span = t.watchTimeoutMaxSeconds - t.watchTimeoutMinSeconds + 1;
  return t.watchTimeoutMinSeconds + Math.min(span - 1, Math.floor(random() * span));
}
