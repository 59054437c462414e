// The simulated cluster the controller e2e tests start from: one object per decision rule, with
// the prefixes the node must advertise for it. `expectedRoutes` is checked against the pure plan too.
import type { EndpointSlice, Node, Service } from '../../../src/model/objects.js';

export const NODE = 'node-a';
export const OTHER = 'node-b';

export function node(
  name = NODE,
  patch: { unschedulable?: boolean; labels?: Record<string, string> } = {},
): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...patch.labels } },
    spec: patch.unschedulable ? { unschedulable: true } : {},
  };
}

interface SvcSpec {
  type?: string;
  clusterIPs?: string[];
  externalIPs?: string[];
  /** An IP, or an ingress entry with its ipMode. */
  ingress?: (string | { ip: string; ipMode: string })[];
  loadBalancerClass?: string;
  itp?: 'Local' | 'Cluster';
  etp?: 'Local' | 'Cluster';
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

export function service(name: string, s: SvcSpec, namespace = 'default'): Service {
  const svc: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace,
      ...(s.labels ? { labels: s.labels } : {}),
      ...(s.annotations ? { annotations: s.annotations } : {}),
    },
    spec: {
      type: s.type ?? 'ClusterIP',
      ...(s.clusterIPs ? { clusterIP: s.clusterIPs[0], clusterIPs: s.clusterIPs } : {}),
      ...(s.externalIPs ? { externalIPs: s.externalIPs } : {}),
      ...(s.itp ? { internalTrafficPolicy: s.itp } : {}),
      ...(s.etp ? { externalTrafficPolicy: s.etp } : {}),
      ...(s.loadBalancerClass ? { loadBalancerClass: s.loadBalancerClass } : {}),
      ports: [{ port: 80, protocol: 'TCP' }],
    },
  };
  if (s.ingress)
    svc.status = { loadBalancer: { ingress: s.ingress.map((i) => (typeof i === 'string' ? { ip: i } : i)) } };
  return svc;
}

export interface Ep {
  ip: string;
  ready?: boolean;
  node?: string;
}

export function slice(
  svc: string,
  family: 'IPv4' | 'IPv6',
  endpoints: Ep[],
  name?: string,
  namespace = 'default',
): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: name ?? `${svc}-${family.toLowerCase()}`,
      namespace,
      labels: { 'kubernetes.io/service-name': svc },
    },
    addressType: family,
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true },
      nodeName: e.node ?? OTHER,
    })),
  };
}

export const services: Service[] = [
  service('web', { clusterIPs: ['10.96.0.10', 'fd00:10:96::a'] }),
  service('api', { clusterIPs: ['10.96.0.11'] }),
  service('local', { clusterIPs: ['10.96.0.12'], itp: 'Local' }),
  service('lb', {
    type: 'LoadBalancer',
    clusterIPs: ['10.96.0.13'],
    ingress: ['192.0.2.10', '2001:db8:96::10'],
    etp: 'Local',
  }),
  service('outside', { type: 'LoadBalancer', clusterIPs: ['10.96.0.14'], ingress: ['198.51.100.5'] }),
  service('ext', { clusterIPs: ['10.96.0.15'], externalIPs: ['192.0.2.20'] }),
  service('optout', { clusterIPs: ['10.96.0.16'], annotations: { 'cosmolet.io/advertise': 'false' } }),
  service('bad', { clusterIPs: ['010.96.0.99'] }),
  service('proxied', {
    clusterIPs: ['10.96.0.17'],
    labels: { 'service.kubernetes.io/service-proxy-name': 'other' },
  }),
  service('headless', { clusterIPs: ['None'] }),
  service('shared-a', { clusterIPs: ['10.96.0.18'], externalIPs: ['192.0.2.30'] }),
  service('shared-b', { clusterIPs: ['10.96.0.19'], externalIPs: ['192.0.2.30'] }),
  service('v6only', { clusterIPs: ['fd00:10:96::1b'] }),
  // Another implementation's Service (its ready endpoint makes its ClusterIP count, not its LB IP).
  service('metallb', {
    type: 'LoadBalancer',
    clusterIPs: ['10.96.0.20'],
    ingress: ['192.0.2.40'],
    loadBalancerClass: 'metallb.universe.tf/metallb',
  }),
  // A proxying load balancer's address is not the Service's IP (neither advertised nor listed).
  service('lbproxy', {
    type: 'LoadBalancer',
    clusterIPs: ['10.96.0.21'],
    ingress: [{ ip: '192.0.2.41', ipMode: 'Proxy' }],
  }),
];

export const slices: EndpointSlice[] = [
  slice('web', 'IPv4', [{ ip: '10.1.0.1' }]),
  slice('web', 'IPv6', [{ ip: 'fd00:1::1' }]),
  slice('api', 'IPv4', [{ ip: '10.1.0.2', ready: false }]),
  slice('local', 'IPv4', [{ ip: '10.1.0.3', node: OTHER }]),
  slice('lb', 'IPv4', [{ ip: '10.1.0.4', node: NODE }]),
  slice('outside', 'IPv4', [{ ip: '10.1.0.5' }]),
  slice('ext', 'IPv4', [{ ip: '10.1.0.6' }]),
  slice('optout', 'IPv4', [{ ip: '10.1.0.7' }]),
  slice('proxied', 'IPv4', [{ ip: '10.1.0.8' }]),
  slice('shared-a', 'IPv4', [{ ip: '10.1.0.9' }]),
  slice('shared-b', 'IPv4', [{ ip: '10.1.0.10', ready: false }]),
  // Split over two slices: one unready, one ready -> advertised.
  slice('v6only', 'IPv6', [{ ip: 'fd00:1::2', ready: false }], 'v6only-a'),
  slice('v6only', 'IPv6', [{ ip: 'fd00:1::3' }], 'v6only-b'),
  slice('metallb', 'IPv4', [{ ip: '10.1.0.20' }]),
  slice('lbproxy', 'IPv4', [{ ip: '10.1.0.21' }]),
];

/**
 * web (dual stack), lb ClusterIP + local LB IP, outside's ClusterIP, ext, shared, v6only, the
 * ClusterIPs of metallb and lbproxy (not their LB IPs).
 */
export const expectedRoutes = [
  '10.96.0.10/32',
  '10.96.0.13/32',
  '10.96.0.14/32',
  '10.96.0.15/32',
  '10.96.0.18/32',
  '10.96.0.20/32',
  '10.96.0.21/32',
  '192.0.2.10/32',
  '192.0.2.20/32',
  '192.0.2.30/32',
  'fd00:10:96::a/128',
  'fd00:10:96::1b/128',
].sort();
