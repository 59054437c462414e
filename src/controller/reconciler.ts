// The reconcile loop (level-triggered, as client-go controllers are): any watch event only marks
// "dirty"; one worker recomputes the whole plan from the stores and makes the router's routes equal
// to it. The actual state is read back from the router at start, at every full resync, after a
// failed apply and after an FRR restart; in between, the last successful apply is the baseline.
// Fail static: until every reflector has listed once, nothing is planned or applied, and a broken
// API server leaves the stores (and so the routes) as they were.
import { errorMessage, CosmoletError } from '../errors.js';
import type { EndpointSlice, Node, Service } from '../kube/types.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import { computePlan, familyOf } from '../plan/plan.js';
import type { Plan, PlanSettings } from '../plan/types.js';
import { diffPrefixes, type Router } from '../router/router.js';
import {
  decisionsOf,
  describeChange,
  diffDecisions,
  hostPrefixOf,
  type DecisionChange,
  type Decisions,
} from './decisions.js';
import { CoalescingTrigger } from './trigger.js';

/** What the reconciler reads from the cluster: the reflectors' stores. */
export interface ClusterSource {
  /** True once every reflector has completed its first full list. */
  synced(): boolean;
  services(): Iterable<Service>;
  endpointSlices(): Iterable<EndpointSlice>;
  node(): Node | undefined;
}

export interface ReconcilerOptions {
  cluster: ClusterSource;
  router: Router;
  settings: PlanSettings;
  nodeName: string;
  /** false: plan, log and report, but never apply anything (bgp.enabled). */
  applyEnabled: boolean;
  loopIntervalSeconds: number;
  logger: Logger;
  metrics: Metrics;
  /** Called with the decision changes of each new plan (Kubernetes Events). Must not throw. */
  onDecisionChanges?: (changes: DecisionChange[], plan: Plan) => void;
  /** Called after an apply changed the router's routes. Must not throw. */
  onAppliedChanges?: () => void;
  /** Quiet time after the last event before a reconcile starts. */
  settleMs?: number;
  /** Longest a pending event waits, however many follow it. */
  maxDelayMs?: number;
  /** Retry backoff after a failed reconcile: doubles from `retryMinMs` up to `retryMaxMs`. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export interface ReconcileStatus {
  plan: Plan | undefined;
  /** Prefixes cosmolet has installed, as of the last read-back or successful apply. */
  installed: ReadonlySet<string>;
  /** Whether the last reconcile succeeded; undefined before the first one ran against the router. */
  lastOk: boolean | undefined;
  lastError: string | undefined;
  /** Time of the last finished reconcile attempt (ms since epoch). */
  lastRunAt: number;
  /** When the reconcile in progress started, if one is running. */
  runningSince: number | undefined;
}

export class Reconciler {
  private readonly trigger: CoalescingTrigger;
  private readonly log: Logger;
  private plan: Plan | undefined;
  private decisions: Decisions = new Map();
  private installed = new Set<string>();
  /** Prefixes held by routes that are not cosmolet's, as of the last apply; retried after a read-back. */
  private conflicts = new Set<string>();
  private readBackDue = true;
  private lastOk: boolean | undefined;
  private lastError: string | undefined;
  private lastRunAt = Date.now();
  private runningSince: number | undefined;
  private pendingEventAt: number | undefined;
  private retryDelayMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private applying = true;

  constructor(private readonly opts: ReconcilerOptions) {
    this.log = opts.logger.child({ component: 'reconciler' });
    this.retryDelayMs = opts.retryMinMs ?? 500;
    this.trigger = new CoalescingTrigger({
      settleMs: opts.settleMs ?? 20,
      maxDelayMs: opts.maxDelayMs ?? 200,
      run: () => this.reconcile(),
    });
  }

  start(): void {
    this.resyncTimer = setInterval(() => this.resync(), this.opts.loopIntervalSeconds * 1000);
    this.trigger.fire(true);
  }

  /** A watch event: something may have changed. */
  notify(at: number = Date.now()): void {
    this.pendingEventAt ??= at;
    this.trigger.fire();
  }

  /** A full resync: read the router back and reconcile now. */
  resync(): void {
    this.readBackDue = true;
    this.trigger.fire(true);
  }

  status(): ReconcileStatus {
    return {
      plan: this.plan,
      installed: this.installed,
      lastOk: this.lastOk,
      lastError: this.lastError,
      lastRunAt: this.lastRunAt,
      runningSince: this.runningSince,
    };
  }

  /** Stops reconciling; waits for a reconcile in progress to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.trigger.stop();
  }

  /** Decommissioning: removes every route cosmolet owns (read back from the router). */
  async withdrawAll(): Promise<number> {
    this.applying = false;
    const owned = await this.opts.router.read();
    if (owned.size === 0) return 0;
    await this.opts.router.apply({ add: [], remove: [...owned].sort() });
    this.installed = new Set();
    this.log.info({ withdrawn: owned.size }, `withdrew all ${owned.size} routes cosmolet owned`);
    return owned.size;
  }

  private async reconcile(): Promise<void> {
    if (this.stopped || !this.applying) return;
    const { cluster, metrics } = this.opts;
    const started = Date.now();
    this.runningSince = started;
    const eventAt = this.pendingEventAt;
    this.pendingEventAt = undefined;
    try {
      if (!cluster.synced()) {
        this.log.debug('waiting for every reflector to list once before planning');
        return;
      }
      metrics.reconciles.inc();
      const plan = computePlan({
        services: cluster.services(),
        endpointSlices: cluster.endpointSlices(),
        node: cluster.node(),
        nodeName: this.opts.nodeName,
        settings: this.opts.settings,
        missingNode: 'advertise-nothing',
      });
      await this.readBack();
      this.adoptPlan(plan);
      await this.converge(plan, eventAt);
      this.lastOk = true;
      this.lastError = undefined;
      this.retryDelayMs = this.opts.retryMinMs ?? 500;
    } catch (err) {
      this.fail(err, eventAt);
    } finally {
      const end = Date.now();
      metrics.reconcileDuration.observe((end - started) / 1000);
      this.lastRunAt = end;
      this.runningSince = undefined;
    }
  }

  /** Reads the router's actual state back when due (start, resync, after a failure or FRR restart). */
  private async readBack(): Promise<void> {
    if (!this.readBackDue) return;
    if (this.opts.applyEnabled) {
      this.installed = await this.opts.router.read();
      await this.opts.router.repair?.();
    } else {
      // bgp.enabled false touches nothing; reading back only feeds /status, so its failure is no error.
      this.installed = await this.opts.router.read().catch(() => this.installed);
    }
    this.readBackDue = false;
    this.conflicts = new Set();
    this.setInstalledGauge();
  }

  /** Makes the router hold exactly the plan's prefixes. */
  private async converge(plan: Plan, eventAt: number | undefined): Promise<void> {
    const { router, metrics } = this.opts;
    if (!this.opts.applyEnabled) return;
    // A prefix another route holds is not retried on every event, only after the next read-back.
    const desired = new Set(plan.routes.map((r) => r.prefix).filter((p) => !this.conflicts.has(p)));
    const diff = diffPrefixes(desired, this.installed);
    if (diff.add.length === 0 && diff.remove.length === 0) return;
    // From here on the baseline is unknown until the apply succeeds.
    this.readBackDue = true;
    metrics.applies.inc();
    const result = await router.apply(diff);
    const conflicts = new Set(result.conflicts);
    this.installed = new Set([...desired].filter((p) => !conflicts.has(p)));
    for (const p of conflicts) this.conflicts.add(p);
    this.readBackDue = false;
    for (const p of diff.add) if (!conflicts.has(p)) metrics.routesAdded.inc({ family: familyOf(p) });
    for (const p of diff.remove) metrics.routesWithdrawn.inc({ family: familyOf(p) });
    if (eventAt !== undefined) metrics.eventToInstalled.observe((Date.now() - eventAt) / 1000);
    this.setInstalledGauge();
    for (const p of result.conflicts) {
      this.log.warn({ prefix: p }, `not installing ${p}: a route that is not cosmolet's holds it`);
    }
    this.opts.onAppliedChanges?.();
    this.log.info(
      { added: diff.add.length, withdrawn: diff.remove.length, ms: result.durationMs },
      `routes updated: +${diff.add.length} -${diff.remove.length}`,
    );
  }

  private adoptPlan(plan: Plan): void {
    const first = this.plan === undefined;
    const decisions = decisionsOf(plan);
    let changes = diffDecisions(this.decisions, decisions);
    this.plan = plan;
    this.decisions = decisions;
    const { metrics } = this.opts;
    metrics.advertisedPrefixes.set({ family: 'ipv4' }, plan.routes.filter((r) => r.family === 'ipv4').length);
    metrics.advertisedPrefixes.set({ family: 'ipv6' }, plan.routes.filter((r) => r.family === 'ipv6').length);
    metrics.skippedIPs.reset();
    for (const s of plan.skipped) metrics.skippedIPs.inc({ reason: s.reason });
    if (first) changes = this.firstPlanChanges(changes);
    for (const c of changes) {
      const level =
        c.to === 'invalid-ip' || c.to === 'outside-allowed-cidrs' ? 'warn' : first ? 'debug' : 'info';
      this.log[c.to === 'advertised' ? 'info' : level](
        { service: c.service, ip: c.ip, from: c.from, to: c.to },
        describeChange(c),
      );
    }
    if (changes.length === 0) return;
    try {
      this.opts.onDecisionChanges?.(changes, plan);
    } catch (err) {
      this.log.warn({ err }, 'decision change handler failed');
    }
  }

  /**
   * After a restart every decision is "new". Routes that are already installed were adopted, not
   * started: one summary line instead of a line and an Event per prefix, so a rolling update of a
   * large cluster does not flood the logs or the API server.
   */
  private firstPlanChanges(changes: DecisionChange[]): DecisionChange[] {
    let adopted = 0;
    const out = changes.filter((c) => {
      if (c.to !== 'advertised' || !this.installed.has(hostPrefixOf(c.ip))) return true;
      adopted++;
      return false;
    });
    if (adopted > 0) {
      this.log.info(
        { adopted },
        `adopted ${adopted} advertised Service IPs whose routes were already installed`,
      );
    }
    return out;
  }

  private fail(err: unknown, eventAt: number | undefined): void {
    this.lastOk = false;
    this.lastError = errorMessage(err);
    this.readBackDue = true;
    // The events of this batch are not handled yet: keep their time for the latency metric.
    if (eventAt !== undefined) this.pendingEventAt = Math.min(eventAt, this.pendingEventAt ?? eventAt);
    const reason = err instanceof CosmoletError ? err.code : 'UNEXPECTED';
    this.opts.metrics.reconcileErrors.inc({ reason });
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.opts.retryMaxMs ?? 30_000);
    this.log.error({ err, code: reason, retryInMs: delay }, `reconcile failed: ${this.lastError}`);
    if (this.stopped) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.trigger.fire(true);
    }, delay);
  }

  private setInstalledGauge(): void {
    let v4 = 0;
    for (const p of this.installed) if (familyOf(p) === 'ipv4') v4++;
    this.opts.metrics.installedPrefixes.set({ family: 'ipv4' }, v4);
    this.opts.metrics.installedPrefixes.set({ family: 'ipv6' }, this.installed.size - v4);
  }
}
