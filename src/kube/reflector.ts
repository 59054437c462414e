// Our own list/watch reflector (client-node 1.4.0's informer cannot be trusted, see docs/design.md),
// shaped as client-go's reflector.go: this file is the state machine, handed its pieces. One loop:
// paginated LIST (./pager.ts) -> WATCH from the list's resourceVersion with bookmarks and a random
// 300-600 s timeout (./watch-stream.ts reads it) -> on a clean close re-watch at once; on 410 relist
// (at once, then backing off while 410s repeat before a watch has lasted); on other errors back off
// (./backoff.ts: jittered exponential, 0.8 s to 30 s, at least Retry-After). A watch silent too long
// is reopened (./watchdog.ts decides, probing one that bookmarks say may only be quiet); the second
// silent watch in a row relists instead (a stuck watch cache: lists still answer). A relist swaps
// the store (./store.ts) atomically and reports only real differences. The set of reflectors
// cosmolet runs is in reflector-set.ts.
import { realClock, type Clock } from '../clock.js';
import {
  CosmoletError,
  ErrorCodes,
  GoneError,
  KubeApiError,
  OversizeError,
  errorMessage,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { objectKey, type KubeObject } from '../model/objects.js';
import { FailureBackoff, Pause, RelistBackoff } from './backoff.js';
import type { KubeStream } from './client.js';
import { sameVersion, slim } from './default-projection.js';
import { ListPager } from './pager.js';
import {
  changeHandler,
  hookCaller,
  releaser,
  resourcePath,
  type CallHook,
  type ReflectedResource,
  type ReflectorOptions,
  type WatchRestartReason,
} from './reflector-options.js';
import { DEFAULT_TIMERS, watchTimeoutSeconds, type ReflectorTimers } from './reflector-timers.js';
import { Store, type ReflectorChange } from './store.js';
import { decodeWatchLine } from './watch-event.js';
import { probeWatch, throwUnlessOpened, WatchReader } from './watch-stream.js';
import { BookmarkRhythm, Watchdog, type ProbeVerdict } from './watchdog.js';

export { DEFAULT_TIMERS, stallLimitMs, type ReflectorTimers } from './reflector-timers.js';
export {
  resourcePath,
  type ReflectedResource,
  type ReflectorHooks,
  type ReflectorOptions,
  type WatchRestartReason,
} from './reflector-options.js';
export type { ReflectorChange } from './store.js';
export type { WatchEventType } from './watch-event.js';

export class Reflector<T = KubeObject> {
  readonly resource: ReflectedResource;
  readonly namespace: string | undefined;
  private readonly store: Store<T>;
  private readonly pager: ListPager<T>;
  private readonly failures: FailureBackoff;
  private readonly relists: RelistBackoff;
  private readonly rhythm: BookmarkRhythm;
  private resourceVersion = '';
  private syncedFlag = false;
  private progressAt: number;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private current: KubeStream | undefined;
  /** Watches in a row reopened by the watchdog without having delivered. */
  private silentWatches = 0;
  private bypassingWatches = false;
  private readonly pause: Pause;
  private readonly timers: ReflectorTimers;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly project: (raw: KubeObject) => T | undefined;
  private readonly random: () => number;
  private readonly hook: CallHook;
  private readonly emit: (change: ReflectorChange<T>) => void;

  constructor(private readonly options: ReflectorOptions<T>) {
    this.project = options.project ?? ((raw) => slim(raw) as T);
    this.resource = options.resource;
    this.namespace = options.namespace;
    this.timers = { ...DEFAULT_TIMERS, ...options.timers };
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.progressAt = this.clock.now();
    this.log = options.logger.child({ resource: options.resource, namespace: options.namespace ?? '*' });
    this.hook = hookCaller(options.hooks, this.resource, this.namespace, this.log);
    const release = releaser(options.release, this.log);
    this.emit = changeHandler(options.onChange, this.log);
    this.store = new Store<T>({
      same: options.same ?? ((a, b) => sameVersion(a as KubeObject, b as KubeObject)),
      release,
    });
    this.pager = new ListPager<T>({
      client: options.client,
      resource: this.resource,
      path: (query) => this.query(query),
      project: this.project,
      release,
      limits: this.timers,
      signal: this.abort.signal,
      stopping: () => this.stopped,
      progress: () => this.progress(),
      log: this.log,
    });
    this.failures = new FailureBackoff(this.timers, this.random);
    this.relists = new RelistBackoff(this.timers, this.random);
    this.rhythm = new BookmarkRhythm(this.timers);
    this.pause = new Pause(this.clock);
  }

  /** True once the first full list has arrived; stays true across relists and outages. */
  get synced(): boolean {
    return this.syncedFlag;
  }

  /** The last time the loop made progress; "now" while it is healthily waiting on a backoff timer. */
  get lastProgressAt(): number {
    return this.pause.waiting ? this.clock.now() : this.progressAt;
  }

  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  items(): T[] {
    return this.store.items();
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
    this.pause.wake();
    await this.loop;
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
          const delay = this.relists.gone(this.clock.now());
          if (delay === undefined)
            this.log.info({ reason: errorMessage(err) }, 'resourceVersion expired, relisting');
          else {
            this.log.warn(
              { reason: errorMessage(err), delayMs: Math.round(delay), expiredInARow: this.relists.inARow },
              'resourceVersion expired again before a watch lasted: relisting after a backoff',
            );
            await this.sleep(delay);
          }
          continue;
        }
        // Events may have been lost in an oversized line: the store is rebuilt from a list.
        if (err instanceof OversizeError) needList = true;
        this.hook('failed', err);
        this.hook('watchRestart', 'error');
        const delay = this.failures.next(err instanceof KubeApiError ? err.retryAfterSeconds : undefined);
        this.log.warn(
          { err, delayMs: Math.round(delay), failures: this.failures.failures },
          'kubernetes request failed, backing off',
        );
        await this.sleep(delay);
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

  /** A backoff: the loop is healthy while it waits (lastProgressAt), and made progress once done. */
  private async sleep(ms: number): Promise<void> {
    await this.pause.wait(ms);
    this.progress();
  }

  private query(extra: Record<string, string>): string {
    const q = new URLSearchParams();
    if (this.options.labelSelector) q.set('labelSelector', this.options.labelSelector);
    if (this.options.fieldSelector) q.set('fieldSelector', this.options.fieldSelector);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return `${resourcePath(this.resource, this.namespace)}?${q.toString()}`;
  }

  /** A full list swapped in for the store, reporting only what really differs. */
  private async list(): Promise<void> {
    this.hook('relist');
    const { objects, resourceVersion } = await this.pager.list();
    const changes = this.store.replace(objects);
    this.resourceVersion = resourceVersion;
    if (!this.syncedFlag) {
      this.syncedFlag = true;
      this.hook('synced', true);
      this.log.info({ objects: objects.size }, 'synced');
    }
    for (const c of changes) this.emit(c);
    this.failures.reset();
    this.hook('listed', objects.size);
  }

  /** One watch; resolves with why it ended when it may simply be reopened, throws otherwise. */
  private async watch(): Promise<WatchRestartReason> {
    const t = this.timers;
    const timeoutSeconds = watchTimeoutSeconds(t, this.random);
    const path = this.query({
      watch: '1',
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(timeoutSeconds),
    });
    const opened = this.clock.now();
    const stream = await this.options.client.stream(path, { signal: this.abort.signal });
    this.progress();
    await throwUnlessOpened(stream, `watch ${this.resource}`);
    this.current = stream;
    this.rhythm.newWatch();
    let delivered = 0;
    // "The API answers": on the first event, or after shortWatchMs open when no bookmark rhythm is
    // known. A watch that opens with 200 and dies at once, or stays open but silent while bookmarks
    // are expected, does not count (readiness must not stay green on it).
    let answered = false;
    const announce = (): void => {
      if (!answered) this.hook('watchOpened');
      answered = true;
    };
    const answer = (): void => {
      announce();
      this.watchAnswered();
    };
    const answeredTimer = this.clock.setTimeout(() => {
      if (!this.rhythm.known) announce();
    }, t.shortWatchMs);
    const watchdog = new Watchdog({
      clock: this.clock,
      watchdogMs: timeoutSeconds * 1000 + t.watchdogGraceMs,
      rhythm: this.rhythm,
      probe: (signal) => this.probe(signal),
      stalled: () => reader.end('watchdog'),
      quiet: () => {
        this.log.debug('watch quiet: the server has nothing newer for it');
        answer();
      },
    });
    const reader = new WatchReader(stream, {
      resource: this.resource,
      maxLineBytes: t.maxLineBytes,
      data: () => {
        this.progress();
        watchdog.delivered();
      },
      line: (line) => {
        if (!this.handleLine(line)) return;
        delivered += 1;
        answer();
      },
      ended: () => watchdog.stop(),
      stopping: () => this.stopped,
    });
    try {
      const reason = await reader.done;
      if (
        reason === 'closed' &&
        delivered === 0 &&
        this.clock.now() - opened < t.shortWatchMs &&
        !this.stopped
      ) {
        // A watch that ends at once with nothing in it: do not spin, back off like an error.
        throw new CosmoletError(ErrorCodes.KUBE_API, `watch ${this.resource}: closed immediately`);
      }
      this.failures.reset();
      return reason;
    } finally {
      watchdog.stop();
      answeredTimer.cancel();
      this.current = undefined;
      this.relists.watchLasted(this.clock.now() - opened);
    }
  }

  /** A second, short watch from the silent one's version: whether that one missed something. */
  private probe(signal: AbortSignal): Promise<ProbeVerdict> {
    const t = this.timers;
    return probeWatch({
      client: this.options.client,
      path: this.query({
        watch: '1',
        resourceVersion: this.resourceVersion,
        timeoutSeconds: String(t.probeWatchSeconds),
      }),
      timeoutSeconds: t.probeWatchSeconds,
      graceMs: t.probeGraceMs,
      clock: this.clock,
      signal,
    });
  }

  /** Applies one watch line; returns true when it was an event. Throws GoneError/KubeApiError on ERROR. */
  private handleLine(line: string): boolean {
    const ev = decodeWatchLine(line, this.resource);
    if ('ignored' in ev) {
      this.log.warn(ev.detail, ev.ignored);
      return false;
    }
    this.hook('event', ev.type);
    if (ev.type === 'ERROR') throw ev.error;
    const obj = ev.object;
    if (ev.type === 'BOOKMARK') this.rhythm.bookmark(this.clock.now());
    else if (!obj.metadata?.name) {
      this.log.warn({ type: ev.type }, 'ignoring a watch event for an object without a name');
      return false;
    } else {
      // Deleted, or no longer something the store keeps (a malformed update drops the object).
      const change = this.store.apply(objectKey(obj), ev.type === 'DELETED' ? undefined : this.project(obj));
      if (change) this.emit(change);
    }
    const rv = obj.metadata?.resourceVersion;
    if (typeof rv === 'string' && rv !== '') this.resourceVersion = rv;
    return true;
  }
}
