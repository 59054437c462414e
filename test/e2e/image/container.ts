// The built container image, run with podman the way the Helm chart's DaemonSet runs it: in the lab
// node's network namespace as its host network, read-only root filesystem with a memory /tmp, no
// privilege escalation, all capabilities dropped (kernel origination: UID 0 with NET_ADMIN back;
// static: UID 10001 with none), the node's FRR socket directory mounted read-only at the same path
// with the FRR vty group as a supplementary group, the config at /etc/cosmolet and the in-cluster
// service account (token and CA) at the standard path.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { helmBinary } from '../../../scripts/render-deploy.js';
import type { ControllerLab } from '../controller/harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The image under test: $COSMOLET_IMAGE, else what scripts/build-image.sh tags. */
export const IMAGE = process.env.COSMOLET_IMAGE ?? `localhost/cosmolet:${VERSION}`;

/**
 * podman's global options for this kind of machine: crun refuses hybrid cgroup hierarchies, and
 * raising rlimits above the caller's is not permitted, so runc, cgroupfs and fixed limits. None of
 * them changes what the container may do on the node.
 */
const PODMAN = ['podman', '--runtime', 'runc', '--cgroup-manager=cgroupfs'];
const LIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

function podmanSync(
  args: string[],
  timeoutMs = 60_000,
): { status: number | null; stdout: string; stderr: string } {
  const [file, ...rest] = PODMAN;
  const r = spawnSync(file as string, [...rest, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error?.message || '') };
}

function imagePresent(): boolean {
  return podmanSync(['image', 'exists', IMAGE]).status === 0;
}

/**
 * Makes sure the image exists: present, or built now with scripts/build-image.sh. Returns why the
 * tests are skipped: only when it is absent and COSMOLET_IMAGE_BUILD=0 says not to build it.
 */
export function ensureImage(): string | undefined {
  const hasPodman = spawnSync('podman', ['--version']).status === 0;
  if (hasPodman && imagePresent()) return undefined;
  if (process.env.COSMOLET_IMAGE_BUILD === '0') {
    return `image ${IMAGE} is absent and COSMOLET_IMAGE_BUILD=0: build it with bash scripts/build-image.sh`;
  }
  const log = join(ROOT, '.cache', 'build-image.log');
  mkdirSync(join(ROOT, '.cache'), { recursive: true });
  const fd = openSync(log, 'w');
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'build-image.sh')], {
    cwd: ROOT,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, COSMOLET_IMAGE: IMAGE },
  });
  if (r.status !== 0 || !imagePresent()) {
    throw new Error(
      `scripts/build-image.sh failed (${r.status}):\n${readFileSync(log, 'utf8').slice(-4000)}`,
    );
  }
  return undefined;
}

/** Runs a one-off command in the image (entrypoint `cosmolet` unless given) and returns its output. */
export function runImage(
  args: string[],
  entrypoint?: string,
): { status: number | null; stdout: string; stderr: string } {
  const ep = entrypoint ? ['--entrypoint', entrypoint] : [];
  return podmanSync(['run', '--rm', '--network', 'none', '--read-only', ...LIMITS, ...ep, IMAGE, ...args]);
}

export interface ChartRun {
  origination: 'kernel' | 'static';
  /** Config on top of the lab's (ControllerLab.config). */
  config?: Record<string, unknown>;
  /** Values files given to the chart before the lab's own values (e.g. the published values). */
  valuesFiles?: string[];
  /** The chart's frrVtyGroupId: null (the default) makes the entrypoint join the group itself. */
  frrVtyGroupId?: number | null;
  /** More chart values (top level) on top of the lab's. */
  values?: Record<string, unknown>;
  /** Capabilities a cluster policy strips from the rendered container. */
  withoutCaps?: string[];
}

/** The pod the chart renders: what kubelet would run. */
export interface RenderedPod {
  configYaml: string;
  spec: PodSpec;
  /** The Secrets the chart renders, by name: their data, base64 as in the manifest. */
  secrets: Map<string, Record<string, string>>;
}

interface PodSpec {
  securityContext?: { runAsUser?: number; runAsGroup?: number; supplementalGroups?: number[] };
  containers: {
    readinessProbe?: { httpGet?: { path: string; port: number | string; host?: string; scheme?: string } };
    ports?: { name?: string; containerPort: number }[];
    command?: string[];
    args?: string[];
    env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
    securityContext?: {
      readOnlyRootFilesystem?: boolean;
      allowPrivilegeEscalation?: boolean;
      capabilities?: { drop?: string[]; add?: string[] };
    };
    volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  }[];
  volumes?: {
    name: string;
    configMap?: unknown;
    hostPath?: { path: string };
    emptyDir?: { medium?: string; sizeLimit?: string };
    secret?: { secretName: string; items?: { key: string; path: string }[] };
  }[];
}

/** `helm template` of the chart with these values files; its ConfigMap and DaemonSet pod. */
export function renderChart(valuesFiles: string[]): RenderedPod {
  const args = ['template', 'cosmolet', join(ROOT, 'charts', 'cosmolet'), '--namespace', 'cosmolet'];
  for (const f of valuesFiles) args.push('-f', f);
  const r = spawnSync(helmBinary(), args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`helm ${args.join(' ')}: ${r.stderr}`);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, unknown> | null);
  const cm = docs.find((d) => d?.kind === 'ConfigMap' && (d.data as Record<string, unknown>)['config.yaml']);
  const ds = docs.find((d) => d?.kind === 'DaemonSet') as
    { spec: { template: { spec: PodSpec } } } | undefined;
  if (!cm || !ds) throw new Error('the chart rendered no ConfigMap or DaemonSet');
  const secrets = new Map<string, Record<string, string>>();
  for (const d of docs) {
    if (d?.kind !== 'Secret') continue;
    const meta = d.metadata as { name: string };
    secrets.set(meta.name, d.data as Record<string, string>);
  }
  return {
    configYaml: String((cm.data as Record<string, unknown>)['config.yaml']),
    spec: ds.spec.template.spec,
    secrets,
  };
}

/** The podman options that give the container what the pod spec gives it (kubelet's part). */
function podmanOptions(
  rendered: RenderedPod,
  lab: ControllerLab,
  dir: string,
  configDir: string,
): { options: string[]; args: string[] } {
  const pod = rendered.spec;
  const c = pod.containers[0];
  if (!c) throw new Error('the pod has no container');
  const psc = pod.securityContext ?? {};
  const csc = c.securityContext ?? {};
  const options = ['--user', `${psc.runAsUser ?? 10001}:${psc.runAsGroup ?? 10001}`];
  for (const g of psc.supplementalGroups ?? []) options.push('--group-add', String(g));
  // readOnlyRootFilesystem (and nothing else writable: podman's default /run, /var/tmp tmpfs are
  // off), allowPrivilegeEscalation false, the capabilities; seccomp RuntimeDefault is podman's default.
  if (csc.readOnlyRootFilesystem) options.push('--read-only', '--read-only-tmpfs=false');
  if (csc.allowPrivilegeEscalation === false) options.push('--security-opt', 'no-new-privileges');
  for (const cap of csc.capabilities?.drop ?? []) options.push('--cap-drop', cap);
  for (const cap of csc.capabilities?.add ?? []) options.push('--cap-add', cap);
  if (c.command) options.push('--entrypoint', JSON.stringify(c.command));
  for (const m of c.volumeMounts ?? []) {
    const v = (pod.volumes ?? []).find((x) => x.name === m.name);
    if (v?.configMap) options.push('--volume', `${configDir}:${m.mountPath}:ro`);
    else if (v?.hostPath)
      options.push('--volume', `${v.hostPath.path}:${m.mountPath}${m.readOnly ? ':ro' : ''}`);
    else if (v?.secret) {
      // As kubelet projects a Secret: its items as files, read-only.
      const data = rendered.secrets.get(v.secret.secretName);
      if (!data) throw new Error(`the chart renders no Secret ${v.secret.secretName}`);
      const secretDir = join(dir, `secret-${m.name}`);
      mkdirSync(secretDir, { recursive: true, mode: 0o755 });
      const items = v.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      for (const it of items)
        writeFileSync(join(secretDir, it.path), Buffer.from(data[it.key] ?? '', 'base64'), { mode: 0o644 });
      options.push('--volume', `${secretDir}:${m.mountPath}:ro`);
    } else if (v?.emptyDir)
      options.push(
        '--tmpfs',
        `${m.mountPath}:rw,size=${(v.emptyDir.sizeLimit ?? '32Mi').replace(/i$/, '').toLowerCase()},mode=1777`,
      );
    else throw new Error(`volume ${m.name} is of a kind this test does not mount`);
  }
  for (const e of c.env ?? []) {
    const value = e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName' ? lab.nodeName : e.value;
    if (value === undefined) throw new Error(`env ${e.name} has a source this test does not give`);
    options.push('--env', `${e.name}=${value}`);
  }
  // What kubelet adds to every pod: the API server's Service, here the lab's API at 127.0.0.1:6443.
  if (!(c.env ?? []).some((e) => e.name === 'KUBERNETES_SERVICE_HOST'))
    options.push('--env', 'KUBERNETES_SERVICE_HOST=127.0.0.1', '--env', 'KUBERNETES_SERVICE_PORT=6443');
  return { options, args: c.args ?? [] };
}

export interface ContainerFacts {
  caps: string[];
  user: string;
  readOnlyRoot: boolean;
  groups: string[];
  securityOpt: string[];
}

export class CosmoletContainer {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
    readonly pod: RenderedPod,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  log(): string {
    return readFileSync(this.logFile, 'utf8');
  }

  /** What kubelet does to stop a pod: the runtime signals the container's PID 1. */
  signal(sig: 'TERM' | 'KILL'): void {
    podmanSync(['kill', '--signal', sig, this.name]);
  }

  /** What the runtime reports about the running container (the settings it really got). */
  inspect(): ContainerFacts {
    const r = podmanSync(['inspect', '--type', 'container', this.name]);
    const [c] = JSON.parse(r.stdout || '[]') as {
      EffectiveCaps?: string[] | null;
      Config?: { User?: string };
      HostConfig?: { ReadonlyRootfs?: boolean; GroupAdd?: string[] | null; SecurityOpt?: string[] | null };
    }[];
    if (!c) throw new Error(`podman inspect ${this.name}: ${r.stderr}`);
    return {
      caps: [...(c.EffectiveCaps ?? [])].sort(),
      user: c.Config?.User ?? '',
      readOnlyRoot: c.HostConfig?.ReadonlyRootfs === true,
      groups: c.HostConfig?.GroupAdd ?? [],
      securityOpt: c.HostConfig?.SecurityOpt ?? [],
    };
  }

  /**
   * What cosmolet itself runs with, read from /proc/1/status in the container (after the
   * entrypoint's execs PID 1 is cosmolet): its uid, groups and effective capabilities (bit mask).
   */
  processIdentity(): { uid: number; groups: number[]; capEff: bigint } {
    const r = podmanSync(['exec', this.name, 'cat', '/proc/1/status']);
    if (r.status !== 0) throw new Error(`podman exec ${this.name}: ${r.stderr}`);
    const field = (k: string): string => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(r.stdout)?.[1] ?? '';
    return {
      uid: Number(field('Uid').split(/\s+/)[1]),
      groups: field('Groups')
        .split(/\s+/)
        .filter((g) => g !== '')
        .map(Number),
      capEff: BigInt(`0x${field('CapEff') || '0'}`),
    };
  }

  /**
   * What kubelet's readiness probe of the rendered pod gets: its httpGet (host, port, scheme, path),
   * sent from the node's network namespace with curl. The status code and the body.
   */
  async readinessProbe(lab: ControllerLab): Promise<{ status: number; body: string }> {
    const c = this.pod.spec.containers[0];
    const get = c?.readinessProbe?.httpGet;
    if (!get) throw new Error('the pod has no httpGet readiness probe');
    const port =
      typeof get.port === 'number' ? get.port : c?.ports?.find((p) => p.name === get.port)?.containerPort;
    const host = get.host ?? '127.0.0.1';
    const url = `${(get.scheme ?? 'HTTP').toLowerCase()}://${host.includes(':') ? `[${host}]` : host}:${String(port)}${get.path}`;
    const r = await lab.fabric
      .exec('node', ['curl', '-sk', '--max-time', '3', '-w', '\n%{http_code}', url])
      .catch((err: Error) => ({ stdout: `${err.message}\n0` }));
    const at = r.stdout.lastIndexOf('\n');
    return { status: Number.parseInt(r.stdout.slice(at + 1), 10) || 0, body: r.stdout.slice(0, at) };
  }

  /** Removes the container whatever its state (test cleanup). */
  async remove(): Promise<void> {
    podmanSync(['rm', '--force', '--time', '0', this.name]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

let runs = 0;

/**
 * Renders the chart with the lab's config (the node's FRR socket directory, its ASN) on top of
 * `opts.valuesFiles`, and starts the image in the lab's node namespace with the DaemonSet's pod:
 * its user and groups, capabilities, entrypoint, volumes and environment.
 */
export function startChartContainer(lab: ControllerLab, opts: ChartRun): CosmoletContainer {
  const n = ++runs;
  const name = `${lab.fabric.prefix}-cosmolet-${n}`;
  const dir = join(lab.dir, `image-${n}`);
  const configDir = join(dir, 'config');
  const saDir = join(dir, 'serviceaccount');
  mkdirSync(configDir, { recursive: true, mode: 0o755 });
  mkdirSync(saDir, { recursive: true, mode: 0o755 });
  // Published values keep their own config but for the lab node's socket directory; otherwise the
  // lab's config, listening on all addresses of the node as the chart does (the lab bridges :8080).
  const labValues = join(dir, 'lab-values.yaml');
  const config = opts.valuesFiles
    ? { frr: { socketDir: lab.fabric.socketDir('node') }, ...opts.config }
    : lab.config({ http: { address: ':8080' }, ...opts.config });
  writeFileSync(
    labValues,
    stringifyYaml({
      ...opts.values,
      config,
      ...(opts.frrVtyGroupId === undefined ? {} : { frrVtyGroupId: opts.frrVtyGroupId }),
    }),
  );
  const pod = renderChart([...(opts.valuesFiles ?? []), labValues]);
  const caps = pod.spec.containers[0]?.securityContext?.capabilities;
  if (caps?.add && opts.withoutCaps) caps.add = caps.add.filter((c) => !opts.withoutCaps?.includes(c));
  writeFileSync(join(configDir, 'config.yaml'), pod.configYaml, { mode: 0o644 });
  // In-cluster credentials, as kubelet projects them: the token and the API server's CA.
  const kc = parseYaml(lab.api.kubeconfig()) as {
    clusters: { cluster: { 'certificate-authority-data': string } }[];
  };
  const ca = Buffer.from(kc.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64');
  writeFileSync(join(saDir, 'ca.crt'), ca, { mode: 0o644 });
  writeFileSync(join(saDir, 'token'), lab.api.token ?? '', { mode: 0o644 });
  writeFileSync(join(saDir, 'namespace'), 'kube-system', { mode: 0o644 });

  const { options, args: podArgs } = podmanOptions(pod, lab, dir, configDir);
  const args = [
    'run',
    '--rm',
    '--name',
    name,
    // hostNetwork: true, on the lab's node.
    '--network',
    `ns:/run/netns/${lab.fabric.ns.node}`,
    ...LIMITS,
    ...options,
    '--volume',
    `${saDir}:${SERVICE_ACCOUNT_DIR}:ro`,
    IMAGE,
    ...podArgs,
  ];
  const logFile = join(dir, 'container.log');
  const fd = openSync(logFile, 'a');
  const [file, ...rest] = PODMAN;
  const child = spawn(file as string, [...rest, ...args], { stdio: ['ignore', fd, fd] });
  return new CosmoletContainer(name, child, logFile, pod);
}

/** The group of the lab node's FRR vty sockets (frrvty on a packaged node; the lab runs -g frr). */
export function vtyGroupOf(lab: ControllerLab): number {
  return statSync(join(lab.fabric.socketDir('node'), 'bgpd.vty')).gid;
}
