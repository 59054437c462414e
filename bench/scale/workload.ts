// The scale benchmark's cluster (issue 10): N dual-stack ClusterIP Services, each with an IPv4 and
// an IPv6 EndpointSlice of 5 endpoints, one of them on this node and four elsewhere. Pure and
// deterministic: the benchmark regenerates an object from its index and state instead of keeping
// 100,000 slices in memory. On the real kube-apiserver (--kube real) the Services have no selector
// (the real EndpointSlice controller leaves them alone) and the slices carry the benchmark's own
// managed-by label, as any other controller writing EndpointSlices does.
import type { EndpointSlice, Node, Service } from '../../src/model/objects.js';

export const NODE_NAME = 'node-a';
/** The managed-by label of the EndpointSlice controller, which the API double's slices carry. */
export const CONTROLLER_MANAGER = 'endpointslice-controller.k8s.io';
/** The benchmark's own managed-by label: its slices on the real kube-apiserver. */
export const BENCH_MANAGER = 'bench.cosmolet.io';
export const ENDPOINTS_PER_SLICE = 5;
const NAMESPACES = 20;
/** Service i gets the (i + OFFSET)-th address of each range (skips 10.96.0.0/24). */
const OFFSET = 256;

export type Family = 'IPv4' | 'IPv6';

/** The address `v` inside a 20-bit IPv6 range `fd00:<net>::/108`, canonical. */
function v6(net: string, v: number): string {
  if (v === 0) return `fd00:${net}::`;
  const hi = v >>> 16;
  const lo = v & 0xffff;
  return `fd00:${net}::${hi ? `${hi.toString(16)}:` : ''}${lo.toString(16)}`;
}

function v4(first: number, v: number): string {
  return `10.${first + (v >>> 16)}.${(v >>> 8) & 255}.${v & 255}`;
}

/** The ClusterIPs of Service i (inside the lab fabric's service ranges 10.96.0.0/12, fd00:10:96::/108). */
export function serviceIPs(i: number): { ipv4: string; ipv6: string } {
  return { ipv4: v4(96, i + OFFSET), ipv6: v6('10:96', i + OFFSET) };
}

/** Host prefixes of Service i, as the leaf's FIB shows them (without the length). */
export function servicePrefixes(i: number): string[] {
  const { ipv4, ipv6 } = serviceIPs(i);
  return [ipv4, ipv6];
}

/** A prefix in the service ranges that no Service has: the floor's own route. */
export function floorIP(k: number, family: Family): string {
  return family === 'IPv4' ? `10.111.255.${k % 250}` : `fd00:10:96::f:${(0xff00 + (k % 250)).toString(16)}`;
}

export function namespaceOf(i: number): string {
  return `bench-${i % NAMESPACES}`;
}

export function serviceName(i: number): string {
  return `svc-${i}`;
}

export function sliceName(i: number, family: Family): string {
  return `svc-${i}-${family === 'IPv4' ? 'v4' : 'v6'}`;
}

export function benchNode(): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: NODE_NAME, labels: { 'kubernetes.io/hostname': NODE_NAME } },
    spec: {},
  };
}

/** `selector: false`: a Service without selector, whose EndpointSlices someone else writes. */
export function benchService(i: number, opts: { selector?: boolean } = {}): Service {
  const { ipv4, ipv6 } = serviceIPs(i);
  const name = serviceName(i);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: namespaceOf(i), labels: { app: name } },
    spec: {
      type: 'ClusterIP',
      clusterIP: ipv4,
      clusterIPs: [ipv4, ipv6],
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
      internalTrafficPolicy: 'Cluster',
      ...(opts.selector === false ? {} : { selector: { app: name } }),
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
      sessionAffinity: 'None',
    },
    status: { loadBalancer: {} },
  };
}

export interface SliceState {
  /** Readiness of all five endpoints (a flip turns the whole slice, so the prefix follows). */
  ready: boolean;
  /** Bumped by a non-health update: changes the endpoints' hostname and the trigger-time annotation. */
  generation: number;
}

export const INITIAL: SliceState = { ready: true, generation: 0 };

export function benchSlice(
  i: number,
  family: Family,
  state: SliceState = INITIAL,
  managedBy: string = CONTROLLER_MANAGER,
): EndpointSlice {
  const ns = namespaceOf(i);
  const svc = serviceName(i);
  const endpoints = Array.from({ length: ENDPOINTS_PER_SLICE }, (_, e) => {
    const n = i * ENDPOINTS_PER_SLICE + e;
    return {
      addresses: [family === 'IPv4' ? v4(64, n) : v6('244', n)],
      conditions: { ready: state.ready, serving: state.ready, terminating: false },
      hostname: `${svc}-${e}-g${state.generation}`,
      // Endpoint 0 is on this node, the other four on other nodes.
      nodeName: e === 0 ? NODE_NAME : `worker-${(i * 4 + e) % 200}`,
      zone: `zone-${e % 3}`,
      targetRef: { kind: 'Pod', namespace: ns, name: `${svc}-pod-${e}` },
    };
  });
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: sliceName(i, family),
      namespace: ns,
      labels: {
        'kubernetes.io/service-name': svc,
        'endpointslice.kubernetes.io/managed-by': managedBy,
      },
      annotations: {
        'endpoints.kubernetes.io/last-change-trigger-time': new Date(
          Date.UTC(2026, 0, 1) + state.generation * 1000,
        ).toISOString(),
      },
    },
    addressType: family,
    endpoints,
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  } as EndpointSlice;
}
