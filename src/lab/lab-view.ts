// The lab's view: every Service of the simulated cluster, each of its IPs, whether cosmolet
// advertises it (or why not, from cosmolet's /status), whether the node installed it, and whether
// the FRR leaf and the GoBGP peer hold the route. `lab status` prints it once (or as JSON), `lab up`
// keeps it on screen and redraws it when something changes.
import http from 'node:http';
import { join } from 'node:path';
import type { Service } from '../kube/types.js';
import type { StatusDocument } from '../observe/status.js';
import { cidrContains, hostPrefix, parseCIDR, parseIP, type CIDR } from '../plan/ip.js';
import { DEFAULT_ADDRESSING, Fabric } from './fabric.js';
import type { ManifestReport } from './lab-manifests.js';
import type { RunningPod } from './lab-pods.js';
import type { LabState } from './lab-state.js';

export interface ViewIP {
  ip: string;
  prefix: string;
  kind: 'clusterIP' | 'loadBalancerIP' | 'externalIP';
  /** advertised | skipped | unknown (cosmolet not answering) | not-considered. */
  state: 'advertised' | 'skipped' | 'unknown' | 'not-considered';
  reason: string | null;
  installed: boolean;
  leaf: boolean;
  gobgp: boolean;
}

export interface ViewService {
  service: string;
  type: string;
  ips: ViewIP[];
  /** Pods (lab namespaces) backing it, with their addresses. */
  pods: string[];
}

export interface LabView {
  running: boolean;
  prefix: string;
  nodeName: string;
  manifests: string;
  cosmolet: { ready: boolean; reason: string | null };
  cluster: {
    reachable: boolean;
    manifestErrors: { file: string; message: string }[];
    dataPathError: string | null;
  };
  services: ViewService[];
  /** Service prefixes held by the leaf / GoBGP that no Service in the view has (stale). */
  extraAtLeaf: string[];
  extraAtGobgp: string[];
}

interface ClusterState {
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

/** GET over a unix socket; resolves with status and body, rejects when nothing answers. */
export function getUnix(
  socketPath: string,
  path: string,
  timeoutMs = 3000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timeout`)));
    req.on('error', reject);
  });
}

async function getJson<T>(
  socketPath: string,
  path: string,
): Promise<{ status: number; body: T } | undefined> {
  try {
    const r = await getUnix(socketPath, path);
    return { status: r.status, body: JSON.parse(r.body) as T };
  } catch {
    return undefined;
  }
}

export function fabricHandle(state: LabState): Fabric {
  // A handle only: no process is started, the queries go through vtysh and `ip netns exec`.
  return new Fabric({ prefix: state.prefix, dir: join(state.dir, 'fabric'), persistent: true });
}

export async function gatherView(state: LabState, fabric: Fabric): Promise<LabView> {
  const [cluster, status, readyz, leaf, gobgp] = await Promise.all([
    getJson<ClusterState>(join(state.dir, 'ctl.sock'), '/state'),
    getJson<StatusDocument>(join(state.dir, 'http.sock'), '/status'),
    getJson<Readyz>(join(state.dir, 'http.sock'), '/readyz'),
    fabric.leafRoutes().catch(() => new Set<string>()),
    fabric.gobgpRoutes().catch(() => new Set<string>()),
  ]);
  const doc = status?.status === 200 ? status.body : undefined;
  const routes = new Map((doc?.routes ?? []).map((r) => [r.prefix, r]));
  const skipped = new Map((doc?.skipped ?? []).map((s) => [`${s.service} ${s.ip}`, s.reason]));
  const services: ViewService[] = [];
  const known = new Set<string>();
  for (const svc of cluster?.body.services ?? []) {
    const key = `${svc.metadata?.namespace ?? 'default'}/${svc.metadata?.name ?? ''}`;
    const type = svc.spec?.type ?? 'ClusterIP';
    const ips: ViewIP[] = [];
    const add = (raw: string | undefined, kind: ViewIP['kind']): void => {
      if (!raw || raw === 'None') return;
      const parsed = parseIP(raw);
      const ip = parsed?.text ?? raw;
      const prefix = parsed ? hostPrefix(parsed) : raw;
      if (ips.some((x) => x.ip === ip)) return;
      known.add(prefix);
      const route = routes.get(prefix);
      const reason = skipped.get(`${key} ${ip}`) ?? skipped.get(`${key} ${raw}`);
      const advertised = route !== undefined && route.services.includes(key);
      ips.push({
        ip,
        prefix,
        kind,
        state: !doc ? 'unknown' : advertised ? 'advertised' : reason ? 'skipped' : 'not-considered',
        reason: reason ?? null,
        installed: route?.installed ?? false,
        leaf: leaf.has(prefix),
        gobgp: gobgp.has(prefix),
      });
    };
    for (const ip of svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : []))
      add(ip, 'clusterIP');
    if (type === 'LoadBalancer')
      for (const i of svc.status?.loadBalancer?.ingress ?? []) add(i.ip, 'loadBalancerIP');
    for (const ip of svc.spec?.externalIPs ?? []) add(ip, 'externalIP');
    const pods = (cluster?.body.pods ?? [])
      .filter((p) => p.services.includes(key))
      .map((p) => `${p.name} ${[...p.v4, ...p.v6].join(' ')}`);
    services.push({ service: key, type, ips, pods });
  }
  services.sort((a, b) => (a.service < b.service ? -1 : 1));
  const failing = readyz?.body.conditions?.find((c) => !c.ok);
  return {
    running: true,
    prefix: state.prefix,
    nodeName: state.nodeName,
    manifests: state.manifests,
    cosmolet: {
      ready: readyz?.status === 200,
      reason:
        readyz === undefined
          ? 'cosmolet is not answering'
          : readyz.status === 200
            ? null
            : (failing?.message ?? 'not ready'),
    },
    cluster: {
      reachable: cluster !== undefined,
      manifestErrors: cluster?.body.manifests.errors ?? [],
      dataPathError: cluster?.body.dataPath.error ?? null,
    },
    services,
    extraAtLeaf: [...leaf].filter((p) => inServiceRanges(p) && !known.has(p)).sort(),
    extraAtGobgp: [...gobgp].filter((p) => inServiceRanges(p) && !known.has(p)).sort(),
  };
}

function mark(b: boolean): string {
  return b ? 'yes' : '-';
}

/** The view as text (no timestamp, so two renders of the same state compare equal). */
export function renderView(v: LabView): string {
  const lines: string[] = [];
  lines.push(
    `cosmolet: ${v.cosmolet.ready ? 'ready' : `NOT READY (${v.cosmolet.reason ?? ''})`}    node: ${v.nodeName}    manifests: ${v.manifests}`,
  );
  if (!v.cluster.reachable)
    lines.push('simulated cluster: NOT ANSWERING (see cluster.log in the lab directory)');
  for (const e of v.cluster.manifestErrors) lines.push(`manifest ${e.file}: ${e.message}`);
  if (v.cluster.dataPathError) lines.push(`data path: ${v.cluster.dataPathError}`);
  lines.push('');
  const rows: string[][] = [['SERVICE', 'TYPE', 'IP', 'STATE', 'NODE', 'LEAF', 'GOBGP']];
  for (const s of v.services) {
    if (s.ips.length === 0) rows.push([s.service, s.type, '(none)', '', '', '', '']);
    s.ips.forEach((ip, i) => {
      const state = ip.state === 'skipped' ? `skipped: ${ip.reason ?? ''}` : ip.state;
      rows.push([
        i === 0 ? s.service : '',
        i === 0 ? s.type : '',
        ip.ip,
        state,
        mark(ip.installed),
        mark(ip.leaf),
        mark(ip.gobgp),
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
