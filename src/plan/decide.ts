// The decision rules for one Service (the whole-cluster `computePlan` and the incremental
// `PlanState` both call these, so they cannot disagree): which of its IPs qualify on this node,
// and for every other IP the reason with the highest precedence.
import { cidrContains, parseCIDR, type CIDR, type IP } from '../net/ip.js';
import type { NodeInfo, ServiceInfo, SliceInfo } from './input.js';
import { matchesLabels, parseLabelSelector, type LabelSelector } from '../model/selector.js';
import type { IPKind, PlanSettings, SkipReason } from './types.js';
import { SKIP_REASONS } from './types.js';

const REASON_RANK: ReadonlyMap<SkipReason, number> = new Map(SKIP_REASONS.map((r, i) => [r, i]));

/** What one Service's endpoints of one family offer, cluster-wide and on this node. */
export interface Readiness {
  ready: boolean;
  fallback: boolean;
  localReady: boolean;
  localFallback: boolean;
}

/** Per family; absent = no slice of that family. */
export interface ServiceReadiness {
  ipv4?: Readiness;
  ipv6?: Readiness;
}

/** The settings, compiled once: the selector and CIDRs parsed. */
export interface Compiled {
  namespaces: ReadonlySet<string> | undefined;
  selector: LabelSelector;
  allowed: CIDR[];
  settings: PlanSettings;
}

export function compileSettings(settings: PlanSettings): Compiled {
  const allowed: CIDR[] = [];
  for (const c of settings.allowedCIDRs) {
    const parsed = parseCIDR(c);
    if (typeof parsed !== 'string') allowed.push(parsed);
  }
  return {
    namespaces: settings.namespaces.length > 0 ? new Set(settings.namespaces) : undefined,
    selector: parseLabelSelector(settings.labelSelector),
    allowed,
    settings,
  };
}

/** Adds one slice's flags into a Service's readiness (an OR over its slices). */
export function addSlice(into: ServiceReadiness, s: SliceInfo): void {
  if (!s.family) return;
  const r = (into[s.family] ??= { ready: false, fallback: false, localReady: false, localFallback: false });
  r.ready ||= s.ready;
  r.fallback ||= s.fallback;
  r.localReady ||= s.localReady;
  r.localFallback ||= s.localFallback;
}

/** What the Node blocks for every IP, or undefined when it blocks nothing. */
export function nodeBlockReason(
  node: NodeInfo | undefined,
  settings: PlanSettings,
  missingNode: 'assume-schedulable' | 'advertise-nothing',
): SkipReason | undefined {
  if (!node) return missingNode === 'advertise-nothing' ? 'node-missing' : undefined;
  if (node.excluded) return 'node-excluded';
  if (node.unschedulable && settings.withdrawOnCordon) return 'node-unschedulable';
  return undefined;
}

export function considered(svc: ServiceInfo, c: Compiled): boolean {
  if (c.namespaces && !c.namespaces.has(svc.namespace)) return false;
  if (svc.proxyNamed) return false;
  if (!matchesLabels(c.selector, svc.labels)) return false;
  return svc.eligible;
}

/** One IP of one Service: the kinds it qualifies through, or else the reason it does not. */
export interface IPDecision {
  /** The canonical address text, or `raw:<text>` for a string that does not parse. */
  key: string;
  ip: IP | undefined;
  raw: string;
  /** Qualifying kinds, in the order met; empty when it does not qualify. */
  kinds: IPKind[];
  reason: SkipReason | undefined;
  /** A Local traffic policy scoped the decision: it is specific to this node. */
  local: boolean;
}

/** The text an IP is reported under: canonical when it parses, as written otherwise. */
export function shownIP(d: IPDecision): string {
  return d.ip ? d.ip.text : d.raw;
}

function decideOne(
  ip: IP | undefined,
  kind: IPKind,
  local: boolean,
  svc: ServiceInfo,
  c: Compiled,
  nodeBlock: SkipReason | undefined,
  readiness: ServiceReadiness | undefined,
): SkipReason | undefined {
  if (!ip) return 'invalid-ip';
  if (svc.optedOut) return 'opted-out';
  const s = c.settings;
  const enabled =
    kind === 'clusterIP' ? s.clusterIP : kind === 'externalIP' ? s.externalIPs : s.loadBalancerIP;
  if (!enabled) return 'kind-disabled';
  // Another implementation (MetalLB, Cilium, kube-vip...) announces its own class's ingress IPs.
  if (kind === 'loadBalancerIP' && svc.loadBalancerClass !== s.loadBalancerClass)
    return 'other-load-balancer-class';
  if (kind !== 'clusterIP' && !c.allowed.some((cidr) => cidrContains(cidr, ip)))
    return 'outside-allowed-cidrs';
  if (nodeBlock) return nodeBlock;
  const r = readiness?.[ip.family];
  // Ready endpoints in scope, or else serving+terminating ones in that same scope.
  if (local) return r && (r.localReady || r.localFallback) ? undefined : 'no-local-endpoints';
  return r && (r.ready || r.fallback) ? undefined : 'no-ready-endpoints';
}

/** Every IP of a considered Service, decided; an IP met through several kinds is one entry. */
export function decideService(
  svc: ServiceInfo,
  c: Compiled,
  nodeBlock: SkipReason | undefined,
  readiness: ServiceReadiness | undefined,
): IPDecision[] {
  const out: IPDecision[] = [];
  for (const cand of svc.ips) {
    const key = cand.ip ? cand.ip.text : `raw:${cand.raw}`;
    let entry = out.find((e) => e.key === key);
    if (!entry) {
      entry = { key, ip: cand.ip, raw: cand.raw, kinds: [], reason: undefined, local: false };
      out.push(entry);
    }
    const local = cand.kind === 'clusterIP' ? svc.internalLocal : svc.externalLocal;
    const reason = decideOne(cand.ip, cand.kind, local, svc, c, nodeBlock, readiness);
    if (reason === undefined) {
      entry.kinds.push(cand.kind);
    } else if (
      entry.reason === undefined ||
      (REASON_RANK.get(reason) ?? 0) < (REASON_RANK.get(entry.reason) ?? 0)
    ) {
      entry.reason = reason;
    }
  }
  const isLocal = (k: IPKind): boolean => (k === 'clusterIP' ? svc.internalLocal : svc.externalLocal);
  for (const e of out) {
    if (e.kinds.length > 0) {
      e.reason = undefined;
      e.local = e.kinds.every(isLocal);
    } else {
      e.local = e.reason === 'no-local-endpoints';
    }
  }
  return out;
}
