// The parts of `cosmolet lab up --kube real` that are not processes: which Kubernetes API a lab runs,
// the binaries (built from Kubernetes' Go modules by scripts/go-tools.sh), the objects the lab puts
// in the real cluster beside the manifests (cosmolet's Pods as the DaemonSet would, the operator's
// ServiceAccount), the chart's RBAC rendered with helm, the node agent's nodes and the annotation
// that plays a pod's readiness probe, when a token is renewed, and cosmolet's in-cluster command.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { LabError, LabErrorCodes } from '../errors.js';
import type { KubeObject, Service } from 'cosmolet/model/objects';
import { cachedKubeBinDir, kubeBinDir } from '../control-plane/binaries.js';
import type { AgentNode } from '../control-plane/node-agent.js';
import { REPO_ROOT } from '../paths.js';
import { COSMOLET_NAMESPACE, NODE_HTTP_PORT, type KubeKind, type LabNode } from '../state/state.js';

/** On a Pod (or a Deployment's pod template): "false" makes it NotReady, as a failing readiness probe. */
export const READY_ANNOTATION = 'lab.cosmolet.io/ready';
/** The chart's ServiceAccount, in the chart's namespace (COSMOLET_NAMESPACE). */
export const COSMOLET_SERVICE_ACCOUNT = 'cosmolet';
/** Whose token `lab status`, the view and `cosmolet status` (node-kubeconfig) read /status with. */
export const OPERATOR = { namespace: 'kube-system', name: 'cosmolet-lab-operator' } as const;
/** cosmolet's bound token lives an hour, as the kubelet's projected one (3607 s), renewed at 80 %. */
export const TOKEN_SECONDS = 3600;
export const OPERATOR_TOKEN_SECONDS = 24 * 3600;

/**
 * The API a new lab runs: what was asked, else the real control plane when its binaries are built
 * already (`go-tools.sh kube --cached`), else the double (no build behind the user's back).
 */
export function chooseKube(requested: KubeKind | undefined, cachedBinDir: string | undefined): KubeKind {
  return requested ?? (cachedBinDir !== undefined ? 'real' : 'double');
}

/** `--kube` as given: double or real (undefined: neither). */
export function parseKubeFlag(v: string): KubeKind | undefined {
  return v === 'double' || v === 'real' ? v : undefined;
}

/** The built control plane's bin directory, building it first when needed (minutes, said first). */
export function resolveKubeBinDir(progress: (line: string) => void): string {
  const cached = cachedKubeBinDir();
  if (cached) return cached;
  progress(
    'building the Kubernetes control plane from its Go modules (bash scripts/go-tools.sh kube): the first time takes minutes',
  );
  try {
    return kubeBinDir();
  } catch (err) {
    throw new LabError(
      LabErrorCodes.LAB_PREREQUISITE,
      `${err instanceof Error ? err.message : String(err)} (its output is above)\n` +
        '  fix: bash scripts/go-tools.sh kube (needs Go, https://go.dev/dl), or run the lab on the double: --kube double',
    );
  }
}

/** A helm to render the chart with (Helm 4, built by scripts/go-tools.sh helm4 like the chart tests'). */
export function resolveHelm(progress: (line: string) => void): string {
  const script = join(REPO_ROOT, 'scripts', 'go-tools.sh');
  const cached = spawnSync('bash', [script, 'helm4', '--cached'], { encoding: 'utf8' });
  if (cached.status !== 0)
    progress(
      'building helm from its Go modules (bash scripts/go-tools.sh helm4): the first time takes minutes',
    );
  const r =
    cached.status === 0
      ? cached
      : spawnSync('bash', [script, 'helm4'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = r.stdout.trim();
  if (r.status !== 0 || !dir)
    throw new LabError(
      LabErrorCodes.LAB_PREREQUISITE,
      'building helm failed (its output is above)\n  fix: bash scripts/go-tools.sh helm4, or run the lab on the double: --kube double',
    );
  return join(dir, 'helm');
}

/** The chart's ServiceAccount and RBAC for release `cosmolet` in namespace cosmolet, as `helm template` renders them. */
export function renderRbac(helm: string): string {
  const r = spawnSync(
    helm,
    [
      'template',
      'cosmolet',
      join(REPO_ROOT, 'charts', 'cosmolet'),
      '--namespace',
      COSMOLET_NAMESPACE,
      '--show-only',
      'templates/serviceaccount.yaml',
      '--show-only',
      'templates/rbac.yaml',
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (r.status !== 0)
    throw new LabError(LabErrorCodes.LAB_FAILED, `helm template: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/**
 * The lab's operator: a ServiceAccount bound to cluster-admin whose token is in node-kubeconfig, so
 * `cosmolet status` and the lab's view can read each node's /status (cosmolet checks a bearer token
 * with TokenReview; the admin kubeconfig's client certificate has none).
 */
export function operatorObjects(): KubeObject[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: OPERATOR.name, namespace: OPERATOR.namespace },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: OPERATOR.name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR.name, namespace: OPERATOR.namespace }],
    } as KubeObject,
  ];
}

/** What the kubelet registers for each lab node: its addresses (IPv4, IPv6) and its pod blocks. */
export function agentNodes(nodes: LabNode[]): AgentNode[] {
  return nodes.map((n) => ({ name: n.name, addresses: [n.v4, n.v6], podCIDRs: [n.podCidrV4, n.podCidrV6] }));
}

/** The pod's readiness from READY_ANNOTATION: false for "false", true for "true", else undecided. */
export function podReadiness(pod: KubeObject): boolean | undefined {
  const v = pod.metadata?.annotations?.[READY_ANNOTATION];
  return v === 'false' ? false : v === 'true' ? true : undefined;
}

/** The DaemonSet's pod on a node (hostNetwork; the node agent reports it Running with the node's IPs). */
export function cosmoletPodName(node: LabNode): string {
  return `cosmolet-${node.name}`;
}

export function cosmoletPod(node: LabNode): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: cosmoletPodName(node),
      namespace: COSMOLET_NAMESPACE,
      labels: { 'app.kubernetes.io/name': 'cosmolet', 'app.kubernetes.io/instance': 'cosmolet' },
    },
    spec: {
      nodeName: node.name,
      hostNetwork: true,
      serviceAccountName: COSMOLET_SERVICE_ACCOUNT,
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: 'cosmolet',
          image: 'localhost/cosmolet:lab',
          ports: [{ name: 'http', containerPort: NODE_HTTP_PORT, protocol: 'TCP' }],
        },
      ],
    },
  } as KubeObject;
}

/** When a token issued at `issuedMs` is renewed: at 80 % of its life, as the kubelet does. */
export function tokenRefreshAt(issuedMs: number, expirationSeconds: number): number {
  return issuedMs + Math.floor(expirationSeconds * 800);
}

interface PodLike extends KubeObject {
  spec?: { nodeName?: string; hostNetwork?: boolean };
  status?: {
    podIPs?: { ip: string }[] | null;
    conditions?: { type: string; status: string; reason?: string }[] | null;
  };
}

interface SliceLike extends KubeObject {
  endpoints?:
    { conditions?: { ready?: boolean | null } | null; targetRef?: { kind?: string; name?: string } }[] | null;
}

interface DeploymentLike extends KubeObject {
  spec?: { replicas?: number };
  status?: { observedGeneration?: number; updatedReplicas?: number };
}

export interface Settled {
  settled: boolean;
  /** What is not there yet (the first few), for progress and timeouts. */
  waitingFor: string[];
  /** Pods no node fits (a node the lab does not have, a cordon): Pending, as in any cluster. */
  unschedulable: string[];
}

function condition(p: PodLike, type: string): { status: string; reason?: string } | undefined {
  return p.status?.conditions?.find((c) => c.type === type);
}

/**
 * Whether the real cluster has caught up with its objects: every Deployment rolled out its pods,
 * every pod that can be scheduled is bound, has addresses and a network namespace (`realised`), and
 * every Ready pod a Service selects is a ready endpoint in that Service's EndpointSlices.
 */
export function clusterSettled(input: {
  pods: PodLike[];
  services: Service[];
  slices: SliceLike[];
  deployments: DeploymentLike[];
  nodes: string[];
  realised: Set<string>;
  dataPathSynced: boolean;
}): Settled {
  const waitingFor: string[] = [];
  const unschedulable: string[] = [];
  const key = (o: KubeObject): string => `${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? ''}`;
  for (const d of input.deployments) {
    const rolled =
      (d.status?.observedGeneration ?? 0) >= Number(d.metadata?.['generation'] ?? 1) &&
      (d.status?.updatedReplicas ?? 0) >= (d.spec?.replicas ?? 1);
    if (!rolled) waitingFor.push(`deployment ${key(d)} to create its pods`);
  }
  const live = input.pods.filter((p) => p.spec?.hostNetwork !== true && !p.metadata?.deletionTimestamp);
  for (const p of live) {
    const node = p.spec?.nodeName;
    if (!node) {
      const scheduled = condition(p, 'PodScheduled');
      if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') unschedulable.push(key(p));
      else waitingFor.push(`pod ${key(p)} to be scheduled`);
    } else if (input.nodes.includes(node)) {
      if ((p.status?.podIPs ?? []).length === 0) waitingFor.push(`pod ${key(p)} to get addresses`);
      else if (!input.realised.has(key(p))) waitingFor.push(`pod ${key(p)} to get its network namespace`);
    }
  }
  for (const svc of input.services) {
    const selector = svc.spec?.['selector'] as Record<string, string> | null | undefined;
    if (!selector || Object.keys(selector).length === 0) continue;
    const ns = svc.metadata?.namespace ?? 'default';
    const name = svc.metadata?.name ?? '';
    const ready = new Set<string>();
    for (const s of input.slices) {
      if (s.metadata?.namespace !== ns || s.metadata?.labels?.['kubernetes.io/service-name'] !== name)
        continue;
      for (const ep of s.endpoints ?? [])
        if (ep.conditions?.ready === true && ep.targetRef?.kind === 'Pod' && ep.targetRef.name)
          ready.add(ep.targetRef.name);
    }
    for (const p of live) {
      if ((p.metadata?.namespace ?? 'default') !== ns || (p.status?.podIPs ?? []).length === 0) continue;
      if (condition(p, 'Ready')?.status !== 'True') continue;
      const labels = p.metadata?.labels ?? {};
      if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) continue;
      if (!ready.has(p.metadata?.name ?? ''))
        waitingFor.push(`the EndpointSlices of ${ns}/${name} to have ${key(p)}`);
    }
  }
  if (!input.dataPathSynced) waitingFor.push('the pods and kube-proxy rules to be applied');
  return { settled: waitingFor.length === 0, waitingFor: waitingFor.slice(0, 5), unschedulable };
}
