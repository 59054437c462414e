// /readyz and /healthz as pure functions of the current state, so every condition has a name and
// a message an operator can act on.

export interface Condition {
  name: string;
  ok: boolean;
  message: string;
  /** FRR config to add, when the fix is a config change. */
  snippet?: string;
}

export interface ReadinessInput {
  /** Reflector name -> synced once. */
  reflectorsSynced: Record<string, boolean>;
  /** Set when the API server has been failing for a while (fail static meanwhile). */
  kubernetesProblem: string | undefined;
  /** Set when the API server refuses cosmolet's credential (401/403) or none can be had. */
  kubernetesAuthProblem?: string | undefined;
  /** Set while watches stay silent and lists stand in for them (changes arrive only with the lists). */
  kubernetesWatchProblem?: string | undefined;
  nodeName: string;
  nodeFound: boolean;
  /** undefined before the first reconcile against the router. */
  reconcileOk: boolean | undefined;
  reconcileError: string | undefined;
  applyEnabled: boolean;
  exportCheck: { ok: boolean; message: string; snippet?: string } | undefined;
  /** Does bgpd hold every installed prefix? undefined before its table was first read. */
  holdCheck?: { ok: boolean; message: string } | undefined;
  /** undefined when bgp.asn is not set. */
  asnCheck: { ok: boolean; message: string } | undefined;
  asnConfigured: boolean;
}

export function readiness(i: ReadinessInput): { ready: boolean; conditions: Condition[] } {
  const notSynced = Object.entries(i.reflectorsSynced)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
  const conditions: Condition[] = [
    {
      name: 'kubernetes-synced',
      ok: notSynced.length === 0,
      message:
        notSynced.length === 0
          ? 'every watched kind has been listed'
          : `waiting for the first full list of: ${notSynced.join(', ')}`,
    },
    {
      name: 'kubernetes-reachable',
      ok: i.kubernetesProblem === undefined,
      message: i.kubernetesProblem ?? 'watches are running',
    },
    {
      name: 'kubernetes-authorized',
      ok: i.kubernetesAuthProblem === undefined,
      message: i.kubernetesAuthProblem ?? 'the API server accepts the credential',
    },
    {
      name: 'kubernetes-watches-deliver',
      ok: i.kubernetesWatchProblem === undefined,
      message: i.kubernetesWatchProblem ?? 'watches deliver changes',
    },
    {
      name: 'node-found',
      ok: i.nodeFound,
      message: i.nodeFound
        ? `Node ${i.nodeName} is known`
        : `Node ${i.nodeName} is not in the API: advertising nothing (check --node-name / NODE_NAME)`,
    },
    {
      name: 'router-programmed',
      ok: i.reconcileOk === true,
      message:
        i.reconcileOk === undefined
          ? 'no reconcile with the router has finished yet'
          : i.reconcileOk
            ? i.applyEnabled
              ? 'the last reconcile applied the plan'
              : 'bgp.enabled is false: planning only, nothing is installed'
            : `the last reconcile failed: ${i.reconcileError ?? 'unknown error'}`,
    },
  ];
  if (i.applyEnabled) {
    const e = i.exportCheck;
    const c: Condition = {
      name: 'frr-exports-routes',
      ok: e?.ok === true,
      message: e ? e.message : 'FRR has not been checked yet',
    };
    if (e?.snippet) c.snippet = e.snippet;
    conditions.push(c);
    // Before bgpd's table was read there is nothing to hold against: not a reason to wait.
    conditions.push({
      name: 'bgp-holds-routes',
      ok: i.holdCheck?.ok ?? true,
      message: i.holdCheck?.message ?? "bgpd's table has not been read yet",
    });
  }
  if (i.asnConfigured) {
    conditions.push({
      name: 'asn-matches',
      ok: i.asnCheck?.ok === true,
      message: i.asnCheck?.message ?? 'FRR has not been checked yet',
    });
  }
  return { ready: conditions.every((c) => c.ok), conditions };
}

export interface LivenessInput {
  now: number;
  /** When the reconcile in progress started, if one runs. */
  reconcileRunningSince: number | undefined;
  reconcileLastRunAt: number;
  /** A reconcile taking longer than this is stuck. */
  reconcileStuckAfterMs: number;
  /** No reconcile attempt for longer than this: the loop is dead. */
  reconcileIdleLimitMs: number;
  /** Reflector name -> last time its loop made progress. */
  reflectorProgress: Record<string, number>;
  reflectorStuckAfterMs: number;
}

export function liveness(i: LivenessInput): { alive: boolean; problems: string[] } {
  const problems: string[] = [];
  if (i.reconcileRunningSince !== undefined && i.now - i.reconcileRunningSince > i.reconcileStuckAfterMs) {
    problems.push(
      `a reconcile has been running for ${Math.round((i.now - i.reconcileRunningSince) / 1000)} s`,
    );
  }
  if (i.reconcileRunningSince === undefined && i.now - i.reconcileLastRunAt > i.reconcileIdleLimitMs) {
    problems.push(`no reconcile for ${Math.round((i.now - i.reconcileLastRunAt) / 1000)} s`);
  }
  for (const [name, at] of Object.entries(i.reflectorProgress)) {
    if (i.now - at > i.reflectorStuckAfterMs) {
      problems.push(`reflector ${name} made no progress for ${Math.round((i.now - at) / 1000)} s`);
    }
  }
  return { alive: problems.length === 0, problems };
}
