// The lab's view: every Service of the simulated cluster, each of its IPs, which nodes' cosmolet
// advertise it (or why each does not, from every node's /status), how many next hops the leaf's
// kernel installed for it (ECMP: one per advertising node), and whether the GoBGP peer holds it.
// `lab status` prints it once (or as JSON), `lab up` keeps it on screen and redraws it on change.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Service } from 'cosmolet/model/objects';
import type { StatusDocument } from 'cosmolet/observe/status';
import { cidrContains, hostPrefix, parseCIDR, parseIP, type CIDR } from 'cosmolet/net/ip';
import { DEFAULT_ADDRESSING } from '../fabric/options.js';
import { Fabric } from '../fabric/fabric.js';
import { fabricStateFile } from '../fabric/state.js';
import type { ManifestReport } from '../cluster/manifests.js';
import { getTlsUnix, labServingCert, labStatusToken } from '../access/status-access.js';
import type { ServingCert } from '../access/serving-cert.js';
import type { RunningPod } from '../pods/pods.js';
import { kubeKind, type LabNode, type LabState } from '../state/state.js';
import { getUnix } from '../access/unix.js';

export interface ViewIP {
  ip: string;
  prefix: string;
  kind: 'clusterIP' | 'loadBalancerIP' | 'externalIP';
  /** advertised (by at least one node) | skipped (by every node that answers) | unknown | not-considered. */
  state: 'advertised' | 'skipped' | 'unknown' | 'not-considered';
  /** The skip reason when every answering node gives the same one. */
  reason: string | null;
  /** Nodes whose cosmolet advertises it (in their plan). */
  nodes: string[];
  /** Nodes that installed it (the route cosmolet's FRR exports). */
  installed: string[];
  /** Nodes that skip it, with their reason. */
  skipped: { node: string; reason: string }[];
  /** Next hops of the prefix in the leaf's kernel FIB (0: no route). */
  leafNextHops: number;
  leaf: boolean;
  gobgp: boolean;
}

export interface ViewService {
  service: string;
  type: string;
  ips: ViewIP[];
  /** Pods (lab namespaces) backing it, with their node and addresses. */
  pods: string[];
}

export interface ViewNode {
  name: string;
  /** Its cosmolet answers /readyz with 200. */
  ready: boolean;
  reason: string | null;
  /** Stopped with `lab node stop`. */
  stopped: boolean;
  address: string;
}

export interface ViewPrefix {
  prefix: string;
  services: string[];
  nodes: string[];
  leafNextHops: number;
  gobgp: boolean;
}

export interface LabView {
  running: boolean;
  prefix: string;
  manifests: string;
  /** Which Kubernetes API the lab runs (`lab up --kube`) and its version (null: not answering). */
  apiServer: { kind: 'kube-apiserver' | 'double'; version: string | null };
  /** The admin kubeconfig, for kubectl. */
  kubeconfig: string;
  /** The kubectl to use with it: the one built with the control plane, or `kubectl` from PATH. */
  kubectl: string;
  nodes: ViewNode[];
  cluster: {
    reachable: boolean;
    manifestErrors: { file: string; message: string }[];
    dataPathError: string | null;
    warnings: string[];
  };
  services: ViewService[];
  /** Every Service prefix: the nodes advertising it, the leaf's next hops, GoBGP. */
  prefixes: ViewPrefix[];
  /** Service prefixes held by the leaf / GoBGP that no Service in the view has (stale). */
  extraAtLeaf: string[];
  extraAtGobgp: string[];
}

interface ClusterState {
  apiServer?: { kind: 'kube-apiserver' | 'double'; version: string };
  manifests: ManifestReport;
  dataPath: { synced: boolean; error: string | null; warnings: string[] };
  pods: RunningPod[];
  services: Service[];
}

interface Readyz {
  ready?: boolean;
  conditions?: { name: string; ok: boolean; message: string }[];
}

const SERVICE_RANGES = [...DEFAULT_ADDRESSING.serviceRangesV4, ...DEFAULT_ADDRESSING.serviceRangesV6]
  .map((c) => parseCIDR(c))
  .filter((c): c is CIDR => typeof c !== 'string');

function inServiceRanges(prefix: string): boolean {
  const ip = parseIP(prefix.slice(0, prefix.lastIndexOf('/')));
  return ip !== undefined && SERVICE_RANGES.some((c) => cidrContains(c, ip));
}

async function getJson<T>(
  socketPath: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T } | undefined> {
  try {
    const r = await getUnix(socketPath, path, 3000, headers);
    return { status: r.status, body: JSON.parse(r.body) as T };
  } catch {
    return undefined;
  }
}

interface FibRoute {
  dst?: string;
  gateway?: string;
  dev?: string;
  nexthops?: unknown[];
}

/**
 * Next hops per prefix from `ip -j route show` (IPv4 or IPv6): a multipath route lists them under
 * `nexthops`, a single-path one has a gateway or device. Keys are host prefixes as cosmolet writes them.
 */
export function parseFibNextHops(json: string, family: 4 | 6): Map<string, number> {
  const out = new Map<string, number>();
  let routes: FibRoute[];
  try {
    routes = JSON.parse(json || '[]') as FibRoute[];
  } catch {
    return out;
  }
  for (const r of routes) {
    if (!r.dst || r.dst === 'default') continue;
    const dst = r.dst.includes('/') ? r.dst : `${r.dst}/${family === 4 ? 32 : 128}`;
    const n = Array.isArray(r.nexthops) ? r.nexthops.length : r.gateway || r.dev ? 1 : 0;
    out.set(dst, (out.get(dst) ?? 0) + n);
  }
  return out;
}

/** Next hops the leaf's kernel installed for BGP routes (IPv4 and IPv6). */
export async function leafFib(fabric: Fabric): Promise<Map<string, number>> {
  const [v4, v6] = await Promise.all([
    fabric.exec('leaf', ['ip', '-j', '-4', 'route', 'show', 'proto', 'bgp'], { timeoutMs: 10_000 }),
    fabric.exec('leaf', ['ip', '-j', '-6', 'route', 'show', 'proto', 'bgp'], { timeoutMs: 10_000 }),
  ]);
  return new Map([...parseFibNextHops(v4.stdout, 4), ...parseFibNextHops(v6.stdout, 6)]);
}

export function fabricHandle(state: LabState): Fabric {
  // A handle only: no process is started, the queries go through vtysh and `ip netns exec`. A lab
  // whose start was cut short may have no fabric.json yet: a plain handle still reads what exists.
  const dir = join(state.dir, 'fabric');
  return existsSync(fabricStateFile(dir))
    ? Fabric.attach(dir)
    : new Fabric({ prefix: state.prefix, dir, persistent: true, nodes: state.nodes.length });
}

interface NodeRead {
  node: LabNode;
  status: StatusDocument | undefined;
  readyz: { status: number; body: Readyz } | undefined;
}

async function readNode(node: LabNode, cert: ServingCert, token: string | undefined): Promise<NodeRead> {
  // /status over HTTPS, verified, with the audience-bound token (as `cosmolet status` reads it);
  // /readyz from the probe listener: on loopback it has the messages, and needs no token.
  const [status, readyz] = await Promise.all([
    getTlsUnix(join(node.dir, 'http.sock'), '/status', cert, token).then(
      (r) => (r.status === 200 ? (JSON.parse(r.body) as StatusDocument) : undefined),
      () => undefined,
    ),
    getJson<Readyz>(join(node.dir, 'probe.sock'), '/readyz', {}),
  ]);
  return { node, status, readyz };
}

/** What the nodes, the leaf and GoBGP say about one IP of Service `key`. */
function viewIP(
  raw: string,
  kind: ViewIP['kind'],
  key: string,
  reads: NodeRead[],
  fib: Map<string, number>,
  gobgp: Set<string>,
): ViewIP {
  const parsed = parseIP(raw);
  const ip = parsed?.text ?? raw;
  const prefix = parsed ? hostPrefix(parsed) : raw;
  const nodes: string[] = [];
  const installed: string[] = [];
  const skipped: { node: string; reason: string }[] = [];
  for (const r of reads) {
    if (!r.status) continue;
    const route = r.status.routes.find((x) => x.prefix === prefix && x.services.includes(key));
    if (route) {
      nodes.push(r.node.name);
      if (route.installed) installed.push(r.node.name);
      continue;
    }
    const s = r.status.skipped.find((x) => x.service === key && (x.ip === ip || x.ip === raw));
    if (s) skipped.push({ node: r.node.name, reason: s.reason });
  }
  const answering = reads.filter((r) => r.status).length;
  const reasons = [...new Set(skipped.map((s) => s.reason))];
  const leafNextHops = fib.get(prefix) ?? 0;
  return {
    ip,
    prefix,
    kind,
    state:
      answering === 0
        ? 'unknown'
        : nodes.length > 0
          ? 'advertised'
          : skipped.length > 0
            ? 'skipped'
            : 'not-considered',
    reason: nodes.length === 0 && reasons.length === 1 ? (reasons[0] ?? null) : null,
    nodes,
    installed,
    skipped,
    leafNextHops,
    leaf: leafNextHops > 0,
    gobgp: gobgp.has(prefix),
  };
}

/** A node's line: ready or why not. */
function viewNode(state: LabState, r: NodeRead): ViewNode {
  const failing = r.readyz?.body.conditions?.find((c) => !c.ok);
  const stopped = (state.stopped ?? []).includes(r.node.name);
  return {
    name: r.node.name,
    ready: r.readyz?.status === 200,
    reason:
      r.readyz === undefined
        ? stopped
          ? 'stopped with lab node stop'
          : 'cosmolet is not answering'
        : r.readyz.status === 200
          ? null
          : (failing?.message ?? 'not ready'),
    stopped,
    address: r.node.v4,
  };
}

export async function gatherView(state: LabState, fabric: Fabric): Promise<LabView> {
  const token = await labStatusToken(state);
  const cert = labServingCert(state.dir);
  const [cluster, reads, fib, gobgp] = await Promise.all([
    getJson<ClusterState>(join(state.dir, 'ctl.sock'), '/state'),
    Promise.all(state.nodes.map((n) => readNode(n, cert, token))),
    leafFib(fabric).catch(() => new Map<string, number>()),
    fabric.gobgpRoutes().catch(() => new Set<string>()),
  ]);
  const services: ViewService[] = [];
  const known = new Map<string, ViewPrefix>();
  for (const svc of cluster?.body.services ?? []) {
    const key = `${svc.metadata?.namespace ?? 'default'}/${svc.metadata?.name ?? ''}`;
    const type = svc.spec?.type ?? 'ClusterIP';
    const ips: ViewIP[] = [];
    const add = (raw: string | undefined, kind: ViewIP['kind']): void => {
      if (!raw || raw === 'None') return;
      const v = viewIP(raw, kind, key, reads, fib, gobgp);
      if (ips.some((x) => x.ip === v.ip)) return;
      ips.push(v);
      const p = known.get(v.prefix) ?? {
        prefix: v.prefix,
        services: [],
        nodes: [],
        leafNextHops: v.leafNextHops,
        gobgp: v.gobgp,
      };
      if (!p.services.includes(key)) p.services.push(key);
      for (const n of v.nodes) if (!p.nodes.includes(n)) p.nodes.push(n);
      known.set(v.prefix, p);
    };
    for (const ip of svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : []))
      add(ip, 'clusterIP');
    if (type === 'LoadBalancer')
      for (const i of svc.status?.loadBalancer?.ingress ?? []) add(i.ip, 'loadBalancerIP');
    for (const ip of svc.spec?.externalIPs ?? []) add(ip, 'externalIP');
    const pods = (cluster?.body.pods ?? [])
      .filter((p) => p.services.includes(key))
      .map((p) => `${p.name} on ${p.node} ${[...p.v4, ...p.v6].join(' ')}`);
    services.push({ service: key, type, ips, pods });
  }
  services.sort((a, b) => (a.service < b.service ? -1 : 1));
  const real = kubeKind(state) === 'real';
  return {
    running: true,
    prefix: state.prefix,
    manifests: state.manifests,
    apiServer: {
      kind: real ? 'kube-apiserver' : 'double',
      version: cluster?.body.apiServer?.version ?? state.kube?.version ?? null,
    },
    kubeconfig: state.kubeconfig,
    kubectl: real ? join(state.dir, 'kubectl') : 'kubectl',
    nodes: reads.map((r) => viewNode(state, r)),
    cluster: {
      reachable: cluster !== undefined,
      manifestErrors: cluster?.body.manifests.errors ?? [],
      dataPathError: cluster?.body.dataPath.error ?? null,
      warnings: cluster?.body.dataPath.warnings ?? [],
    },
    services,
    prefixes: [...known.values()]
      .map((p) => ({ ...p, nodes: p.nodes.sort() }))
      .sort((a, b) => (a.prefix < b.prefix ? -1 : 1)),
    extraAtLeaf: [...fib.keys()].filter((p) => inServiceRanges(p) && !known.has(p)).sort(),
    extraAtGobgp: [...gobgp].filter((p) => inServiceRanges(p) && !known.has(p)).sort(),
  };
}

/** `lab-node-2` -> `2`: the view's NODES column stays narrow. */
function short(node: string): string {
  const m = /^lab-node-(\d+)$/.exec(node);
  return m?.[1] ?? node;
}

/** The view as text (no timestamp, so two renders of the same state compare equal). */
export function renderView(v: LabView): string {
  const lines: string[] = [];
  const api =
    v.apiServer.kind === 'kube-apiserver'
      ? `kube-apiserver ${v.apiServer.version ?? ''} (real control plane)`
      : `API double ${v.apiServer.version ?? ''}`;
  lines.push(`api: ${api}   ${v.kubectl} --kubeconfig ${v.kubeconfig}`);
  lines.push(`manifests: ${v.manifests}`);
  lines.push(
    `nodes: ${v.nodes.map((n) => `${n.name} ${n.ready ? 'ready' : `NOT READY (${n.reason ?? ''})`}`).join('   ')}`,
  );
  if (!v.cluster.reachable)
    lines.push(
      `${v.apiServer.kind === 'double' ? 'simulated cluster' : 'cluster process'}: NOT ANSWERING (see cluster.log in the lab directory)`,
    );
  for (const e of v.cluster.manifestErrors) lines.push(`manifest ${e.file}: ${e.message}`);
  if (v.cluster.dataPathError) lines.push(`data path: ${v.cluster.dataPathError}`);
  lines.push('');
  const rows: string[][] = [['SERVICE', 'TYPE', 'IP', 'ADVERTISED BY', 'LEAF PATHS', 'GOBGP', 'SKIPPED']];
  for (const s of v.services) {
    if (s.ips.length === 0) rows.push([s.service, s.type, '(none)', '', '', '', '']);
    s.ips.forEach((ip, i) => {
      const by =
        ip.state === 'unknown' ? '?' : ip.nodes.length > 0 ? `node ${ip.nodes.map(short).join(',')}` : '-';
      const reasons = new Map<string, string[]>();
      for (const k of ip.skipped) reasons.set(k.reason, [...(reasons.get(k.reason) ?? []), short(k.node)]);
      const skipped = [...reasons].map(([r, ns]) => `${ns.join(',')}: ${r}`).join('; ');
      rows.push([
        i === 0 ? s.service : '',
        i === 0 ? s.type : '',
        ip.ip,
        by,
        ip.leafNextHops > 0 ? String(ip.leafNextHops) : '-',
        ip.gobgp ? 'yes' : '-',
        skipped,
      ]);
    });
  }
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  for (const r of rows)
    lines.push(
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  if (v.extraAtLeaf.length > 0) lines.push('', `leaf also holds: ${v.extraAtLeaf.join(' ')}`);
  if (v.extraAtGobgp.length > 0) lines.push(`GoBGP also holds: ${v.extraAtGobgp.join(' ')}`);
  return lines.join('\n') + '\n';
}
