// The lab's pods and kube-proxy rules made real: each pod is its own network namespace with a tiny
// HTTP server (main.ts), joined by a veth pair to the node namespace it runs on, and each node
// namespace gets its kube-proxy ruleset (nftables). What to make comes from datapath.ts.
//
// Addressing (what Calico does): the pod holds its IPs as /32 and /128 on eth0 with default routes
// via 169.254.1.1 and fe80::1, which the node side of every veth carries; the node routes each pod
// address to its veth. Replies to a client on the fabric go back through the node, whose conntrack
// undoes the DNAT, so a local pod sees the real client address.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'cosmolet/logger';
import { runCommand } from 'cosmolet/router/exec';
import type { DataPath, PodSpec } from './datapath.js';

export interface RunningPod extends PodSpec {
  netns: string;
  veth: string;
  pid: number | undefined;
}

export interface PodManagerOptions {
  prefix: string;
  /** Node name -> its namespace. */
  nodeNs: Map<string, string>;
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
  return sameNetwork(a, b) && JSON.stringify([a.ports, a.services]) === JSON.stringify([b.ports, b.services]);
}

/** Same node and addresses: only the HTTP server needs starting again (new ports or Services). */
function sameNetwork(a: PodSpec, b: PodSpec): boolean {
  return JSON.stringify([a.node, a.v4, a.v6]) === JSON.stringify([b.node, b.v4, b.v6]);
}

/** The process runs (a zombie, killed but not yet reaped, does not: its sockets are closed). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export class PodManager {
  private readonly running = new Map<string, RunningPod>();
  private next = 0;
  private readonly lastNft = new Map<string, string>();
  private readonly creating = new Set<string>();

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
      if (w && sameSpec(w, pod)) continue;
      if (w && sameNetwork(w, pod)) {
        // A Service now selects it, or it listens on other ports: the namespace stays.
        this.running.set(key, { ...w, netns: pod.netns, veth: pod.veth, pid: await this.restart(pod, w) });
        this.opts.logger.info({ pod: key, ports: w.ports, services: w.services }, 'pod server restarted');
        continue;
      }
      await deleteNamespace(pod.netns);
      this.running.delete(key);
      this.opts.logger.info({ pod: key }, 'pod removed');
    }
    // In parallel: each pod is a handful of `ip` calls, and a lab starts with several.
    await Promise.all(
      [...want].map(async ([key, spec]) => {
        if (this.running.has(key)) return;
        try {
          this.running.set(key, await this.create(spec));
          this.opts.logger.info({ pod: key, v4: spec.v4, v6: spec.v6, ports: spec.ports }, 'pod started');
        } catch (err) {
          this.opts.logger.error({ pod: key, err: String(err) }, 'pod could not be started');
        }
      }),
    );
    for (const [node, nft] of dp.nft) {
      const ns = this.opts.nodeNs.get(node);
      if (ns === undefined || this.lastNft.get(node) === nft) continue;
      await runCommand(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], { timeoutMs: 15_000, input: nft });
      this.lastNft.set(node, nft);
      this.opts.logger.info({ node }, 'kube-proxy rules applied');
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
    // Names are taken before the first await: pods are created in parallel.
    const netns = taken.has(base) || this.creating.has(base) ? `${base}-${n}` : base;
    const veth = `pod${n}`;
    const node = this.opts.nodeNs.get(spec.node);
    if (node === undefined) throw new Error(`pod ${spec.key}: node ${spec.node} is not in the lab`);
    this.creating.add(netns);
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
      return { ...spec, netns, veth, pid: this.serve(netns, spec) };
    } catch (err) {
      await deleteNamespace(netns);
      throw err;
    } finally {
      this.creating.delete(netns);
    }
  }

  /** The pod's HTTP server, in its namespace (`ip netns exec` execs it: the pid is the server's). */
  private serve(netns: string, spec: PodSpec): number | undefined {
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
        '--node',
        spec.node,
        ...spec.ports.flatMap((p) => ['--port', String(p)]),
      ],
      { detached: true, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    child.unref();
    child.on('error', () => undefined);
    return child.pid;
  }

  /** Stops the pod's server and starts it with the new spec once its ports are free. */
  private async restart(pod: RunningPod, spec: PodSpec): Promise<number | undefined> {
    const pid = pod.pid;
    if (pid !== undefined && alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
      const deadline = Date.now() + 5000;
      while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    return this.serve(pod.netns, spec);
  }
}
