// The scale benchmark's lab on the real kube-apiserver (`--kube real`): the same fabric (FRR node and
// leaf, GoBGP) and the same built `cosmolet run` in the node namespace as with the API double, but the
// API is etcd + kube-apiserver + kube-controller-manager + kube-scheduler from Kubernetes' Go modules
// (packages/lab/src/control-plane), on this machine's loopback. cosmolet runs as in its pod: the chart's
// ServiceAccount and RBAC applied with kubectl, a bound token from TokenRequest mounted at the
// service-account path, KUBERNETES_SERVICE_HOST/PORT = 127.0.0.1:6443 in the node namespace, which
// two forwarder processes join to the API server's port (node namespace TCP -> unix socket -> host
// TCP): namespaces do not share loopback. The benchmark writes with cosmolet's KubeClient and the
// admin credentials (system:masters, which API Priority and Fairness exempts), straight to the port.
//
// The cluster: N dual-stack Services without selectors, ClusterIPs requested (the benchmark's
// addresses, inside 10.96.0.0/16 and fd00:10:96::/108, so the real allocator checks and records them),
// and per Service an IPv4 and an IPv6 EndpointSlice under the benchmark's managed-by label, written
// with `concurrency` requests in flight; 429s wait for Retry-After, 5xx and dropped connections are
// retried. The control plane's processes are killed by pid when this process exits or is signalled.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { helmBinary } from '../../scripts/render-deploy.js';
import {
  loadKubeClient,
  retryAfterSeconds,
  statusMessage,
  type KubeClient,
  type KubeResponse,
} from '../../src/kube/client.js';
import { ControlPlane } from '@cosmolet/lab/control-plane/control-plane';
import { cachedKubeBinDir, kubeBinDir } from '@cosmolet/lab/control-plane/binaries';
import { startFabric, type Fabric } from '@cosmolet/lab/fabric/fabric';
import { waitFor } from '@cosmolet/lab/wait';
import { startNodeForwarder } from '@cosmolet/lab/cosmolet/forwarder';
import type { KubeObject } from '../../src/model/objects.js';
import {
  CLI,
  cosmoletGet,
  cosmoletLogFile,
  FORWARD,
  leafZebraPid,
  objectPath,
  spawnCosmolet,
  writeServiceAccount,
  type BenchLab,
  type Reply,
} from './lab.js';
import { measureListFloor, type ListFloor } from './list-floor.js';
import { memoryMB } from './proc.js';
import { BENCH_MANAGER, benchNode, benchService, benchSlice, namespaceOf } from './workload.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const NAMESPACE = 'cosmolet';
const SERVICE_ACCOUNT = 'cosmolet';
const BENCH_NAMESPACES = 20;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface LoadResult {
  ms: number;
  objects: number;
  concurrency: number;
  /** 429 replies (API Priority and Fairness), each waited out for its Retry-After. */
  throttled: number;
  /** Requests sent again after a 5xx or a dropped connection. */
  retries: number;
}

export interface ServerMemory {
  apiserverMB: number;
  etcdMB: number;
  /** etcd's data directory (the bbolt file and the WAL), MB. */
  etcdDiskMB: number;
}

/** Renders the chart's ServiceAccount and RBAC as `helm template` does for a release `cosmolet`. */
function renderRbac(): string {
  const args = ['template', 'cosmolet', join(ROOT, 'charts', 'cosmolet'), '--namespace', NAMESPACE];
  for (const t of ['serviceaccount.yaml', 'rbac.yaml']) args.push('--show-only', `templates/${t}`);
  const r = spawnSync(helmBinary(), args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`helm template: ${r.stderr}`);
  return r.stdout;
}

export class RealScaleLab implements BenchLab {
  readonly kind = 'real';
  readonly managedBy = BENCH_MANAGER;
  fabric!: Fabric;
  cp!: ControlPlane;
  /** cosmolet's KubeClient with the admin kubeconfig: how the benchmark writes. */
  admin!: KubeClient;
  cosmoletLog = '';
  /** How many times cosmolet was started: each start logs to a file of its own. */
  private starts = 0;
  serviceAccountDir = '';
  private hostForwarder: ChildProcess | undefined;
  private killOnExit: (() => void) | undefined;
  private readonly onExit = (): void => {
    this.killOnExit?.();
  };
  /**
   * The fabric's own handler raises the signal again once it has torn down; while this listener is
   * still registered that second signal is caught and lost, so this one raises it once more when it
   * is the last listener (the default action then ends the process).
   */
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    this.killOnExit?.();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };

  constructor(
    private readonly opts: { keepDir?: boolean; cli?: string; node?: string; apiserverArgs?: string[] } = {},
  ) {}

  private get cli(): string {
    return this.opts.cli ?? CLI;
  }

  get dir(): string {
    return this.fabric.dir;
  }

  get version(): string {
    return this.cp.version;
  }

  async start(): Promise<void> {
    for (const f of [this.cli, FORWARD])
      if (!existsSync(f)) throw new Error(`${f} is missing: run npm run build first`);
    this.fabric = await startFabric({ keepDir: this.opts.keepDir === true });
    try {
      this.cp = await ControlPlane.start({
        dir: join(this.dir, 'control-plane'),
        binDir: cachedKubeBinDir() ?? kubeBinDir(),
        ...(this.opts.apiserverArgs ? { apiserverArgs: this.opts.apiserverArgs } : {}),
      });
      this.guardProcesses();
      const api = join(this.dir, 'api.sock');
      this.hostForwarder = spawn(
        process.execPath,
        [FORWARD, '--listen', `unix:${api}`, '--connect', `tcp:127.0.0.1:${this.cp.record.apiserverPort}`],
        { stdio: 'ignore' },
      );
      await waitFor('the host forwarder', () => existsSync(api), 10_000, 20);
      await startNodeForwarder(this.fabric, 'node', [
        ['tcp:127.0.0.1:6443', `unix:${api}`],
        [`unix:${join(this.dir, 'http.sock')}`, 'tcp:127.0.0.1:8080'],
      ]);
      this.admin = await loadKubeClient({ kubeconfigPath: this.cp.adminKubeconfig });
      await this.installRbac();
      await this.issueToken();
    } catch (err) {
      await this.teardown();
      throw err;
    }
  }

  /** Kills the control plane (by its pids' process groups) if this process exits or is signalled. */
  private guardProcesses(): void {
    const pids = Object.values(this.cp.record.pids).filter((p): p is number => p !== undefined);
    this.killOnExit = () => {
      for (const pid of [...pids, this.hostForwarder?.pid]) {
        if (pid === undefined) continue;
        try {
          process.kill(pid === this.hostForwarder?.pid ? pid : -pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
      this.unguard();
    };
    process.on('exit', this.onExit);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  private unguard(): void {
    process.removeListener('exit', this.onExit);
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
  }

  private async installRbac(): Promise<void> {
    await this.create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE },
    });
    this.cp.kubectl(['apply', '-f', '-'], renderRbac());
  }

  /** A bound token for cosmolet's ServiceAccount (TokenRequest), written where its pod would have it. */
  private async issueToken(): Promise<void> {
    const r = await this.admin.request(
      'POST',
      `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${SERVICE_ACCOUNT}/token`,
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 6 * 3600 },
      },
    );
    if (r.status !== 201) throw new Error(`TokenRequest: HTTP ${r.status} ${statusMessage(r.body)}`);
    const token = (JSON.parse(r.body) as { status: { token: string } }).status.token;
    const ca = readFileSync(this.cp.pki.caCert, 'utf8');
    this.serviceAccountDir = writeServiceAccount(this.dir, token, ca, NAMESPACE);
    // The same credentials as a kubeconfig, for `--kubeconfig`.
    writeFileSync(
      join(this.dir, 'kubeconfig'),
      stringifyYaml({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'bench',
            cluster: {
              server: 'https://127.0.0.1:6443',
              'certificate-authority-data': Buffer.from(ca).toString('base64'),
            },
          },
        ],
        users: [{ name: SERVICE_ACCOUNT, user: { token } }],
        contexts: [{ name: 'bench', context: { cluster: 'bench', user: SERVICE_ACCOUNT } }],
        'current-context': 'bench',
      }),
      { mode: 0o600 },
    );
  }

  /** A POST that waits out 429s (Retry-After) and retries 5xx and dropped connections. */
  private async create(path: string, body: unknown, stats?: LoadResult): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let r: KubeResponse | undefined;
      let error: unknown;
      try {
        r = await this.admin.request('POST', path, body, { timeoutMs: 120_000 });
      } catch (err) {
        error = err;
      }
      if (r?.status === 201 || r?.status === 200) return;
      // The namespace is there already, or an earlier attempt landed after all.
      if (r?.status === 409 && (attempt > 0 || path === '/api/v1/namespaces')) return;
      if (attempt >= 20) {
        const why = r ? `${r.status} ${statusMessage(r.body)}` : String(error);
        throw new Error(`POST ${path}: ${why}`);
      }
      if (r?.status === 429) {
        if (stats) stats.throttled++;
        await sleep((retryAfterSeconds(r.headers) ?? 1) * 1000);
        continue;
      }
      if (r === undefined || r.status >= 500) {
        if (stats) stats.retries++;
        await sleep(Math.min(5000, 100 * 2 ** attempt));
        continue;
      }
      throw new Error(`POST ${path}: ${r.status} ${statusMessage(r.body)}`);
    }
  }

  /**
   * The cluster of N Services: the namespaces and the Node first, then each Service with its two
   * EndpointSlices, `concurrency` requests in flight. Returns how long the N Services and 2N slices took.
   */
  async populate(n: number, concurrency: number, progress?: (done: number) => void): Promise<LoadResult> {
    for (let k = 0; k < BENCH_NAMESPACES; k++)
      await this.create('/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: `bench-${k}` },
      });
    await this.create('/api/v1/nodes', benchNode());
    const stats: LoadResult = { ms: 0, objects: 3 * n, concurrency, throttled: 0, retries: 0 };
    const started = performance.now();
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const k = next++;
        if (k >= 3 * n) return;
        const i = Math.floor(k / 3);
        const ns = namespaceOf(i);
        if (k % 3 === 0)
          await this.create(`/api/v1/namespaces/${ns}/services`, benchService(i, { selector: false }), stats);
        else
          await this.create(
            `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
            benchSlice(i, k % 3 === 1 ? 'IPv4' : 'IPv6', undefined, BENCH_MANAGER),
            stats,
          );
        if (++done % 3000 === 0) progress?.(done);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    stats.ms = performance.now() - started;
    return stats;
  }

  async put(o: KubeObject): Promise<void> {
    // A whole-object PUT is idempotent: a dropped connection (a kept-alive socket the server closed)
    // is sent once more.
    const r = await this.admin
      .request('PUT', objectPath(o), o)
      .catch(() => this.admin.request('PUT', objectPath(o), o));
    if (r.status !== 200) throw new Error(`PUT ${objectPath(o)}: ${r.status} ${statusMessage(r.body)}`);
  }

  listFloor(rounds: number): Promise<ListFloor> {
    return measureListFloor({ fabric: this.fabric, serviceAccountDir: this.serviceAccountDir, rounds });
  }

  /** The same lists from this (the host) namespace straight to the API server's port: no bridge. */
  directListFloor(rounds: number): Promise<ListFloor> {
    return measureListFloor({
      serviceAccountDir: this.serviceAccountDir,
      rounds,
      port: this.cp.record.apiserverPort,
    });
  }

  serverMemory(): ServerMemory {
    const rss = (c: 'kube-apiserver' | 'etcd'): number => {
      const pid = this.cp.record.pids[c];
      return pid === undefined ? NaN : memoryMB(pid).rss;
    };
    const du = spawnSync('du', ['-sm', join(this.cp.dir, 'etcd')], { encoding: 'utf8' });
    return {
      apiserverMB: rss('kube-apiserver'),
      etcdMB: rss('etcd'),
      etcdDiskMB: Number(du.stdout.split(/\s/)[0] ?? NaN),
    };
  }

  startCosmolet(config: Record<string, unknown> = {}, inCluster = true): ChildProcess {
    this.cosmoletLog = cosmoletLogFile(this.dir, ++this.starts);
    return spawnCosmolet(this.fabric, {
      cli: this.cli,
      node: this.opts.node,
      config,
      logFile: this.cosmoletLog,
      serviceAccountDir: this.serviceAccountDir,
      kubeconfig: join(this.dir, 'kubeconfig'),
      inCluster,
    });
  }

  get(path: string): Promise<Reply> {
    return cosmoletGet(this.dir, path);
  }

  leafPid(): number {
    return leafZebraPid(this.fabric);
  }

  async teardown(): Promise<void> {
    // The control plane first: its etcd lives in the fabric's directory, which the fabric's teardown
    // removes (with cosmolet and the forwarders in the node namespace).
    const fabric = this.fabric as Fabric | undefined;
    await this.cp?.stop();
    if (this.hostForwarder && this.hostForwarder.exitCode === null) this.hostForwarder.kill('SIGKILL');
    this.unguard();
    await fabric?.teardown();
    if (this.opts.keepDir && fabric) console.log(`logs kept in ${fabric.dir}`);
  }
}
