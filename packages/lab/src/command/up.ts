// `cosmolet lab up`: the lab's start, in steps. Everything it starts is detached (own session, so a
// Ctrl-C at the terminal does not reach it) and recorded in `<stateDir>/lab.json` before or right
// after it is created, so `lab down` (down.ts) or the next `up` can remove a half-made lab.
//
// Processes of a running lab with N nodes (namespaces `<prefix>-node1`..`-nodeN`; `-node` for one):
//   host namespace: cluster/main (API double, manifest watch, pods and kube-proxy rules); with
//                   --kube real instead: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
//                   (real-cluster/up.ts) and real-cluster/main (node agent, tokens, manifests, pods)
//   each node:      zebra, staticd, bgpd, cosmolet run --node-name lab-node-<i>, a forwarder
//                   (the API in, cosmolet's HTTP out to <stateDir>/nodes/<node>/http.sock)
//   <prefix>-leaf:  zebra, staticd, bgpd, a forwarder (the API, for `cosmolet status` there)
//   <prefix>-ext:   gobgpd          <prefix>-pod-*: one tiny HTTP server per pod
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { LabError, LabErrorCodes } from '../errors.js';
import { Fabric } from '../fabric/fabric.js';
import { MAX_NODES } from '../fabric/topology.js';
import { cachedKubeBinDir } from '../control-plane/binaries.js';
import { labDown } from './down.js';
import { startNodeProcesses, waitNodeReady } from './node.js';
import { tail } from '../cosmolet/start.js';
import { checkLabPrerequisites, checkTraversable, probeNetns } from '../state/prereq.js';
import { LAB_MAINS, REPO_ROOT } from '../paths.js';
import { chooseKube, resolveHelm, resolveKubeBinDir } from '../real-cluster/kube.js';
import { reuseOrClear } from './reuse.js';
import { startControlPlaneStep, waitSettledStep } from '../real-cluster/up.js';
import {
  DEFAULT_NODES,
  labNodes,
  labProcess,
  NODE_API_PORT,
  writeState,
  type KubeKind,
  type LabState,
} from '../state/state.js';
import { getUnix } from '../access/unix.js';
import { gatherView } from './view.js';
import { waitFor } from '../wait.js';

export const DEFAULT_MANIFESTS = join(REPO_ROOT, 'examples', 'lab');
/** The same Services and story with Deployments whose pods the real scheduler places. */
export const DEFAULT_REAL_MANIFESTS = join(REPO_ROOT, 'examples', 'lab-real');

export interface LabOptions {
  stateDir: string;
  prefix: string;
  /** Default: examples/lab (double) or examples/lab-real (real). */
  manifests?: string;
  /** The API asked for (`--kube`); default: real when its binaries are built, else the double. */
  kube?: KubeKind;
  /** How many nodes (1 to 8). */
  nodes?: number;
  /** Progress lines go here. */
  progress: (line: string) => void;
  /** How the user runs cosmolet (`cosmolet` or `node dist/cli.js`), for the printed commands. */
  command: string;
  /** Flags the printed `lab` commands need (a non-default --state-dir), with a leading space. */
  labFlags?: string;
  /** BFD on the node-leaf session (bfdd on node and leaf). */
  bfd?: boolean;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function timed(started: number): string {
  return `${((Date.now() - started) / 1000).toFixed(1)} s`;
}

export type UpResult = { state: LabState; reused: boolean; seconds: number };

function recorder(state: LabState): (name: string, pid: number | undefined) => void {
  return (name, pid) => {
    if (pid === undefined) return;
    state.processes.push(labProcess(name, pid));
    writeState(state);
  };
}

/**
 * The fabric (leaf, nodes, GoBGP) with the lab's addressing. Once its namespaces exist, and while
 * FRR starts, `alongside` starts the cluster and cosmolet (they wait for FRR by themselves).
 */
async function startFabricStep(
  o: LabOptions,
  state: LabState,
  alongside: (fabric: Fabric) => Promise<void>,
): Promise<Fabric> {
  const t = Date.now();
  const names = state.nodes.map((n) => n.ns).join(', ');
  o.progress(
    `starting the fabric: namespaces ${names}, ${state.prefix}-leaf, ${state.prefix}-ext; FRR and GoBGP`,
  );
  const fabricDir = join(state.dir, 'fabric');
  mkdirSync(fabricDir, { recursive: true });
  const fabric: Fabric = new Fabric({
    prefix: state.prefix,
    dir: fabricDir,
    persistent: true,
    nodes: state.nodes.length,
    leafNetworks: ['10.255.0.2/32', 'fd00:255::2/128'],
    // Each node announces its loopback (its address) and its pod block, as Calico nodes do.
    nodeNetworks: state.nodes.map((n) => [`${n.v4}/32`, `${n.v6}/128`, n.podCidrV4, n.podCidrV6]),
    defaultToNodes: true,
    bfd: o.bfd === true,
    onTopology: () => alongside(fabric),
  });
  const record = recorder(state);
  try {
    await fabric.start();
  } finally {
    for (const [name, pid] of fabric.daemonPids()) record(name, pid);
  }
  o.progress(
    `  FRR and GoBGP up, BGP sessions Established (${plural(state.nodes.length, 'node')} to the leaf over IPv6 unnumbered, to GoBGP v4 and v6) in ${timed(t)}`,
  );
  return fabric;
}

interface ClusterProcessState {
  services: unknown[];
  pods: unknown[];
  manifests: { errors: { file: string; message: string }[] };
  dataPath: { warnings: string[] };
}

/** Starts the cluster process (a compiled main of packages/lab) and waits for its control socket to answer. */
async function spawnClusterProcess(
  state: LabState,
  main: string,
  args: string[],
): Promise<ClusterProcessState> {
  const clusterLog = join(state.dir, 'cluster.log');
  const fd = openSync(clusterLog, 'a');
  const cluster = spawn(
    process.execPath,
    [main, '--dir', state.dir, '--prefix', state.prefix, '--manifests', state.manifests, ...args],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  cluster.unref();
  recorder(state)('cluster', cluster.pid);
  return waitFor(
    'the cluster process',
    async () => {
      if (cluster.exitCode !== null)
        throw new LabError(LabErrorCodes.LAB_FAILED, `the cluster process exited:\n${tail(clusterLog)}`);
      const r = await getUnix(join(state.dir, 'ctl.sock'), '/state');
      return r.status === 200 ? (JSON.parse(r.body) as ClusterProcessState) : undefined;
    },
    60_000,
    50,
  );
}

/** What the manifests and the data path reported, once. */
function reportCluster(o: LabOptions, state: LabState, clusterState: ClusterProcessState): void {
  for (const e of clusterState.manifests.errors) o.progress(`  manifest ${e.file}: ${e.message}`);
  // With fewer nodes than the manifests name, say once where those pods went.
  const elsewhere = clusterState.dataPath.warnings.filter((w) => w.includes('is not in the lab'));
  if (elsewhere.length > 0)
    o.progress(
      `  ${elsewhere.length} pods name nodes this lab does not have; they run on ${state.nodes[0]?.name ?? ''}`,
    );
  for (const w of clusterState.dataPath.warnings) if (!elsewhere.includes(w)) o.progress(`  data path: ${w}`);
}

/** The simulated cluster (API double, manifests, Nodes and cosmolet Pods, data path). */
async function startClusterStep(o: LabOptions, state: LabState): Promise<void> {
  const t = Date.now();
  const clusterState = await spawnClusterProcess(state, LAB_MAINS.cluster, [
    '--token',
    randomBytes(16).toString('hex'),
  ]);
  o.progress(
    `  simulated cluster from ${state.manifests}: ${clusterState.services.length} Services, ${clusterState.pods.length} pods with kube-proxy rules, in ${timed(t)}`,
  );
  reportCluster(o, state, clusterState);
}

/** cosmolet on every node, and the API in the leaf for `cosmolet status`; started, not yet ready. */
function startNodesStep(state: LabState, fabric: Fabric): void {
  recorder(state)(
    'leaf/forward',
    fabric.spawn('leaf', [
      process.execPath,
      LAB_MAINS.forward,
      '--listen',
      `tcp:127.0.0.1:${NODE_API_PORT}`,
      '--connect',
      `unix:${join(state.dir, 'api.sock')}`,
    ]).pid,
  );
  for (const node of state.nodes) startNodeProcesses(state, fabric, node);
}

/** The leaf holds every advertised prefix with one next hop per advertising node. */
async function waitLeafStep(o: LabOptions, state: LabState, fabric: Fabric): Promise<void> {
  const t = Date.now();
  const n = await waitFor(
    'the leaf and GoBGP to hold the advertised routes',
    async () => {
      const v = await gatherView(state, fabric);
      if (v.prefixes.length === 0 && v.services.length > 0) return undefined;
      const ok = v.prefixes.every(
        (p) => p.nodes.length === p.leafNextHops && (p.nodes.length === 0 || p.gobgp),
      );
      return ok ? v.prefixes.filter((p) => p.nodes.length > 0).length : undefined;
    },
    30_000,
    100,
  );
  o.progress(`  ${n} prefixes at the leaf (one next hop per advertising node) and GoBGP in ${timed(t)}`);
}

/** A new lab's state, written before anything is created so `lab down` can always remove it. */
function newLabState(o: LabOptions, dir: string, manifests: string, count: number, kind: KubeKind): LabState {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  checkTraversable(dir);
  const state: LabState = {
    version: 2,
    prefix: o.prefix,
    dir,
    manifests,
    status: 'starting',
    startedAt: new Date().toISOString(),
    upPid: process.pid,
    processes: [],
    kubeconfig: join(dir, 'kubeconfig'),
    nodes: labNodes(o.prefix, dir, count),
    kube: { kind },
  };
  writeState(state);
  return state;
}

/** Everything, in order: the fabric (and, beside FRR, the cluster and cosmolet), then readiness. */
async function startLab(o: LabOptions, state: LabState): Promise<void> {
  o.progress(
    `starting the simulated cluster and cosmolet run on ${state.nodes.map((n) => n.name).join(', ')}`,
  );
  let cluster: Promise<void> = Promise.resolve();
  const fabric = await startFabricStep(o, state, async (f) => {
    cluster = startClusterStep(o, state);
    startNodesStep(state, f);
    await cluster;
  });
  await cluster;
  const t = Date.now();
  await Promise.all(state.nodes.map((n) => waitNodeReady(n)));
  o.progress(`  cosmolet ready on ${plural(state.nodes.length, 'node')} (${timed(t)} after FRR)`);
  await waitLeafStep(o, state, fabric);
  state.status = 'up';
  writeState(state);
}

/**
 * The same on the real control plane: it starts beside FRR; once it answers, the cluster process
 * (node agent, tokens, manifests, pods) and then cosmolet (which needs its token); then the wait for
 * the cluster to catch up with its manifests, for cosmolet and for the leaf.
 */
async function startRealLab(o: LabOptions, state: LabState, binDir: string, helm: string): Promise<void> {
  o.progress(
    `starting the real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) and cosmolet run on ${state.nodes.map((n) => n.name).join(', ')}`,
  );
  const controlPlane = startControlPlaneStep(o.progress, state, binDir, helm);
  controlPlane.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
  let cluster: Promise<void> = Promise.resolve();
  let t = Date.now();
  let fabric: Fabric;
  try {
    // FRR does not wait for the control plane: the cluster and cosmolet follow it once it answers.
    fabric = await startFabricStep(o, state, (f) => {
      cluster = (async () => {
        await controlPlane;
        t = Date.now();
        reportCluster(o, state, await spawnClusterProcess(state, LAB_MAINS.realCluster, []));
        startNodesStep(state, f);
      })();
      cluster.catch(() => undefined); // awaited below
      return Promise.resolve();
    });
    await cluster;
  } catch (err) {
    // Whatever the control plane and the cluster started is recorded before the caller removes the lab.
    await Promise.allSettled([controlPlane, cluster]);
    throw err;
  }
  const [settled] = await Promise.all([waitSettledStep(state), ...state.nodes.map((n) => waitNodeReady(n))]);
  o.progress(
    `  real cluster from ${state.manifests}: ${settled.services.length} Services, ${settled.pods.length} pods bound by kube-scheduler ` +
      `(network namespaces, kube-proxy rules), EndpointSlices from kube-controller-manager, cosmolet ready on ${plural(state.nodes.length, 'node')}, in ${timed(t)}`,
  );
  const pending = settled.settled?.unschedulable ?? [];
  if (pending.length > 0)
    o.progress(
      `  ${plural(pending.length, 'pod')} Pending, no node fits (${pending.slice(0, 3).join(', ')}${pending.length > 3 ? ', ...' : ''}): kubectl get pods -A`,
    );
  await waitLeafStep(o, state, fabric);
  state.status = 'up';
  writeState(state);
}

export async function labUp(o: LabOptions): Promise<UpResult> {
  const t0 = Date.now();
  const dir = resolve(o.stateDir);
  const count = o.nodes ?? DEFAULT_NODES;
  if (!Number.isInteger(count) || count < 1 || count > MAX_NODES)
    throw new LabError(LabErrorCodes.LAB_FAILED, `--nodes must be 1 to ${MAX_NODES}: ${count}`);
  o.progress('checking prerequisites (root, network namespaces, FRR, GoBGP, nftables)');
  checkLabPrerequisites(o.command);
  const existing = await reuseOrClear(o, dir, o.manifests === undefined ? undefined : resolve(o.manifests));
  if (existing) return { state: existing, reused: true, seconds: (Date.now() - t0) / 1000 };
  const kind = chooseKube(o.kube, o.kube === 'double' ? undefined : cachedKubeBinDir());
  const manifests = resolve(o.manifests ?? (kind === 'real' ? DEFAULT_REAL_MANIFESTS : DEFAULT_MANIFESTS));
  if (!existsSync(manifests))
    throw new LabError(LabErrorCodes.LAB_FAILED, `the manifest directory ${manifests} does not exist`);
  // Built before anything is created (minutes the first time, said first).
  const binDir = kind === 'real' ? resolveKubeBinDir(o.progress) : undefined;
  const helm = kind === 'real' ? resolveHelm(o.progress) : undefined;
  probeNetns(o.prefix);
  const state = newLabState(o, dir, manifests, count, kind);
  try {
    if (binDir !== undefined && helm !== undefined) await startRealLab(o, state, binDir, helm);
    else await startLab(o, state);
    return { state, reused: false, seconds: (Date.now() - t0) / 1000 };
  } catch (err) {
    o.progress('start failed; removing what was created');
    await labDown({ stateDir: dir, prefix: o.prefix }).catch(() => undefined);
    throw err;
  }
}
