// What the plan reads from each Kubernetes object, taken once when the object arrives (a
// projection): IPs parsed, the few labels and annotations the rules read, and an EndpointSlice
// reduced to four readiness flags for this node. The reflectors keep these instead of the raw
// objects, so a store costs a fraction of the objects' size and an update that changes nothing the
// plan reads is recognised at once (`sameSlice`) and costs no reconcile.
// Objects are untrusted JSON: a field of the wrong type is dropped and reported, never misread.
import type { EndpointSlice, KubeObject, Node, Service } from '../model/objects.js';
import { Annotations, Labels } from '../model/objects.js';
import { isRecord } from '../model/json.js';
import { parseServiceIP, type Family, type IP } from '../net/ip.js';
import type { NodeNames } from './node-names.js';
import type { IPKind } from './types.js';

/** One IP a Service carries through one kind; `ip` is undefined when the text does not parse. */
export interface ServiceIP {
  raw: string;
  ip: IP | undefined;
  kind: IPKind;
}

export interface ServiceInfo {
  /** `namespace/name` */
  key: string;
  namespace: string;
  name: string;
  uid: string | undefined;
  /**
   * For `services.labelSelector`; undefined when the projection was asked to drop them (the
   * reflectors do: the API server applies the selector to their list and watch).
   */
  labels: Readonly<Record<string, string>> | undefined;
  /** A considered type (ClusterIP, NodePort, LoadBalancer) and not headless. */
  eligible: boolean;
  /** Carries service.kubernetes.io/service-proxy-name: another proxy owns it. */
  proxyNamed: boolean;
  optedOut: boolean;
  internalLocal: boolean;
  externalLocal: boolean;
  /** spec.loadBalancerClass; "" without one (the default implementation's Services). */
  loadBalancerClass: string;
  /** The annotation cosmolet.io/route-class as written; undefined without it. */
  routeClass: string | undefined;
  ips: ServiceIP[];
}

/** One EndpointSlice, reduced to what decides readiness on one node. */
export interface SliceInfo {
  key: string;
  /** `namespace/service-name`, undefined when the slice names no Service. */
  service: string | undefined;
  /** undefined for an addressType cosmolet does not route (FQDN) or a malformed one. */
  family: Family | undefined;
  /** Some endpoint is ready, cluster-wide. */
  ready: boolean;
  /** Some endpoint is serving and terminating (kube-proxy's fallback when nothing is ready). */
  fallback: boolean;
  localReady: boolean;
  localFallback: boolean;
  /** The distinct nodes its endpoints run on (shared strings): who else is in the cluster. */
  nodes: readonly string[];
}

export interface NodeInfo {
  name: string;
  unschedulable: boolean;
  excluded: boolean;
}

/** Every field a projection can drop for having the wrong type (the metric's label values). */
export const MALFORMED_FIELDS = [
  'service.metadata',
  'service.metadata.labels',
  'service.metadata.annotations',
  'service.metadata.uid',
  'service.spec',
  'service.spec.type',
  'service.spec.clusterIPs',
  'service.spec.externalIPs',
  'service.spec.loadBalancerClass',
  'service.status.loadBalancer.ingress',
  'service.status.loadBalancer.ingress.ip',
  'endpointslice.metadata',
  'endpointslice.metadata.labels',
  'endpointslice.endpoints',
  'endpointslice.endpoints.conditions',
  'endpointslice.endpoints.nodeName',
  'node.metadata',
  'node.metadata.labels',
  'node.spec.unschedulable',
] as const;

export type MalformedField = (typeof MALFORMED_FIELDS)[number];

/** Told about every field dropped for having the wrong type. */
export type MalformedReport = (field: MalformedField) => void;

const CONSIDERED_TYPES = new Set(['ClusterIP', 'NodePort', 'LoadBalancer']);

/**
 * Namespaces recur in every object: one string each, not one per object (their number is bounded
 * by the cluster's).
 */
const namespaces = new Map<string, string>();
function intern(map: Map<string, string>, s: string): string {
  const known = map.get(s);
  if (known !== undefined) return known;
  map.set(s, s);
  return s;
}

const NO_NODES: readonly string[] = Object.freeze([]);

/** A map of strings, or undefined when absent; a malformed one is dropped and reported. */
function stringMap(
  v: unknown,
  field: MalformedField,
  report: MalformedReport | undefined,
): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) {
    report?.(field);
    return undefined;
  }
  for (const x of Object.values(v)) {
    if (typeof x !== 'string') {
      report?.(field);
      return Object.fromEntries(
        Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'),
      );
    }
  }
  return v as Record<string, string>;
}

function optString(
  v: unknown,
  field: MalformedField,
  report: MalformedReport | undefined,
): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  report?.(field);
  return undefined;
}

function has(map: Readonly<Record<string, string>> | undefined, key: string): boolean {
  return map !== undefined && Object.prototype.hasOwnProperty.call(map, key);
}

/** The object's `namespace/name` when both are non-empty strings (name alone for a Node). */
function identity(
  obj: unknown,
  namespaced: boolean,
  nameOptional = false,
): { namespace: string; name: string } | undefined {
  if (!isRecord(obj) || !isRecord(obj.metadata)) return undefined;
  const { namespace } = obj.metadata;
  const name = nameOptional && obj.metadata.name === undefined ? '' : obj.metadata.name;
  if (typeof name !== 'string' || (name === '' && !nameOptional)) return undefined;
  if (!namespaced) return { namespace: '', name };
  if (typeof namespace !== 'string' || namespace === '') return undefined;
  return { namespace, name };
}

export interface ServiceProjection {
  /** Keep the labels for the plan's own selector check (render); the reflectors filter on the server. */
  labels?: boolean;
}

export function projectService(
  raw: Service | KubeObject,
  report?: MalformedReport,
  options: ServiceProjection = { labels: true },
): ServiceInfo | undefined {
  const id = identity(raw, true);
  if (!id) {
    report?.('service.metadata');
    return undefined;
  }
  const obj = raw as Record<string, unknown>;
  const meta = obj.metadata as Record<string, unknown>;
  const spec = isRecord(obj.spec) ? obj.spec : {};
  if (obj.spec !== undefined && !isRecord(obj.spec)) report?.('service.spec');
  const labels = stringMap(meta.labels, 'service.metadata.labels', report);
  const annotations = stringMap(meta.annotations, 'service.metadata.annotations', report);
  const typeField = optString(spec.type, 'service.spec.type', report);
  // A type of the wrong kind is not read as the default: such a Service is not considered at all.
  const type = spec.type === undefined || spec.type === null ? 'ClusterIP' : typeField;

  const ips: ServiceIP[] = [];
  const add = (v: unknown, kind: IPKind, field: MalformedField): void => {
    if (v === undefined || v === null || v === '') return;
    if (typeof v !== 'string') return report?.(field);
    const ip = parseServiceIP(v);
    // A valid IP is known by its canonical text; only a string that does not parse keeps its own.
    ips.push({ raw: ip ? ip.text : v, ip, kind });
  };
  const list = (v: unknown, field: MalformedField): unknown[] => {
    if (v === undefined || v === null) return [];
    if (Array.isArray(v)) return v;
    report?.(field);
    return [];
  };
  const clusterIPs = list(spec.clusterIPs, 'service.spec.clusterIPs');
  const primary = clusterIPs.length > 0 ? clusterIPs : [spec.clusterIP];
  for (const v of primary) add(v, 'clusterIP', 'service.spec.clusterIPs');
  for (const v of list(spec.externalIPs, 'service.spec.externalIPs'))
    add(v, 'externalIP', 'service.spec.externalIPs');
  if (type === 'LoadBalancer') {
    const status = isRecord(obj.status) ? obj.status : {};
    const lb = isRecord(status.loadBalancer) ? status.loadBalancer : {};
    for (const i of list(lb.ingress, 'service.status.loadBalancer.ingress')) {
      if (!isRecord(i)) {
        report?.('service.status.loadBalancer.ingress');
        continue;
      }
      // An ingress with ipMode Proxy is the load balancer's own address, not one the nodes take.
      if (i.ipMode === 'Proxy') continue;
      add(i.ip, 'loadBalancerIP', 'service.status.loadBalancer.ingress.ip');
    }
  }
  const headless = spec.clusterIP === 'None' || clusterIPs[0] === 'None';
  const namespace = intern(namespaces, id.namespace);
  return {
    key: [namespace, id.name].join('/'),
    namespace,
    name: id.name,
    uid: optString(meta.uid, 'service.metadata.uid', report),
    labels: options.labels === false ? undefined : labels,
    eligible: type !== undefined && CONSIDERED_TYPES.has(type) && !headless,
    proxyNamed: has(labels, Labels.serviceProxyName),
    optedOut: annotations?.[Annotations.advertise] === 'false',
    internalLocal: spec.internalTrafficPolicy === 'Local',
    externalLocal: spec.externalTrafficPolicy === 'Local',
    loadBalancerClass: optString(spec.loadBalancerClass, 'service.spec.loadBalancerClass', report) ?? '',
    routeClass: annotations?.[Annotations.routeClass],
    // Exactly sized: a pushed-to array keeps room for 17, and there is one per Service.
    ips: ips.slice(),
  };
}

/** A condition: true, false, or absent (null/undefined); anything else is malformed. */
function condition(v: unknown): boolean | undefined | 'malformed' {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  return 'malformed';
}

/** `names`: share node names through this table (whoever keeps the result releases it there). */
export function projectSlice(
  raw: EndpointSlice | KubeObject,
  nodeName: string,
  report?: MalformedReport,
  names?: NodeNames,
): SliceInfo | undefined {
  // A slice is read for its Service label; its own name only keys the store (snapshots may omit it).
  const id = identity(raw, true, true);
  if (!id) {
    report?.('endpointslice.metadata');
    return undefined;
  }
  const obj = raw as Record<string, unknown>;
  const meta = obj.metadata as Record<string, unknown>;
  const labels = stringMap(meta.labels, 'endpointslice.metadata.labels', report);
  const serviceName = labels?.[Labels.serviceName];
  const family = obj.addressType === 'IPv4' ? 'ipv4' : obj.addressType === 'IPv6' ? 'ipv6' : undefined;
  const namespace = intern(namespaces, id.namespace);
  const info: SliceInfo = {
    key: [namespace, id.name].join('/'),
    service: serviceName ? [namespace, serviceName].join('/') : undefined,
    family,
    ready: false,
    fallback: false,
    localReady: false,
    localFallback: false,
    nodes: [],
  };
  const endpoints = obj.endpoints;
  if (endpoints === undefined || endpoints === null) return info;
  if (!Array.isArray(endpoints)) {
    report?.('endpointslice.endpoints');
    return info;
  }
  const nodes: string[] = [];
  for (const e of endpoints) {
    if (!isRecord(e)) {
      report?.('endpointslice.endpoints');
      continue;
    }
    if (typeof e.nodeName === 'string' && e.nodeName !== '' && !nodes.includes(e.nodeName))
      nodes.push(e.nodeName);
    let conds: Record<string, unknown> = {};
    if (isRecord(e.conditions)) conds = e.conditions;
    else if (e.conditions !== undefined && e.conditions !== null) {
      // A malformed endpoint is not ready.
      report?.('endpointslice.endpoints.conditions');
      continue;
    }
    const ready = condition(conds.ready);
    const serving = condition(conds.serving);
    const terminating = condition(conds.terminating);
    if (ready === 'malformed' || serving === 'malformed' || terminating === 'malformed') {
      report?.('endpointslice.endpoints.conditions');
      continue;
    }
    if (e.nodeName !== undefined && e.nodeName !== null && typeof e.nodeName !== 'string')
      report?.('endpointslice.endpoints.nodeName');
    const local = e.nodeName === nodeName;
    // ready absent means ready (the API's own reading of a missing condition).
    if (ready !== false) {
      info.ready = true;
      if (local) info.localReady = true;
    } else if (serving === true && terminating === true) {
      info.fallback = true;
      if (local) info.localFallback = true;
    }
  }
  // Shared, or exactly sized: a pushed-to array keeps spare capacity, and there is one per slice.
  nodes.sort();
  info.nodes = nodes.length === 0 ? NO_NODES : names ? names.acquireList(nodes) : nodes.slice();
  return info;
}

export function projectNode(raw: Node | KubeObject, report?: MalformedReport): NodeInfo | undefined {
  const id = identity(raw, false);
  if (!id) {
    report?.('node.metadata');
    return undefined;
  }
  const obj = raw as Record<string, unknown>;
  const meta = obj.metadata as Record<string, unknown>;
  const labels = stringMap(meta.labels, 'node.metadata.labels', report);
  const spec = isRecord(obj.spec) ? obj.spec : {};
  const u = spec.unschedulable;
  if (u !== undefined && u !== null && typeof u !== 'boolean') report?.('node.spec.unschedulable');
  return {
    name: id.name,
    unschedulable: u === true,
    excluded: has(labels, Labels.excludeFromExternalLB),
  };
}

function sameIPs(a: readonly ServiceIP[], b: readonly ServiceIP[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (!x || !y || x.raw !== y.raw || x.kind !== y.kind) return false;
  }
  return true;
}

function sameLabels(
  a: Readonly<Record<string, string>> | undefined,
  b: Readonly<Record<string, string>> | undefined,
): boolean {
  if (a === b) return true;
  const ak = a ? Object.keys(a) : [];
  const bk = b ? Object.keys(b) : [];
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (a?.[k] !== b?.[k]) return false;
  return true;
}

/** Whether two projections of a Service decide alike. */
export function sameService(a: ServiceInfo, b: ServiceInfo): boolean {
  return (
    a.key === b.key &&
    a.uid === b.uid &&
    a.eligible === b.eligible &&
    a.proxyNamed === b.proxyNamed &&
    a.optedOut === b.optedOut &&
    a.internalLocal === b.internalLocal &&
    a.externalLocal === b.externalLocal &&
    a.loadBalancerClass === b.loadBalancerClass &&
    a.routeClass === b.routeClass &&
    sameIPs(a.ips, b.ips) &&
    sameLabels(a.labels, b.labels)
  );
}

export function sameSlice(a: SliceInfo, b: SliceInfo): boolean {
  return (
    a.key === b.key &&
    a.service === b.service &&
    a.family === b.family &&
    a.ready === b.ready &&
    a.fallback === b.fallback &&
    a.localReady === b.localReady &&
    a.localFallback === b.localFallback &&
    a.nodes.length === b.nodes.length &&
    a.nodes.every((n, i) => n === b.nodes[i])
  );
}

export function sameNode(a: NodeInfo, b: NodeInfo): boolean {
  return a.name === b.name && a.unschedulable === b.unschedulable && a.excluded === b.excluded;
}
