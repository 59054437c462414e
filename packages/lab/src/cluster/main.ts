// The lab's simulated cluster, one detached process started by `cosmolet lab up` that outlives it:
//   node packages/lab/dist/cluster/main.js --dir LABDIR --prefix P --manifests DIR --token T
// - the Kubernetes API double on 127.0.0.1:<free port> in the host namespace (kubectl works against
//   LABDIR/kubeconfig) and a unix socket bridge LABDIR/api.sock to it, which a forwarder in each lab
//   namespace serves on 127.0.0.1:6443 (LABDIR/node-kubeconfig: cosmolet, and `cosmolet status`);
// - what kubelets and the DaemonSet would register: a Node per lab node (LABDIR/lab.json), with its
//   address and pod block, and a cosmolet Pod on each (namespace cosmolet, hostNetwork, hostIP);
// - the manifest directory, kept in the cluster (inotify plus a 1 s poll);
// - the data path: pods and kube-proxy rules (pods/pods.ts) following the cluster's objects;
// - a control socket LABDIR/ctl.sock (plain HTTP): GET /state for `lab status`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { EXIT_USAGE, errorMessage } from 'cosmolet/errors';
import type { EndpointSlice, KubeObject, Service } from 'cosmolet/model/objects';
import type { Logger } from 'cosmolet/logger';
import { createLogger } from 'cosmolet/observe/log';
import { FakeApiServer } from '@cosmolet/kube-double/apiserver';
import { discoveryDocument } from '@cosmolet/kube-double/discovery';
import { startForwarder } from '../forward/forward.js';
import { ManifestSync, watchManifestDir } from './manifests.js';
import { dataPath } from '../pods/datapath.js';
import { PodManager } from '../pods/pods.js';
import { labServingCert, STATUS_USER, statusAccessObjects } from '../access/status-access.js';
import {
  COSMOLET_NAMESPACE,
  NODE_API_PORT,
  NODE_HTTP_PORT,
  readState,
  type LabNode,
} from '../state/state.js';
import { serveControl } from '../access/unix.js';
import { LAB_MAINS } from '../paths.js';

/** What the kubelets and the cosmolet DaemonSet would register: a Node and a cosmolet Pod per node. */
function registerNodes(api: FakeApiServer, nodes: LabNode[]): void {
  for (const n of nodes) {
    // A Node already there (kubectl cordon, a manifest) is kept as it is.
    if (api.get('nodes', undefined, n.name) === undefined)
      api.upsert('nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux' } },
        spec: { podCIDR: n.podCidrV4, podCIDRs: [n.podCidrV4, n.podCidrV6] },
        status: {
          addresses: [
            { type: 'InternalIP', address: n.v4 },
            { type: 'InternalIP', address: n.v6 },
            { type: 'Hostname', address: n.name },
          ],
          conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
        },
      } as KubeObject);
    api.upsert('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `cosmolet-${n.name}`,
        namespace: COSMOLET_NAMESPACE,
        labels: { 'app.kubernetes.io/name': 'cosmolet', 'app.kubernetes.io/instance': 'cosmolet' },
      },
      spec: {
        nodeName: n.name,
        hostNetwork: true,
        containers: [
          { name: 'cosmolet', ports: [{ name: 'http', containerPort: NODE_HTTP_PORT, protocol: 'TCP' }] },
        ],
      },
      status: {
        phase: 'Running',
        hostIP: n.v4,
        hostIPs: [{ ip: n.v4 }, { ip: n.v6 }],
        podIP: n.v4,
        podIPs: [{ ip: n.v4 }, { ip: n.v6 }],
      },
    } as KubeObject);
  }
}

interface ClusterArgs {
  dir: string;
  prefix: string;
  manifests: string;
  token: string;
  nodes: LabNode[];
}

/** The flags, and the nodes from LABDIR/lab.json; exits 2 when something is missing. */
function clusterArgs(): ClusterArgs {
  let values: { dir?: string; prefix?: string; manifests?: string; token?: string };
  try {
    ({ values } = parseArgs({
      options: {
        dir: { type: 'string' },
        prefix: { type: 'string' },
        manifests: { type: 'string' },
        token: { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`lab-cluster: ${errorMessage(err)}\n`);
    process.exit(EXIT_USAGE);
  }
  const { dir, prefix, manifests, token } = values;
  if (!dir || !prefix || !manifests || !token) {
    process.stderr.write('lab-cluster: --dir, --prefix, --manifests and --token are required\n');
    process.exit(EXIT_USAGE);
  }
  const nodes = readState(dir)?.nodes;
  if (!nodes || nodes.length === 0) {
    process.stderr.write(`lab-cluster: no lab nodes in ${dir}/lab.json\n`);
    process.exit(EXIT_USAGE);
  }
  return { dir, prefix, manifests, token, nodes };
}

/** The API double, its kubeconfigs (host and node namespaces) and the unix socket bridge to it. */
async function startApi(dir: string, token: string): Promise<FakeApiServer> {
  const api = await FakeApiServer.start({ host: '127.0.0.1', port: 0, token });
  // `cosmolet status` and the lab's view read /status as the chart's cosmolet-status ServiceAccount,
  // with a token bound to audience cosmolet, verifying the lab's CA from the cosmolet-ca ConfigMap.
  for (const o of statusAccessObjects(readFileSync(labServingCert(dir).caFile, 'utf8')))
    api.upsert(o.kind === 'ConfigMap' ? 'configmaps' : 'serviceaccounts', o);
  for (const path of ['/status', '/metrics', '/readyz']) api.allow(STATUS_USER, 'get', path);
  api.writeKubeconfig(join(dir, 'kubeconfig'));
  const kc = parseYaml(api.kubeconfig()) as { clusters: { cluster: { server: string } }[] };
  for (const c of kc.clusters) c.cluster.server = `https://127.0.0.1:${NODE_API_PORT}`;
  writeFileSync(join(dir, 'node-kubeconfig'), stringifyYaml(kc), { mode: 0o600 });
  await startForwarder(
    { kind: 'unix', path: join(dir, 'api.sock') },
    { kind: 'tcp', host: '127.0.0.1', port: api.port },
  );
  return api;
}

/** Keeps the manifest directory in the cluster: applied now, then on inotify and a 1 s poll. */
function followManifests(manifests: string, api: FakeApiServer, logger: Logger): ManifestSync {
  const sync = new ManifestSync(manifests, api);
  const applyManifests = (why: string): void => {
    try {
      const r = sync.sync();
      if (r.created + r.updated + r.deleted > 0 || r.errors.length > 0)
        logger.info(
          { why, created: r.created, updated: r.updated, deleted: r.deleted, errors: r.errors },
          'manifests applied',
        );
    } catch (err) {
      logger.error({ err: errorMessage(err) }, 'manifests could not be applied');
    }
  };
  applyManifests('start');
  watchManifestDir(manifests, applyManifests);
  return sync;
}

interface DataPathReport {
  synced: boolean;
  error: string | null;
  warnings: string[];
}

/** Pods and kube-proxy rules that follow the cluster (manifests and kubectl alike), every 200 ms. */
async function followDataPath(
  args: ClusterArgs,
  api: FakeApiServer,
  logger: Logger,
): Promise<{ pods: PodManager; report: () => DataPathReport }> {
  const { prefix, dir, nodes } = args;
  const pods = new PodManager({
    prefix,
    nodeNs: new Map(nodes.map((n) => [n.name, n.ns])),
    dir,
    podMain: LAB_MAINS.pod,
    logger,
  });
  await pods.removeLeftovers();
  let warnings: string[] = [];
  let appliedRv = -1;
  let busy = false;
  let dataPathError: string | undefined;
  const reconcile = async (): Promise<void> => {
    if (busy || api.resourceVersion === appliedRv) return;
    busy = true;
    const rv = api.resourceVersion;
    try {
      const dp = dataPath(api.list<Service>('services'), api.list<EndpointSlice>('endpointslices'), nodes);
      warnings = dp.warnings;
      await pods.apply(dp);
      appliedRv = rv;
      dataPathError = undefined;
    } catch (err) {
      dataPathError = errorMessage(err);
      logger.error({ err: dataPathError }, 'data path could not be applied');
    } finally {
      busy = false;
    }
  };
  await reconcile();
  setInterval(() => void reconcile(), 200);
  return {
    pods,
    report: () => ({ synced: appliedRv === api.resourceVersion, error: dataPathError ?? null, warnings }),
  };
}

async function main(): Promise<void> {
  const args = clusterArgs();
  const logger = createLogger('info', 'json');
  const api = await startApi(args.dir, args.token);
  registerNodes(api, args.nodes);
  const sync = followManifests(args.manifests, api, logger);
  const dp = await followDataPath(args, api, logger);
  const version = (discoveryDocument('/version', '') as { gitVersion: string }).gitVersion;
  await serveControl(join(args.dir, 'ctl.sock'), () => ({
    ready: true,
    apiServer: { kind: 'double', version },
    pid: process.pid,
    apiUrl: api.url,
    manifests: sync.report(),
    dataPath: dp.report(),
    pods: dp.pods.pods,
    services: api.list('services'),
    endpointslices: api.list('endpointslices'),
    nodes: api.list('nodes'),
  }));
  logger.info({ api: api.url, manifests: args.manifests }, 'lab cluster ready');
  const stop = (): void => process.exit(0);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`lab-cluster: ${errorMessage(err)}\n`);
  process.exit(1);
});
