// The built container image, run with podman the way the Helm chart's DaemonSet runs it: in the lab
// node's network namespace as its host network, read-only root filesystem with a memory /tmp, no
// privilege escalation, all capabilities dropped (kernel origination: UID 0 with NET_ADMIN back;
// static: UID 10001 with none), the node's FRR socket directory mounted read-only at the same path
// with the FRR vty group as a supplementary group, the config at /etc/cosmolet and the in-cluster
// service account (token and CA) at the standard path.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
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

  /** Removes the container whatever its state (test cleanup). */
  async remove(): Promise<void> {
    podmanSync(['rm', '--force', '--time', '0', this.name]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

let runs = 0;

/** Starts the image in the lab's node namespace with the DaemonSet's pod and container settings. */
export function startChartContainer(lab: ControllerLab, opts: ChartRun): CosmoletContainer {
  const n = ++runs;
  const name = `${lab.fabric.prefix}-cosmolet-${n}`;
  const dir = join(lab.dir, `image-${n}`);
  const configDir = join(dir, 'config');
  const saDir = join(dir, 'serviceaccount');
  mkdirSync(configDir, { recursive: true, mode: 0o755 });
  mkdirSync(saDir, { recursive: true, mode: 0o755 });
  // The chart's listen address (all addresses of the node); the lab bridges 127.0.0.1:8080.
  writeFileSync(
    join(configDir, 'config.yaml'),
    stringifyYaml(lab.config({ http: { address: ':8080' }, ...opts.config })),
    { mode: 0o644 },
  );
  // In-cluster credentials, as kubelet projects them: the token and the API server's CA.
  const kc = parseYaml(lab.api.kubeconfig()) as {
    clusters: { cluster: { 'certificate-authority-data': string } }[];
  };
  const ca = Buffer.from(kc.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64');
  writeFileSync(join(saDir, 'ca.crt'), ca, { mode: 0o644 });
  writeFileSync(join(saDir, 'token'), lab.api.token ?? '', { mode: 0o644 });
  writeFileSync(join(saDir, 'namespace'), 'kube-system', { mode: 0o644 });

  const socketDir = lab.fabric.socketDir('node');
  // The group FRR gives its vty sockets (frrvty on a packaged node; the lab's daemons run -g frr).
  const vtyGroup = statSync(join(socketDir, 'bgpd.vty')).gid;
  const user = opts.origination === 'kernel' ? '0:0' : '10001:10001';
  const caps = opts.origination === 'kernel' ? ['--cap-add', 'NET_ADMIN'] : [];
  const args = [
    'run',
    '--rm',
    '--name',
    name,
    // hostNetwork: true, on the lab's node.
    '--network',
    `ns:/run/netns/${lab.fabric.ns.node}`,
    ...LIMITS,
    // securityContext: runAsUser/runAsGroup, supplementalGroups, readOnlyRootFilesystem (and
    // nothing else writable: podman's default /run, /var/tmp tmpfs are off), allowPrivilegeEscalation
    // false, capabilities drop ALL (+ NET_ADMIN for kernel), seccomp RuntimeDefault (podman's default).
    '--user',
    user,
    '--group-add',
    String(vtyGroup),
    '--read-only',
    '--read-only-tmpfs=false',
    '--security-opt',
    'no-new-privileges',
    '--cap-drop',
    'ALL',
    ...caps,
    // volumes: the ConfigMap, the FRR socket directory (read-only), /tmp as a memory emptyDir.
    '--volume',
    `${configDir}:/etc/cosmolet:ro`,
    '--volume',
    `${socketDir}:${socketDir}:ro`,
    '--tmpfs',
    '/tmp:rw,size=32m,mode=1777',
    '--volume',
    `${saDir}:${SERVICE_ACCOUNT_DIR}:ro`,
    // env: NODE_NAME from spec.nodeName, the API server straight (values apiServer.host).
    '--env',
    `NODE_NAME=${lab.nodeName}`,
    '--env',
    'KUBERNETES_SERVICE_HOST=127.0.0.1',
    '--env',
    'KUBERNETES_SERVICE_PORT=6443',
    IMAGE,
    'run',
    '--config',
    '/etc/cosmolet/config.yaml',
  ];
  const logFile = join(dir, 'container.log');
  const fd = openSync(logFile, 'a');
  const [file, ...rest] = PODMAN;
  const child = spawn(file as string, [...rest, ...args], { stdio: ['ignore', fd, fd] });
  return new CosmoletContainer(name, child, logFile);
}
