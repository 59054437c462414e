// One lab node's own processes, beside its FRR: a forwarder (the API at 127.0.0.1:6443 in its
// namespace; its cosmolet's HTTP port out to `<node dir>/http.sock` on the host) and `cosmolet run
// --node-name <node>`. Also `cosmolet lab node stop|start`: the node's FRR and cosmolet go away (the
// leaf drops its next hops when the BGP hold time expires) and come back.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LabError, LabErrorCodes } from '../errors.js';
import { Fabric } from '../fabric/fabric.js';
import { LAB_ROUTE_CLASSES } from '../fabric/config.js';
import { startCosmolet, waitCosmoletReady } from '../cosmolet/start.js';
import { spawnNodeForwarder } from '../cosmolet/forwarder.js';
import {
  isAlive,
  killRecorded,
  kubeKind,
  labProcess,
  NODE_API_PORT,
  NODE_HTTP_PORT,
  NODE_PROBE_PORT,
  writeState,
  type LabNode,
  type LabProcess,
  type LabState,
} from '../state/state.js';
import { labServingCert } from '../access/status-access.js';
import { tokenDir } from '../real-cluster/tokens.js';
import { waitFor } from '../wait.js';

/**
 * cosmolet's config on a lab node: everything advertised, kernel origination, the lab's route
 * classes, HTTPS on every address with the lab's serving certificate (access/status-access.ts).
 */
export function nodeConfig(
  socketDir: string,
  tls?: { certFile: string; keyFile: string },
): Record<string, unknown> {
  return {
    advertise: {
      clusterIP: true,
      loadBalancerIP: true,
      externalIPs: true,
      allowedCIDRs: ['192.0.2.0/24', '2001:db8:96::/64'],
      withdrawOnCordon: true,
    },
    loopIntervalSeconds: 10,
    // The classes the node's FRR route-maps turn into communities (fabric/config.ts).
    routeClasses: Object.fromEntries(LAB_ROUTE_CLASSES.map((c) => [c.name, { mark: c.mark }])),
    frr: { origination: 'kernel', socketDir, commandTimeoutSeconds: 10 },
    // The node's address too: `cosmolet status` reads /status there, as on a real node.
    http: {
      address: `:${NODE_HTTP_PORT}`,
      ...(tls ? { tls: { certFile: tls.certFile, keyFile: tls.keyFile } } : {}),
    },
    logging: { level: 'info', format: 'json' },
  };
}

function record(state: LabState, name: string, pid: number | undefined): void {
  if (pid === undefined) return;
  state.processes = state.processes.filter((p) => p.name !== name);
  state.processes.push(labProcess(name, pid));
  writeState(state);
}

/** Starts a node's forwarder and cosmolet (recorded in the state as `<node>/...`). */
export function startNodeProcesses(state: LabState, fabric: Fabric, node: LabNode): void {
  mkdirSync(node.dir, { recursive: true });
  const forwarder = spawnNodeForwarder(fabric, node.key, [
    [`tcp:127.0.0.1:${NODE_API_PORT}`, `unix:${join(state.dir, 'api.sock')}`],
    [`unix:${join(node.dir, 'http.sock')}`, `tcp:127.0.0.1:${NODE_HTTP_PORT}`],
    [`unix:${join(node.dir, 'probe.sock')}`, `tcp:127.0.0.1:${NODE_PROBE_PORT}`],
  ]);
  record(state, `${node.name}/forward`, forwarder.pid);
  startNodeCosmolet(state, fabric, node);
}

function startNodeCosmolet(state: LabState, fabric: Fabric, node: LabNode): void {
  const cosmolet = startCosmolet(fabric, {
    nodeKey: node.key,
    nodeName: node.name,
    config: nodeConfig(fabric.socketDir(node.key), labServingCert(state.dir)),
    configFile: join(node.dir, 'cosmolet.yaml'),
    logFile: join(node.dir, 'cosmolet.log'),
    // On the real control plane as in a cluster: its Pod's bound token mounted in-cluster style (the
    // cluster process keeps it fresh), never admin credentials; on the double, the lab's kubeconfig.
    credentials:
      kubeKind(state) === 'real'
        ? { serviceAccountDir: tokenDir(node), apiPort: NODE_API_PORT }
        : { kubeconfig: join(state.dir, 'node-kubeconfig') },
  });
  record(state, `${node.name}/cosmolet`, cosmolet.pid);
}

/** /readyz on the node's probe listener (plain, loopback) as the kubelet asks; http serves HTTPS. */
export function waitNodeReady(node: LabNode, timeoutMs = 60_000): Promise<void> {
  return waitCosmoletReady(
    node.name,
    join(node.dir, 'probe.sock'),
    join(node.dir, 'cosmolet.log'),
    timeoutMs,
  );
}

function findNode(state: LabState, name: string): LabNode {
  const node = state.nodes.find((n) => n.name === name);
  if (!node)
    throw new LabError(
      LabErrorCodes.LAB_FAILED,
      `no node ${name} in this lab (its nodes: ${state.nodes.map((n) => n.name).join(', ')})`,
    );
  return node;
}

/** The recorded processes of a node: its FRR daemons and its cosmolet. */
function nodeProcesses(state: LabState, node: LabNode): LabProcess[] {
  return state.processes.filter(
    (p) => p.name.startsWith(`${node.key}/`) || p.name === `${node.name}/cosmolet`,
  );
}

/** `lab node stop NAME`: kill -9 the node's FRR and cosmolet, as a machine that dies. */
export async function stopNode(state: LabState, name: string): Promise<void> {
  const node = findNode(state, name);
  const fabric = Fabric.attach(join(state.dir, 'fabric'));
  const procs = nodeProcesses(state, node);
  for (const p of procs.filter((p) => p.name.endsWith('/cosmolet'))) killRecorded(p);
  await fabric.stopRouter(node.key);
  await waitFor(`${name}'s processes to exit`, () => procs.every((p) => !isAlive(p)), 10_000, 50);
  state.stopped = [...new Set([...(state.stopped ?? []), name])];
  writeState(state);
}

/** `lab node start NAME`: FRR with its config, then cosmolet, back on the node. */
export async function startNode(state: LabState, name: string): Promise<void> {
  const node = findNode(state, name);
  const fabric = Fabric.attach(join(state.dir, 'fabric'));
  if (!fabric.daemonRunning(node.key, 'bgpd')) {
    await fabric.startRouter(node.key);
    for (const d of ['zebra', 'staticd', 'bgpd', 'bfdd'])
      record(
        state,
        `${node.key}/${d}`,
        fabric.daemonRunning(node.key, d) ? fabric.pid(node.key, d) : undefined,
      );
  }
  const cosmolet = state.processes.find((p) => p.name === `${node.name}/cosmolet`);
  if (!cosmolet || !isAlive(cosmolet)) startNodeCosmolet(state, fabric, node);
  state.stopped = (state.stopped ?? []).filter((n) => n !== name);
  writeState(state);
  await waitNodeReady(node);
}
