// A kubectl-style snapshot of a large cluster (`kubectl get svc,endpointslices,nodes -A -o yaml|json`):
// N ClusterIP Services, each with one EndpointSlice of three endpoints (one on node-a), and node-a.
import { stringify } from 'yaml';

export function kubectlSnapshot(n: number, format: 'yaml' | 'json'): string {
  const items: unknown[] = [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' }, spec: {} }];
  for (let i = 0; i < n; i++) {
    const ip = `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    items.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: `svc-${i}`,
        namespace: 'default',
        uid: `uid-${i}`,
        resourceVersion: String(i),
        creationTimestamp: '2026-01-01T00:00:00Z',
        labels: { app: `app-${i}` },
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration':
            JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}` } }) + '\n',
        },
      },
      spec: {
        type: 'ClusterIP',
        clusterIP: ip,
        clusterIPs: [ip],
        ipFamilies: ['IPv4'],
        ipFamilyPolicy: 'SingleStack',
        internalTrafficPolicy: 'Cluster',
        ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
        selector: { app: `app-${i}` },
        sessionAffinity: 'None',
      },
      status: { loadBalancer: {} },
    });
    items.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `svc-${i}-abcde`,
        namespace: 'default',
        labels: { 'kubernetes.io/service-name': `svc-${i}` },
      },
      addressType: 'IPv4',
      endpoints: [0, 1, 2].map((k) => ({
        addresses: [`10.244.${k}.${i & 255}`],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: k === 0 ? 'node-a' : `node-${k}`,
        targetRef: { kind: 'Pod', name: `pod-${i}-${k}`, namespace: 'default' },
      })),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
  }
  const list = { apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } };
  // kubectl's YAML: sequences not indented under their key, long strings on one line.
  return format === 'json'
    ? JSON.stringify(list, null, 4) + '\n'
    : stringify(list, { indentSeq: false, lineWidth: 0 });
}
