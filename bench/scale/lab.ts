// The scale benchmark's lab: the fabric (FRR node and leaf over IPv6 unnumbered, GoBGP), the API
// double as its own process inside the node namespace (so its work is not this process's and
// cosmolet reaches it over real HTTPS at 127.0.0.1:6443), and the built `cosmolet run` beside it.
// This process reaches both through unix sockets (namespaces share the file system). Everything is
// started through the fabric, tracked by pid, and killed by its teardown, also on failure and signals.
// What both labs share (this one and the real kube-apiserver's, real-lab.ts): the BenchLab surface the
// benchmark drives, cosmolet started in the node namespace as in its pod, its HTTP port, the leaf.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startFabric, type Fabric } from '@cosmolet/lab/fabric/fabric';
import { startCosmolet } from '@cosmolet/lab/cosmolet/start';
import { startNodeForwarder } from '@cosmolet/lab/cosmolet/forwarder';
import { waitFor } from '@cosmolet/lab/wait';
import { KUBE_DOUBLE_MAIN, LAB_MAINS } from '@cosmolet/lab/paths';
import { httpRequest } from '@cosmolet/lab/access/http-client';
import type { KubeObject } from '../../src/model/objects.js';
import { measureListFloor, type ListFloor } from './list-floor.js';
import { CONTROLLER_MANAGER } from './workload.js';

const ROOT = new URL('../../', import.meta.url).pathname;
export const CLI = join(ROOT, 'dist', 'cli.js');
const APISERVER = KUBE_DOUBLE_MAIN;
export const FORWARD = LAB_MAINS.forward;
const TOKEN = 'bench-token';

export interface Reply {
  status: number;
  body: string;
}

/** Resource paths of the objects the benchmark writes. */
export function objectPath(o: KubeObject): string {
  const ns = o.metadata?.namespace ?? 'default';
  const name = o.metadata?.name ?? '';
  switch (o.kind) {
    case 'Service':
      return `/api/v1/namespaces/${ns}/services/${name}`;
    case 'EndpointSlice':
      return `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${name}`;
    case 'Node':
      return `/api/v1/nodes/${name}`;
    default:
      throw new Error(`objectPath: unsupported kind ${String(o.kind)}`);
  }
}

/** What the scale benchmark drives, on the API double (ScaleLab) or the real kube-apiserver. */
export interface BenchLab {
  readonly kind: 'double' | 'real';
  readonly fabric: Fabric;
  readonly cosmoletLog: string;
  /** The managed-by label of the EndpointSlices the benchmark writes. */
  readonly managedBy: string;
  start(): Promise<void>;
  /** Writes an object whole (PUT without resourceVersion: no precondition), as a controller would. */
  put(o: KubeObject): Promise<void>;
  /** GET on cosmolet's HTTP server. */
  get(path: string): Promise<Reply>;
  startCosmolet(config?: Record<string, unknown>, inCluster?: boolean): ChildProcess;
  /**
   * Paginated LISTs (500 a page) of every Service and every EndpointSlice with cosmolet's client and
   * credentials, from the node namespace over the path cosmolet takes (127.0.0.1:6443).
   */
  listFloor(rounds: number): Promise<ListFloor>;
  leafPid(): number;
  teardown(): Promise<void>;
}

/** The service account directory cosmolet gets mounted: token, ca.crt, namespace. */
export function writeServiceAccount(dir: string, token: string, caPem: string, namespace?: string): string {
  const sa = join(dir, 'serviceaccount');
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, 'token'), token, { mode: 0o600 });
  writeFileSync(join(sa, 'ca.crt'), caPem);
  if (namespace !== undefined) writeFileSync(join(sa, 'namespace'), namespace);
  return sa;
}

/**
 * Starts the built `cosmolet run` in the node namespace with kernel origination (the lab's
 * startCosmolet). `inCluster` finds the API the way it does in its pod: KUBERNETES_SERVICE_HOST/PORT
 * (127.0.0.1:6443) and the service account's token and CA bind-mounted at its path in cosmolet's own
 * mount namespace. Memory is then measured on the path cosmolet takes in production; a kubeconfig
 * may load more code.
 */
export function spawnCosmolet(
  fabric: Fabric,
  opts: {
    cli: string;
    /** The Node.js that runs it (undefined: this process's). */
    node: string | undefined;
    config: Record<string, unknown>;
    logFile: string;
    serviceAccountDir: string;
    /** Used when not in-cluster. */
    kubeconfig: string;
    inCluster: boolean;
  },
): ChildProcess {
  return startCosmolet(fabric, {
    nodeKey: 'node',
    nodeName: 'node-a',
    config: {
      frr: { origination: 'kernel', socketDir: fabric.socketDir('node') },
      http: { address: '127.0.0.1:8080' },
      logging: { level: 'info', format: 'json' },
      ...opts.config,
    },
    configFile: join(fabric.dir, 'cosmolet.yaml'),
    logFile: opts.logFile,
    cli: opts.cli,
    ...(opts.node !== undefined ? { node: opts.node } : {}),
    credentials: opts.inCluster
      ? { serviceAccountDir: opts.serviceAccountDir, apiPort: 6443 }
      : { kubeconfig: opts.kubeconfig },
    httpSocket: join(fabric.dir, 'http.sock'),
  }).child;
}

/** cosmolet.log for the first start, cosmolet-<n>.log for the n-th. */
export function cosmoletLogFile(dir: string, n: number): string {
  return join(dir, n <= 1 ? 'cosmolet.log' : `cosmolet-${n}.log`);
}

/** GET on cosmolet's HTTP server through the unix socket bridge in `dir`. */
export function cosmoletGet(dir: string, path: string): Promise<Reply> {
  return httpRequest({ socketPath: join(dir, 'http.sock'), path, timeoutMs: 30_000 });
}

/** Pid of a process living in the leaf namespace (for /proc/<pid>/net). */
export function leafZebraPid(fabric: Fabric): number {
  const pid = fabric.pid('leaf', 'zebra');
  if (pid === undefined) throw new Error('the leaf zebra is not running');
  return pid;
}

export class ScaleLab implements BenchLab {
  readonly kind = 'double';
  readonly managedBy = CONTROLLER_MANAGER;
  fabric!: Fabric;
  private apiAgent: https.Agent | undefined;
  cosmolet: ChildProcess | undefined;
  cosmoletLog = '';
  /** How many times cosmolet was started: each start logs to a file of its own. */
  private starts = 0;
  private caPem = '';
  private saDir: string | undefined;

  /**
   * keepDir: keep the fabric's directory (logs of cosmolet, the double and FRR) after teardown;
   * cli: the built cosmolet to run (default this checkout's dist/cli.js), e.g. another commit's build;
   * node: the Node.js that runs it (default this process's).
   */
  constructor(private readonly opts: { keepDir?: boolean; cli?: string; node?: string } = {}) {}

  private get cli(): string {
    return this.opts.cli ?? CLI;
  }

  get dir(): string {
    return this.fabric.dir;
  }

  async start(): Promise<void> {
    for (const f of [this.cli, APISERVER, FORWARD])
      if (!existsSync(f)) throw new Error(`${f} is missing: run npm run build first`);
    this.fabric = await startFabric({ keepDir: this.opts.keepDir === true });
    try {
      const kubeconfig = join(this.dir, 'kubeconfig');
      const apiLog = join(this.dir, 'apiserver.log');
      this.fabric.spawn(
        'node',
        [
          process.execPath,
          // 50,000 Services with 100,000 slices and the watch history hold about 1 GB.
          '--max-old-space-size=6144',
          // V8's memory reducer compacted that heap once the load was over, in the flips: pauses of
          // 250-450 ms (--trace-gc) that held a watch event back, and the slowest flips at 50,000 and
          // 100,000 Services were those pauses of the double, not cosmolet (p99 471 -> 155 ms).
          '--no-memory-reducer',
          APISERVER,
          '--listen',
          '127.0.0.1:6443',
          '--token',
          TOKEN,
          '--kubeconfig',
          kubeconfig,
          // No compaction while loading 150,000 objects (it is not what is measured), and none of
          // the watch history cosmolet resumes from.
          '--history-limit',
          '1000000',
        ],
        { logFile: apiLog },
      );
      await waitFor(
        'the API double to serve',
        () => existsSync(apiLog) && readFileSync(apiLog, 'utf8').includes('"ready":true'),
        30_000,
        50,
      );
      await startNodeForwarder(this.fabric, 'node', [
        [`unix:${join(this.dir, 'api.sock')}`, 'tcp:127.0.0.1:6443'],
        [`unix:${join(this.dir, 'http.sock')}`, 'tcp:127.0.0.1:8080'],
      ]);
      const kc = parseYaml(readFileSync(kubeconfig, 'utf8')) as {
        clusters: { cluster: { 'certificate-authority-data': string } }[];
      };
      const ca = Buffer.from(kc.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64');
      this.caPem = ca.toString('utf8');
      this.apiAgent = new https.Agent({
        keepAlive: true,
        maxSockets: 8,
        ca,
        socketPath: join(this.dir, 'api.sock'),
      } as https.AgentOptions);
    } catch (err) {
      await this.teardown();
      throw err;
    }
  }

  /** The double's bearer token and CA, where cosmolet (and the list floor) find them. */
  get serviceAccountDir(): string {
    this.saDir ??= writeServiceAccount(this.dir, TOKEN, this.caPem);
    return this.saDir;
  }

  listFloor(rounds: number): Promise<ListFloor> {
    return measureListFloor({ fabric: this.fabric, serviceAccountDir: this.serviceAccountDir, rounds });
  }

  /** A request to the API double (HTTPS through the unix socket bridge, kept-alive connections). */
  api(method: string, path: string, body?: string): Promise<Reply> {
    return httpRequest({
      socketPath: join(this.dir, 'api.sock'),
      method,
      path,
      token: TOKEN,
      timeoutMs: 120_000,
      tls: { ca: this.caPem, serverName: 'localhost' },
      ...(this.apiAgent ? { agent: this.apiAgent } : {}),
      ...(body !== undefined ? { body } : {}),
    });
  }

  /** Writes an object whole (PUT without resourceVersion: no precondition), as a controller would. */
  async put(o: KubeObject): Promise<void> {
    const body = JSON.stringify(o);
    // A kept-alive socket the server closes just as it is reused resets: that write never arrived.
    const r = await this.api('PUT', objectPath(o), body).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') throw err;
      return this.api('PUT', objectPath(o), body);
    });
    if (r.status !== 200) throw new Error(`PUT ${objectPath(o)}: ${r.status} ${r.body.slice(0, 200)}`);
  }

  /** Bulk upsert through the double's lab endpoint. */
  async load(objects: KubeObject[]): Promise<void> {
    const r = await this.api('POST', '/_lab/objects', JSON.stringify({ kind: 'List', items: objects }));
    if (r.status !== 200) throw new Error(`POST /_lab/objects: ${r.status} ${r.body.slice(0, 200)}`);
  }

  /** Starts the built `cosmolet run` in the node namespace (spawnCosmolet), in-cluster by default. */
  startCosmolet(config: Record<string, unknown> = {}, inCluster = true): ChildProcess {
    this.cosmoletLog = cosmoletLogFile(this.dir, ++this.starts);
    this.cosmolet = spawnCosmolet(this.fabric, {
      cli: this.cli,
      node: this.opts.node,
      config,
      logFile: this.cosmoletLog,
      serviceAccountDir: this.serviceAccountDir,
      kubeconfig: join(this.dir, 'kubeconfig'),
      inCluster,
    });
    return this.cosmolet;
  }

  /** GET on cosmolet's HTTP server (through the unix socket bridge). */
  get(path: string): Promise<Reply> {
    return cosmoletGet(this.dir, path);
  }

  /** Pid of a process living in the leaf namespace (for /proc/<pid>/net). */
  leafPid(): number {
    return leafZebraPid(this.fabric);
  }

  async teardown(): Promise<void> {
    this.apiAgent?.destroy();
    await this.fabric?.teardown();
    if (this.opts.keepDir && this.fabric) console.log(`logs kept in ${this.fabric.dir}`);
  }
}
