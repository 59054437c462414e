// Objects the real-control-plane tests create: Services whose ClusterIPs come from the real allocator
// (or are asked for by value, as `spec.clusterIPs` allows), and Pods that the real scheduler binds
// (by a nodeSelector on kubernetes.io/hostname) and the node agent reports Running and Ready. The
// EndpointSlices cosmolet decides from are the real EndpointSlice controller's.

export interface ServiceSpec {
  type?: 'ClusterIP' | 'LoadBalancer' | 'NodePort';
  clusterIPs?: string[];
  /** Default RequireDualStack. */
  ipFamilyPolicy?: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
  ipFamilies?: ('IPv4' | 'IPv6')[];
  externalIPs?: string[];
  externalTrafficPolicy?: 'Cluster' | 'Local';
  internalTrafficPolicy?: 'Cluster' | 'Local';
  loadBalancerClass?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  /** Pods selected: app=<selector>; default the Service's name. */
  selector?: string;
}

export function service(name: string, s: ServiceSpec = {}, namespace = 'default'): Record<string, unknown> {
  return {
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
      ipFamilyPolicy: s.ipFamilyPolicy ?? 'RequireDualStack',
      ...(s.ipFamilies ? { ipFamilies: s.ipFamilies } : {}),
      ...(s.clusterIPs ? { clusterIP: s.clusterIPs[0], clusterIPs: s.clusterIPs } : {}),
      ...(s.externalIPs ? { externalIPs: s.externalIPs } : {}),
      ...(s.externalTrafficPolicy ? { externalTrafficPolicy: s.externalTrafficPolicy } : {}),
      ...(s.internalTrafficPolicy ? { internalTrafficPolicy: s.internalTrafficPolicy } : {}),
      ...(s.loadBalancerClass ? { loadBalancerClass: s.loadBalancerClass } : {}),
      selector: { app: s.selector ?? name },
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
    },
  };
}

/** A pod of app `app` that the scheduler places on `nodeName`. */
export function pod(
  name: string,
  app: string,
  nodeName: string,
  namespace = 'default',
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app } },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': nodeName },
      terminationGracePeriodSeconds: 1,
      containers: [
        { name: 'app', image: 'registry.k8s.io/pause:3.10', ports: [{ name: 'http', containerPort: 8080 }] },
      ],
    },
  };
}
