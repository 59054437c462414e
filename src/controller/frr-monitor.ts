// Watches FRR from the outside, every loop interval: does bgpd export cosmolet's routes, is the ASN
// the configured one, what does bgpd hold (for /status), does it hold every route cosmolet
// installed, how are the peers, and did a daemon restart (then the reconciler reads back and
// re-applies: a restarted staticd has lost its routes).
import { realClock, type Clock, type Timer } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../observe/metrics.js';
import { FamilyCount, type Family } from '../net/ip.js';
import { bgpdRunningConfig, bgpPrefixes, bgpSummary, bgpTable } from '../router/frr/bgpd.js';
import { evaluateAsn, evaluateExport, type Check, type RouteClassMark } from '../router/frr/checks.js';
import type { BgpPeer, BgpView } from '../router/frr/parse.js';
import type { Vtysh } from '../router/frr/vtysh.js';
import { FrrRestartDetector } from '../router/frr/restarts.js';
import type { Origination } from '../router/router.js';

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
  /** A daemon restarted: the reconciler must read back and re-apply. */
  onRestart: () => void;
  /** Whether the plan advertises a prefix now, to count how many bgpd holds as valid best paths. */
  advertises: (prefix: string) => boolean;
  /** The prefixes cosmolet has installed (the router's read-back and applies). */
  installed: () => Iterable<string>;
  /** Largest change refreshed prefix by prefix; a larger one reads the whole table once instead. */
  maxPrefixRefresh?: number;
  /** Default: the real clock. */
  clock?: Clock;
}

/**
 * How long an installed prefix may be missing from bgpd's table before /readyz says so. bgpd takes
 * a route from zebra in well under a second; a cold start of 20,000 routes took up to 35 s to reach
 * the leaf on a loaded machine, so a shorter grace would call a busy bgpd broken.
 */
export const BGP_HOLD_GRACE_MS = 30_000;

/** Prefixes named in a message at most; the count says how many there are. */
const NAMED_PREFIXES = 5;

export interface FrrState {
  /** bgpd's running-config, or why it could not be read; both undefined until the first check. */
  bgpdConfig: string | undefined;
  bgpdConfigError: string | undefined;
  asnCheck: Check | undefined;
  bgp: BgpView | undefined;
  bgpError: string | undefined;
  peers: BgpPeer[];
  lastCheckAt: number | undefined;
  /** Bumped whenever `bgp` changes (it is updated in place after an apply). */
  viewVersion: number;
}

export class FrrMonitor {
  private readonly restarts: FrrRestartDetector;
  private readonly log: Logger;
  private readonly clock: Clock;
  private timer: Timer | undefined;
  private soonTimer: Timer | undefined;
  private readonly refreshQueue = new Set<string>();
  /** Advertised prefixes bgpd holds as valid best paths, as of the last reads. */
  private readonly held = new Set<string>();
  private readonly heldCount = new FamilyCount();
  /** Installed, advertised prefixes bgpd's table lacked, since when (full reads only). */
  private missingSince = new Map<string, number>();
  private holdReadAt: number | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly knownPeers = new Set<string>();
  readonly state: FrrState = {
    bgpdConfig: undefined,
    bgpdConfigError: undefined,
    asnCheck: undefined,
    bgp: undefined,
    bgpError: undefined,
    peers: [],
    lastCheckAt: undefined,
    viewVersion: 0,
  };

  constructor(private readonly opts: FrrMonitorOptions) {
    this.restarts = new FrrRestartDetector(opts.socketDir);
    this.log = opts.logger.child({ component: 'frr-monitor' });
    this.clock = opts.clock ?? realClock;
  }

  start(): void {
    this.timer = this.clock.setInterval(() => void this.check(), this.opts.intervalSeconds * 1000);
    void this.check();
  }

  /**
   * After an apply: asks bgpd shortly about just the prefixes that changed (one vtysh call), so
   * /status catches up without bgpd serializing its whole table; after a very large change (a cold
   * start) the next loop-interval check reads the whole table.
   */
  refreshSoon(prefixes: Iterable<string>, delayMs = 500): void {
    if (this.stopped) return;
    for (const p of prefixes) this.refreshQueue.add(p);
    if (this.soonTimer) return;
    this.soonTimer = this.clock.setTimeout(() => {
      this.soonTimer = undefined;
      void this.refresh();
    }, delayMs);
  }

  private refresh(): Promise<void> {
    const prefixes = [...this.refreshQueue];
    this.refreshQueue.clear();
    if (prefixes.length === 0) return Promise.resolve();
    // A large change (a cold start): bgpd is busy sending those routes to its peers; serializing its
    // whole table now would slow that down (measured: the cold start took 1.4x a bare `ip -batch`).
    // The next loop-interval check reads it.
    if (prefixes.length > (this.opts.maxPrefixRefresh ?? 256)) return Promise.resolve();
    // Never beside a full check: one reader at a time keeps the view and the counts consistent.
    this.running ??= this.refreshPrefixes(prefixes).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async refreshPrefixes(prefixes: string[]): Promise<void> {
    try {
      const view = await bgpPrefixes(this.opts.vtysh, prefixes);
      const bgp = (this.state.bgp ??= new Map());
      this.state.viewVersion++;
      for (const [p, r] of view) {
        if (r.valid || r.best) bgp.set(p, r);
        else bgp.delete(p);
        if (r.valid) this.missingSince.delete(p);
        this.markHeld(p, r.valid && r.best && this.opts.advertises(p));
      }
      this.setHeld();
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'cannot read the changed prefixes from bgpd');
    }
  }

  private markHeld(prefix: string, held: boolean): void {
    if (held && !this.held.has(prefix)) {
      this.held.add(prefix);
      this.heldCount.add(prefix);
    } else if (!held && this.held.delete(prefix)) {
      this.heldCount.add(prefix, -1);
    }
  }

  private setHeld(): void {
    this.opts.metrics.bgpHeld.set({ family: 'ipv4' }, this.heldCount.ipv4);
    this.opts.metrics.bgpHeld.set({ family: 'ipv6' }, this.heldCount.ipv6);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.soonTimer?.cancel();
    await this.running;
  }

  /** One round of checks; never throws, never runs twice at once. */
  check(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.checkOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async checkOnce(): Promise<void> {
    const { vtysh, metrics } = this.opts;
    try {
      if (await this.restarts.changed()) {
        metrics.frrRestarts.inc();
        this.log.warn('an FRR daemon restarted: reading routes back and re-applying');
        this.opts.onRestart();
      }
    } catch (err) {
      this.log.debug({ err }, 'could not read FRR daemon identities');
    }
    try {
      this.state.bgpdConfig = await bgpdRunningConfig(vtysh);
      this.state.bgpdConfigError = undefined;
    } catch (err) {
      this.state.bgpdConfig = undefined;
      this.state.bgpdConfigError = `cannot read FRR's running-config: ${errorMessage(err)}`;
    }
    if (this.opts.asn !== 0) {
      // The same read serves both checks: one vtysh call instead of two.
      const { bgpdConfig, bgpdConfigError } = this.state;
      this.state.asnCheck =
        bgpdConfig !== undefined
          ? evaluateAsn(bgpdConfig, this.opts.asn)
          : { ok: false, message: bgpdConfigError ?? "cannot read FRR's running-config" };
    }
    try {
      const bgp = await bgpTable(vtysh);
      this.state.bgp = bgp;
      this.state.viewVersion++;
      this.state.bgpError = undefined;
      this.held.clear();
      this.heldCount.clear();
      for (const [p, r] of bgp) if (r.valid && r.best && this.opts.advertises(p)) this.markHeld(p, true);
      this.setHeld();
      this.noteMissing(bgp);
    } catch (err) {
      this.state.bgpError = errorMessage(err);
    }
    try {
      this.state.peers = await bgpSummary(vtysh);
      this.recordPeers(this.state.peers);
    } catch (err) {
      this.state.peers = [];
      this.recordPeers([]);
      this.log.debug({ err }, 'cannot read the BGP summary');
    }
    this.state.lastCheckAt = this.clock.now();
  }

  /** After a full read of bgpd's table: which installed, advertised prefixes it lacks, since when. */
  private noteMissing(bgp: BgpView): void {
    const now = this.clock.now();
    const lacking = new Map<string, number>();
    for (const p of this.opts.installed()) {
      if (!this.opts.advertises(p) || bgp.get(p)?.valid === true) continue;
      lacking.set(p, this.missingSince.get(p) ?? now);
    }
    this.missingSince = lacking;
    this.holdReadAt = now;
  }

  /**
   * Does bgpd hold every prefix cosmolet installed and advertises? A prefix missing for longer than
   * the grace is a problem: installed but not reaching the fabric. Seen when zebra restarted alone
   * (FRR 8.4's bgpd then takes no new route until it restarts too) and when the export route-map's
   * prefix-lists do not cover a Service range. undefined before the first read of bgpd's table.
   */
  holdCheck(): Check | undefined {
    if (this.holdReadAt === undefined) return undefined;
    const grace = BGP_HOLD_GRACE_MS;
    // Judged at the last full read, not now: a prefix is late when two reads at least the grace
    // apart both lacked it (bgpd may have taken it since the last read).
    const readAt = this.holdReadAt;
    const late = [...this.missingSince].filter(([, since]) => readAt - since >= grace).map(([p]) => p);
    if (late.length === 0) {
      const pending = this.missingSince.size;
      return {
        ok: true,
        message:
          pending === 0
            ? 'bgpd holds every route cosmolet installed'
            : `${pending} installed prefixes not in bgpd yet (for less than ${grace / 1000} s)`,
      };
    }
    late.sort();
    const named = late.slice(0, NAMED_PREFIXES).join(', ') + (late.length > NAMED_PREFIXES ? ', ...' : '');
    return {
      ok: false,
      message:
        `bgpd has not held ${late.length} installed prefixes for ${grace / 1000} s or more (${named}): ` +
        'they are in the kernel / staticd but do not reach the fabric. Check that the export ' +
        "route-map's prefix-lists cover them (show bgp <prefix>); if zebra restarted without bgpd, " +
        'restart bgpd too (FRR 8.4 bgpd takes no new route from a new zebra)',
    };
  }

  /**
   * Does FRR export cosmolet's routes for the families it has prefixes of now (evaluated at each
   * /readyz from the last running-config read)? undefined before the first check.
   */
  exportCheck(families: Iterable<Family>): Check | undefined {
    const { bgpdConfig, bgpdConfigError } = this.state;
    if (bgpdConfigError !== undefined) return { ok: false, message: bgpdConfigError };
    if (bgpdConfig === undefined) return undefined;
    return evaluateExport(bgpdConfig, this.opts.origination, [...families], this.opts.routeClasses);
  }

  private recordPeers(peers: BgpPeer[]): void {
    const { metrics } = this.opts;
    const seen = new Set<string>();
    const established = new Map<string, boolean>();
    for (const p of peers) {
      established.set(p.name, (established.get(p.name) ?? false) || p.established);
      metrics.peerPrefixesSent.set({ peer: p.name, afi: p.family }, p.prefixesSent);
      seen.add(p.name);
    }
    for (const [peer, up] of established) metrics.peerEstablished.set({ peer }, up ? 1 : 0);
    // A peer that disappeared from the config reports 0 rather than its last value.
    for (const peer of this.knownPeers) if (!seen.has(peer)) metrics.peerEstablished.set({ peer }, 0);
    for (const peer of seen) this.knownPeers.add(peer);
  }
}
