// The reference for the incremental plan's decision changes: every (Service, IP) decision of a
// whole plan, and what changed between two of them. The property test holds PlanState to it.
import type { DecisionChange, DecisionState, Plan } from '../../../src/plan/types.js';

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
