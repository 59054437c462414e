// Watches FRR from the outside, every loop interval: does bgpd export cosmolet's routes, is the ASN
// the configured one, what does bgpd hold (for /status), how are the peers, and did a daemon
// restart (then the reconciler reads back and re-applies: a restarted staticd has lost its routes).
import { errorMessage } from '../errors.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import { familyOf } from '../plan/plan.js';
import {
  bgpSummary,
  bgpdRunningConfig,
  checkAsn,
  evaluateExport,
  FrrWatcher,
  type BgpPeer,
  type BgpView,
  type Check,
  type Origination,
  type Vtysh,
} from '../router/frr.js';
import type { Family } from '../router/prefix.js';
import type { Router } from '../router/router.js';

export interface FrrMonitorOptions {
  router: Router;
  vtysh: Vtysh;
  origination: Origination;
  socketDir: string;
  /** 0: not checked. */
  asn: number;
  intervalSeconds: number;
  logger: Logger;
  metrics: Metrics;
  /** A daemon restarted: the reconciler must read back and re-apply. */
  onRestart: () => void;
  /** The prefixes the plan advertises now, to count how many bgpd holds as valid best paths. */
  advertised: () => Iterable<string>;
}

export interface FrrState {
  /** bgpd's running-config, or why it could not be read; both undefined until the first check. */
  bgpdConfig: string | undefined;
  bgpdConfigError: string | undefined;
  asnCheck: Check | undefined;
  bgp: BgpView | undefined;
  bgpError: string | undefined;
  peers: BgpPeer[];
  lastCheckAt: number | undefined;
}

export class FrrMonitor {
  private readonly watcher: FrrWatcher;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
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
  };

  constructor(private readonly opts: FrrMonitorOptions) {
    this.watcher = new FrrWatcher(opts.socketDir);
    this.log = opts.logger.child({ component: 'frr-monitor' });
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.opts.intervalSeconds * 1000);
    void this.check();
  }

  /** Refreshes the bgpd view shortly (after an apply, so /status catches up without a full loop). */
  checkSoon(delayMs = 1000): void {
    if (this.stopped || this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      void this.check();
    }, delayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soonTimer) clearTimeout(this.soonTimer);
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
      if (await this.watcher.changed()) {
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
      this.state.asnCheck = await checkAsn(vtysh, this.opts.asn).catch((err: unknown) => ({
        ok: false,
        message: `cannot read FRR's running-config: ${errorMessage(err)}`,
      }));
    }
    try {
      const bgp = await this.opts.router.verify();
      this.state.bgp = bgp;
      this.state.bgpError = undefined;
      const held = { ipv4: 0, ipv6: 0 };
      for (const p of this.opts.advertised()) {
        const r = bgp.get(p);
        if (r?.valid && r.best) held[familyOf(p)]++;
      }
      metrics.bgpHeld.set({ family: 'ipv4' }, held.ipv4);
      metrics.bgpHeld.set({ family: 'ipv6' }, held.ipv6);
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
    this.state.lastCheckAt = Date.now();
  }

  /**
   * Does FRR export cosmolet's routes for the families it has prefixes of now (evaluated at each
   * /readyz from the last running-config read)? undefined before the first check.
   */
  exportCheck(families: Iterable<Family>): Check | undefined {
    const { bgpdConfig, bgpdConfigError } = this.state;
    if (bgpdConfigError !== undefined) return { ok: false, message: bgpdConfigError };
    if (bgpdConfig === undefined) return undefined;
    return evaluateExport(bgpdConfig, this.opts.origination, [...families]);
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
