// The pure decision (CONTRACT.md "The decision rules"): from the Services, EndpointSlices and this
// Node to the prefixes this node advertises and, for every IP it does not, the reason why.
// No I/O, no clock, no randomness: `render` and `run` call the same function.
import type { EndpointSlice, Node, Service, Endpoint } from '../kube/types.js';
import { Annotations, Labels } from '../kube/types.js';
import {
  cidrContains,
  compareIP,
  hostPrefix,
  parseCIDR,
  parseServiceIP,
  type CIDR,
  type Family,
  type IP,
} from './ip.js';
import { matchesLabels, parseLabelSelector, type LabelSelector } from '../kube/selector.js';
import type { IPKind, Plan, PlannedRoute, PlanSettings, SkippedIP, SkipReason } from './types.js';
import { SKIP_REASONS } from './types.js';

export interface PlanInput {
  services: Iterable<Service>;
  endpointSlices: Iterable<EndpointSlice>;
  /** This node's object; undefined when it is not known. */
  node: Node | undefined;
  nodeName: string;
  settings: PlanSettings;
  /**
   * What a missing Node means: `render` assumes a schedulable, unlabelled node; `run` advertises
   * nothing (reason `node-missing`).
   */
  missingNode: 'assume-schedulable' | 'advertise-nothing';
}

const REASON_RANK: ReadonlyMap<SkipReason, number> = new Map(SKIP_REASONS.map((r, i) => [r, i]));
const CONSIDERED_TYPES = new Set(['ClusterIP', 'NodePort', 'LoadBalancer']);

/**
 * What one Service's endpoints of one family offer, cluster-wide and on this node: a ready
 * endpoint, or only serving+terminating ones (kube-proxy's fallback when nothing in scope is ready).
 */
interface Readiness {
  ready: boolean;
  fallback: boolean;
  localReady: boolean;
  localFallback: boolean;
}

/** Per `namespace/name`: the readiness of each family (absent = no slice of that family). */
interface ServiceReadiness {
  ipv4?: Readiness;
  ipv6?: Readiness;
}

/** Settings compiled once per plan: the selector and CIDRs parsed. */
interface Compiled {
  namespaces: ReadonlySet<string> | undefined;
  selector: LabelSelector;
  allowed: CIDR[];
  settings: PlanSettings;
}

function compile(settings: PlanSettings): Compiled {
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

function isReady(e: Endpoint): boolean {
  const r = e.conditions?.ready;
  return r === true || r === undefined || r === null;
}

function isServingTerminating(e: Endpoint): boolean {
  return e.conditions?.serving === true && e.conditions?.terminating === true;
}

/**
 * Indexes the slices by `namespace/service-name` and family in one pass, reducing the endpoints to
 * four flags; `decide` applies the terminating-endpoint fallback separately for each scope, as
 * kube-proxy does.
 */
function indexReadiness(slices: Iterable<EndpointSlice>, nodeName: string): Map<string, ServiceReadiness> {
  const out = new Map<string, ServiceReadiness>();
  for (const s of slices) {
    if (!s || typeof s !== 'object') continue; // never trust list entries to be objects
    const family = s.addressType === 'IPv4' ? 'ipv4' : s.addressType === 'IPv6' ? 'ipv6' : undefined;
    const ns = s.metadata?.namespace;
    const svc = s.metadata?.labels?.[Labels.serviceName];
    if (!family || !ns || !svc || !Array.isArray(s.endpoints)) continue;
    const key = `${ns}/${svc}`;
    let perService = out.get(key);
    if (!perService) out.set(key, (perService = {}));
    let r = perService[family];
    if (!r)
      perService[family] = r = { ready: false, fallback: false, localReady: false, localFallback: false };
    for (const e of s.endpoints) {
      if (!e || typeof e !== 'object') continue;
      const local = e.nodeName === nodeName;
      if (isReady(e)) {
        r.ready = true;
        if (local) r.localReady = true;
      } else if (isServingTerminating(e)) {
        r.fallback = true;
        if (local) r.localFallback = true;
      }
    }
  }
  return out;
}

/** An IP a Service carries through one kind, or the raw string when it does not parse. */
interface Candidate {
  raw: string;
  ip: IP | undefined;
  kind: IPKind;
}

function candidates(svc: Service): Candidate[] {
  const out: Candidate[] = [];
  const add = (raw: unknown, kind: IPKind) => {
    if (typeof raw !== 'string' || raw === '') return;
    out.push({ raw, ip: parseServiceIP(raw), kind });
  };
  const spec = svc.spec ?? {};
  const clusterIPs =
    Array.isArray(spec.clusterIPs) && spec.clusterIPs.length > 0 ? spec.clusterIPs : [spec.clusterIP];
  for (const ip of clusterIPs) add(ip, 'clusterIP');
  if (Array.isArray(spec.externalIPs)) for (const ip of spec.externalIPs) add(ip, 'externalIP');
  if ((spec.type ?? 'ClusterIP') === 'LoadBalancer') {
    const ingress = svc.status?.loadBalancer?.ingress;
    if (Array.isArray(ingress)) for (const i of ingress) add(i?.ip, 'loadBalancerIP');
  }
  return out;
}

function isHeadless(svc: Service): boolean {
  const spec = svc.spec ?? {};
  return spec.clusterIP === 'None' || (Array.isArray(spec.clusterIPs) && spec.clusterIPs[0] === 'None');
}

function considered(svc: Service, c: Compiled): boolean {
  const ns = svc.metadata?.namespace;
  const name = svc.metadata?.name;
  if (!ns || !name) return false;
  if (c.namespaces && !c.namespaces.has(ns)) return false;
  const labels = svc.metadata?.labels;
  if (labels && Object.prototype.hasOwnProperty.call(labels, Labels.serviceProxyName)) return false;
  if (!matchesLabels(c.selector, labels)) return false;
  if (!CONSIDERED_TYPES.has(svc.spec?.type ?? 'ClusterIP')) return false;
  return !isHeadless(svc);
}

/** The reason one candidate does not qualify, or undefined when it does. */
function decide(
  cand: Candidate,
  svc: Service,
  svcKey: string,
  c: Compiled,
  nodeBlock: SkipReason | undefined,
  readiness: Map<string, ServiceReadiness>,
): SkipReason | undefined {
  const ip = cand.ip;
  if (!ip) return 'invalid-ip';
  if (svc.metadata?.annotations?.[Annotations.advertise] === 'false') return 'opted-out';
  const s = c.settings;
  const enabled =
    cand.kind === 'clusterIP' ? s.clusterIP : cand.kind === 'externalIP' ? s.externalIPs : s.loadBalancerIP;
  if (!enabled) return 'kind-disabled';
  if (cand.kind !== 'clusterIP' && !c.allowed.some((cidr) => cidrContains(cidr, ip))) {
    return 'outside-allowed-cidrs';
  }
  if (nodeBlock) return nodeBlock;
  const policy =
    cand.kind === 'clusterIP' ? svc.spec?.internalTrafficPolicy : svc.spec?.externalTrafficPolicy;
  const r = readiness.get(svcKey)?.[ip.family];
  // Ready endpoints in scope, or else serving+terminating ones in that same scope.
  if (policy === 'Local') return r && (r.localReady || r.localFallback) ? undefined : 'no-local-endpoints';
  return r && (r.ready || r.fallback) ? undefined : 'no-ready-endpoints';
}

function nodeBlockReason(input: PlanInput): SkipReason | undefined {
  const node = input.node;
  if (!node) return input.missingNode === 'advertise-nothing' ? 'node-missing' : undefined;
  const labels = node.metadata?.labels;
  if (labels && Object.prototype.hasOwnProperty.call(labels, Labels.excludeFromExternalLB))
    return 'node-excluded';
  if (node.spec?.unschedulable === true && input.settings.withdrawOnCordon) return 'node-unschedulable';
  return undefined;
}

interface RouteAcc {
  ip: IP;
  /** Each Service adds itself once per prefix, so a list is enough. */
  services: string[];
  kinds: IPKind[];
}

interface SkipAcc {
  service: string;
  raw: string;
  ip: IP | undefined;
  reason: SkipReason;
}

export function computePlan(input: PlanInput): Plan {
  const c = compile(input.settings);
  const readiness = indexReadiness(input.endpointSlices, input.nodeName);
  const nodeBlock = nodeBlockReason(input);
  // Keyed by the canonical address text (unique across families); the prefix is made at the end.
  const routes = new Map<string, RouteAcc>();
  const skips: SkipAcc[] = [];

  const seen = new Set<string>();
  for (const svc of input.services) {
    if (!svc || typeof svc !== 'object' || !considered(svc, c)) continue;
    const svcKey = `${svc.metadata?.namespace}/${svc.metadata?.name}`;
    // A snapshot may list a Service twice: the first copy counts, so each (Service, IP) has one entry.
    if (seen.has(svcKey)) continue;
    seen.add(svcKey);
    // Per IP of this Service (a handful, so a list): the kinds it qualifies through, or the
    // earliest reason among its kinds. Invalid strings are keyed by their raw text.
    const perIP: { key: string; ip: IP | undefined; raw: string; kinds: IPKind[]; reason?: SkipReason }[] =
      [];
    for (const cand of candidates(svc)) {
      const key = cand.ip ? cand.ip.text : `raw:${cand.raw}`;
      let entry = perIP.find((e) => e.key === key);
      if (!entry) perIP.push((entry = { key, ip: cand.ip, raw: cand.raw, kinds: [] }));
      const reason = decide(cand, svc, svcKey, c, nodeBlock, readiness);
      if (reason === undefined) {
        entry.kinds.push(cand.kind);
      } else if (
        entry.reason === undefined ||
        (REASON_RANK.get(reason) ?? 0) < (REASON_RANK.get(entry.reason) ?? 0)
      ) {
        entry.reason = reason;
      }
    }
    for (const entry of perIP) {
      if (entry.kinds.length > 0 && entry.ip) {
        let route = routes.get(entry.key);
        if (!route) routes.set(entry.key, (route = { ip: entry.ip, services: [], kinds: [] }));
        route.services.push(svcKey);
        for (const k of entry.kinds) if (!route.kinds.includes(k)) route.kinds.push(k);
      } else if (entry.reason) {
        skips.push({ service: svcKey, raw: entry.raw, ip: entry.ip, reason: entry.reason });
      }
    }
  }

  const routeList: PlannedRoute[] = [...routes.values()]
    .sort((a, b) => compareIP(a.ip, b.ip))
    .map((r) => ({
      prefix: hostPrefix(r.ip),
      family: r.ip.family,
      services: r.services.length > 1 ? r.services.sort() : r.services,
      kinds: r.kinds.length > 1 ? r.kinds.sort() : r.kinds,
    }));

  const skipped: SkippedIP[] = skips
    .filter((s) => !(s.ip && routes.has(s.ip.text)))
    .sort(compareSkips)
    .map((s) => ({ service: s.service, ip: s.ip ? s.ip.text : s.raw, reason: s.reason }));

  return { node: input.nodeName, routes: routeList, skipped };
}

/** By Service, then IPv4 before IPv6 numerically, then invalid strings (no family) by text. */
function compareSkips(a: SkipAcc, b: SkipAcc): number {
  if (a.service !== b.service) return a.service < b.service ? -1 : 1;
  if (a.ip && b.ip) return compareIP(a.ip, b.ip);
  if (a.ip) return -1;
  if (b.ip) return 1;
  return a.raw < b.raw ? -1 : a.raw > b.raw ? 1 : 0;
}

export function familyOf(prefix: string): Family {
  return prefix.includes(':') ? 'ipv6' : 'ipv4';
}
