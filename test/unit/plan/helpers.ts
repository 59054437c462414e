// Builders for the plan tests: small Kubernetes objects and settings with readable defaults.
import type { Endpoint, EndpointSlice, Node, Service } from '../../../src/model/objects.js';
import { computePlan, type PlanInput } from '../../../src/plan/plan.js';
import type { IPKind, Plan, PlanSettings, SkipReason } from '../../../src/plan/types.js';

export const NODE = 'node-a';
export const OTHER = 'node-b';

/** Every kind on, every address allowed: the tests switch off what they test. */
export const ALL: PlanSettings = {
  namespaces: [],
  labelSelector: '',
  clusterIP: true,
  loadBalancerIP: true,
  externalIPs: true,
  allowedCIDRs: ['0.0.0.0/0', '::/0'],
  loadBalancerClass: '',
  withdrawOnCordon: true,
};

/** The configuration's defaults (docs/decisions.md). */
export const DEFAULTS: PlanSettings = {
  namespaces: [],
  labelSelector: '',
  clusterIP: true,
  loadBalancerIP: false,
  externalIPs: false,
  allowedCIDRs: [],
  loadBalancerClass: '',
  withdrawOnCordon: true,
};

export interface SvcOpts {
  ns?: string;
  name?: string;
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  externalIPs?: string[];
  ingress?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  itp?: string;
  etp?: string;
}

export function svc(o: SvcOpts = {}): Service {
  const spec: NonNullable<Service['spec']> = { type: o.type ?? 'ClusterIP' };
  if (o.clusterIP !== undefined) spec.clusterIP = o.clusterIP;
  if (o.clusterIPs !== undefined) {
    spec.clusterIPs = o.clusterIPs;
    if (o.clusterIP === undefined && o.clusterIPs[0] !== undefined) spec.clusterIP = o.clusterIPs[0];
  }
  if (o.externalIPs !== undefined) spec.externalIPs = o.externalIPs;
  if (o.itp !== undefined) spec.internalTrafficPolicy = o.itp;
  if (o.etp !== undefined) spec.externalTrafficPolicy = o.etp;
  const s: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: o.ns ?? 'default', name: o.name ?? 'web' },
    spec,
  };
  if (o.labels && s.metadata) s.metadata.labels = o.labels;
  if (o.annotations && s.metadata) s.metadata.annotations = o.annotations;
  if (o.ingress) s.status = { loadBalancer: { ingress: o.ingress.map((ip) => ({ ip })) } };
  return s;
}

export interface EpOpts {
  node?: string;
  ready?: boolean | null;
  serving?: boolean | null;
  terminating?: boolean | null;
  /** Leave `conditions` out entirely. */
  noConditions?: boolean;
}

export function ep(address: string, o: EpOpts = {}): Endpoint {
  const e: Endpoint = { addresses: [address], nodeName: o.node ?? NODE };
  if (o.node === '') delete e.nodeName;
  if (!o.noConditions) {
    e.conditions = {};
    if (o.ready !== undefined) e.conditions.ready = o.ready;
    if (o.serving !== undefined) e.conditions.serving = o.serving;
    if (o.terminating !== undefined) e.conditions.terminating = o.terminating;
  }
  return e;
}

let sliceCounter = 0;

export function slice(
  svcName: string,
  addressType: 'IPv4' | 'IPv6' | 'FQDN',
  endpoints: Endpoint[],
  ns = 'default',
): EndpointSlice {
  sliceCounter++;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      namespace: ns,
      name: `${svcName}-${sliceCounter}`,
      labels: { 'kubernetes.io/service-name': svcName },
    },
    addressType,
    endpoints,
  };
}

/** One ready IPv4 endpoint and one ready IPv6 endpoint on this node for the Service. */
export function readyBoth(svcName = 'web', ns = 'default', node = NODE): EndpointSlice[] {
  return [
    slice(svcName, 'IPv4', [ep('10.244.0.5', { node })], ns),
    slice(svcName, 'IPv6', [ep('fd00:244::5', { node })], ns),
  ];
}

export function node(
  o: { name?: string; labels?: Record<string, string>; unschedulable?: boolean } = {},
): Node {
  const n: Node = { apiVersion: 'v1', kind: 'Node', metadata: { name: o.name ?? NODE } };
  if (o.labels && n.metadata) n.metadata.labels = o.labels;
  if (o.unschedulable !== undefined) n.spec = { unschedulable: o.unschedulable };
  return n;
}

export interface PlanArgs {
  services: Service[];
  slices?: EndpointSlice[];
  node?: Node | null;
  settings?: Partial<PlanSettings>;
  missingNode?: PlanInput['missingNode'];
}

export function plan(a: PlanArgs): Plan {
  return computePlan({
    services: a.services,
    endpointSlices: a.slices ?? [],
    node: a.node === null ? undefined : (a.node ?? node()),
    nodeName: NODE,
    settings: { ...ALL, ...a.settings },
    missingNode: a.missingNode ?? 'assume-schedulable',
  });
}

/** Compact expected forms: [prefix, services, kinds] and [service, ip, reason]. */
export type R = [string, string[], IPKind[]];
export type S = [string, string, SkipReason];

export function routes(p: Plan): R[] {
  return p.routes.map((r) => [r.prefix, r.services, r.kinds]);
}

export function skips(p: Plan): S[] {
  return p.skipped.map((s) => [s.service, s.ip, s.reason]);
}

/** The reason for one (service, ip) in the plan, or 'advertised' / 'absent'. */
export function fate(p: Plan, service: string, ip: string): SkipReason | 'advertised' | 'absent' {
  const s = p.skipped.find((x) => x.service === service && x.ip === ip);
  if (s) return s.reason;
  const prefix = ip.includes(':') ? `${ip}/128` : `${ip}/32`;
  if (p.routes.some((r) => r.prefix === prefix && r.services.includes(service))) return 'advertised';
  return 'absent';
}
