// The pure decision (docs/decisions.md, rule by rule): from the Services, EndpointSlices and this
// Node to the prefixes this node advertises and, for every IP it does not, the reason why.
// No I/O, no clock, no randomness: `render` and `run` call the same function.
import type { EndpointSlice, Node, Service } from '../model/objects.js';
import {
  addSlice,
  compileSettings,
  considered,
  decideService,
  nodeBlockReason,
  prefixClass,
  serviceClass,
  type ServiceReadiness,
} from './decide.js';
import { planDocument, type RouteRow, type SkipRow } from './document.js';
import {
  projectNode,
  projectService,
  projectSlice,
  type NodeInfo,
  type ServiceInfo,
  type SliceInfo,
} from './input.js';
import type { Plan, PlanSettings, UnknownRouteClass } from './types.js';

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
  // Each Service adds itself once per prefix, so a list of Services is enough.
  const routes = new Map<string, RouteRow>();
  const skips: SkipRow[] = [];

  const seen = new Set<string>();
  for (const svc of input.services) {
    if (!considered(svc, c)) continue;
    // A snapshot may list a Service twice: the first copy counts, so each (Service, IP) has one entry.
    if (seen.has(svc.key)) continue;
    seen.add(svc.key);
    for (const entry of decideService(svc, c, nodeBlock, readiness.get(svc.key))) {
      if (entry.kinds.length > 0 && entry.ip) {
        let route = routes.get(entry.key);
        if (!route)
          routes.set(entry.key, (route = { ip: entry.ip, services: [], kinds: [], routeClass: '' }));
        route.services.push(svc.key);
        route.routeClass = prefixClass(route.routeClass, entry.routeClass);
        for (const k of entry.kinds) if (!route.kinds.includes(k)) route.kinds.push(k);
      } else if (entry.reason) {
        skips.push({ service: svc.key, raw: entry.raw, ip: entry.ip, reason: entry.reason });
      }
    }
  }

  return planDocument(
    input.nodeName,
    [...routes.values()],
    skips.filter((s) => !(s.ip && routes.has(s.ip.text))),
  );
}

/**
 * The considered Services (not opted out) whose route-class annotation names no configured class (rule 7: they
 * advertise with the default class, and the operator is told), sorted by Service.
 */
export function unknownRouteClasses(
  services: Iterable<ServiceInfo>,
  settings: PlanSettings,
): UnknownRouteClass[] {
  const c = compileSettings(settings);
  const out = new Map<string, UnknownRouteClass>();
  const seen = new Set<string>();
  for (const svc of services) {
    // As in the plan: the first copy of a Service listed twice counts.
    if (seen.has(svc.key) || !considered(svc, c)) continue;
    seen.add(svc.key);
    // An opted-out Service advertises nothing, so its class does not matter.
    if (svc.optedOut) continue;
    const { routeClass, unknown } = serviceClass(svc, c);
    if (unknown !== undefined)
      out.set(svc.key, {
        service: svc.key,
        annotated: unknown,
        class: routeClass === '' ? null : routeClass,
      });
  }
  return [...out.values()].sort((a, b) => (a.service < b.service ? -1 : 1));
}
