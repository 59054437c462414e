// The lab's cluster process on a real control plane (`cosmolet lab up --kube real`), one detached
// process started by `lab up` that outlives it, beside the control plane that `lab up` started
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler; recorded in LABDIR/lab.json):
//   node packages/lab/dist/real-cluster/main.js --dir LABDIR --prefix P --manifests DIR
// - a unix socket bridge LABDIR/api.sock to kube-apiserver, which a forwarder in each lab namespace
//   serves on 127.0.0.1:6443 (the API server's certificate names 127.0.0.1);
// - the node agent (control-plane/node-agent.ts) for the lab's nodes: Nodes with their addresses and
//   pod blocks, Leases, pod addresses and readiness (annotation lab.cosmolet.io/ready: "false" plays
//   a failing readiness probe);
// - cosmolet's Pods and their bound ServiceAccount tokens, renewed (tokens.ts), and the
//   operator's token in LABDIR/node-kubeconfig;
// - the manifest directory, server-side applied (manifests.ts), and the load-balancer
//   controller's part: each LoadBalancer Service's ingress IPs from its file, written to its status;
// - the data path: the Pods the scheduler bound, as network namespaces, and each node's kube-proxy
//   rules from the real EndpointSlices (pods/pods.ts, pods/datapath.ts);
// - a control socket LABDIR/ctl.sock (plain HTTP): GET /state for `lab up` and `lab status`.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EXIT_USAGE, errorMessage } from 'cosmolet/errors';
import { loadKubeClient, type KubeClient } from 'cosmolet/kube/client';
import type { EndpointSlice, Service } from 'cosmolet/model/objects';
import type { Logger } from 'cosmolet/logger';
import { createLogger } from 'cosmolet/observe/log';
import { ControlPlane } from '../control-plane/control-plane.js';
import { NodeAgent } from '../control-plane/node-agent.js';
import { startForwarder } from '../forward/forward.js';
import { clusterDataPath, type ClusterPod } from '../pods/datapath.js';
import { WatchCache } from './kube-cache.js';
import { watchManifestDir } from '../cluster/manifests.js';
import { PodManager } from '../pods/pods.js';
import { agentNodes, clusterSettled, podReadiness } from './kube.js';
import { ingressPatch, RealManifestSync } from './manifests.js';
import { readState, type LabNode } from '../state/state.js';
import { TokenKeeper } from './tokens.js';
import { serveControl } from '../access/unix.js';
import { LAB_MAINS } from '../paths.js';

interface Args {
  dir: string;
  prefix: string;
  manifests: string;
  nodes: LabNode[];
  cp: ControlPlane;
}

function fail(message: string): never {
  process.stderr.write(`lab-real-cluster: ${message}\n`);
  process.exit(EXIT_USAGE);
}

function args(): Args {
  let values: { dir?: string; prefix?: string; manifests?: string };
  try {
    ({ values } = parseArgs({
      options: {
        dir: { type: 'string' },
        prefix: { type: 'string' },
        manifests: { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    fail(errorMessage(err));
  }
  const { dir, prefix, manifests } = values;
  if (!dir || !prefix || !manifests) fail('--dir, --prefix and --manifests are required');
  const state = readState(dir);
  const record = state?.kube?.controlPlane;
  if (!state || state.nodes.length === 0 || !record) fail(`no lab nodes or control plane in ${dir}/lab.json`);
  return {
    dir,
    prefix,
    manifests,
    nodes: state.nodes,
    cp: ControlPlane.attach(record),
  };
}

/** A few errors of the background loops, newest last, for /state and the log. */
class Errors {
  readonly recent: string[] = [];
  constructor(private readonly logger: Logger) {}
  add(what: string, err: unknown): void {
    const message = `${what}: ${errorMessage(err)}`;
    this.logger.warn({ err: message }, 'cluster loop error');
    this.recent.push(message);
    if (this.recent.length > 10) this.recent.shift();
  }
}

/** Applies the manifest directory now and on every change, one sync at a time. */
async function followManifests(
  a: Args,
  admin: KubeClient,
  logger: Logger,
  errors: Errors,
): Promise<RealManifestSync> {
  const sync = new RealManifestSync(a.manifests, admin);
  let running: Promise<void> = Promise.resolve();
  const apply = (why: string): Promise<void> => {
    running = running.then(async () => {
      try {
        const r = await sync.sync();
        if (r.created + r.updated + r.deleted > 0 || r.errors.length > 0)
          logger.info(
            { why, created: r.created, updated: r.updated, deleted: r.deleted, errors: r.errors },
            'manifests applied',
          );
      } catch (err) {
        errors.add('manifests', err);
      }
    });
    return running;
  };
  await apply('start');
  watchManifestDir(a.manifests, (why) => void apply(why));
  return sync;
}

async function main(): Promise<void> {
  const a = args();
  const logger = createLogger('info', 'json');
  const errors = new Errors(logger);
  const { cp } = a;
  await startForwarder(
    { kind: 'unix', path: join(a.dir, 'api.sock') },
    { kind: 'tcp', host: '127.0.0.1', port: cp.record.apiserverPort },
  );
  const admin = await loadKubeClient({ kubeconfigPath: cp.adminKubeconfig });
  const agent = new NodeAgent({
    client: admin,
    nodes: agentNodes(a.nodes),
    readiness: podReadiness,
    onError: (what, err) => errors.add(`node agent ${what}`, err),
  });
  await agent.start();
  const tokens = new TokenKeeper(admin, {
    nodes: a.nodes,
    caCert: cp.pki.caCert,
    operatorKubeconfig: join(a.dir, 'node-kubeconfig'),
  });
  logger.info({ renewed: await tokens.ensure() }, 'cosmolet pods and tokens');
  setInterval(() => {
    tokens.ensure().then(
      (renewed) => {
        if (renewed.length > 0) logger.info({ renewed }, 'tokens renewed');
      },
      (err: unknown) => errors.add('tokens', err),
    );
  }, 5000);

  const pods = new WatchCache<ClusterPod>(admin, '/api/v1/pods');
  const services = new WatchCache<Service>(admin, '/api/v1/services');
  const slices = new WatchCache<EndpointSlice>(admin, '/apis/discovery.k8s.io/v1/endpointslices');
  const deployments = new WatchCache(admin, '/apis/apps/v1/deployments');
  const nodes = new WatchCache(admin, '/api/v1/nodes');
  await Promise.all([pods, services, slices, deployments, nodes].map((c) => c.start()));
  const sync = await followManifests(a, admin, logger, errors);

  const podManager = new PodManager({
    prefix: a.prefix,
    nodeNs: new Map(a.nodes.map((n) => [n.name, n.ns])),
    dir: a.dir,
    podMain: LAB_MAINS.pod,
    logger,
  });
  await podManager.removeLeftovers();
  let warnings: string[] = [];
  let applied = '';
  let dataPathError: string | undefined;
  let busy = false;
  /** The Service version last patched, so a patch is not sent again before the cache has caught up. */
  const patchedAt = new Map<string, string | undefined>();
  const seen = (): string => `${pods.version}/${services.version}/${slices.version}`;
  const reconcile = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      // The load-balancer controller's part: ingress IPs as the files say.
      for (const [key, want] of sync.intent()) {
        const [ns = 'default', name = ''] = key.split('/');
        const svc = services.get(ns, name);
        const patch = svc ? ingressPatch(svc, want) : undefined;
        if (!patch || patchedAt.get(key) === svc?.metadata?.resourceVersion) continue;
        patchedAt.set(key, svc?.metadata?.resourceVersion);
        const r = await admin.request('PATCH', `/api/v1/namespaces/${ns}/services/${name}/status`, patch, {
          contentType: 'application/merge-patch+json',
        });
        if (r.status >= 300)
          errors.add(`load balancer ${key}`, new Error(`HTTP ${r.status} ${r.body.slice(0, 200)}`));
        else logger.info({ service: key, ingress: want }, 'load balancer ingress written');
      }
      const v = seen();
      if (v === applied) return;
      const dp = clusterDataPath(services.list(), slices.list(), pods.list(), a.nodes);
      warnings = dp.warnings;
      await podManager.apply(dp);
      applied = v;
      dataPathError = undefined;
    } catch (err) {
      dataPathError = errorMessage(err);
      errors.add('data path', err);
    } finally {
      busy = false;
    }
  };
  await reconcile();
  setInterval(() => void reconcile(), 200);

  await serveControl(join(a.dir, 'ctl.sock'), () => ({
    ready: true,
    pid: process.pid,
    apiUrl: cp.server,
    apiServer: { kind: 'kube-apiserver', version: cp.version },
    manifests: sync.report(),
    dataPath: { synced: applied === seen(), error: dataPathError ?? null, warnings },
    settled: clusterSettled({
      pods: pods.list(),
      services: services.list(),
      slices: slices.list(),
      deployments: deployments.list(),
      nodes: a.nodes.map((n) => n.name),
      realised: new Set(podManager.pods.map((p) => p.key)),
      dataPathSynced: applied === seen(),
    }),
    errors: errors.recent,
    pods: podManager.pods,
    services: services.list(),
    endpointslices: slices.list(),
    nodes: nodes.list(),
  }));
  logger.info(
    { api: cp.server, version: cp.version, manifests: a.manifests },
    'lab cluster ready (real control plane)',
  );
  const stop = (): void => process.exit(0);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`lab-real-cluster: ${errorMessage(err)}\n`);
  process.exit(1);
});
