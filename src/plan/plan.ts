// The pure decision (docs/decisions.md, rule by rule): from the Services, EndpointSlices and this
// Node to the prefixes this node advertises and, for every IP it does not, the reason why.
// No I/O, no clock, no randomness: `render` and `run` call the same function.
import type { EndpointSlice, Node, Service } from '../model/objects.js';
import { compareIP, hostPrefix, type IP } from '../net/ip.js';
import {
  addSlice,
  compileSettings,
  considered,
  decideService,
  nodeBlockReason,
  type ServiceReadiness,
} from './decide.js';
import {
  projectNode,
  projectService,
  projectSlice,
  type NodeInfo,
  type ServiceInfo,
  type SliceInfo,
} from './input.js';
import type { IPKind, Plan, PlannedRoute, PlanSettings, SkippedIP, SkipReason } from './types.js';

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

/** The same input, already projected (what the reflectors and the incremental state hold). */
export interface ProjectedPlanInput {
  services: Iterable<ServiceInfo>;
  slices: Iterable<SliceInfo>;
  node: NodeInfo | undefined;
  nodeName: string;
  settings: PlanSettings;
  missingNode: 'assume-schedulable' | 'advertise-nothing';
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

/** The plan for raw objects (render's input): projects them, then decides. */
export function computePlan(input: PlanInput): Plan {
  const services: ServiceInfo[] = [];
  for (const s of input.services) {
    const info = projectService(s);
    if (info) services.push(info);
  }
  const slices: SliceInfo[] = [];
  for (const s of input.endpointSlices) {
    const info = projectSlice(s, input.nodeName);
    if (info) slices.push(info);
  }
  return computeProjectedPlan({
    services,
    slices,
    node: input.node ? projectNode(input.node) : undefined,
    nodeName: input.nodeName,
    settings: input.settings,
    missingNode: input.missingNode,
  });
}

/** The whole-cluster plan from scratch: the reference the incremental `PlanState` must equal. */
export function computeProjectedPlan(input: ProjectedPlanInput): Plan {
  const c = compileSettings(input.settings);
  const readiness = new Map<string, ServiceReadiness>();
  for (const s of input.slices) {
    if (!s.service) continue;
    let r = readiness.get(s.service);
    if (!r) readiness.set(s.service, (r = {}));
    addSlice(r, s);
  }
  const nodeBlock = nodeBlockReason(input.node, input.settings, input.missingNode);
  // Keyed by the canonical address text (unique across families); the prefix is made at the end.
  const routes = new Map<string, RouteAcc>();
  const skips: SkipAcc[] = [];

  const seen = new Set<string>();
  for (const svc of input.services) {
    if (!considered(svc, c)) continue;
    // A snapshot may list a Service twice: the first copy counts, so each (Service, IP) has one entry.
    if (seen.has(svc.key)) continue;
    seen.add(svc.key);
    for (const entry of decideService(svc, c, nodeBlock, readiness.get(svc.key))) {
      if (entry.kinds.length > 0 && entry.ip) {
        let route = routes.get(entry.key);
        if (!route) routes.set(entry.key, (route = { ip: entry.ip, services: [], kinds: [] }));
        route.services.push(svc.key);
        for (const k of entry.kinds) if (!route.kinds.includes(k)) route.kinds.push(k);
      } else if (entry.reason) {
        skips.push({ service: svc.key, raw: entry.raw, ip: entry.ip, reason: entry.reason });
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
