// The daemon's HTTP endpoints (/healthz, /readyz, /version, /metrics, /status), built from
// read-only views of its parts: they read the reconciler's status, the route ledger's snapshot and
// the FRR monitor's last results, and change none of them (the ready gauge aside).
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { stallLimitMs, type ReflectorTimers } from '../kube/reflector.js';
import type { Family } from '../net/ip.js';
import { liveness, readiness, type Condition } from '../observe/health.js';
import type { HttpRoutes } from '../observe/http.js';
import type { Metrics } from '../observe/metrics.js';
import { statusDocument } from '../observe/status.js';
import { buildInfo, sourceInfo } from '../version.js';
import type { FrrView } from './frr-monitor.js';
import type { KubeHealth } from './kube-health.js';
import type { Reconciler } from './reconciler.js';
import type { Reflectors } from './wiring.js';

export interface Readiness {
  ready: boolean;
  conditions: Condition[];
}

/** What the endpoints read: nothing here can start, stop or change a part. */
export interface DaemonViews {
  config: Config;
  clock: Clock;
  metrics: Metrics;
  reflectorTimers: ReflectorTimers;
  kube: Pick<KubeHealth, 'unreachable' | 'unauthorized' | 'watchesSilent'>;
  reflectors: Pick<Reflectors, 'synced' | 'all' | 'nodeObject'>;
  reconciler: Pick<Reconciler, 'status' | 'plan'> & {
    readonly state: Pick<Reconciler['state'], 'advertisedByFamily'>;
  };
  frr: FrrView;
}

/** The families the plan has prefixes of (the FRR export is required for those only). */
function familiesInUse(v: DaemonViews): Family[] {
  const counts = v.reconciler.state.advertisedByFamily();
  return (['ipv4', 'ipv6'] as const).filter((f) => counts[f] > 0);
}

/** /readyz: every condition with its message; also sets the cosmolet_ready gauge. */
export function readinessOf(v: DaemonViews): Readiness {
  const { config } = v;
  const status = v.reconciler.status();
  const reflectorsSynced: Record<string, boolean> = {};
  for (const r of v.reflectors.all)
    reflectorsSynced[r.resource] = (reflectorsSynced[r.resource] ?? true) && r.synced;
  const result = readiness({
    reflectorsSynced,
    kubernetesProblem: v.kube.unreachable(),
    kubernetesAuthProblem: v.kube.unauthorized(),
    kubernetesWatchProblem: v.kube.watchesSilent(),
    nodeName: config.nodeName,
    nodeFound: v.reflectors.nodeObject() !== undefined,
    reconcileOk: status.lastOk,
    reconcileError: status.lastError,
    applyEnabled: config.bgp.enabled,
    exportCheck: v.frr.exportCheck(familiesInUse(v)),
    holdCheck: v.frr.holdCheck(),
    asnCheck: v.frr.asnCheck(),
    asnConfigured: config.bgp.asn !== 0,
  });
  v.metrics.ready.set(result.ready ? 1 : 0);
  return result;
}

/** /healthz: whether the reconcile loop and every reflector loop still make progress. */
export function livenessOf(v: DaemonViews): { alive: boolean; problems: string[] } {
  const status = v.reconciler.status();
  const loopMs = v.config.loopIntervalSeconds * 1000;
  const reflectorProgress: Record<string, number> = {};
  for (const r of v.reflectors.all) {
    const name = `${r.resource}${r.namespace ? `/${r.namespace}` : ''}`;
    reflectorProgress[name] = r.lastProgressAt;
  }
  return liveness({
    now: v.clock.now(),
    reconcileRunningSince: status.runningSince,
    reconcileLastRunAt: status.lastRunAt,
    // A batch of 10,000 FRR lines takes ~5 s; allow several command timeouts before calling it stuck.
    reconcileStuckAfterMs: v.config.frr.commandTimeoutSeconds * 1000 * 4 + 30_000,
    reconcileIdleLimitMs: loopMs * 3 + 30_000,
    reflectorProgress,
    reflectorStuckAfterMs: stallLimitMs(v.reflectorTimers),
  });
}

/** The routes of http.address: the probe paths, and /metrics and /status behind the authorizer. */
export function httpRoutes(v: DaemonViews): HttpRoutes {
  return {
    ...probeRoutes(v, true),
    '/metrics': {
      protected: true,
      heavy: true,
      handler: async () => {
        readinessOf(v);
        return {
          status: 200,
          body: await v.metrics.registry.metrics(),
          contentType: v.metrics.registry.contentType,
        };
      },
    },
    '/status': {
      protected: true,
      heavy: true,
      // Serialized once per change: the plan, the installed routes and the bgpd view carry versions
      // (the snapshot is one object per ledger change); every apply is part of a reconcile.
      cacheKey: () => {
        const s = v.reconciler.status();
        const bgp = v.frr.bgp();
        return [s.planVersion, s.installed, s.lastRunAt, s.lastError, bgp.version, bgp.checkedAt, bgp.error];
      },
      handler: () => {
        const s = v.reconciler.status();
        const bgp = v.frr.bgp();
        return {
          status: 200,
          body: statusDocument({
            nodeName: v.config.nodeName,
            plan: v.reconciler.plan(),
            installed: s.installed,
            bgp: bgp.view,
            bgpCheckedAt: bgp.checkedAt,
            bgpError: bgp.error,
            reconciledAt: s.planned ? s.lastRunAt : undefined,
            lastError: s.lastError,
          }),
        };
      },
    },
  };
}

/**
 * The open paths, on both listeners. /readyz's messages (node name, FRR snippets) only where the
 * caller may see details: a loopback listener (`details`) that checks no tokens.
 */
export function probeRoutes(v: DaemonViews, details: boolean): HttpRoutes {
  return {
    '/healthz': () => {
      const l = livenessOf(v);
      return { status: l.alive ? 200 : 503, body: l.alive ? 'ok\n' : `stuck: ${l.problems.join('; ')}\n` };
    },
    '/readyz': ({ authorized }) => {
      const r = readinessOf(v);
      const body =
        authorized && details
          ? r
          : { ready: r.ready, conditions: r.conditions.map((c) => ({ name: c.name, ok: c.ok })) };
      return { status: r.ready ? 200 : 503, body };
    },
    // AGPL-3.0 section 13: users who reach cosmolet over the network are told where its source is.
    '/version': () => ({ status: 200, body: { ...buildInfo(), ...sourceInfo() } }),
  };
}
