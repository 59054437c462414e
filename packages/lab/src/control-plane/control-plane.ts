// A real Kubernetes control plane on loopback, for the tests and `cosmolet lab up --kube real`: etcd,
// kube-apiserver (RBAC and Node authorization, the default admission plugins and NodeRestriction, a
// service-account issuer so TokenRequest works, dual-stack service CIDRs), kube-controller-manager
// (the controllers a cluster without kubelets needs: EndpointSlice, service accounts, namespaces,
// garbage collection, Deployments) and kube-scheduler, each built from Kubernetes' own Go modules
// (scripts/go-tools.sh kube). Every process is started in its own process group and stopped by pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join, resolve } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { LabError, LabErrorCodes } from '../errors.js';
import { waitFor } from '../wait.js';
import { freePort, kubeBinDir } from './binaries.js';
import { COMPONENTS, componentArgv, type Component, type ControlPlaneRecord } from './flags.js';

import { ensurePki, type ClientName, type Pki } from './pki.js';

/** The lab's Service ranges: the examples and tests use ClusterIPs from these. */
export const DEFAULT_SERVICE_CIDRS = ['10.96.0.0/16', 'fd00:10:96::/108'];

export interface ControlPlaneOptions {
  /** Where the PKI, etcd's data, kubeconfigs and logs live; reused by a restart. */
  dir: string;
  /** The built binaries; default: `scripts/go-tools.sh kube`, which builds them when missing. */
  binDir?: string;
  serviceCIDRs?: readonly string[];
  /** Detached processes that outlive this one (the lab); tests leave it false. */
  persistent?: boolean;
  /** kube-apiserver's port on 127.0.0.1; default: a free one. */
  apiserverPort?: number;
  /** Extra kube-apiserver flags (e.g. `--watch-cache=false`), appended last. */
  apiserverArgs?: readonly string[];
}

export class ControlPlane {
  private readonly children = new Map<Component, ChildProcess>();
  private constructor(
    readonly record: ControlPlaneRecord,
    readonly pki: Pki,
    private readonly persistent: boolean,
    private readonly apiserverArgs: readonly string[],
  ) {}

  get dir(): string {
    return this.record.dir;
  }
  get server(): string {
    return `https://127.0.0.1:${this.record.apiserverPort}`;
  }
  /** The admin kubeconfig (system:masters) for kubectl and the lab's tooling. */
  get adminKubeconfig(): string {
    return join(this.dir, 'admin.kubeconfig');
  }
  get version(): string {
    return this.record.version;
  }
  bin(name: string): string {
    return join(this.record.binDir, name);
  }
  logFile(c: Component): string {
    return join(this.dir, 'logs', `${c}.log`);
  }

  static async start(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const dir = resolve(opts.dir);
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const binDir = opts.binDir ?? kubeBinDir();
    const pki = ensurePki(join(dir, 'pki'), [
      '127.0.0.1',
      '::1',
      'localhost',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      '10.96.0.1',
    ]);
    const versionOut = spawnSync(join(binDir, 'kube-apiserver'), ['--version'], { encoding: 'utf8' });
    const version = /v\d+\.\d+\.\d+\S*/.exec(versionOut.stdout)?.[0] ?? 'unknown';
    const record: ControlPlaneRecord = {
      dir,
      binDir,
      version,
      apiserverPort: opts.apiserverPort ?? (await freePort()),
      etcdPort: await freePort(),
      serviceCIDRs: [...(opts.serviceCIDRs ?? DEFAULT_SERVICE_CIDRS)],
      pids: {},
    };
    const cp = new ControlPlane(record, pki, opts.persistent ?? false, opts.apiserverArgs ?? []);
    cp.writeKubeconfigs();
    try {
      for (const c of COMPONENTS) await cp.startComponent(c);
      await cp.waitReady();
    } catch (err) {
      await cp.stop();
      throw err;
    }
    return cp;
  }

  /** A control plane started by another process (the lab's), found again from its record. */
  static attach(record: ControlPlaneRecord): ControlPlane {
    return new ControlPlane(record, ensurePki(join(record.dir, 'pki'), []), true, []);
  }

  private writeKubeconfigs(): void {
    const ca = readFileSync(this.pki.caCert).toString('base64');
    const write = (file: string, user: ClientName, server: string): void => {
      const c = this.pki.clients[user];
      const doc = {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'cosmolet-lab', cluster: { server, 'certificate-authority-data': ca } }],
        users: [
          {
            name: user,
            user: {
              'client-certificate-data': readFileSync(c.cert).toString('base64'),
              'client-key-data': readFileSync(c.key).toString('base64'),
            },
          },
        ],
        contexts: [{ name: user, context: { cluster: 'cosmolet-lab', user } }],
        'current-context': user,
      };
      writeFileSync(file, stringifyYaml(doc), { mode: 0o600 });
    };
    write(this.adminKubeconfig, 'admin', this.server);
    write(join(this.dir, 'controller-manager.kubeconfig'), 'controller-manager', this.server);
    write(join(this.dir, 'scheduler.kubeconfig'), 'scheduler', this.server);
  }

  /** Starts one component (again) and waits for it to serve. */
  async startComponent(c: Component): Promise<void> {
    const [file, ...args] = componentArgv(c, this.record, this.pki, this.apiserverArgs);
    if (file === undefined || !existsSync(file))
      throw new LabError(
        LabErrorCodes.LAB_PREREQUISITE,
        `${c}: ${file ?? ''} is not built (scripts/go-tools.sh kube)`,
      );
    const fd = openSync(this.logFile(c), 'a');
    const child = spawn(file, args, { stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    if (this.persistent) child.unref();
    this.children.set(c, child);
    this.record.pids[c] = child.pid;
    child.once('exit', () => {
      if (this.children.get(c) === child) this.children.delete(c);
    });
    if (c === 'etcd') await this.waitEtcd();
    if (c === 'kube-apiserver') await this.waitApiserver();
  }

  private async waitEtcd(): Promise<void> {
    await waitFor(
      'etcd to answer on its client port',
      async () => {
        this.assertRunning('etcd');
        const r = await fetch(`http://127.0.0.1:${this.record.etcdPort}/health`);
        return r.ok && ((await r.json()) as { health?: string }).health === 'true';
      },
      30_000,
      100,
    );
  }

  private async waitApiserver(): Promise<void> {
    await waitFor(
      'kube-apiserver /readyz',
      async () => {
        this.assertRunning('kube-apiserver');
        return (await this.get('/readyz')).status === 200;
      },
      90_000,
      200,
    );
  }

  /** Waits until the controllers act: the service-account controller made `default/default`. */
  async waitReady(): Promise<void> {
    await waitFor(
      'kube-controller-manager to create the default ServiceAccount',
      async () => {
        this.assertRunning('kube-controller-manager');
        this.assertRunning('kube-scheduler');
        return (await this.get('/api/v1/namespaces/default/serviceaccounts/default')).status === 200;
      },
      90_000,
      200,
    );
  }

  private assertRunning(c: Component): void {
    if (!this.running(c))
      throw new LabError(LabErrorCodes.LAB_FAILED, `${c} exited; its log:\n${this.tail(c)}`);
  }

  /** Whether the component's process is alive (by pid, so it works for an attached control plane). */
  running(c: Component): boolean {
    const pid = this.record.pids[c];
    if (pid === undefined) return false;
    const child = this.children.get(c);
    if (child) return child.exitCode === null && child.signalCode === null;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  tail(c: Component, bytes = 3000): string {
    const f = this.logFile(c);
    return existsSync(f) ? readFileSync(f, 'utf8').slice(-bytes) : '';
  }

  /** An admin request to kube-apiserver (client certificate). */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
    const admin = this.pki.clients.admin;
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolveReply, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: this.record.apiserverPort,
          method,
          path,
          ca: readFileSync(this.pki.caCert),
          cert: readFileSync(admin.cert),
          key: readFileSync(admin.key),
          headers: {
            accept: 'application/json',
            ...(payload === undefined
              ? {}
              : {
                  'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json',
                }),
          },
          timeout: 30_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolveReply({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  get(path: string): Promise<{ status: number; body: string }> {
    return this.request('GET', path);
  }

  /** Runs kubectl with the admin kubeconfig; throws with its stderr when it fails. */
  kubectl(args: readonly string[], input?: string): string {
    const r = spawnSync(this.bin('kubectl'), ['--kubeconfig', this.adminKubeconfig, ...args], {
      encoding: 'utf8',
      input,
      timeout: 60_000,
    });
    if (r.status !== 0)
      throw new LabError(
        LabErrorCodes.LAB_FAILED,
        `kubectl ${args.join(' ')}: ${r.stderr || r.error?.message || ''}`,
      );
    return r.stdout;
  }

  /** Sends `signal` to a component (a crash when SIGKILL); `startComponent` brings it back. */
  async kill(c: Component, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const pid = this.record.pids[c];
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
    await waitFor(`${c} (pid ${pid}) to exit`, () => !this.running(c), 30_000, 50);
  }

  /** etcd's current revision, from its JSON gateway (no etcdctl needed). */
  async etcdRevision(): Promise<number> {
    const r = await fetch(`http://127.0.0.1:${this.record.etcdPort}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from('/').toString('base64') }),
    });
    const doc = (await r.json()) as { header?: { revision?: string } };
    return Number(doc.header?.revision ?? 0);
  }

  /** Compacts etcd up to its current revision: watches from before it then end with 410 Expired. */
  async compactEtcd(): Promise<number> {
    const revision = await this.etcdRevision();
    const r = await fetch(`http://127.0.0.1:${this.record.etcdPort}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: String(revision), physical: true }),
    });
    if (!r.ok)
      throw new LabError(LabErrorCodes.LAB_FAILED, `etcd compaction: HTTP ${r.status} ${await r.text()}`);
    return revision;
  }

  /** Stops every component, the scheduler first and etcd last, and waits for each to exit. */
  async stop(): Promise<void> {
    for (const c of [...COMPONENTS].reverse()) {
      const pid = this.record.pids[c];
      if (pid === undefined || !this.running(c)) continue;
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        continue;
      }
      try {
        await waitFor(`${c} to exit`, () => !this.running(c), 10_000, 50);
      } catch {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
        await waitFor(`${c} to exit after SIGKILL`, () => !this.running(c), 10_000, 50);
      }
    }
  }
}
