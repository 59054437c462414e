// The plan's result, in the shape `cosmolet render` prints (docs/decisions.md "render").
import type { Family } from '../net/ip.js';

export type IPKind = 'clusterIP' | 'externalIP' | 'loadBalancerIP';

/** Why a (Service, IP) is not advertised; the order is the precedence of docs/decisions.md. */
export const SKIP_REASONS = [
  'invalid-ip',
  'opted-out',
  'kind-disabled',
  // A LoadBalancer Service of another spec.loadBalancerClass: another implementation announces it.
  'other-load-balancer-class',
  'outside-allowed-cidrs',
  'node-excluded',
  'node-unschedulable',
  // Only in `run`: the Node object is not in the API (render assumes a schedulable node instead).
  'node-missing',
  'no-local-endpoints',
  'no-ready-endpoints',
] as const;

export type SkipReason = (typeof SKIP_REASONS)[number];

export interface PlannedRoute {
  prefix: string;
  family: Family;
  /** `namespace/name` of every Service that qualifies for this prefix, sorted. */
  services: string[];
  /** The kinds through which it qualifies, sorted. */
  kinds: IPKind[];
}

export interface SkippedIP {
  service: string;
  ip: string;
  reason: SkipReason;
}

export interface Plan {
  node: string;
  routes: PlannedRoute[];
  skipped: SkippedIP[];
}

/** The part of the configuration the plan reads. */
export interface PlanSettings {
  namespaces: readonly string[];
  labelSelector: string;
  clusterIP: boolean;
  loadBalancerIP: boolean;
  externalIPs: boolean;
  allowedCIDRs: readonly string[];
  /** Ingress IPs count only on Services of this spec.loadBalancerClass ("" = without a class). */
  loadBalancerClass: string;
  withdrawOnCordon: boolean;
}

/** What the plan shows for one (Service, IP): advertised, or the reason it is not. */
export type DecisionState = 'advertised' | SkipReason;

/** One (Service, IP) whose decision changed: the unit of log lines and Kubernetes Events. */
export interface DecisionChange {
  service: string;
  ip: string;
  /** undefined: the (Service, IP) was not in the previous plan. */
  from: DecisionState | undefined;
  /** undefined: the (Service, IP) is gone (Service deleted, IP removed, no longer considered). */
  to: DecisionState | undefined;
  /** Decided by a Local traffic policy: specific to this node (other nodes decide otherwise). */
  local?: boolean;
}
