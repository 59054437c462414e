// The lab's data path: a "pod" (its own network namespace with a tiny HTTP server) for every pod
// address in the simulated cluster's EndpointSlices, joined to the node namespace by a veth pair,
// and nftables DNAT rules in the node namespace standing in for kube-proxy (Service IP:port -> a
// ready endpoint's pod IP:targetPort). Derived from the API double's objects, so kubectl and the
// manifest directory both drive it.
//
// Addressing (what Calico does): the pod holds its IPs as /32 and /128 on eth0 with default routes
// via 169.254.1.1 and fe80::1, which the node side of every veth carries; the node routes each pod
// address to its veth. Replies to a client on the fabric go back through the node, whose conntrack
// undoes the DNAT, so no SNAT is needed and the pod sees the real client address.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { EndpointSlice, Service } from '../kube/types.js';
import { Labels } from '../kube/types.js';
import type { Logger } from '../observe/log.js';
import { cidrContains, hostPrefix, parseCIDR, parseIP, type CIDR, type IP } from '../plan/ip.js';
import { runCommand } from '../router/exec.js';

export interface PodSpec {
  /** `namespace/podName` (from the endpoint's targetRef) or `namespace/address`. */
  key: string;
  name: string;
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
  nft: string;
  warnings: string[];
}

/** Pods and kube-proxy rules for the objects of the simulated cluster. */
export function dataPath(services: Service[], slices: FullSlice[]): DataPath {
  const warnings: string[] = [];
  const svcByKey = new Map<string, Service>();
  for (const s of services)
    svcByKey.set(`${s.metadata?.namespace ?? 'default'}/${s.metadata?.name ?? ''}`, s);
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
        const pod = pods.get(key) ?? { key, name: podName, services: [], v4: [], v6: [], ports: [] };
        pods.set(key, pod);
        const list = c.v6 ? pod.v6 : pod.v4;
        if (!list.includes(c.text)) list.push(c.text);
        if (svcKey && !pod.services.includes(svcKey)) pod.services.push(svcKey);
        for (const p of ports) if (p !== undefined && !pod.ports.includes(p)) pod.ports.push(p);
      }
    }
  }
  for (const p of pods.values()) {
    p.v4.sort();
    p.v6.sort();
    p.services.sort();
    p.ports.sort((a, b) => a - b);
    if (p.ports.length === 0) p.ports.push(80);
  }

  // kube-proxy: one rule per (Service IP, port), to the ready endpoints of the IP's family.
  const rules: string[] = [];
  const rejects: string[] = [];
  for (const [key, svc] of [...svcByKey].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (!considered(svc)) continue;
    const ips = new Set<string>();
    for (const s of [
      ...(svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : [])),
      ...(svc.spec?.type === 'LoadBalancer'
        ? (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '')
        : []),
      ...(svc.spec?.externalIPs ?? []),
    ]) {
      const c = canonical(s);
      if (c) ips.add(c.text);
    }
    const mySlices = slices.filter((s) => serviceOf(s) === key);
    for (const sp of servicePorts(svc)) {
      for (const ip of ips) {
        const v6 = ip.includes(':');
        const targets: string[] = [];
        for (const slice of mySlices) {
          if (slice.addressType !== (v6 ? 'IPv6' : 'IPv4')) continue;
          const port = targetPort(sp, slice);
          if (port === undefined) continue;
          for (const ep of slice.endpoints ?? []) {
            if (ep.conditions?.ready === false) continue;
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
          rejects.push(`    ${match} reject with tcp reset comment "${key} has no ready endpoints"`);
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
  const nft = [
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
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    ...rejects,
    '  }',
    '}',
    '',
  ].join('\n');
  return { pods: [...pods.values()].sort((a, b) => (a.key < b.key ? -1 : 1)), nft, warnings };
}

export interface RunningPod extends PodSpec {
  netns: string;
  veth: string;
  pid: number | undefined;
}

export interface PodManagerOptions {
  prefix: string;
  nodeNs: string;
  dir: string;
  podMain: string;
  logger: Logger;
}

async function ip(args: string[], input?: string): Promise<void> {
  await runCommand(['ip', ...args], { timeoutMs: 15_000, ...(input !== undefined ? { input } : {}) });
}

/** Removes a namespace of this lab and kills what runs in it. */
export async function deleteNamespace(ns: string): Promise<void> {
  const r = await runCommand(['ip', 'netns', 'pids', ns], { timeoutMs: 10_000, okCodes: 'any' });
  for (const pid of r.stdout.split('\n').map(Number)) {
    if (Number.isInteger(pid) && pid > 1) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  await runCommand(['ip', 'netns', 'del', ns], { timeoutMs: 10_000, okCodes: 'any' });
}

function sameSpec(a: PodSpec, b: PodSpec): boolean {
  return (
    JSON.stringify([a.v4, a.v6, a.ports, a.services]) === JSON.stringify([b.v4, b.v6, b.ports, b.services])
  );
}

export class PodManager {
  private readonly running = new Map<string, RunningPod>();
  private next = 0;
  private lastNft = '';

  constructor(private readonly opts: PodManagerOptions) {}

  get pods(): RunningPod[] {
    return [...this.running.values()];
  }

  /** Namespaces of pods of this lab left by an earlier cluster process. */
  async removeLeftovers(): Promise<void> {
    const r = await runCommand(['ip', 'netns', 'list'], { timeoutMs: 10_000 });
    const mine = `${this.opts.prefix}-pod-`;
    for (const line of r.stdout.split('\n')) {
      const ns = line.split(' ')[0] ?? '';
      if (ns.startsWith(mine)) await deleteNamespace(ns);
    }
  }

  async apply(dp: DataPath): Promise<void> {
    const want = new Map(dp.pods.map((p) => [p.key, p]));
    for (const [key, pod] of this.running) {
      const w = want.get(key);
      if (!w || !sameSpec(w, pod)) {
        await deleteNamespace(pod.netns);
        this.running.delete(key);
        this.opts.logger.info({ pod: key }, 'pod removed');
      }
    }
    for (const [key, spec] of want) {
      if (this.running.has(key)) continue;
      try {
        this.running.set(key, await this.create(spec));
        this.opts.logger.info({ pod: key, v4: spec.v4, v6: spec.v6, ports: spec.ports }, 'pod started');
      } catch (err) {
        this.opts.logger.error({ pod: key, err: String(err) }, 'pod could not be started');
      }
    }
    if (dp.nft !== this.lastNft) {
      await runCommand(['ip', 'netns', 'exec', this.opts.nodeNs, 'nft', '-f', '-'], {
        timeoutMs: 15_000,
        input: dp.nft,
      });
      this.lastNft = dp.nft;
      this.opts.logger.info('kube-proxy rules applied');
    }
  }

  private async create(spec: PodSpec): Promise<RunningPod> {
    const n = this.next++;
    const slug = spec.key
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .slice(0, 40);
    const taken = new Set([...this.running.values()].map((p) => p.netns));
    const base = `${this.opts.prefix}-pod-${slug}`;
    const netns = taken.has(base) ? `${base}-${n}` : base;
    const veth = `pod${n}`;
    const node = this.opts.nodeNs;
    await ip(['netns', 'add', netns]);
    try {
      await runCommand(
        [
          'ip',
          'netns',
          'exec',
          netns,
          'sysctl',
          '-q',
          '-w',
          'net.ipv6.conf.all.accept_dad=0',
          'net.ipv6.conf.default.accept_dad=0',
        ],
        { timeoutMs: 10_000 },
      );
      await ip(['-n', node, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      const inPod = [
        'link set lo up',
        'link set eth0 up',
        ...spec.v4.map((a) => `addr add ${a}/32 dev eth0`),
        ...spec.v6.map((a) => `addr add ${a}/128 dev eth0 nodad`),
        'route add 169.254.1.1/32 dev eth0 scope link',
        'route add 0.0.0.0/0 via 169.254.1.1 dev eth0',
        'route add ::/0 via fe80::1 dev eth0',
      ];
      await ip(['-n', netns, '-batch', '-'], inPod.join('\n') + '\n');
      const inNode = [
        `addr add 169.254.1.1/32 dev ${veth}`,
        `addr add fe80::1/64 dev ${veth} nodad`,
        `link set ${veth} up`,
        ...spec.v4.map((a) => `route add ${a}/32 dev ${veth}`),
        ...spec.v6.map((a) => `route add ${a}/128 dev ${veth}`),
      ];
      await ip(['-n', node, '-batch', '-'], inNode.join('\n') + '\n');
      const log = openSync(join(this.opts.dir, `${netns}.log`), 'a');
      const child = spawn(
        'ip',
        [
          'netns',
          'exec',
          netns,
          process.execPath,
          this.opts.podMain,
          '--name',
          spec.key,
          '--service',
          spec.services.join(','),
          ...spec.ports.flatMap((p) => ['--port', String(p)]),
        ],
        { detached: true, stdio: ['ignore', log, log] },
      );
      closeSync(log);
      child.unref();
      child.on('error', () => undefined);
      return { ...spec, netns, veth, pid: child.pid };
    } catch (err) {
      await deleteNamespace(netns);
      throw err;
    }
  }
}
