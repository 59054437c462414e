// The lab's data path, derived from the cluster's objects (so kubectl and the manifest directory
// both drive it): the pods, and per node the nftables rules that stand in for that node's kube-proxy
// (Service IP:port -> a ready endpoint's pod IP:targetPort). Pure; pods.ts makes it so.
// - On the API double (`dataPath`) a "pod" is made for every endpoint address in the EndpointSlices,
//   placed on the node its endpoint names: there are no Pod objects.
// - On a real control plane (`clusterDataPath`) the pods are the Pod objects the scheduler bound to a
//   lab node, with the addresses the node agent put in their status; the EndpointSlices (the real
//   controller's) only name the Services each pod serves and the ports it listens on.
//
// Per node, as kube-proxy does: ClusterIPs go to every ready endpoint of the cluster; LoadBalancer
// and external IPs of an `externalTrafficPolicy: Local` Service only to the endpoints on this node
// (none: the connection is refused). A connection sent to another node's pod leaves through the
// uplink with the node's own address as source (kube-proxy masquerades it too), so the reply comes
// back through this node's conntrack; one to a local pod keeps the client's address.
import type { EndpointSlice, KubeObject, Service } from 'cosmolet/model/objects';
import { Labels } from 'cosmolet/model/objects';
import { cidrContains, hostPrefix, parseCIDR, parseIP, type CIDR, type IP } from 'cosmolet/net/ip';

/** A node of the lab as the data path sees it. */
export interface DataPathNode {
  name: string;
  /** Its address (loopback): the source of connections it forwards to other nodes' pods. */
  v4: string;
  v6: string;
  /** Its pod block: other nodes reach its pods through the leaf, which learns the block by BGP. */
  podCidrV4: string;
  podCidrV6: string;
}

export interface PodSpec {
  /** `namespace/podName` (from the endpoint's targetRef) or `namespace/address`. */
  key: string;
  name: string;
  /** The lab node it runs on. */
  node: string;
  services: string[];
  v4: string[];
  v6: string[];
  ports: number[];
}

interface ServicePort {
  name?: string;
  port?: number;
  targetPort?: number | string;
  protocol?: string;
}

interface SlicePort {
  name?: string;
  port?: number;
  protocol?: string;
}

interface FullSlice extends EndpointSlice {
  ports?: SlicePort[] | null;
}

interface TargetRef {
  kind?: string;
  name?: string;
}

/** Addresses a pod may not take: the lab's own links and special ranges. */
const RESERVED = [
  '10.254.0.0/15',
  '169.254.0.0/16',
  '127.0.0.0/8',
  '0.0.0.0/8',
  'fe80::/10',
  '::/128',
  '::1/128',
]
  .map((c) => parseCIDR(c))
  .filter((c): c is CIDR => typeof c !== 'string');

function usable(ip: IP): boolean {
  return !RESERVED.some((c) => cidrContains(c, ip));
}

function canonical(s: string): { ip: IP; text: string; v6: boolean } | undefined {
  const ip = parseIP(s);
  if (!ip || !usable(ip)) return undefined;
  const prefix = hostPrefix(ip);
  return { ip, text: prefix.slice(0, prefix.lastIndexOf('/')), v6: prefix.includes(':') };
}

function isTcp(p: { protocol?: string }): boolean {
  return p.protocol === undefined || p.protocol === 'TCP';
}

function considered(svc: Service): boolean {
  const type = svc.spec?.type ?? 'ClusterIP';
  return ['ClusterIP', 'NodePort', 'LoadBalancer'].includes(type) && svc.spec?.clusterIP !== 'None';
}

function serviceOf(slice: EndpointSlice): string | undefined {
  const name = slice.metadata?.labels?.[Labels.serviceName];
  return name ? `${slice.metadata?.namespace ?? 'default'}/${name}` : undefined;
}

/** The port on the pod that a Service port reaches through a slice (kube-proxy's matching by name). */
function targetPort(sp: ServicePort, slice: FullSlice | undefined): number | undefined {
  const ports = (slice?.ports ?? []).filter(isTcp);
  const byName = ports.find((p) => (p.name ?? '') === (sp.name ?? ''));
  if (byName?.port !== undefined) return byName.port;
  if (typeof sp.targetPort === 'number') return sp.targetPort;
  if (typeof sp.targetPort === 'string' && /^\d+$/.test(sp.targetPort)) return Number(sp.targetPort);
  return sp.port;
}

function servicePorts(svc: Service): ServicePort[] {
  const ports = (svc.spec?.['ports'] as ServicePort[] | undefined) ?? [];
  return ports.filter((p) => isTcp(p) && typeof p.port === 'number');
}

export interface DataPath {
  pods: PodSpec[];
  /** The kube-proxy ruleset of each node, by node name. */
  nft: Map<string, string>;
  warnings: string[];
}

function inCidr(cidr: string, ip: IP): boolean {
  const c = parseCIDR(cidr);
  return typeof c !== 'string' && cidrContains(c, ip);
}

/** Where a pod runs: the node its endpoint names, else the node whose pod block holds it, else the first. */
function placement(nodes: DataPathNode[], nodeName: string | undefined, ip: IP): DataPathNode | undefined {
  return (
    nodes.find((n) => n.name === nodeName) ??
    nodes.find((n) => inCidr(n.podCidrV4, ip) || inCidr(n.podCidrV6, ip)) ??
    nodes[0]
  );
}

/** Pods (one per endpoint) and each node's kube-proxy rules for the objects of the API double. */
export function dataPath(services: Service[], slices: FullSlice[], nodes: DataPathNode[]): DataPath {
  const warnings: string[] = [];
  const svcByKey = servicesByKey(services);
  const pods = new Map<string, PodSpec>();
  const owner = new Map<string, string>();
  for (const slice of slices) {
    const family = slice.addressType;
    if (family !== 'IPv4' && family !== 'IPv6') continue;
    const svcKey = serviceOf(slice);
    const svc = svcKey ? svcByKey.get(svcKey) : undefined;
    const ports = svc ? servicePorts(svc).map((sp) => targetPort(sp, slice)) : [];
    const ns = slice.metadata?.namespace ?? 'default';
    for (const ep of slice.endpoints ?? []) {
      const ref = ep['targetRef'] as TargetRef | undefined;
      for (const addr of ep.addresses ?? []) {
        const c = canonical(addr);
        if (!c || c.v6 !== (family === 'IPv6')) {
          warnings.push(
            `${ns}/${slice.metadata?.name ?? ''}: endpoint address ${addr} is not usable in the lab`,
          );
          continue;
        }
        const podName = ref?.kind === 'Pod' && ref.name ? ref.name : addr.replace(/[:.]/g, '-');
        const key = `${ns}/${podName}`;
        const taken = owner.get(c.text);
        if (taken !== undefined && taken !== key) {
          warnings.push(`${c.text} is claimed by ${taken} and ${key}; ${key} does not get it`);
          continue;
        }
        owner.set(c.text, key);
        let pod = pods.get(key);
        if (!pod) {
          const node = placement(nodes, ep.nodeName ?? undefined, c.ip);
          if (!node) continue;
          if (ep.nodeName && node.name !== ep.nodeName)
            warnings.push(`${key}: node ${ep.nodeName} is not in the lab; the pod runs on ${node.name}`);
          pod = { key, name: podName, node: node.name, services: [], v4: [], v6: [], ports: [] };
          pods.set(key, pod);
        }
        const home = nodes.find((n) => n.name === pod?.node);
        if (home && nodes.length > 1 && !inCidr(c.v6 ? home.podCidrV6 : home.podCidrV4, c.ip))
          warnings.push(
            `${key}: ${c.text} is outside ${home.name}'s pod block, so other nodes cannot reach it`,
          );
        const list = c.v6 ? pod.v6 : pod.v4;
        if (!list.includes(c.text)) list.push(c.text);
        if (svcKey && !pod.services.includes(svcKey)) pod.services.push(svcKey);
        for (const p of ports) if (p !== undefined && !pod.ports.includes(p)) pod.ports.push(p);
      }
    }
  }
  return withRules(svcByKey, slices, [...pods.values()], nodes, owner, warnings);
}

/** Sorts the pods' fields, gives a pod without a TCP port port 80, and adds every node's rules. */
function withRules(
  svcByKey: Map<string, Service>,
  slices: FullSlice[],
  pods: PodSpec[],
  nodes: DataPathNode[],
  owner: Map<string, string>,
  warnings: string[],
): DataPath {
  for (const p of pods) {
    p.v4.sort();
    p.v6.sort();
    p.services.sort();
    p.ports.sort((a, b) => a - b);
    if (p.ports.length === 0) p.ports.push(80);
  }
  const nft = new Map<string, string>();
  for (const node of nodes) nft.set(node.name, kubeProxy(node, svcByKey, slices, owner));
  return { pods: pods.sort((a, b) => (a.key < b.key ? -1 : 1)), nft, warnings };
}

function servicesByKey(services: Service[]): Map<string, Service> {
  const svcByKey = new Map<string, Service>();
  for (const s of services)
    svcByKey.set(`${s.metadata?.namespace ?? 'default'}/${s.metadata?.name ?? ''}`, s);
  return svcByKey;
}

/** A Pod as the real data path reads it: where it is bound, its containers' ports, its addresses. */
export interface ClusterPod extends KubeObject {
  spec?: {
    nodeName?: string;
    hostNetwork?: boolean;
    containers?: { ports?: { containerPort?: number; protocol?: string }[] }[];
  };
  status?: { podIPs?: { ip: string }[] | null };
}

/**
 * Pods and each node's kube-proxy rules on a real control plane: a pod for every Pod bound to a lab
 * node that has addresses (hostNetwork pods, cosmolet's, are the node itself; a terminating pod is
 * gone, as its containers are), listening on its containers' TCP ports and the ports its
 * EndpointSlices name, and serving the Services of those slices.
 */
export function clusterDataPath(
  services: Service[],
  slices: FullSlice[],
  clusterPods: ClusterPod[],
  nodes: DataPathNode[],
): DataPath {
  const warnings: string[] = [];
  const svcByKey = servicesByKey(services);
  const owner = new Map<string, string>();
  const pods: PodSpec[] = [];
  const names = new Set(nodes.map((n) => n.name));
  for (const p of clusterPods) {
    const node = p.spec?.nodeName;
    if (!node || !names.has(node) || p.spec?.hostNetwork === true || p.metadata?.deletionTimestamp) continue;
    const ns = p.metadata?.namespace ?? 'default';
    const name = p.metadata?.name ?? '';
    const key = `${ns}/${name}`;
    const pod: PodSpec = { key, name, node, services: [], v4: [], v6: [], ports: [] };
    for (const { ip } of p.status?.podIPs ?? []) {
      const c = canonical(ip);
      if (!c) {
        warnings.push(`${key}: address ${ip} is not usable in the lab`);
        continue;
      }
      const taken = owner.get(c.text);
      if (taken !== undefined) {
        warnings.push(`${c.text} is claimed by ${taken} and ${key}; ${key} does not get it`);
        continue;
      }
      owner.set(c.text, key);
      (c.v6 ? pod.v6 : pod.v4).push(c.text);
    }
    if (pod.v4.length + pod.v6.length === 0) continue;
    for (const ctr of p.spec?.containers ?? [])
      for (const port of ctr.ports ?? [])
        if (isTcp(port) && port.containerPort !== undefined && !pod.ports.includes(port.containerPort))
          pod.ports.push(port.containerPort);
    pods.push(pod);
  }
  const byKey = new Map(pods.map((p) => [p.key, p]));
  for (const slice of slices) {
    const svcKey = serviceOf(slice);
    const ns = slice.metadata?.namespace ?? 'default';
    for (const ep of slice.endpoints ?? []) {
      const ref = ep['targetRef'] as TargetRef | undefined;
      const pod = ref?.kind === 'Pod' && ref.name ? byKey.get(`${ns}/${ref.name}`) : undefined;
      if (!pod) continue;
      if (svcKey && !pod.services.includes(svcKey)) pod.services.push(svcKey);
      for (const sp of (slice.ports ?? []).filter(isTcp))
        if (sp.port !== undefined && !pod.ports.includes(sp.port)) pod.ports.push(sp.port);
    }
  }
  return withRules(svcByKey, slices, pods, nodes, owner, warnings);
}

/** One node's kube-proxy: a rule per (Service IP, port), to the ready endpoints it may use. */
function kubeProxy(
  node: DataPathNode,
  svcByKey: Map<string, Service>,
  slices: FullSlice[],
  owner: Map<string, string>,
): string {
  const rules: string[] = [];
  const rejects: string[] = [];
  for (const [key, svc] of [...svcByKey].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (!considered(svc)) continue;
    const local = svc.spec?.externalTrafficPolicy === 'Local';
    const ips = new Map<string, boolean>(); // IP -> only local endpoints
    const add = (s: string, externalPolicy: boolean): void => {
      const c = canonical(s);
      if (c && !ips.has(c.text)) ips.set(c.text, externalPolicy && local);
    };
    for (const s of svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : [])) add(s, false);
    if (svc.spec?.type === 'LoadBalancer')
      for (const i of svc.status?.loadBalancer?.ingress ?? []) add(i.ip ?? '', true);
    for (const s of svc.spec?.externalIPs ?? []) add(s, true);
    const mySlices = slices.filter((s) => serviceOf(s) === key);
    for (const sp of servicePorts(svc)) {
      for (const [ip, onlyLocal] of ips) {
        const v6 = ip.includes(':');
        const targets: string[] = [];
        for (const slice of mySlices) {
          if (slice.addressType !== (v6 ? 'IPv6' : 'IPv4')) continue;
          const port = targetPort(sp, slice);
          if (port === undefined) continue;
          for (const ep of slice.endpoints ?? []) {
            if (ep.conditions?.ready === false) continue;
            if (onlyLocal && ep.nodeName !== node.name) continue;
            for (const addr of ep.addresses ?? []) {
              const c = canonical(addr);
              const t = c ? `${c.text} . ${port}` : '';
              if (c && c.v6 === v6 && owner.has(c.text) && !targets.includes(t)) targets.push(t);
            }
          }
        }
        const match = `${v6 ? 'ip6' : 'ip'} daddr ${ip} tcp dport ${sp.port ?? 0}`;
        const fam = v6 ? 'ip6' : 'ip';
        if (targets.length === 0) {
          const why = onlyLocal ? 'has no ready endpoints on this node' : 'has no ready endpoints';
          rejects.push(`    ${match} reject with tcp reset comment "${key} ${why}"`);
        } else if (targets.length === 1) {
          const [addr, port] = (targets[0] ?? '').split(' . ');
          rules.push(`    ${match} dnat ${fam} to ${v6 ? `[${addr}]` : addr}:${port} comment "${key}"`);
        } else {
          const map = targets.map((t, i) => `${i} : ${t}`).join(', ');
          rules.push(
            `    ${match} dnat ${fam} to numgen inc mod ${targets.length} map { ${map} } comment "${key}"`,
          );
        }
      }
    }
  }
  return [
    'table inet cosmolet_lab {}',
    'delete table inet cosmolet_lab',
    'table inet cosmolet_lab {',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    jump services',
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    '    jump services',
    '  }',
    '  chain services {',
    ...rules,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ct status dnat oifname "swp1" meta nfproto ipv4 snat ip to ${node.v4}`,
    `    ct status dnat oifname "swp1" meta nfproto ipv6 snat ip6 to ${node.v6}`,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    ...rejects,
    '  }',
    '}',
    '',
  ].join('\n');
}
