// The fabric lab: a small data center on one machine. Three network namespaces joined by veth
// pairs: `node` (FRR: zebra, staticd, bgpd; where cosmolet runs), `leaf` (FRR, IPv6 unnumbered eBGP
// to the node over swp1 with extended next hop, IPv4 and IPv6 unicast) and `ext` (gobgpd, numbered
// IPv4 and IPv6 sessions to the node). Used by the e2e tests, the benchmark and `cosmolet lab`.
//
// Everything a fabric starts is tracked by pid and lives in namespaces whose names carry a unique
// prefix, so teardown (also on failure, SIGINT, SIGTERM and exit) removes exactly what it made.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  openSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CosmoletError, ErrorCodes } from '../errors.js';
import { silentLogger, type Logger } from '../observe/log.js';
import { runCommand, type RunResult } from '../router/exec.js';
import { bgpSummary, parseBgpRoutes, Vtysh, type BgpPeer, type BgpView } from '../router/frr.js';
import { parseGobgpRib } from './gobgp.js';
import { nodeConfig, leafConfig, gobgpConfig, type FabricAddressing } from './fabric-config.js';

export type Role = 'node' | 'leaf' | 'ext';
export type FrrRole = 'node' | 'leaf';

export class LabError extends CosmoletError {
  constructor(code: typeof ErrorCodes.LAB_PREREQUISITE | typeof ErrorCodes.LAB_FAILED, message: string) {
    super(code, message);
  }
}

export interface FabricOptions {
  /** Namespace name prefix; default `cl` + 6 random hex digits. Namespaces are `<prefix>-node` etc. */
  prefix?: string;
  /** Working directory (configs, sockets, logs); default a fresh directory under the OS tmpdir. */
  dir?: string;
  nodeAsn?: number;
  leafAsn?: number;
  extAsn?: number;
  /** Service ranges the node's export prefix-lists admit (host routes inside them). */
  serviceRangesV4?: string[];
  serviceRangesV6?: string[];
  kernelProtocol?: number;
  staticTag?: number;
  /** Which cosmolet origination the node's config exports (default both). */
  exportKernel?: boolean;
  exportStatic?: boolean;
  /** BFD on the node-leaf session (bfdd on both): a dead peer is detected in about 1 s, not 10. */
  bfd?: boolean;
  /** false: the node's FRR is IPv4-only (no IPv6 unicast address family, no IPv6 peer). */
  ipv6Unicast?: boolean;
  /** Keep the working directory after teardown (logs). */
  keepDir?: boolean;
  /**
   * For `cosmolet lab up`: the daemons outlive this process (detached, no exit/signal hooks), and
   * the state is written to `<dir>/fabric.json` so another process can `Fabric.attach(dir)` later.
   */
  persistent?: boolean;
  /** Deadline for daemons and sessions to come up (default 60 s). */
  startTimeoutMs?: number;
  logger?: Logger;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  /** Where stdout/stderr go: a file path in the lab dir, or 'ignore' (default). */
  logFile?: string;
  cwd?: string;
}

const FRR_DIR = '/usr/lib/frr';
const FRR_DAEMONS = ['zebra', 'staticd', 'bgpd'] as const;
type FrrDaemon = (typeof FRR_DAEMONS)[number] | 'bfdd';

export const DEFAULT_ADDRESSING: FabricAddressing = {
  nodeAsn: 65001,
  leafAsn: 65101,
  extAsn: 65201,
  nodeRouterId: '10.255.0.1',
  leafRouterId: '10.255.0.2',
  extRouterId: '10.255.0.3',
  nodeExtV4: '10.254.2.1',
  extNodeV4: '10.254.2.2',
  nodeExtV6: 'fd00:254:2::1',
  extNodeV6: 'fd00:254:2::2',
  serviceRangesV4: ['10.96.0.0/12', '192.0.2.0/24'],
  serviceRangesV6: ['fd00:10:96::/108', '2001:db8:96::/64'],
  kernelProtocol: 73,
  staticTag: 7300,
  exportKernel: true,
  exportStatic: true,
  bfd: false,
  ipv6Unicast: true,
};

/** Polls `check` until it returns a value other than undefined/false, or throws at the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new LabError(ErrorCodes.LAB_FAILED, `timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function run(argv: string[], timeoutMs = 15_000, input?: string): Promise<RunResult> {
  return runCommand(argv, { timeoutMs, ...(input !== undefined ? { input } : {}) });
}

function which(bin: string): boolean {
  return ['/usr/sbin', '/usr/bin', '/sbin', '/bin', FRR_DIR].some((d) => existsSync(join(d, bin)));
}

/** Throws LAB_PREREQUISITE with the exact thing missing. */
export function checkPrerequisites(): void {
  if (process.getuid?.() !== 0) throw new LabError(ErrorCodes.LAB_PREREQUISITE, 'the fabric lab needs root');
  const missing: string[] = [];
  if (!which('ip')) missing.push('ip (apt install iproute2)');
  for (const d of FRR_DAEMONS)
    if (!existsSync(join(FRR_DIR, d))) missing.push(`${FRR_DIR}/${d} (apt install frr)`);
  if (!which('vtysh')) missing.push('vtysh (apt install frr)');
  if (!which('gobgpd') || !which('gobgp')) missing.push('gobgpd, gobgp (apt install gobgpd)');
  if (missing.length > 0) throw new LabError(ErrorCodes.LAB_PREREQUISITE, `missing: ${missing.join(', ')}`);
}

/** Network namespaces named `<prefix>-*`. */
export function namespacesWithPrefix(prefix: string): string[] {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (list.stdout ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}-`));
}

/** Deletes namespaces named `<prefix>-*` left by killed runs, killing the processes inside them. */
export function cleanupStale(prefix: string): string[] {
  if (!/^[a-z0-9]+$/.test(prefix)) throw new Error(`cleanupStale: bad prefix ${prefix}`);
  const names = namespacesWithPrefix(prefix);
  for (const ns of names) killNamespace(ns);
  return names;
}

function killNamespace(ns: string): void {
  // Every process in the namespace belongs to the run that created it (the prefix is unique).
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  for (const pid of (pids.stdout ?? '').split('\n').map(Number)) {
    if (Number.isInteger(pid) && pid > 1) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  spawnSync('ip', ['netns', 'del', ns]);
}

interface Tracked {
  role: string;
  name: string;
  pid: number | undefined;
  argv: string[];
  /** Absent for daemons of an attached fabric (started by another process). */
  child?: ChildProcess;
}

/** What `<dir>/fabric.json` holds for a persistent fabric. */
export interface FabricState {
  prefix: string;
  dir: string;
  ns: Record<Role, string>;
  addressing: FabricAddressing;
  daemons: Record<string, { pid: number | undefined; argv: string[] }>;
}

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function exited(t: Tracked): boolean {
  return t.child ? t.child.exitCode !== null || t.child.signalCode !== null : !alive(t.pid);
}

export class Fabric {
  readonly prefix: string;
  readonly dir: string;
  readonly ns: Record<Role, string>;
  readonly addressing: FabricAddressing;
  readonly logger: Logger;
  private readonly tracked = new Set<Tracked>();
  private readonly daemons = new Map<string, Tracked>();
  private readonly vtyshes: Record<FrrRole, Vtysh>;
  private tornDown = false;
  /** Only namespaces this handle created (or, attached, the lab's own) are ever deleted. */
  private readonly createdNs = new Set<string>();
  private readonly onSignal: (sig: NodeJS.Signals) => void;
  private readonly onExit: () => void;

  constructor(private readonly opts: FabricOptions = {}) {
    this.prefix = opts.prefix ?? `cl${randomBytes(3).toString('hex')}`;
    if (!/^[a-z0-9]{1,12}$/.test(this.prefix))
      throw new Error(`fabric prefix must be [a-z0-9]{1,12}: ${this.prefix}`);
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), `cosmolet-fabric-${this.prefix}-`));
    this.ns = { node: `${this.prefix}-node`, leaf: `${this.prefix}-leaf`, ext: `${this.prefix}-ext` };
    this.addressing = {
      ...DEFAULT_ADDRESSING,
      ...(opts.nodeAsn !== undefined ? { nodeAsn: opts.nodeAsn } : {}),
      ...(opts.leafAsn !== undefined ? { leafAsn: opts.leafAsn } : {}),
      ...(opts.extAsn !== undefined ? { extAsn: opts.extAsn } : {}),
      ...(opts.serviceRangesV4 ? { serviceRangesV4: opts.serviceRangesV4 } : {}),
      ...(opts.serviceRangesV6 ? { serviceRangesV6: opts.serviceRangesV6 } : {}),
      ...(opts.kernelProtocol !== undefined ? { kernelProtocol: opts.kernelProtocol } : {}),
      ...(opts.staticTag !== undefined ? { staticTag: opts.staticTag } : {}),
      ...(opts.exportKernel !== undefined ? { exportKernel: opts.exportKernel } : {}),
      ...(opts.exportStatic !== undefined ? { exportStatic: opts.exportStatic } : {}),
      ...(opts.bfd !== undefined ? { bfd: opts.bfd } : {}),
      ...(opts.ipv6Unicast !== undefined ? { ipv6Unicast: opts.ipv6Unicast } : {}),
    };
    this.logger = (opts.logger ?? silentLogger()).child({ component: 'fabric', prefix: this.prefix });
    this.vtyshes = {
      node: new Vtysh({ vtyshPath: 'vtysh', socketDir: this.socketDir('node'), timeoutMs: 20_000 }),
      leaf: new Vtysh({ vtyshPath: 'vtysh', socketDir: this.socketDir('leaf'), timeoutMs: 20_000 }),
    };
    this.onSignal = (sig) => {
      this.teardownSync();
      process.kill(process.pid, sig);
    };
    this.onExit = () => this.teardownSync();
  }

  /** FRR vty socket directory of a router (what cosmolet's frr.socketDir points at). */
  socketDir(role: FrrRole): string {
    return join(this.dir, role, 'run');
  }

  vtysh(role: FrrRole): Vtysh {
    return this.vtyshes[role];
  }

  private nsName(ns: string): string {
    return ns === 'node' || ns === 'leaf' || ns === 'ext' ? this.ns[ns] : ns;
  }

  /** Runs a command inside a namespace (no shell) and returns its output; rejects on failure. */
  exec(ns: string, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run(['ip', 'netns', 'exec', this.nsName(ns), ...argv], opts.timeoutMs ?? 30_000, opts.input);
  }

  /** Starts a long-running process inside a namespace, tracked by pid and killed by teardown. */
  spawn(ns: string, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    return this.spawnTracked(
      ns,
      argv[0] ?? 'process',
      ['ip', 'netns', 'exec', this.nsName(ns), ...argv],
      opts,
    ).child;
  }

  private spawnTracked(
    role: string,
    name: string,
    argv: string[],
    opts: SpawnOptions = {},
  ): Tracked & { child: ChildProcess } {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error('spawn: empty argv');
    const fd = opts.logFile ? openSync(opts.logFile, 'a') : undefined;
    const child = spawn(file, args, {
      stdio: ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
      env: opts.env ?? process.env,
      detached: this.opts.persistent === true,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    // A persistent lab's daemons must not keep this process alive or die with it.
    if (this.opts.persistent) child.unref();
    // The child has its own copy of the descriptor.
    if (fd !== undefined) closeSync(fd);
    const t = { role, name, pid: child.pid, child, argv };
    this.tracked.add(t);
    child.on('exit', () => this.tracked.delete(t));
    child.on('error', (e) => this.logger.warn({ err: e.message, name }, 'spawn failed'));
    return t;
  }

  /** Starts everything and waits for all BGP sessions to be Established. */
  async start(): Promise<void> {
    checkPrerequisites();
    if (!this.opts.persistent) {
      process.once('SIGINT', this.onSignal);
      process.once('SIGTERM', this.onSignal);
      process.once('exit', this.onExit);
    }
    const timeout = this.opts.startTimeoutMs ?? 60_000;
    try {
      await this.createNetwork();
      this.writeConfigs();
      await Promise.all([
        this.startFrr('node', timeout),
        this.startFrr('leaf', timeout),
        this.startGobgp(timeout),
      ]);
      await this.waitEstablished(timeout);
      this.writeState();
    } catch (e) {
      await this.teardown();
      throw e;
    }
  }

  private async createNetwork(): Promise<void> {
    const { node, leaf, ext } = this.ns;
    const taken = namespacesWithPrefix(this.prefix);
    if (taken.length > 0) {
      // Never adopt (and later delete) namespaces this fabric did not create.
      throw new LabError(
        ErrorCodes.LAB_FAILED,
        `namespaces ${taken.join(', ')} already exist: another lab uses prefix ${this.prefix} (cleanupStale removes leftovers)`,
      );
    }
    for (const ns of [node, leaf, ext]) {
      await run(['ip', 'netns', 'add', ns]);
      this.createdNs.add(ns);
      // No DAD (addresses usable at once), forwarding on, no RAs learnt (no surprise default route).
      await this.exec(ns, [
        'sysctl',
        '-q',
        '-w',
        'net.ipv4.ip_forward=1',
        'net.ipv6.conf.all.forwarding=1',
        'net.ipv6.conf.all.accept_dad=0',
        'net.ipv6.conf.default.accept_dad=0',
        'net.ipv6.conf.all.accept_ra=0',
        'net.ipv6.conf.default.accept_ra=0',
      ]);
    }
    const a = this.addressing;
    const batches: Record<string, string[]> = {
      [node]: [
        'link set lo up',
        `link add swp1 type veth peer name swp1 netns ${leaf}`,
        `link add ext0 type veth peer name eth0 netns ${ext}`,
        'link set swp1 up',
        'link set ext0 up',
        `addr add ${a.nodeExtV4}/30 dev ext0`,
        `addr add ${a.nodeExtV6}/64 dev ext0 nodad`,
      ],
      [leaf]: ['link set lo up', 'link set swp1 up'],
      [ext]: [
        'link set lo up',
        'link set eth0 up',
        `addr add ${a.extNodeV4}/30 dev eth0`,
        `addr add ${a.extNodeV6}/64 dev eth0 nodad`,
      ],
    };
    for (const [ns, lines] of Object.entries(batches)) {
      await run(['ip', '-n', ns, '-batch', '-'], 15_000, lines.join('\n') + '\n');
    }
  }

  private writeConfigs(): void {
    chmodSync(this.dir, 0o755);
    for (const role of ['node', 'leaf'] as const) {
      const base = join(this.dir, role);
      for (const sub of ['run', 'log', 'etc', 'vartmp']) mkdirSync(join(base, sub), { recursive: true });
      writeFileSync(
        join(base, 'etc', 'frr.conf'),
        role === 'node' ? nodeConfig(this.addressing) : leafConfig(this.addressing),
      );
      writeFileSync(join(base, 'etc', 'vtysh.conf'), 'service integrated-vtysh-config\n');
      // FRR daemons drop to frr:frr; crash logs go to /var/tmp/frr, which we bind-mount per daemon.
      spawnSync('chown', ['-R', 'frr:frr', base]);
      chmodSync(join(base, 'vartmp'), 0o1777);
    }
    mkdirSync(join(this.dir, 'ext'), { recursive: true });
    writeFileSync(join(this.dir, 'ext', 'gobgpd.toml'), gobgpConfig(this.addressing));
  }

  private frrArgv(role: FrrRole, daemon: FrrDaemon): string[] {
    const base = join(this.dir, role);
    const run = join(base, 'run');
    return [
      'ip',
      'netns',
      'exec',
      this.ns[role],
      // A private /var/tmp per daemon: FRR writes crash logs to /var/tmp/frr. `ip netns exec` gives
      // the process its own mount namespace, so the bind mount does not leak to the host.
      'sh',
      '-c',
      'mount --bind "$1" /var/tmp && shift && exec "$@"',
      'sh',
      join(base, 'vartmp'),
      join(FRR_DIR, daemon),
      '-u',
      'frr',
      '-g',
      'frr',
      '-P',
      '0',
      '-f',
      '/dev/null',
      '--vty_socket',
      run,
      '-z',
      join(run, 'zserv.api'),
      '-i',
      join(run, `${daemon}.pid`),
      '--log',
      `file:${join(base, 'log', `${daemon}.log`)}`,
      ...(daemon === 'zebra' ? ['-s', '90000000'] : []),
      // bfdd's control socket defaults to /var/run/frr/bfdd.sock, shared by every instance.
      ...(daemon === 'bfdd' ? ['--bfdctl', join(run, 'bfdd.sock')] : []),
    ];
  }

  private async startDaemon(role: FrrRole, daemon: FrrDaemon, timeoutMs: number): Promise<void> {
    const vty = join(this.socketDir(role), `${daemon}.vty`);
    const before = existsSync(vty) ? statSync(vty).mtimeMs : undefined;
    const t = this.spawnTracked(role, daemon, this.frrArgv(role, daemon));
    this.daemons.set(`${role}/${daemon}`, t);
    await waitFor(
      `${role} ${daemon} vty socket`,
      () => {
        if (t.child.exitCode !== null || t.child.signalCode !== null) {
          throw new LabError(
            ErrorCodes.LAB_FAILED,
            `${role} ${daemon} exited (${t.child.exitCode ?? t.child.signalCode})`,
          );
        }
        return existsSync(vty) && statSync(vty).mtimeMs !== before;
      },
      timeoutMs,
      50,
    );
  }

  private async startFrr(role: FrrRole, timeoutMs: number): Promise<void> {
    await this.startDaemon(role, 'zebra', timeoutMs);
    await Promise.all([
      this.startDaemon(role, 'staticd', timeoutMs),
      this.startDaemon(role, 'bgpd', timeoutMs),
      ...(this.addressing.bfd ? [this.startDaemon(role, 'bfdd', timeoutMs)] : []),
    ]);
    await this.loadConfig(role);
  }

  /** What watchfrr does after starting a daemon in integrated-config mode: push frr.conf into it. */
  private async loadConfig(role: FrrRole, daemon?: FrrDaemon): Promise<void> {
    await run(
      [
        'vtysh',
        '--vty_socket',
        this.socketDir(role),
        '--config_dir',
        join(this.dir, role, 'etc'),
        '-b',
        ...(daemon ? ['-d', daemon] : []),
      ],
      30_000,
    );
  }

  private async startGobgp(timeoutMs: number): Promise<void> {
    const t = this.spawnTracked(
      'ext',
      'gobgpd',
      [
        'ip',
        'netns',
        'exec',
        this.ns.ext,
        'gobgpd',
        '-f',
        join(this.dir, 'ext', 'gobgpd.toml'),
        '--api-hosts',
        '127.0.0.1:50051',
        '--pprof-disable',
        '-l',
        'warn',
      ],
      { logFile: join(this.dir, 'ext', 'gobgpd.log') },
    );
    this.daemons.set('ext/gobgpd', t);
    await waitFor(
      'gobgpd API',
      async () => {
        if (t.child.exitCode !== null)
          throw new LabError(ErrorCodes.LAB_FAILED, `gobgpd exited with ${t.child.exitCode}`);
        await this.exec('ext', ['gobgp', '-u', '127.0.0.1', '-p', '50051', 'global'], { timeoutMs: 5000 });
        return true;
      },
      timeoutMs,
      200,
    );
  }

  /** BGP peers of the node as bgpd reports them. */
  nodePeers(): Promise<BgpPeer[]> {
    return bgpSummary(this.vtyshes.node);
  }

  /** Waits until every session of the node (leaf: v4+v6 over swp1; ext: v4 and v6) is Established. */
  async waitEstablished(timeoutMs = 60_000): Promise<BgpPeer[]> {
    return waitFor(
      'BGP sessions Established',
      async () => {
        const peers = await this.nodePeers();
        const a = this.addressing;
        const want = [
          'ipv4:swp1',
          `ipv4:${a.extNodeV4}`,
          ...(a.ipv6Unicast ? ['ipv6:swp1', `ipv6:${a.extNodeV6}`] : []),
        ];
        const up = new Set(peers.filter((p) => p.established).map((p) => `${p.family}:${p.name}`));
        return want.every((w) => up.has(w)) ? peers : undefined;
      },
      timeoutMs,
      250,
    );
  }

  private async bgpRoutes(role: FrrRole): Promise<BgpView> {
    const view: BgpView = new Map();
    const v = this.vtyshes[role];
    parseBgpRoutes(await v.showJson('show bgp ipv4 unicast json', 'bgpd'), view);
    parseBgpRoutes(await v.showJson('show bgp ipv6 unicast json', 'bgpd'), view);
    return view;
  }

  /** Prefixes the leaf holds a valid path for (IPv4 and IPv6 unicast). */
  async leafRoutes(): Promise<Set<string>> {
    const view = await this.bgpRoutes('leaf');
    return new Set([...view].filter(([, s]) => s.valid).map(([p]) => p));
  }

  /** The node's own BGP table. */
  nodeBgp(): Promise<BgpView> {
    return this.bgpRoutes('node');
  }

  /** Prefixes gobgpd in `ext` holds in its global RIB (IPv4 and IPv6). */
  async gobgpRoutes(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const afi of ['ipv4', 'ipv6']) {
      const r = await this.exec(
        'ext',
        ['gobgp', '-u', '127.0.0.1', '-p', '50051', 'global', 'rib', '-a', afi, '-j'],
        {
          timeoutMs: 30_000,
        },
      );
      for (const p of parseGobgpRib(r.stdout)) out.add(p);
    }
    return out;
  }

  /** How many prefixes the leaf received from the node (IPv4 + IPv6); cheap enough to poll. */
  async leafPrefixCount(): Promise<number> {
    const peers = await bgpSummary(this.vtyshes.leaf);
    return peers.filter((p) => p.name === 'swp1').reduce((n, p) => n + p.prefixesReceived, 0);
  }

  /** How many destinations gobgpd holds (IPv4 + IPv6), from `gobgp global rib summary`. */
  async gobgpPrefixCount(): Promise<number> {
    let n = 0;
    for (const afi of ['ipv4', 'ipv6']) {
      const r = await this.exec('ext', [
        'gobgp',
        '-u',
        '127.0.0.1',
        '-p',
        '50051',
        'global',
        'rib',
        'summary',
        '-a',
        afi,
      ]);
      const m = /Destination:\s*(\d+)/.exec(r.stdout);
      if (m?.[1] === undefined)
        throw new LabError(ErrorCodes.LAB_FAILED, `gobgp rib summary: ${r.stdout.trim()}`);
      n += Number(m[1]);
    }
    return n;
  }

  /** The state a persistent fabric writes to `<dir>/fabric.json`. */
  state(): FabricState {
    const daemons: FabricState['daemons'] = {};
    for (const [k, t] of this.daemons) daemons[k] = { pid: t.pid, argv: t.argv };
    return { prefix: this.prefix, dir: this.dir, ns: this.ns, addressing: this.addressing, daemons };
  }

  private writeState(): void {
    if (this.opts.persistent)
      writeFileSync(join(this.dir, 'fabric.json'), JSON.stringify(this.state(), null, 2) + '\n');
  }

  /**
   * A handle on a persistent fabric started by another process (`cosmolet lab status|down`): every
   * method works on it, including kill/restart of daemons and teardown.
   */
  static attach(dir: string, logger?: Logger): Fabric {
    const state = JSON.parse(readFileSync(join(dir, 'fabric.json'), 'utf8')) as FabricState;
    const a = state.addressing;
    const f = new Fabric({
      prefix: state.prefix,
      dir: state.dir,
      persistent: true,
      nodeAsn: a.nodeAsn,
      leafAsn: a.leafAsn,
      extAsn: a.extAsn,
      serviceRangesV4: a.serviceRangesV4,
      serviceRangesV6: a.serviceRangesV6,
      kernelProtocol: a.kernelProtocol,
      staticTag: a.staticTag,
      exportKernel: a.exportKernel,
      exportStatic: a.exportStatic,
      bfd: a.bfd,
      // State written before the option existed: a dual-stack node.
      ipv6Unicast: a.ipv6Unicast ?? true,
      ...(logger ? { logger } : {}),
    });
    for (const [k, d] of Object.entries(state.daemons)) {
      const [role = '', name = ''] = k.split('/');
      const t: Tracked = { role, name, pid: d.pid, argv: d.argv };
      f.daemons.set(k, t);
      f.tracked.add(t);
    }
    for (const ns of Object.values(f.ns)) f.createdNs.add(ns);
    return f;
  }

  /** Every process this fabric started (daemons and `spawn`ed ones) that is still running. */
  processes(): { role: string; name: string; pid: number }[] {
    const out: { role: string; name: string; pid: number }[] = [];
    for (const t of this.tracked)
      if (t.pid !== undefined && !exited(t)) out.push({ role: t.role, name: t.name, pid: t.pid });
    return out;
  }

  /** Pid of a daemon the fabric started (e.g. `bgpd` of `node`). */
  pid(role: Role, daemon: string): number | undefined {
    return this.daemons.get(`${role}/${daemon}`)?.pid;
  }

  /** True while the daemon the fabric started is alive (stopped counts as alive). */
  daemonRunning(role: Role, daemon: string): boolean {
    const t = this.daemons.get(`${role}/${daemon}`);
    return t !== undefined && !exited(t);
  }

  bgpdRunning(role: FrrRole = 'node'): boolean {
    return this.daemonRunning(role, 'bgpd');
  }

  private async killDaemon(role: FrrRole, daemon: FrrDaemon): Promise<void> {
    const t = this.daemons.get(`${role}/${daemon}`);
    if (!t || exited(t)) return;
    const child = t.child;
    const gone = child
      ? new Promise<void>((resolve) => child.once('exit', () => resolve()))
      : waitFor(`${role} ${daemon} to exit`, () => !alive(t.pid), 10_000, 20).then(() => undefined);
    if (t.pid !== undefined) process.kill(t.pid, 'SIGKILL');
    await gone;
  }

  /** kill -9 bgpd (what a crash looks like to zebra and the peers). */
  killBgpd(role: FrrRole = 'node'): Promise<void> {
    return this.killDaemon(role, 'bgpd');
  }

  /** Starts bgpd again with the same arguments and pushes the config into it, as watchfrr does. */
  async restartBgpd(role: FrrRole = 'node', timeoutMs = 30_000): Promise<void> {
    await this.killDaemon(role, 'bgpd');
    await this.startDaemon(role, 'bgpd', timeoutMs);
    await this.loadConfig(role, 'bgpd');
    this.writeState();
  }

  /** kill -9 and restart any FRR daemon the same way (staticd loses every unsaved static route). */
  async restartDaemon(role: FrrRole, daemon: FrrDaemon, timeoutMs = 30_000): Promise<void> {
    await this.killDaemon(role, daemon);
    await this.startDaemon(role, daemon, timeoutMs);
    await this.loadConfig(role, daemon);
    this.writeState();
  }

  private signalDaemon(role: FrrRole, daemon: FrrDaemon, sig: NodeJS.Signals): void {
    const t = this.daemons.get(`${role}/${daemon}`);
    if (!t || t.pid === undefined)
      throw new LabError(ErrorCodes.LAB_FAILED, `${role} ${daemon} is not running`);
    process.kill(t.pid, sig);
  }

  stopBgpd(role: FrrRole = 'node'): void {
    this.signalDaemon(role, 'bgpd', 'SIGSTOP');
  }

  contBgpd(role: FrrRole = 'node'): void {
    this.signalDaemon(role, 'bgpd', 'SIGCONT');
  }

  /** Kills what this fabric started and deletes its namespaces. Safe to call more than once. */
  teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    process.removeListener('exit', this.onExit);
    for (const t of this.tracked) {
      if (t.pid === undefined || exited(t)) continue;
      try {
        // SIGCONT first, so that a stopped daemon is not left behind half dead.
        process.kill(t.pid, 'SIGCONT');
        process.kill(t.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    this.tracked.clear();
    for (const ns of this.createdNs) killNamespace(ns);
    this.createdNs.clear();
    if (!this.opts.keepDir && this.opts.dir === undefined) rmSync(this.dir, { recursive: true, force: true });
  }

  async teardown(): Promise<void> {
    const waits = [...this.tracked].map((t) =>
      exited(t)
        ? Promise.resolve()
        : t.child
          ? new Promise<void>((resolve) => t.child?.once('exit', () => resolve()))
          : waitFor('exit', () => !alive(t.pid), 5000, 20).catch(() => undefined),
    );
    this.teardownSync();
    await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5000))]);
  }
}

/** Creates and starts a fabric; the caller must call `teardown()` (the tests do it in t.after). */
export async function startFabric(opts: FabricOptions = {}): Promise<Fabric> {
  const f = new Fabric(opts);
  await f.start();
  return f;
}
