// The FRR monitor schedules the pure checks of router/frr/checks.ts: every loop interval it reads
// FRR (the only I/O here) and hands each read to its check with that check's previous result. Did a
// daemon restart (then it says so, and the daemon has the reconciler read back and re-apply: a
// restarted staticd has lost its routes), does bgpd run the ASN and export the routes, does bgpd
// hold every route the reconciler installed (read from the route ledger's published view, never
// written), how are the peers. After an apply only the prefixes it touched are asked (with the
// summary, whose stamp the view is then current for), and the view is changed in place: a flip costs
// what it touched. bgpd's table is read in full only when something moved that no refresh covers,
// and then in ranges of cosmolet's routes (router/frr/ranges.ts), so bgpd is never busy for long.
import { realClock, type Clock, type Timer } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { Family } from '../net/ip.js';
import {
  bgpdConfigAndSummary,
  bgpSummaryAndPrefixes,
  bgpTableInRanges,
  type ConfigAndSummary,
  type RangeReadPacing,
} from '../router/frr/bgpd.js';
import {
  asnCheck,
  exportCheck,
  fullReadDue,
  HeldPrefixes,
  holdCheck,
  noteRefreshed,
  peersCheck,
  restartCheck,
  trackMissing,
  type Check,
  type ConfigRead,
  type HoldResult,
  type PeersResult,
  type RestartResult,
  type RouteClassMark,
  type TableStamp,
} from '../router/frr/checks.js';
import {
  parseBgpSummary,
  parseBgpTableStamp,
  type BgpPeer,
  type BgpRouteState,
  type BgpView,
} from '../router/frr/parse.js';
import { readFrrIdentity } from '../router/frr/restarts.js';
import { coveringRanges } from '../router/frr/ranges.js';
import type { Vtysh } from '../router/frr/vtysh.js';
import type { Origination } from '../router/router.js';
import type { InstalledRoutesView } from './route-ledger.js';

/**
 * A full read asks bgpd for ranges of at most this many of cosmolet's routes (RANGE_PACING.perCall
 * of them per vtysh call): at 100,000 Services bgpd serializes 1,024 routes in about 5 ms.
 */
export const RANGE_ROUTES = 1024;

const pause = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A full read rests after each vtysh call as long as the call took: bgpd and cosmolet spend at most
 * about half their time on it, and the rest on updates (the read takes twice as long; it is rare,
 * published at once, and judged against a 30 s grace). The rest is real time, like the call it
 * follows, not the monitor's clock.
 */
const RANGE_PACING: RangeReadPacing = {
  perCall: 8,
  pause,
  rest: (callMs) => new Promise((resolve) => setTimeout(resolve, callMs)),
};
/** What a full read found is judged this many prefixes at a time. */
const JUDGE_SLICE = 4096;

export interface FrrMonitorOptions {
  /** The process's one FRR client, shared with the router. */
  vtysh: Vtysh;
  origination: Origination;
  /** The configured route classes, whose marks the operator's route-map must export. */
  routeClasses?: readonly RouteClassMark[];
  socketDir: string;
  /** 0: not checked. */
  asn: number;
  intervalSeconds: number;
  logger: Logger;
  metrics: Metrics;
  /** The routes the reconciler installed, as its route ledger publishes them. */
  installed: InstalledRoutesView;
  /** Whether the plan advertises a prefix now, to count how many bgpd holds as valid best paths. */
  advertises: (prefix: string) => boolean;
  /** A daemon restarted: routes may be lost. The monitor only says so; the daemon decides. */
  onRestart: () => void;
  /** Largest change refreshed prefix by prefix; a larger one is left to the next full read. */
  maxPrefixRefresh?: number;
  /** Default: the real clock. */
  clock?: Clock;
}

/** What bgpd holds, as of the monitor's last read. */
export interface BgpTableRead {
  /**
   * What bgpd held in the ranges of cosmolet's routes at the last full read, with the prefixes
   * refreshed since (changed in place, so read it at once); undefined before the first read.
   */
  view: ReadonlyMap<string, BgpRouteState> | undefined;
  /** Bumped whenever `view` changes (for caches of documents built from it). */
  version: number;
  /** Why the last full read failed, if it did. */
  error: string | undefined;
  /** When a round last checked bgpd (the view is current as of then, or the read failed). */
  checkedAt: number | undefined;
}

/** What the monitor reports: read-only, for /readyz and /status. */
export interface FrrView {
  /** Does FRR export cosmolet's routes for these families? undefined before the first check. */
  exportCheck(families: readonly Family[]): Check | undefined;
  holdCheck(): Check | undefined;
  /** undefined when bgp.asn is not set, or before the first check. */
  asnCheck(): Check | undefined;
  bgp(): BgpTableRead;
}

export class FrrMonitor implements FrrView {
  private readonly log: Logger;
  private readonly clock: Clock;
  private timer: Timer | undefined;
  private soonTimer: Timer | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly refreshQueue = new Set<string>();
  private running: Promise<void> | undefined;
  // The last result of each check, each replaced whole by its own check only.
  private restart: RestartResult | undefined;
  private config: ConfigRead | undefined;
  private asn: Check | undefined;
  /** Published read-only; its view is replaced by a full read and changed in place by a refresh. */
  private table: BgpTableRead & { view: BgpView | undefined } = {
    view: undefined,
    version: 0,
    error: undefined,
    checkedAt: undefined,
  };
  /** The stamp the view is current for, and when bgpd's table was last read whole. */
  private current: { stamp: TableStamp; at: number } | undefined;
  /** A ledger change no refresh covered: the next round reads the whole table. */
  private uncovered = false;
  private held = new HeldPrefixes();
  private hold: HoldResult | undefined;
  private peers: PeersResult | undefined;

  /** Aborted by stop() (nothing starts after it): a full read ends at its next pause (it lasts 6 s at 50,000 Services). */
  private readonly stopping = new AbortController();

  constructor(private readonly opts: FrrMonitorOptions) {
    this.log = opts.logger.child({ component: 'frr-monitor' });
    this.clock = opts.clock ?? realClock;
  }

  start(): void {
    // After an apply, ask bgpd about just the prefixes it touched (a read-back leaves it to the
    // next round, which sees the ledger's version moved).
    this.unsubscribe = this.opts.installed.subscribe((change) => {
      if (change) this.refreshSoon(change);
      else this.uncovered = true;
    });
    this.timer = this.clock.setInterval(() => void this.check(), this.opts.intervalSeconds * 1000);
    void this.check();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.unsubscribe?.();
    this.timer?.cancel();
    this.soonTimer?.cancel();
    await this.running;
  }

  exportCheck(families: readonly Family[]): Check | undefined {
    const { origination, routeClasses } = this.opts;
    return exportCheck(this.config, origination, families, routeClasses);
  }

  holdCheck(): Check | undefined {
    return holdCheck(this.hold);
  }

  asnCheck(): Check | undefined {
    return this.asn;
  }

  bgp(): BgpTableRead {
    return this.table;
  }

  /** One round of checks; never throws, never runs beside another read. */
  check(): Promise<void> {
    if (this.stopping.signal.aborted) return Promise.resolve();
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Asks bgpd shortly about just these prefixes (one vtysh call), so /status catches up without
   * bgpd serializing its whole table because one Service flipped.
   */
  refreshSoon(prefixes: Iterable<string>, delayMs = 500): void {
    if (this.stopping.signal.aborted) return;
    for (const p of prefixes) this.refreshQueue.add(p);
    if (this.soonTimer) return;
    this.soonTimer = this.clock.setTimeout(() => {
      this.soonTimer = undefined;
      void this.refresh();
    }, delayMs);
  }

  private async round(): Promise<void> {
    const restarted = await this.checkRestart();
    // The configuration and the summary in one vtysh call (bgpdConfigAndSummary says why).
    let read: ConfigAndSummary | { error: string };
    try {
      read = await bgpdConfigAndSummary(this.opts.vtysh);
    } catch (err) {
      read = { error: errorMessage(err) };
    }
    this.checkConfig('error' in read ? read : { text: read.config });
    // Before the table: a change between the two reads shows as a new stamp next round.
    const summary = 'error' in read ? read : read.summary;
    const stamp: TableStamp = { bgpd: this.checkPeers(summary), installed: this.opts.installed.version };
    const now = this.clock.now();
    const lacking = this.hold?.missingSince.size ?? 0;
    const refreshPending = this.refreshQueue.size > 0;
    const uncovered = this.uncovered;
    if (fullReadDue({ stamp, now, last: this.current, restarted, lacking, uncovered, refreshPending }))
      await this.readTable(stamp);
    this.table = { ...this.table, checkedAt: this.clock.now() };
  }

  private async checkRestart(): Promise<boolean> {
    let token: string | undefined;
    try {
      token = (await readFrrIdentity(this.opts.socketDir)).token;
    } catch (err) {
      this.log.debug({ err }, 'could not read FRR daemon identities');
    }
    this.restart = restartCheck(token, this.restart);
    if (!this.restart.restarted) return false;
    this.opts.metrics.frrRestarts.inc();
    this.log.warn('an FRR daemon restarted: reading routes back and re-applying');
    this.opts.onRestart();
    return true;
  }

  private checkConfig(read: ConfigRead): void {
    this.config =
      'error' in read ? { error: `cannot read FRR's running-config: ${read.error}` } : { text: read.text };
    // The same read serves the export check and the ASN check.
    if (this.opts.asn !== 0) this.asn = asnCheck(this.config, this.opts.asn);
  }

  /** The summary: the peers, and the stamp that says whether bgpd's table changed. */
  private checkPeers(summary: { json: unknown } | { error: string }): string | undefined {
    let json: unknown;
    let peers: BgpPeer[] = [];
    if ('json' in summary) {
      try {
        peers = parseBgpSummary(summary.json);
        json = summary.json;
      } catch (err) {
        this.log.debug({ err }, 'cannot read the BGP summary');
      }
    } else this.log.debug({ err: summary.error }, 'cannot read the BGP summary');
    const checked = peersCheck(peers, this.peers);
    this.peers = checked;
    const { metrics } = this.opts;
    for (const p of checked.peers)
      metrics.peerPrefixesSent.set({ peer: p.name, afi: p.family }, p.prefixesSent);
    for (const [peer, up] of checked.established) metrics.peerEstablished.set({ peer }, up ? 1 : 0);
    for (const peer of checked.gone) metrics.peerEstablished.set({ peer }, 0);
    return parseBgpTableStamp(json);
  }

  private async readTable(stamp: TableStamp): Promise<void> {
    const { advertises } = this.opts;
    // Changes from here on are refreshed or seen by the next round's stamp.
    this.uncovered = false;
    const started = this.clock.now();
    try {
      // Only the ranges that hold cosmolet's routes, a few at a time: bgpd goes on with its updates
      // (a flip) between them, and so does cosmolet between their answers.
      const installed = [...this.opts.installed.prefixes()];
      const ranges = await coveringRanges(installed, RANGE_ROUTES, pause);
      const view = await bgpTableInRanges(
        this.opts.vtysh,
        ranges,
        RANGE_PACING,
        this.opts.installed,
        this.stopping.signal,
      );
      const now = this.clock.now();
      // Judged in slices too, and published together once done. A prefix applied meanwhile has its
      // refresh pending; one withdrawn meanwhile is no longer advertised.
      const missingSince = new Map<string, number>();
      for (let i = 0; i < installed.length; i += JUDGE_SLICE) {
        const part = trackMissing(view, installed.slice(i, i + JUDGE_SLICE), advertises, now, this.hold);
        for (const [p, since] of part.missingSince) missingSince.set(p, since);
        await pause();
      }
      this.held = await HeldPrefixes.counted(view, advertises, pause, JUDGE_SLICE);
      this.hold = { missingSince, readAt: now };
      this.table = { view, version: this.table.version + 1, error: undefined, checkedAt: now };
      this.current = { stamp, at: now };
      this.setHeld();
      this.log.debug(
        {
          ranges: ranges.length,
          routes: view.size,
          missing: missingSince.size,
          ms: this.clock.now() - started,
        },
        "read bgpd's table in the ranges of cosmolet's routes",
      );
    } catch (err) {
      this.uncovered = true;
      this.table = { ...this.table, error: errorMessage(err) };
    }
  }

  private refresh(): Promise<void> {
    // Stopped: a refresh queued behind the last round must not start a vtysh after stop().
    if (this.stopping.signal.aborted || this.refreshQueue.size === 0) return Promise.resolve();
    // One reader at a time keeps the view and the counts consistent: after a round, then.
    if (this.running) return this.running.then(() => this.refresh());
    const prefixes = [...this.refreshQueue];
    this.refreshQueue.clear();
    // A large change (a cold start): bgpd is busy sending those routes to its peers; serializing its
    // whole table now would slow that down (measured: the cold start took 1.4x a bare `ip -batch`).
    // The next round reads it.
    if (prefixes.length > (this.opts.maxPrefixRefresh ?? 256)) {
      this.uncovered = true;
      return Promise.resolve();
    }
    // Every change up to this version queued its prefixes before now.
    const installed = this.opts.installed.version;
    this.running = this.refreshPrefixes(prefixes, installed).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async refreshPrefixes(prefixes: readonly string[], installed: number): Promise<void> {
    try {
      const { summary, routes } = await bgpSummaryAndPrefixes(this.opts.vtysh, prefixes);
      const { current } = this;
      const { view } = this.table;
      // Before the first full read there is nothing to refresh: that read is due anyway.
      if (view === undefined || current === undefined) return;
      for (const [p, r] of routes) {
        if (r.valid || r.best) view.set(p, r);
        else view.delete(p);
        this.held.note(p, r, this.opts.advertises(p));
      }
      this.table = { ...this.table, version: this.table.version + 1 };
      this.hold = noteRefreshed(
        this.hold,
        routes,
        this.opts.installed,
        this.opts.advertises,
        this.clock.now(),
      );
      this.setHeld();
      // The summary was read before the prefixes: everything it counts is in the view now. A change
      // of bgpd's table that is not cosmolet's within the same interval is taken with it; the next
      // move of the stamp or the periodic full read sees it.
      const bgpd = parseBgpTableStamp(summary);
      if (bgpd !== undefined) this.current = { stamp: { bgpd, installed }, at: current.at };
      else this.uncovered = true;
    } catch (err) {
      this.uncovered = true;
      this.log.debug({ err: errorMessage(err) }, 'cannot read the changed prefixes from bgpd');
    }
  }

  private setHeld(): void {
    const { count } = this.held;
    this.opts.metrics.bgpHeld.set({ family: 'ipv4' }, count.ipv4);
    this.opts.metrics.bgpHeld.set({ family: 'ipv6' }, count.ipv6);
  }
}
