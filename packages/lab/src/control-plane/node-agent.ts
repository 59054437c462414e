// What the kubelet does for a node, for nodes that have none (the lab's and the tests'): it registers
// the Node (addresses, pod CIDRs, capacity, a Ready condition) and keeps it fresh with a Lease; it
// takes the pods the scheduler binds to its nodes, gives each an address from the node's pod CIDRs
// (hostNetwork pods: the node's), and reports them Running and Ready through the status subresource,
// as the kubelet does once containers start and probes pass; and it finishes a pod's graceful delete
// (the kubelet deletes with grace 0 once the containers stopped). From that status the real
// EndpointSlice controller writes the slices cosmolet reads. `setReady` flips a pod's readiness, as
// a failing readiness probe would.
import type { KubeClient } from 'cosmolet/kube/client';
import type { KubeObject } from 'cosmolet/model/objects';

export interface AgentNode {
  name: string;
  /** The node's InternalIPs (IPv4, IPv6): Node addresses and hostNetwork pods' IPs. */
  addresses: string[];
  /** Pod CIDRs, IPv4 first: pods get consecutive addresses from .10 / ::10 on. */
  podCIDRs: string[];
  labels?: Record<string, string>;
}

interface Pod extends KubeObject {
  spec?: { nodeName?: string; hostNetwork?: boolean; containers?: { name: string }[] };
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: { ip: string }[];
    conditions?: { type: string; status: string }[];
  };
}

export interface NodeAgentOptions {
  client: KubeClient;
  nodes: AgentNode[];
  /** Lease renewal period (the kubelet's is 10 s). */
  leaseRenewMs?: number;
  /** Errors of the background loops (a restarting API server), for the caller's log. */
  onError?: (what: string, err: unknown) => void;
  /**
   * A pod's readiness when `setReady` holds none (undefined: Ready), as its readiness probe would
   * decide; asked on every change of the pod (the lab reads an annotation).
   */
  readiness?: (pod: KubeObject) => boolean | undefined;
}

const LEASE_DURATION_SECONDS = 40;

function podKey(p: Pod): string {
  return `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`;
}

function isReady(p: Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** The n-th host address of a pod CIDR (n from 10 up), IPv4 or IPv6. */
export function podAddress(cidr: string, n: number): string {
  const base = cidr.slice(0, cidr.indexOf('/'));
  if (base.includes(':')) return `${base.replace(/::$/, '')}::${n.toString(16)}`;
  const o = base.split('.').map(Number);
  const v = (((o[0] ?? 0) << 24) | ((o[1] ?? 0) << 16) | ((o[2] ?? 0) << 8) | (o[3] ?? 0)) + n;
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

export class NodeAgent {
  private readonly client: KubeClient;
  private readonly nodes: Map<string, AgentNode>;
  private readonly nextHost = new Map<string, number>();
  /** Addresses given out per pod (kept across status updates, freed on delete). */
  private readonly given = new Map<string, string[]>();
  /** Pods whose readiness a test or the lab holds (key -> ready). */
  private readonly held = new Map<string, boolean>();
  private readonly abort = new AbortController();
  private leaseTimer: NodeJS.Timeout | undefined;
  private watching: Promise<void> | undefined;
  private synced = false;

  constructor(private readonly opts: NodeAgentOptions) {
    this.client = opts.client;
    this.nodes = new Map(opts.nodes.map((n) => [n.name, n]));
  }

  /** Registers the nodes, starts the Lease loop and the pod loop; resolves once the first list is done. */
  async start(): Promise<void> {
    for (const n of this.nodes.values()) await this.register(n);
    await this.renewLeases();
    this.leaseTimer = setInterval(() => {
      this.renewLeases().catch((err: unknown) => this.opts.onError?.('lease', err));
    }, this.opts.leaseRenewMs ?? 10_000);
    this.leaseTimer.unref();
    this.watching = this.podLoop();
    const deadline = Date.now() + 60_000;
    while (!this.synced && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    await this.watching;
  }

  private async call(method: string, path: string, body?: unknown, contentType?: string): Promise<string> {
    const r = await this.client.request(method, path, body, {
      timeoutMs: 30_000,
      ...(contentType ? { contentType } : {}),
    });
    if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
    return r.body;
  }

  private nodeStatus(n: AgentNode): Record<string, unknown> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const capacity = { cpu: '8', memory: '32Gi', pods: '250', 'ephemeral-storage': '100Gi' };
    return {
      addresses: [
        ...n.addresses.map((address) => ({ type: 'InternalIP', address })),
        { type: 'Hostname', address: n.name },
      ],
      capacity,
      allocatable: capacity,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'node agent of the cosmolet lab is posting ready status',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'cosmolet-lab-node-agent',
        kubeProxyVersion: '',
        containerRuntimeVersion: 'netns://cosmolet-lab',
        kernelVersion: '',
        osImage: 'cosmolet lab',
        machineID: '',
        systemUUID: '',
        bootID: '',
      },
    };
  }

  /** Creates the Node (kept when it exists: a cordon survives), reports it Ready, lifts the not-ready taint. */
  private async register(n: AgentNode): Promise<void> {
    const path = `/api/v1/nodes/${n.name}`;
    const existing = await this.client.request('GET', path);
    if (existing.status === 404) {
      await this.call('POST', '/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: n.name,
          labels: {
            'kubernetes.io/hostname': n.name,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            ...n.labels,
          },
        },
        spec: { podCIDR: n.podCIDRs[0], podCIDRs: n.podCIDRs },
      });
    } else if (existing.status >= 300) {
      throw new Error(`GET ${path}: HTTP ${existing.status}`);
    }
    await this.call(
      'PATCH',
      `${path}/status`,
      { status: this.nodeStatus(n) },
      'application/merge-patch+json',
    );
    // The TaintNodesByCondition admission plugin taints every new Node not-ready; the node lifecycle
    // controller lifts it once the kubelet reports Ready. This cluster runs no such controller.
    const node = JSON.parse(await this.call('GET', path)) as { spec?: { taints?: { key: string }[] } };
    const taints = node.spec?.taints ?? [];
    const kept = taints.filter((t) => t.key !== 'node.kubernetes.io/not-ready');
    if (kept.length !== taints.length)
      await this.call(
        'PATCH',
        path,
        { spec: { taints: kept.length ? kept : null } },
        'application/merge-patch+json',
      );
  }

  private async renewLeases(): Promise<void> {
    const now = new Date()
      .toISOString()
      .replace('Z', '000Z')
      .replace(/\.(\d{6})\d*Z$/, '.$1Z');
    for (const n of this.nodes.values()) {
      const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${n.name}`;
      const spec = { holderIdentity: n.name, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: now };
      const r = await this.client.request(
        'PATCH',
        path,
        { spec },
        { contentType: 'application/merge-patch+json' },
      );
      if (r.status === 404)
        await this.call('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: n.name, namespace: 'kube-node-lease' },
          spec,
        });
      else if (r.status >= 300) throw new Error(`PATCH ${path}: HTTP ${r.status}`);
    }
  }

  /** Lists pods, handles each, then watches; any failure relists after a short pause. */
  private async podLoop(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        const list = JSON.parse(await this.call('GET', '/api/v1/pods')) as {
          items: Pod[];
          metadata: { resourceVersion: string };
        };
        for (const p of list.items) await this.handle('MODIFIED', p);
        this.synced = true;
        const w = await this.client.stream(
          `/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=${list.metadata.resourceVersion}`,
          { signal },
        );
        if (w.status !== 200) throw new Error(`watch pods: HTTP ${w.status}`);
        let buf = '';
        for await (const chunk of w.stream) {
          buf += String(chunk);
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!line.trim()) continue;
            const ev = JSON.parse(line) as { type: string; object: Pod };
            if (ev.type === 'ERROR') throw new Error(`watch pods: ${line.slice(0, 200)}`);
            if (ev.type !== 'BOOKMARK') await this.handle(ev.type, ev.object);
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        this.opts.onError?.('pods', err);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private mine(p: Pod): AgentNode | undefined {
    const name = p.spec?.nodeName;
    return name === undefined ? undefined : this.nodes.get(name);
  }

  private async handle(type: string, p: Pod): Promise<void> {
    const node = this.mine(p);
    const key = podKey(p);
    if (!node) return;
    if (type === 'DELETED') {
      this.given.delete(key);
      this.held.delete(key);
      return;
    }
    const path = `/api/v1/namespaces/${p.metadata?.namespace ?? ''}/pods/${p.metadata?.name ?? ''}`;
    if (p.metadata?.deletionTimestamp) {
      // The containers are gone at once: finish the graceful delete as the kubelet does.
      const r = await this.client.request('DELETE', path, {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        gracePeriodSeconds: 0,
        preconditions: { uid: p.metadata.uid },
      });
      if (r.status >= 300 && r.status !== 404 && r.status !== 409)
        throw new Error(`DELETE ${path}: HTTP ${r.status}`);
      return;
    }
    const ready = this.held.get(key) ?? this.opts.readiness?.(p) ?? true;
    const have = p.status?.podIPs?.map((x) => x.ip) ?? [];
    // A pod that has addresses keeps them (the agent restarted, as a kubelet would find its pods).
    if (have.length > 0 && !this.given.has(key) && p.spec?.hostNetwork !== true) this.given.set(key, have);
    const ips = this.addressesFor(key, node, p.spec?.hostNetwork === true);
    if (p.status?.phase === 'Running' && isReady(p) === ready && have.join(',') === ips.join(',')) return;
    await this.patchStatus(p, node, ips, ready);
  }

  private addressesFor(key: string, node: AgentNode, hostNetwork: boolean): string[] {
    if (hostNetwork) return node.addresses;
    const given = this.given.get(key);
    if (given) return given;
    const n = (this.nextHost.get(node.name) ?? 10) + 1;
    this.nextHost.set(node.name, n);
    const ips = node.podCIDRs.map((c) => podAddress(c, n));
    this.given.set(key, ips);
    return ips;
  }

  private async patchStatus(p: Pod, node: AgentNode, ips: string[], ready: boolean): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const state = ready ? 'True' : 'False';
    const status = {
      phase: 'Running',
      hostIP: node.addresses[0],
      hostIPs: node.addresses.map((ip) => ({ ip })),
      podIP: ips[0],
      podIPs: ips.map((ip) => ({ ip })),
      startTime: now,
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'True', lastTransitionTime: now },
        { type: 'Initialized', status: 'True', lastTransitionTime: now },
        { type: 'Ready', status: state, lastTransitionTime: now },
        { type: 'ContainersReady', status: state, lastTransitionTime: now },
        { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
      ],
      containerStatuses: (p.spec?.containers ?? []).map((c) => ({
        name: c.name,
        ready,
        started: true,
        restartCount: 0,
        image: 'cosmolet-lab/pod',
        imageID: '',
        state: { running: { startedAt: now } },
      })),
    };
    const path = `/api/v1/namespaces/${p.metadata?.namespace ?? ''}/pods/${p.metadata?.name ?? ''}/status`;
    const r = await this.client.request(
      'PATCH',
      path,
      { status },
      { contentType: 'application/merge-patch+json' },
    );
    if (r.status === 404) return;
    if (r.status >= 300) throw new Error(`PATCH ${path}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
  }

  /**
   * Makes a pod Ready or NotReady (a readiness probe passing or failing) and keeps it so; resolves
   * once the API server has the new status.
   */
  async setReady(namespace: string, name: string, ready: boolean): Promise<void> {
    const key = `${namespace}/${name}`;
    this.held.set(key, ready);
    const p = JSON.parse(await this.call('GET', `/api/v1/namespaces/${namespace}/pods/${name}`)) as Pod;
    const node = this.mine(p);
    if (!node)
      throw new Error(
        `pod ${key} is not bound to a node of this agent (nodeName ${p.spec?.nodeName ?? 'none'})`,
      );
    await this.patchStatus(p, node, this.addressesFor(key, node, p.spec?.hostNetwork === true), ready);
  }

  /** The addresses given to a pod (after the agent has seen it). */
  podIPs(namespace: string, name: string): string[] | undefined {
    return this.given.get(`${namespace}/${name}`);
  }
}
