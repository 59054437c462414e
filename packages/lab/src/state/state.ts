// The lab's state on disk: `<stateDir>/lab.json` says which namespaces and processes one `cosmolet
// lab up` created, so that `lab status` and `lab down` (later processes) find them. It is written
// before anything is created and after every process is started, so a killed `up` leaves a state
// that `lab down` (or the next `up`) can clean up. Processes are identified by pid AND their start
// time (field 22 of /proc/<pid>/stat), so a recycled pid is never killed.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ControlPlaneRecord } from '../control-plane/flags.js';
import { nodeAddressing } from '../fabric/config.js';
import { nodeNames } from '../fabric/topology.js';

export const DEFAULT_STATE_DIR = '/run/cosmolet-lab';
export const DEFAULT_PREFIX = 'cosmolab';
export const DEFAULT_NODES = 3;
/** Where cosmolet in a lab namespace reaches the API (the double's certificate names 127.0.0.1). */
export const NODE_API_PORT = 6443;
/** cosmolet's HTTP port on every node (all addresses: the node's address and loopback). */
export const NODE_HTTP_PORT = 8080;
/** cosmolet's probe listener on every node (http.probeAddress's default: the node's loopback). */
export const NODE_PROBE_PORT = 8081;
/** Where the lab's cosmolet pods are, as the chart installs them. */
export const COSMOLET_NAMESPACE = 'cosmolet';

/** A node of the lab: a Kubernetes node name, its namespace, address and pod block. */
export interface LabNode {
  name: string;
  /** The fabric's router key (`node` or `node1`..`nodeN`). */
  key: string;
  ns: string;
  /** Its address (a loopback the leaf learns by BGP): the Node's InternalIP and the pod's hostIP. */
  v4: string;
  v6: string;
  podCidrV4: string;
  podCidrV6: string;
  /** Its files: cosmolet.yaml, cosmolet.log, http.sock, probe.sock. */
  dir: string;
}

export function labNodes(prefix: string, dir: string, count: number): LabNode[] {
  return nodeNames(prefix, count).map((n) => {
    const a = nodeAddressing(n.index);
    const name = `lab-node-${n.index + 1}`;
    return {
      name,
      key: n.key,
      ns: n.ns,
      v4: a.routerId,
      v6: a.loopbackV6,
      podCidrV4: `10.244.${n.index + 1}.0/24`,
      podCidrV6: `fd00:10:244:${n.index + 1}::/64`,
      dir: join(dir, 'nodes', name),
    };
  });
}

export interface LabProcess {
  /** What it is: `cluster`, `lab-node-1/cosmolet`, `lab-node-1/forward-api`, `node1/bgpd`, ... */
  name: string;
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22); guards against pid reuse. */
  startTime: number | undefined;
}

/** Which Kubernetes API the lab runs: the embedded double, or a real control plane (`--kube real`). */
export type KubeKind = 'double' | 'real';

export interface LabKube {
  kind: KubeKind;
  /** kube-apiserver's version (real). */
  version?: string;
  /** The real control plane's processes, ports and directories: what ControlPlane.attach takes. */
  controlPlane?: ControlPlaneRecord;
  /** The kubectl built with it (real); also linked as <stateDir>/kubectl. */
  kubectl?: string;
}

export interface LabState {
  version: 2;
  prefix: string;
  dir: string;
  manifests: string;
  status: 'starting' | 'up';
  startedAt: string;
  /** The process that ran `lab up` (for messages only). */
  upPid: number;
  processes: LabProcess[];
  kubeconfig: string;
  nodes: LabNode[];
  /** Nodes stopped with `lab node stop` (their FRR and cosmolet are not expected to run). */
  stopped?: string[];
  /** Absent in a lab started before `--kube`: the double. */
  kube?: LabKube;
}

export function kubeKind(state: LabState): KubeKind {
  return state.kube?.kind ?? 'double';
}

export function stateFile(dir: string): string {
  return join(dir, 'lab.json');
}

export function readState(dir: string): LabState | undefined {
  const file = stateFile(dir);
  if (!existsSync(file)) return undefined;
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as LabState;
    return v.version === 2 && typeof v.prefix === 'string' && Array.isArray(v.nodes) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Atomic (write + rename), so a killed writer never leaves half a file. */
export function writeState(state: LabState): void {
  const file = stateFile(state.dir);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, file);
}

export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(fields[19]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** True when the process recorded is still the same process (same pid, same start time). */
export function isAlive(p: LabProcess): boolean {
  const st = processStartTime(p.pid);
  if (st === undefined) return false;
  if (p.startTime !== undefined && st !== p.startTime) return false;
  // A zombie is dead for our purposes.
  try {
    const status = readFileSync(`/proc/${p.pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

export function labProcess(name: string, pid: number): LabProcess {
  return { name, pid, startTime: processStartTime(pid) };
}

/** SIGKILL (after SIGCONT) a recorded process if it is still the same process. */
export function killRecorded(p: LabProcess): boolean {
  if (!isAlive(p)) return false;
  try {
    process.kill(p.pid, 'SIGCONT');
    process.kill(p.pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}
