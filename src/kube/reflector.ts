// Our own list/watch reflector (client-node 1.4.0's informer cannot be trusted, see docs/design.md).
// One loop per reflector: paginated LIST (pages read item by item, ./list-page.ts) -> WATCH from the
// list's resourceVersion with bookmarks and a random 300-600 s timeout -> on a clean close re-watch at
// once, on 410 relist (backing off when 410s repeat before a watch has lasted), on other errors back
// off (jittered exponential, 0.8 s to 30 s, at least Retry-After). An inactivity watchdog reconnects a
// watch that has gone silent past the watch timeout plus a grace; once bookmarks have been seen, one
// silent for several bookmark intervals is probed with a short second watch from the same version,
// and reconnected only when that shows it missed something or the server does not answer (a real
// kube-apiserver sends no bookmark while its version has not moved past the watch's).
// The second silent watch in a row relists instead (a stuck watch cache: lists still answer). A
// relist swaps the store atomically and reports only real differences.
// Why one file of this length: it is one state machine (list, watch, watchdog, backoff, relist)
// over shared state (store, resourceVersion, progress), and its transitions read best together,
// as in client-go's reflector.go. The set of reflectors cosmolet runs is in reflector-set.ts.
import { randomInt } from 'node:crypto';
import { realClock, type Clock, type Timer } from '../clock.js';
import {
  CosmoletError,
  ErrorCodes,
  GoneError,
  KubeApiError,
  OversizeError,
  errorMessage,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { retryAfterSeconds, statusMessage, type KubeClient, type KubeStream } from './client.js';
import { objectKey, type KubeObject } from '../model/objects.js';
import { ListPageReader } from './list-page.js';

export type ReflectedResource = 'services' | 'endpointslices' | 'nodes';

export type WatchRestartReason =
  | 'closed' // the server ended the watch cleanly (timeout): re-watch at once
  | 'gone' // 410: relist
  | 'watchdog' // no bytes for too long (several bookmark intervals, or past the watch timeout)
  | 'error'; // connection error or an HTTP/in-stream error other than 410

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/**
 * Plain callbacks (the metrics module turns them into counters and gauges). Each also gets the
 * reflector's namespace last (undefined: all namespaces): with config.services.namespaces there is
 * one reflector per resource and namespace, and a refusal in one namespace is not the other's.
 */
export interface ReflectorHooks {
  relist?(resource: ReflectedResource, namespace?: string): void;
  watchRestart?(resource: ReflectedResource, reason: WatchRestartReason, namespace?: string): void;
  event?(resource: ReflectedResource, type: WatchEventType, namespace?: string): void;
  synced?(resource: ReflectedResource, synced: boolean, namespace?: string): void;
  /**
   * Watches went silent several times in a row (while lists may still answer, e.g. a stuck watch
   * cache): true while lists stand in for them, false once a watch delivers again.
   */
  watchSilent?(resource: ReflectedResource, silent: boolean, namespace?: string): void;
  /** A full list arrived (every page): the API answers again. */
  listed?(resource: ReflectedResource, objects: number, namespace?: string): void;
  /** A watch request was answered 200 (events may still take a while). */
  watchOpened?(resource: ReflectedResource, namespace?: string): void;
  /** A list or watch failed and the loop backs off (the error says why: 401, unreachable...). */
  failed?(resource: ReflectedResource, err: unknown, namespace?: string): void;
}

export type ReflectorChange<T> =
  | { type: 'added'; key: string; object: T }
  | { type: 'modified'; key: string; object: T; previous: T }
  | { type: 'deleted'; key: string; previous: T };

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

export interface ReflectorOptions<T> {
  client: KubeClient;
  /**
   * What the store keeps of each object (undefined: the object is dropped). Default: the object
   * itself, without managedFields and kubectl's last-applied copy.
   */
  project?: (raw: KubeObject) => T | undefined;
  /**
   * Whether two stored values are alike: an update that changes nothing the store keeps is not
   * reported. Default: same resourceVersion and uid.
   */
  same?: (a: T, b: T) => boolean;
  /**
   * Called once for every value `project` returned when the reflector lets go of it (replaced,
   * deleted, dropped with a failed list or the previous store): projections that hold shared
   * resources (interned names) give them back.
   */
  release?: (value: T) => void;
  resource: ReflectedResource;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  logger: Logger;
  hooks?: ReflectorHooks;
  onChange?: (change: ReflectorChange<T>) => void | Promise<void>;
  timers?: Partial<ReflectorTimers>;
  /** Default: the real clock. */
  clock?: Clock;
  /** Uniform in [0, 1), for the backoff's jitter. Default: Math.random. */
  random?: () => number;
}

/** The API path of a resource's collection (optionally in a namespace). */
export function resourcePath(resource: ReflectedResource, namespace?: string): string {
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  switch (resource) {
    case 'services':
      return `/api/v1${ns}/services`;
    case 'nodes':
      return '/api/v1/nodes';
    case 'endpointslices':
      return `/apis/discovery.k8s.io/v1${ns}/endpointslices`;
  }
}

/** A hook's arguments between the resource (first) and the namespace (last), which hook() adds. */
type Middle<T extends unknown[]> = T extends [unknown, ...infer R, (string | undefined)?] ? R : never;

interface WatchEvent {
  type?: unknown;
  object?: unknown;
}

export class Reflector<T = KubeObject> {
  readonly resource: ReflectedResource;
  readonly namespace: string | undefined;
  private store = new Map<string, T>();
  private resourceVersion = '';
  private syncedFlag = false;
  private progressAt: number;
  private waiting = false;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private current: KubeStream | undefined;
  private failures = 0;
  /** 410s since a watch last lasted relistBackoffResetMs: the relist backoff's exponent. */
  private goneStreak = 0;
  private lastGoneAt = -Infinity;
  /** Watches in a row reopened by the watchdog without having delivered. */
  private silentWatches = 0;
  private bypassingWatches = false;
  /** The list page limit now: halved when a page is too large, grown back when pages are small. */
  private pageLimit: number;
  private wakeUp: (() => void) | undefined;
  /** Recent gaps between bookmarks within one watch: the server's bookmark interval. */
  private bookmarkGaps: number[] = [];
  private lastBookmarkAt: number | undefined;
  private readonly timers: ReflectorTimers;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly project: (raw: KubeObject) => T | undefined;
  private readonly same: (a: T, b: T) => boolean;
  private readonly random: () => number;

  constructor(private readonly options: ReflectorOptions<T>) {
    this.project = options.project ?? ((raw) => slim(raw) as T);
    this.same = options.same ?? ((a, b) => sameVersion(a as KubeObject, b as KubeObject));
    this.resource = options.resource;
    this.namespace = options.namespace;
    this.timers = { ...DEFAULT_TIMERS, ...options.timers };
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.pageLimit = Math.max(1, this.timers.pageSize);
    this.progressAt = this.clock.now();
    this.log = options.logger.child({ resource: options.resource, namespace: options.namespace ?? '*' });
  }

  /** True once the first full list has arrived; stays true across relists and outages. */
  get synced(): boolean {
    return this.syncedFlag;
  }

  /** The last time the loop made progress; "now" while it is healthily waiting on a backoff timer. */
  get lastProgressAt(): number {
    return this.waiting ? this.clock.now() : this.progressAt;
  }

  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  items(): T[] {
    return [...this.store.values()];
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  get size(): number {
    return this.store.size;
  }

  /** Starts the loop once; a stopped reflector stays stopped (make a new one). */
  start(): void {
    if (this.loop || this.abort.signal.aborted) return;
    this.stopped = false;
    this.progressAt = this.clock.now();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.current?.close();
    this.wakeUp?.();
    await this.loop;
  }

  /** Calls a metrics hook; a broken hook must never disturb the loop. */
  private hook<K extends keyof ReflectorHooks>(
    name: K,
    ...args: Middle<Parameters<NonNullable<ReflectorHooks[K]>>>
  ): void {
    const fn = this.options.hooks?.[name] as ((r: ReflectedResource, ...a: unknown[]) => void) | undefined;
    if (!fn) return;
    try {
      fn.call(this.options.hooks, this.resource, ...args, this.namespace);
    } catch (err) {
      this.log.warn({ err, hook: name }, 'reflector hook failed');
    }
  }

  private progress(): void {
    this.progressAt = this.clock.now();
  }

  private async run(): Promise<void> {
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        const reason = await this.watch();
        if (this.stopped) break;
        this.hook('watchRestart', reason);
        if (reason === 'watchdog') needList = this.silentWatch();
        // Ended by the server at its timeout: the watch path answers (a quiet resource delivers nothing).
        else if (reason === 'closed') this.watchAnswered();
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof GoneError || (err instanceof KubeApiError && err.status === 410)) {
          this.hook('watchRestart', 'gone');
          needList = true;
          // The first 410 relists at once (compaction, a restarted server). More of them before a
          // watch has lasted a while: the server keeps expiring watches; do not list it twice a second.
          // A 410 long after the last one starts afresh too (as client-go's backoff manager resets).
          if (this.clock.now() - this.lastGoneAt >= this.timers.relistBackoffResetMs) this.goneStreak = 0;
          this.lastGoneAt = this.clock.now();
          if (this.goneStreak > 0) await this.relistBackoff(err);
          else this.log.info({ reason: errorMessage(err) }, 'resourceVersion expired, relisting');
          this.goneStreak += 1;
          continue;
        }
        // Events may have been lost in an oversized line: the store is rebuilt from a list.
        if (err instanceof OversizeError) needList = true;
        this.hook('failed', err);
        this.hook('watchRestart', 'error');
        await this.backoff(err);
      }
    }
  }

  /**
   * A watch ended by the watchdog. Once several in a row have, the watch path is stuck (a watch cache
   * that stopped, while lists still answer): relist, a consistent read, after each further one until a
   * watch delivers again. Returns whether to relist.
   */
  private silentWatch(): boolean {
    this.silentWatches += 1;
    if (this.silentWatches < this.timers.silentWatchesBeforeRelist) {
      this.log.warn('watch silent for too long, reconnecting');
      return false;
    }
    this.log.warn(
      { silentWatches: this.silentWatches },
      'watches silent several times in a row: relisting (lists are consistent reads)',
    );
    if (!this.bypassingWatches) {
      this.bypassingWatches = true;
      this.hook('watchSilent', true);
    }
    return true;
  }

  /** A watch delivered, or a live server ended or vouched for a quiet one: the watch path works. */
  private watchAnswered(): void {
    this.silentWatches = 0;
    if (!this.bypassingWatches) return;
    this.bypassingWatches = false;
    this.hook('watchSilent', false);
    this.log.info('a watch delivers again');
  }

  /** Jittered exponential delay number `n` (0-based), capped at backoffMaxMs. */
  private jittered(n: number): number {
    const t = this.timers;
    const base = Math.min(t.backoffMaxMs, t.backoffInitialMs * 2 ** Math.min(n, 20));
    // Full jitter on the upper half: spread reconnecting agents without ever waiting less than half.
    return Math.min(t.backoffMaxMs, base / 2 + this.random() * (base / 2));
  }

  private async relistBackoff(err: unknown): Promise<void> {
    const delay = this.jittered(this.goneStreak - 1);
    this.log.warn(
      { reason: errorMessage(err), delayMs: Math.round(delay), expiredInARow: this.goneStreak + 1 },
      'resourceVersion expired again before a watch lasted: relisting after a backoff',
    );
    await this.sleep(delay);
  }

  private async backoff(err: unknown): Promise<void> {
    let delay = this.jittered(this.failures);
    const retryAfter = err instanceof KubeApiError ? err.retryAfterSeconds : undefined;
    if (retryAfter !== undefined) delay = Math.max(delay, retryAfter * 1000);
    this.failures += 1;
    this.log.warn(
      { err, delayMs: Math.round(delay), failures: this.failures },
      'kubernetes request failed, backing off',
    );
    await this.sleep(delay);
  }

  private async sleep(ms: number): Promise<void> {
    this.waiting = true;
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
      this.waiting = false;
      this.progress();
    }
  }

  private query(extra: Record<string, string>): string {
    const q = new URLSearchParams();
    if (this.options.labelSelector) q.set('labelSelector', this.options.labelSelector);
    if (this.options.fieldSelector) q.set('fieldSelector', this.options.fieldSelector);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return `${resourcePath(this.resource, this.namespace)}?${q.toString()}`;
  }

  private async list(): Promise<void> {
    this.hook('relist');
    const next = new Map<string, T>();
    let items: [string, T][] = [];
    let rv: string;
    try {
      rv = await this.listInto(next, (page) => (items = page));
    } catch (err) {
      for (const value of next.values()) this.release(value);
      for (const [, value] of items) this.release(value);
      throw err;
    }
    this.replace(next, rv);
    this.failures = 0;
    this.hook('listed', next.size);
  }

  private release(value: T): void {
    try {
      this.options.release?.(value);
    } catch (err) {
      this.log.warn({ err }, 'release failed');
    }
  }

  /** The list's pages into `next`; `page` is told each page's projected items before they are kept. */
  private async listInto(next: Map<string, T>, page: (items: [string, T][]) => void): Promise<string> {
    let cont = '';
    let rv = '';
    let restarted = false;
    let pages = 0;
    const seen = new Set<string>();
    for (;;) {
      const limit = this.pageLimit;
      const extra: Record<string, string> = { limit: String(limit) };
      if (cont) extra.continue = cont;
      // Items are projected as they arrive and kept only once the page has proved to be a list.
      const items: [string, T][] = [];
      page(items);
      const reader = new ListPageReader(this.resource, (raw) => {
        const item = raw as KubeObject | null;
        if (!item || typeof item !== 'object' || !item.metadata?.name) return;
        const value = this.project(item);
        if (value !== undefined) items.push([objectKey(item), value]);
      });
      let res;
      try {
        res = await this.options.client.request('GET', this.query(extra), undefined, {
          timeoutMs: this.timers.listTimeoutMs,
          signal: this.abort.signal,
          maxBytes: this.timers.maxPageBytes,
          sink: (chunk) => reader.write(chunk),
        });
      } catch (err) {
        if (!(err instanceof OversizeError) || limit <= 1 || this.stopped) throw err;
        for (const [, value] of items) this.release(value);
        items.length = 0;
        // A page too large (objects with huge annotations): ask for the same page in fewer objects.
        this.pageLimit = Math.max(1, Math.floor(limit / 2));
        this.log.warn(
          { limit, nextLimit: this.pageLimit, maxPageBytes: this.timers.maxPageBytes },
          'list page too large, asking for smaller pages',
        );
        this.progress();
        continue;
      }
      this.progress();
      if (res.status === 410 && cont && !restarted) {
        // The continue token expired between pages: start the list over, once, without it.
        this.log.info('list continue token expired, restarting the list');
        for (const value of next.values()) this.release(value);
        next.clear();
        cont = '';
        restarted = true;
        continue;
      }
      if (res.status !== 200) {
        throw new KubeApiError(
          res.status,
          `list ${this.resource}: ${res.status} ${statusMessage(res.body)}`,
          retryAfterSeconds(res.headers),
        );
      }
      // A client that does not stream (a test's) hands the body over whole.
      if (res.body !== '') reader.write(Buffer.from(res.body, 'utf8'));
      const head = reader.end();
      for (const [key, value] of items) {
        const duplicate = next.get(key);
        if (duplicate !== undefined) this.release(duplicate);
        next.set(key, value);
      }
      page([]);
      if (!rv) rv = head.resourceVersion;
      // Full pages well under the cap: the objects are small again, grow the page back.
      if (
        items.length >= limit &&
        reader.bytes < this.timers.maxPageBytes / 4 &&
        limit < this.timers.pageSize
      )
        this.pageLimit = Math.min(this.timers.pageSize, limit * 2);
      cont = head.continue;
      if (!cont) break;
      // A server that never stops paging (or repeats a token) must not grow the store without bound.
      pages += 1;
      if (seen.has(cont) || pages >= this.timers.maxListPages || next.size > this.timers.maxListObjects) {
        throw new OversizeError(
          `list ${this.resource}: runaway list (${pages} pages, ${next.size} objects${
            seen.has(cont) ? ', a continue token repeated' : ''
          }); keeping the previous state`,
        );
      }
      seen.add(cont);
    }
    return rv;
  }

  /** Swaps in a full list and reports only what really differs from the previous store. */
  private replace(next: Map<string, T>, rv: string): void {
    const previous = this.store;
    this.store = next;
    this.resourceVersion = rv;
    const changes: ReflectorChange<T>[] = [];
    for (const [key, obj] of next) {
      const old = previous.get(key);
      if (!old) changes.push({ type: 'added', key, object: obj });
      else if (!this.same(old, obj)) changes.push({ type: 'modified', key, object: obj, previous: old });
    }
    for (const [key, old] of previous)
      if (!next.has(key)) changes.push({ type: 'deleted', key, previous: old });
    for (const old of previous.values()) this.release(old);
    if (!this.syncedFlag) {
      this.syncedFlag = true;
      this.hook('synced', true);
      this.log.info({ objects: next.size }, 'synced');
    }
    for (const c of changes) this.emit(c);
  }

  private emit(change: ReflectorChange<T>): void {
    const handler = this.options.onChange;
    if (!handler) return;
    try {
      const r = handler(change);
      if (r instanceof Promise) {
        r.catch((err: unknown) => this.log.error({ err }, 'change handler failed'));
      }
    } catch (err) {
      this.log.error({ err, key: change.key }, 'change handler failed');
    }
  }

  /** The longest silence a watch is allowed: bookmark-based once the interval is known. */
  private silenceLimitMs(watchdogMs: number): number {
    if (this.bookmarkGaps.length === 0) return watchdogMs;
    const interval = Math.max(...this.bookmarkGaps);
    return Math.min(
      watchdogMs,
      Math.max(this.timers.minSilenceMs, interval * this.timers.bookmarkSilenceFactor),
    );
  }

  private noteBookmark(): void {
    const now = this.clock.now();
    if (this.lastBookmarkAt !== undefined) {
      this.bookmarkGaps.push(now - this.lastBookmarkAt);
      if (this.bookmarkGaps.length > 5) this.bookmarkGaps.shift();
    }
    this.lastBookmarkAt = now;
  }

  /** One watch; resolves with why it ended when it may simply be reopened, throws otherwise. */
  private async watch(): Promise<WatchRestartReason> {
    const t = this.timers;
    const timeoutSeconds = randomInt(t.watchTimeoutMinSeconds, t.watchTimeoutMaxSeconds + 1);
    const path = this.query({
      watch: '1',
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(timeoutSeconds),
    });
    const opened = this.clock.now();
    const stream = await this.options.client.stream(path, { signal: this.abort.signal });
    this.progress();
    if (stream.status !== 200) {
      const body = await readAll(stream);
      throw new KubeApiError(
        stream.status,
        `watch ${this.resource}: ${stream.status} ${statusMessage(body)}`,
        retryAfterSeconds(stream.headers),
      );
    }
    this.current = stream;
    // Gaps are measured within one watch: a new watch's first bookmark starts afresh.
    this.lastBookmarkAt = undefined;
    let delivered = 0;
    // "The API answers": on the first line, or after shortWatchMs open when no bookmark rhythm is
    // known. A watch that opens with 200 and dies at once, or stays open but silent while bookmarks
    // are expected, does not count (readiness must not stay green on it).
    let answered = false;
    const answer = (): void => {
      if (answered) return;
      answered = true;
      this.hook('watchOpened');
    };
    const answeredTimer = this.clock.setTimeout(() => {
      if (this.bookmarkGaps.length === 0) answer();
    }, t.shortWatchMs);
    const probeAbort = new AbortController();
    try {
      const reason = await new Promise<WatchRestartReason>((resolve, reject) => {
        let settled = false;
        const watchdogMs = timeoutSeconds * 1000 + t.watchdogGraceMs;
        let probing = false;
        let progressWhileProbing = false;
        const finish = (action: () => void): void => {
          if (settled) return;
          settled = true;
          watchdog.cancel();
          probeAbort.abort();
          stream.close();
          action();
        };
        // Silent past the limit. Past the watch's own timeout the server has failed to end it: stalled.
        // Past a limit learned from bookmarks, it may just have nothing to say: kube-apiserver sends
        // bookmarks only once its version has moved past the watch's, so a watch opened at the latest
        // version stays silent on a quiet resource. A probe watch decides.
        const fire = (): void => {
          if (settled) return;
          if (probing) {
            // Re-armed by a delivery during the probe: look again once the probe is over.
            watchdog = this.clock.setTimeout(fire, this.silenceLimitMs(watchdogMs));
            return;
          }
          if (this.silenceLimitMs(watchdogMs) >= watchdogMs) {
            finish(() => resolve('watchdog'));
            return;
          }
          probing = true;
          progressWhileProbing = false;
          void this.probeWatch(probeAbort.signal).then((verdict) => {
            probing = false;
            // The watch delivered meanwhile: it is alive (and its watchdog was re-armed).
            if (settled || progressWhileProbing) return;
            if (verdict === 'stalled') {
              finish(() => resolve('watchdog'));
              return;
            }
            this.log.debug('watch quiet: the server has nothing newer for it');
            answer();
            this.watchAnswered();
            watchdog = this.clock.setTimeout(fire, this.silenceLimitMs(watchdogMs));
          });
        };
        let watchdog: Timer = this.clock.setTimeout(fire, this.silenceLimitMs(watchdogMs));
        // The unfinished line, as chunks: each byte is scanned once (a newline-free stream of tens of
        // MB was quadratic when the whole buffer was searched again for every chunk).
        let pending: string[] = [];
        let pendingLength = 0;
        const tooLong = (): void =>
          finish(() =>
            reject(
              new OversizeError(
                `watch ${this.resource}: a line longer than ${t.maxLineBytes} bytes; relisting`,
              ),
            ),
          );
        stream.stream.setEncoding('utf8');
        stream.stream.on('data', (chunk: string) => {
          if (settled) return;
          this.progress();
          progressWhileProbing = true;
          watchdog.cancel();
          watchdog = this.clock.setTimeout(fire, this.silenceLimitMs(watchdogMs));
          let start = 0;
          let nl: number;
          while (!settled && (nl = chunk.indexOf('\n', start)) >= 0) {
            if (pendingLength + nl - start > t.maxLineBytes) return tooLong();
            const piece = chunk.slice(start, nl);
            const line = (pending.length > 0 ? pending.join('') + piece : piece).trim();
            pending = [];
            pendingLength = 0;
            start = nl + 1;
            if (line === '') continue;
            try {
              if (this.handleLine(line)) {
                delivered += 1;
                answer();
                this.watchAnswered();
              }
            } catch (err) {
              finish(() => reject(err instanceof Error ? err : new Error(String(err))));
            }
          }
          if (settled || start === chunk.length) return;
          pending.push(chunk.slice(start));
          pendingLength += chunk.length - start;
          if (pendingLength > t.maxLineBytes) tooLong();
        });
        stream.stream.on('end', () => finish(() => resolve('closed')));
        stream.stream.on('error', (err) =>
          finish(() =>
            reject(new CosmoletError(ErrorCodes.KUBE_UNREACHABLE, `watch ${this.resource}: ${err.message}`)),
          ),
        );
        stream.stream.on('close', () =>
          finish(() =>
            this.stopped
              ? resolve('closed')
              : reject(
                  new CosmoletError(ErrorCodes.KUBE_UNREACHABLE, `watch ${this.resource}: connection closed`),
                ),
          ),
        );
      });
      if (
        reason === 'closed' &&
        delivered === 0 &&
        this.clock.now() - opened < t.shortWatchMs &&
        !this.stopped
      ) {
        // A watch that ends at once with nothing in it: do not spin, back off like an error.
        throw new CosmoletError(ErrorCodes.KUBE_API, `watch ${this.resource}: closed immediately`);
      }
      this.failures = 0;
      return reason;
    } finally {
      probeAbort.abort();
      answeredTimer.cancel();
      this.current = undefined;
      // A watch that lasted: whatever made watches end in 410 at once is over.
      if (this.clock.now() - opened >= t.relistBackoffResetMs) this.goneStreak = 0;
    }
  }

  /**
   * Whether a silent watch is stalled or only has nothing to deliver: a second watch from the same
   * version with a short timeoutSeconds. A live server ends it cleanly at its timeout; anything in it
   * is an event the silent watch should have delivered; an error, or no end by the deadline, is a
   * server that does not answer.
   */
  private async probeWatch(signal: AbortSignal): Promise<'quiet' | 'stalled'> {
    const t = this.timers;
    const path = this.query({
      watch: '1',
      resourceVersion: this.resourceVersion,
      timeoutSeconds: String(t.probeWatchSeconds),
    });
    let probe: KubeStream;
    try {
      probe = await this.options.client.stream(path, { signal });
    } catch {
      return 'stalled';
    }
    if (probe.status !== 200) {
      probe.close();
      return 'stalled';
    }
    return new Promise((resolve) => {
      let sawLine = false;
      let done = false;
      const end = (verdict: 'quiet' | 'stalled'): void => {
        if (done) return;
        done = true;
        deadline.cancel();
        signal.removeEventListener('abort', aborted);
        probe.close();
        resolve(verdict);
      };
      const aborted = (): void => end('stalled');
      const deadline = this.clock.setTimeout(aborted, t.probeWatchSeconds * 1000 + t.probeGraceMs);
      signal.addEventListener('abort', aborted, { once: true });
      if (signal.aborted) aborted();
      probe.stream.on('data', (chunk: Buffer | string) => {
        if (String(chunk).trim() !== '') sawLine = true;
      });
      probe.stream.on('end', () => end(sawLine ? 'stalled' : 'quiet'));
      probe.stream.on('error', aborted);
      probe.stream.on('close', aborted);
    });
  }

  /** Applies one watch line; returns true when it was an event. Throws GoneError/KubeApiError on ERROR. */
  private handleLine(line: string): boolean {
    let ev: WatchEvent;
    try {
      ev = JSON.parse(line) as WatchEvent;
    } catch {
      this.log.warn({ line: line.slice(0, 200) }, 'ignoring a malformed watch line');
      return false;
    }
    const type = ev.type;
    const obj = ev.object as KubeObject | undefined;
    if (type === 'ERROR') {
      this.hook('event', 'ERROR');
      const status = (ev.object ?? {}) as { code?: unknown; message?: unknown };
      const message = `watch ${this.resource}: ${typeof status.message === 'string' ? status.message : 'error event'}`;
      if (status.code === 410) throw new GoneError(message);
      throw new KubeApiError(typeof status.code === 'number' ? status.code : 500, message);
    }
    if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED' && type !== 'BOOKMARK') {
      this.log.warn({ type }, 'ignoring a watch event of unknown type');
      return false;
    }
    if (!obj || typeof obj !== 'object') {
      this.log.warn({ type }, 'ignoring a watch event without an object');
      return false;
    }
    this.hook('event', type);
    const rv = obj.metadata?.resourceVersion;
    if (type === 'BOOKMARK') {
      this.noteBookmark();
      if (typeof rv === 'string' && rv !== '') this.resourceVersion = rv;
      return true;
    }
    if (!obj.metadata?.name) {
      this.log.warn({ type }, 'ignoring a watch event for an object without a name');
      return false;
    }
    const key = objectKey(obj);
    const old = this.store.get(key);
    const value = type === 'DELETED' ? undefined : this.project(obj);
    if (value === undefined) {
      // Deleted, or no longer something the store keeps (a malformed update drops the object).
      this.store.delete(key);
      if (old !== undefined) this.release(old);
      if (old !== undefined) this.emit({ type: 'deleted', key, previous: old });
    } else {
      this.store.set(key, value);
      if (old !== undefined) this.release(old);
      if (old === undefined) this.emit({ type: 'added', key, object: value });
      else if (!this.same(old, value)) this.emit({ type: 'modified', key, object: value, previous: old });
    }
    if (typeof rv === 'string' && rv !== '') this.resourceVersion = rv;
    return true;
  }
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Drops what cosmolet never reads and what often weighs as much as the rest of the object
 * (managedFields, kubectl's last-applied copy), as client-go informers' transforms do.
 */
function slim(obj: KubeObject): KubeObject {
  const meta = obj.metadata;
  if (meta) {
    delete meta.managedFields;
    if (meta.annotations && LAST_APPLIED in meta.annotations) delete meta.annotations[LAST_APPLIED];
  }
  return obj;
}

function sameVersion(a: KubeObject, b: KubeObject): boolean {
  return a.metadata?.resourceVersion === b.metadata?.resourceVersion && a.metadata?.uid === b.metadata?.uid;
}

async function readAll(s: KubeStream): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of s.stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  } catch {
    // a broken error body: the status is enough
  }
  return Buffer.concat(chunks).toString('utf8');
}
