// What changed between two plans, per (Service, IP): the unit of log lines and Kubernetes Events.
// A reconcile that changes nothing produces nothing, so logs say what happened, not that a loop ran.
import type { DecisionChange, DecisionState, Plan, SkipReason } from '../plan/types.js';
import { hostPrefixOf } from '../net/prefix.js';

export type { DecisionChange, DecisionState } from '../plan/types.js';

export interface Decision {
  service: string;
  ip: string;
  state: DecisionState;
}

export type Decisions = Map<string, Decision>;

export function decisionsOf(plan: Plan): Decisions {
  const out: Decisions = new Map();
  for (const r of plan.routes) {
    const ip = r.prefix.slice(0, r.prefix.lastIndexOf('/'));
    for (const service of r.services) out.set(`${service}|${ip}`, { service, ip, state: 'advertised' });
  }
  for (const s of plan.skipped)
    out.set(`${s.service}|${s.ip}`, { service: s.service, ip: s.ip, state: s.reason });
  return out;
}

export function diffDecisions(prev: Decisions, next: Decisions): DecisionChange[] {
  const out: DecisionChange[] = [];
  for (const [key, d] of next) {
    const before = prev.get(key)?.state;
    if (before !== d.state) out.push({ service: d.service, ip: d.ip, from: before, to: d.state });
  }
  for (const [key, d] of prev) {
    if (!next.has(key)) out.push({ service: d.service, ip: d.ip, from: d.state, to: undefined });
  }
  return out;
}

const EXPLAIN: Record<SkipReason, string> = {
  'invalid-ip': 'not a valid IP address',
  'opted-out': 'the Service has cosmolet.io/advertise: "false"',
  'kind-disabled': 'this kind of IP is not enabled in the config',
  'other-load-balancer-class': 'another load-balancer implementation owns it (spec.loadBalancerClass)',
  'outside-allowed-cidrs': 'outside advertise.allowedCIDRs',
  'node-excluded': 'the node carries node.kubernetes.io/exclude-from-external-load-balancers',
  'node-unschedulable': 'the node is cordoned',
  'node-missing': 'the Node object is not in the API',
  'no-local-endpoints': 'no ready endpoint on this node',
  'no-ready-endpoints': 'no ready endpoint',
};

export function explain(state: DecisionState): string {
  return state === 'advertised' ? 'endpoints ready' : EXPLAIN[state];
}

/** One readable line per change, e.g. "advertising 10.96.0.10/32 for default/web: endpoints ready". */
export function describeChange(c: DecisionChange): string {
  const prefix = c.to === 'invalid-ip' || c.from === 'invalid-ip' ? c.ip : hostPrefixOf(c.ip);
  if (c.to === 'advertised') return `advertising ${prefix} for ${c.service}: ${explain('advertised')}`;
  if (c.to === undefined) {
    return c.from === 'advertised'
      ? `withdrawing ${prefix} for ${c.service}: the Service no longer carries it`
      : `forgetting ${prefix} for ${c.service}: the Service no longer carries it`;
  }
  const verb = c.from === 'advertised' ? 'withdrawing' : 'not advertising';
  return `${verb} ${prefix} for ${c.service}: ${c.to} (${explain(c.to)})`;
}
