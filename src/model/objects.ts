// The parts of Kubernetes objects that cosmolet reads. Objects come from the API (or a snapshot)
// as untrusted JSON: every field is optional and the plan checks what it uses.

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
  /** `VIP` (or absent): the node takes the IP; `Proxy`: the load balancer proxies to the nodes. */
  ipMode?: string;
}

export interface Service extends KubeObject {
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    externalIPs?: string[];
    ipFamilies?: string[];
    internalTrafficPolicy?: string;
    externalTrafficPolicy?: string;
    /** The load-balancer implementation that owns the Service (absent: the default one). */
    loadBalancerClass?: string;
    [key: string]: unknown;
  };
  status?: {
    loadBalancer?: { ingress?: LoadBalancerIngress[] };
  };
}

export interface EndpointConditions {
  ready?: boolean | null;
  serving?: boolean | null;
  terminating?: boolean | null;
}

export interface Endpoint {
  addresses?: string[];
  conditions?: EndpointConditions;
  nodeName?: string;
  [key: string]: unknown;
}

export interface EndpointSlice extends KubeObject {
  addressType?: string;
  endpoints?: Endpoint[] | null;
}

export interface Node extends KubeObject {
  spec?: { unschedulable?: boolean; [key: string]: unknown };
}

/** The well-known labels and annotations cosmolet reads. */
export const Labels = {
  serviceName: 'kubernetes.io/service-name',
  serviceProxyName: 'service.kubernetes.io/service-proxy-name',
  excludeFromExternalLB: 'node.kubernetes.io/exclude-from-external-load-balancers',
} as const;

export const Annotations = {
  advertise: 'cosmolet.io/advertise',
  routeClass: 'cosmolet.io/route-class',
} as const;

/** `namespace/name`, the key used in stores, plans and logs. */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  // join: one flat string (a template literal makes a cons string and a piece, 60 bytes, per key).
  return ns ? [ns, name].join('/') : name;
}
