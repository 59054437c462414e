// The fabric lab: a small data center on one machine. A leaf (FRR), N nodes (FRR: zebra, staticd,
// bgpd; where cosmolet runs), each peering with the leaf over IPv6 unnumbered eBGP with extended
// next hop (IPv4 and IPv6 unicast), and `ext` (gobgpd, numbered IPv4 and IPv6 sessions to every
// node). Used by the e2e tests, the benchmark and `cosmolet lab`. The shape is in
// fabric-topology.ts, the router configs in fabric-config.ts, the processes in fabric-processes.ts.
//
// Everything a fabric starts is tracked by pid and lives in namespaces whose names carry a unique
// prefix, so teardown (also on failure, SIGINT, SIGTERM and exit) removes exactly what it made.
// With one node (the default) the node is `node` (namespace `<prefix>-node`) as it always was.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, LabError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../observe/log.js';
import { runCommand, type RunResult } from '../router/exec.js';
import { bgpSummary } from '../router/frr/bgpd.js';
import { parseBgpRoutes, type BgpPeer, type BgpView } from '../router/frr/parse.js';
import { Vtysh } from '../router/frr/vtysh.js';
import { parseGobgpRib } from './gobgp.js';
import {
  gobgpConfig,
  leafConfig,
  nodeAddressing,
  nodeConfig,
  type FabricAddressing,
  type NodeAddressing,
} from './fabric-config.js';
import {
  exited,
  FRR_DAEMONS,
  FRR_DIR,
  frrArgv,
  ProcessTable,
  type FrrDaemon,
  type SpawnOptions,
} from './fabric-processes.js';
import { readFabricState, writeFabricState, type FabricState } from './fabric-state.js';
import {
  createTopology,
  killNamespace,
  MAX_NODES,
  nodeNames,
  type FabricNodeName,
} from './fabric-topology.js';
import { waitFor } from './wait.js';

export { waitFor } from './wait.js';
export { alive, type SpawnOptions } from './fabric-processes.js';
export { cleanupStale, namespacesWithPrefix } from './fabric-topology.js';
export type { FabricState } from './fabric-state.js';

/** `node` is the first node; `node1`..`nodeN` name nodes of a fabric with several. */
export type Role = string;
export type FrrRole = string;

export interface FabricOptions {
  /** Namespace name prefix; default `cl` + 6 random hex digits. Namespaces are `<prefix>-node` etc. */
  prefix?: string;
  /** Working directory (configs, sockets, logs); default a fresh directory under the OS tmpdir. */
  dir?: string;
  /** How many nodes (1 to 8, default 1). */
  nodes?: number;
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
  /** Prefixes the leaf originates; prefixes each node originates (by index); default route to nodes. */
  leafNetworks?: string[];
  nodeNetworks?: string[][];
  defaultToNodes?: boolean;
  /** Keep the working directory after teardown (logs). */
  keepDir?: boolean;
  /**
   * For `cosmolet lab up`: the daemons outlive this process (detached, no exit/signal hooks), and
   * the state is written to `<dir>/fabric.json` so another process can `Fabric.attach(dir)` later.
   */
  persistent?: boolean;
  /** Deadline for daemons and sessions to come up (default 60 s). */
  startTimeoutMs?: number;
  /**
   * Called once the namespaces, links and configs exist, while FRR and GoBGP start: what runs in
   * the namespaces beside them (the lab's cluster and cosmolet) can start at the same time.
   */
  onTopology?: () => Promise<void>;
  logger?: Logger;
}

export const DEFAULT_ADDRESSING: FabricAddressing = {
  nodeAsn: 65001,
  leafAsn: 65101,
  extAsn: 65201,
  leafRouterId: '10.255.0.2',
  leafLoopbackV6: 'fd00:255::2',
  extRouterId: '10.255.0.3',
  serviceRangesV4: ['10.96.0.0/12', '192.0.2.0/24'],
  serviceRangesV6: ['fd00:10:96::/108', '2001:db8:96::/64'],
  kernelProtocol: 73,
  staticTag: 7300,
  exportKernel: true,
  exportStatic: true,
  bfd: false,
  ipv6Unicast: true,
  nodeCount: 1,
  leafNetworks: [],
  nodeNetworks: [],
  defaultToNodes: false,
};

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

export class Fabric {
  readonly prefix: string;
  readonly dir: string;
  /** `node` is the first node's namespace; every router's namespace is also under its key. */
  readonly ns: Record<string, string> & { node: string; leaf: string; ext: string };
  readonly nodes: FabricNodeName[];
  readonly addressing: FabricAddressing;
  readonly logger: Logger;
  private readonly procs: ProcessTable;
  private readonly vtyshes = new Map<string, Vtysh>();
  private tornDown = false;
  /** Only namespaces this handle created (or, attached, the lab's own) are ever deleted. */
  private readonly createdNs = new Set<string>();
  private readonly onSignal: (sig: NodeJS.Signals) => void;
  private readonly onExit: () => void;

  constructor(private readonly opts: FabricOptions = {}) {
    this.prefix = opts.prefix ?? `cl${randomBytes(3).toString('hex')}`;
    if (!/^[a-z0-9]{1,12}$/.test(this.prefix))
      throw new Error(`fabric prefix must be [a-z0-9]{1,12}: ${this.prefix}`);
    const count = opts.nodes ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > MAX_NODES)
      throw new Error(`fabric nodes must be 1 to ${MAX_NODES}: ${count}`);
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), `cosmolet-fabric-${this.prefix}-`));
    this.nodes = nodeNames(this.prefix, count);
    const first = this.nodes[0]?.ns ?? `${this.prefix}-node`;
    this.ns = { node: first, leaf: `${this.prefix}-leaf`, ext: `${this.prefix}-ext` };
    for (const n of this.nodes) this.ns[n.key] = n.ns;
    this.addressing = {
      ...DEFAULT_ADDRESSING,
      nodeCount: count,
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
      ...(opts.leafNetworks ? { leafNetworks: opts.leafNetworks } : {}),
      ...(opts.nodeNetworks ? { nodeNetworks: opts.nodeNetworks } : {}),
      ...(opts.defaultToNodes !== undefined ? { defaultToNodes: opts.defaultToNodes } : {}),
    };
    this.logger = (opts.logger ?? silentLogger()).child({ component: 'fabric', prefix: this.prefix });
    this.procs = new ProcessTable(opts.persistent === true, this.logger);
    this.onSignal = (sig) => {
      this.teardownSync();
      process.kill(process.pid, sig);
    };
    this.onExit = () => this.teardownSync();
  }

  /** The router key of `role`: `node` means the first node. */
  private key(role: string): string {
    return role === 'node' ? (this.nodes[0]?.key ?? 'node') : role;
  }

  /** Keys of every FRR router: the nodes, then the leaf. */
  private get frrKeys(): string[] {
    return [...this.nodes.map((n) => n.key), 'leaf'];
  }

  /** Addresses of node `index` (loopback = router id, link to GoBGP). */
  node(index = 0): NodeAddressing {
    return nodeAddressing(index);
  }

  /** FRR vty socket directory of a router (what cosmolet's frr.socketDir points at). */
  socketDir(role: FrrRole): string {
    return join(this.dir, this.key(role), 'run');
  }

  vtysh(role: FrrRole): Vtysh {
    const key = this.key(role);
    let v = this.vtyshes.get(key);
    if (!v) {
      v = new Vtysh({ vtyshPath: 'vtysh', socketDir: this.socketDir(key), timeoutMs: 20_000 });
      this.vtyshes.set(key, v);
    }
    return v;
  }

  private nsName(ns: string): string {
    return this.ns[this.key(ns)] ?? ns;
  }

  /** Runs a command inside a namespace (no shell) and returns its output; rejects on failure. */
  exec(ns: string, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run(['ip', 'netns', 'exec', this.nsName(ns), ...argv], opts.timeoutMs ?? 30_000, opts.input);
  }

  /** Starts a long-running process inside a namespace, tracked by pid and killed by teardown. */
  spawn(ns: string, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    return this.procs.spawn(ns, argv[0] ?? 'process', ['ip', 'netns', 'exec', this.nsName(ns), ...argv], opts)
      .child;
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
      await createTopology(this.prefix, this.nodes, this.ns, this.addressing, (ns) => this.createdNs.add(ns));
      this.writeConfigs();
      await Promise.all([
        ...this.frrKeys.map((k) => this.startFrr(k, timeout)),
        this.startGobgp(timeout),
        ...(this.opts.onTopology ? [this.opts.onTopology()] : []),
      ]);
      await this.waitEstablished(timeout);
      this.writeState();
    } catch (e) {
      await this.teardown();
      throw e;
    }
  }

  private writeConfigs(): void {
    chmodSync(this.dir, 0o755);
    for (const key of this.frrKeys) {
      const base = join(this.dir, key);
      for (const sub of ['run', 'log', 'etc', 'vartmp']) mkdirSync(join(base, sub), { recursive: true });
      const index = this.nodes.find((n) => n.key === key)?.index;
      writeFileSync(
        join(base, 'etc', 'frr.conf'),
        index === undefined ? leafConfig(this.addressing) : nodeConfig(this.addressing, index),
      );
      writeFileSync(join(base, 'etc', 'vtysh.conf'), 'service integrated-vtysh-config\n');
      // FRR daemons drop to frr:frr; crash logs go to /var/tmp/frr, which we bind-mount per daemon.
      spawnSync('chown', ['-R', 'frr:frr', base]);
      chmodSync(join(base, 'vartmp'), 0o1777);
    }
    mkdirSync(join(this.dir, 'ext'), { recursive: true });
    writeFileSync(join(this.dir, 'ext', 'gobgpd.toml'), gobgpConfig(this.addressing));
  }

  private async startDaemon(key: string, daemon: FrrDaemon, timeoutMs: number): Promise<void> {
    const vty = join(this.socketDir(key), `${daemon}.vty`);
    const before = existsSync(vty) ? statSync(vty).mtimeMs : undefined;
    const t = this.procs.spawn(key, daemon, frrArgv(this.dir, key, this.nsName(key), daemon));
    this.procs.daemons.set(`${key}/${daemon}`, t);
    await waitFor(
      `${key} ${daemon} vty socket`,
      () => {
        if (t.child.exitCode !== null || t.child.signalCode !== null) {
          throw new LabError(
            ErrorCodes.LAB_FAILED,
            `${key} ${daemon} exited (${t.child.exitCode ?? t.child.signalCode})`,
          );
        }
        return existsSync(vty) && statSync(vty).mtimeMs !== before;
      },
      timeoutMs,
      50,
    );
  }

  private async startFrr(key: string, timeoutMs: number): Promise<void> {
    await this.startDaemon(key, 'zebra', timeoutMs);
    await Promise.all([
      this.startDaemon(key, 'staticd', timeoutMs),
      this.startDaemon(key, 'bgpd', timeoutMs),
      ...(this.addressing.bfd ? [this.startDaemon(key, 'bfdd', timeoutMs)] : []),
    ]);
    await this.loadConfig(key);
  }

  /** What watchfrr does after starting a daemon in integrated-config mode: push frr.conf into it. */
  private async loadConfig(key: string, daemon?: FrrDaemon): Promise<void> {
    await run(
      [
        'vtysh',
        '--vty_socket',
        this.socketDir(key),
        '--config_dir',
        join(this.dir, key, 'etc'),
        '-b',
        ...(daemon ? ['-d', daemon] : []),
      ],
      30_000,
    );
  }

  private async startGobgp(timeoutMs: number): Promise<void> {
    const t = this.procs.spawn(
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
    this.procs.daemons.set('ext/gobgpd', t);
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

  /** BGP peers of a node (default the first) as its bgpd reports them. */
  nodePeers(role: FrrRole = 'node'): Promise<BgpPeer[]> {
    return bgpSummary(this.vtysh(role));
  }

  /** Whether a node's sessions (leaf: v4+v6 over swp1; ext: v4 and v6) are all Established. */
  async nodeEstablished(role: FrrRole = 'node'): Promise<BgpPeer[] | undefined> {
    const index = this.nodes.find((n) => n.key === this.key(role))?.index ?? 0;
    const a = nodeAddressing(index);
    const peers = await this.nodePeers(role);
    const want = [
      'ipv4:swp1',
      `ipv4:${a.extPeerV4}`,
      ...(this.addressing.ipv6Unicast ? ['ipv6:swp1', `ipv6:${a.extPeerV6}`] : []),
    ];
    const up = new Set(peers.filter((p) => p.established).map((p) => `${p.family}:${p.name}`));
    return want.every((w) => up.has(w)) ? peers : undefined;
  }

  /** Waits until every session of every node is Established; returns the first node's peers. */
  async waitEstablished(timeoutMs = 60_000): Promise<BgpPeer[]> {
    return waitFor(
      'BGP sessions Established',
      async () => {
        const all = await Promise.all(this.nodes.map((n) => this.nodeEstablished(n.key)));
        return all.every((p) => p !== undefined) ? all[0] : undefined;
      },
      timeoutMs,
      250,
    );
  }

  private async bgpRoutes(role: FrrRole): Promise<BgpView> {
    const view: BgpView = new Map();
    const v = this.vtysh(role);
    parseBgpRoutes(await v.showJson('show bgp ipv4 unicast json', 'bgpd'), view);
    parseBgpRoutes(await v.showJson('show bgp ipv6 unicast json', 'bgpd'), view);
    return view;
  }

  /** Prefixes the leaf holds a valid path for (IPv4 and IPv6 unicast). */
  async leafRoutes(): Promise<Set<string>> {
    const view = await this.bgpRoutes('leaf');
    return new Set([...view].filter(([, s]) => s.valid).map(([p]) => p));
  }

  /** A node's own BGP table (default the first node). */
  nodeBgp(role: FrrRole = 'node'): Promise<BgpView> {
    return this.bgpRoutes(role);
  }

  /** Prefixes gobgpd in `ext` holds in its global RIB (IPv4 and IPv6). */
  async gobgpRoutes(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const afi of ['ipv4', 'ipv6']) {
      const r = await this.exec(
        'ext',
        ['gobgp', '-u', '127.0.0.1', '-p', '50051', 'global', 'rib', '-a', afi, '-j'],
        { timeoutMs: 30_000 },
      );
      for (const p of parseGobgpRib(r.stdout)) out.add(p);
    }
    return out;
  }

  /** How many prefixes the leaf received from the nodes (IPv4 + IPv6); cheap enough to poll. */
  async leafPrefixCount(): Promise<number> {
    const peers = await bgpSummary(this.vtysh('leaf'));
    return peers.filter((p) => p.name.startsWith('swp')).reduce((n, p) => n + p.prefixesReceived, 0);
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
    for (const [k, t] of this.procs.daemons) daemons[k] = { pid: t.pid, argv: t.argv };
    return { prefix: this.prefix, dir: this.dir, ns: this.ns, addressing: this.addressing, daemons };
  }

  private writeState(): void {
    if (this.opts.persistent) writeFabricState(this.state());
  }

  /**
   * A handle on a persistent fabric started by another process (`cosmolet lab status|node|down`):
   * every method works on it, including kill/restart of daemons and teardown.
   */
  static attach(dir: string, logger?: Logger): Fabric {
    const state = readFabricState(dir);
    const a = state.addressing;
    const f = new Fabric({
      prefix: state.prefix,
      dir: state.dir,
      persistent: true,
      nodes: a.nodeCount ?? 1,
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
      leafNetworks: a.leafNetworks ?? [],
      nodeNetworks: a.nodeNetworks ?? [],
      defaultToNodes: a.defaultToNodes ?? false,
      ...(logger ? { logger } : {}),
    });
    for (const [k, d] of Object.entries(state.daemons)) f.procs.adopt(k, d.pid, d.argv);
    for (const ns of Object.values(f.ns)) f.createdNs.add(ns);
    return f;
  }

  /** The daemons this fabric started (`<router>/<daemon>` -> pid), running or not. */
  daemonPids(): Map<string, number | undefined> {
    return new Map([...this.procs.daemons].map(([k, t]) => [k, t.pid]));
  }

  /** Every process this fabric started (daemons and `spawn`ed ones) that is still running. */
  processes(): { role: string; name: string; pid: number }[] {
    return this.procs.running();
  }

  /** Pid of a daemon the fabric started (e.g. `bgpd` of `node`). */
  pid(role: Role, daemon: string): number | undefined {
    return this.procs.daemons.get(`${this.key(role)}/${daemon}`)?.pid;
  }

  /** True while the daemon the fabric started is alive (stopped counts as alive). */
  daemonRunning(role: Role, daemon: string): boolean {
    const t = this.procs.daemons.get(`${this.key(role)}/${daemon}`);
    return t !== undefined && !exited(t);
  }

  bgpdRunning(role: FrrRole = 'node'): boolean {
    return this.daemonRunning(role, 'bgpd');
  }

  private killDaemon(role: FrrRole, daemon: FrrDaemon): Promise<void> {
    return this.procs.kill(`${this.key(role)}/${daemon}`);
  }

  /** kill -9 bgpd (what a crash looks like to zebra and the peers). */
  killBgpd(role: FrrRole = 'node'): Promise<void> {
    return this.killDaemon(role, 'bgpd');
  }

  /** Starts bgpd again with the same arguments and pushes the config into it, as watchfrr does. */
  async restartBgpd(role: FrrRole = 'node', timeoutMs = 30_000): Promise<void> {
    await this.restartDaemon(role, 'bgpd', timeoutMs);
  }

  /** kill -9 and restart any FRR daemon the same way (staticd loses every unsaved static route). */
  async restartDaemon(role: FrrRole, daemon: FrrDaemon, timeoutMs = 30_000): Promise<void> {
    await this.killDaemon(role, daemon);
    await this.startDaemon(this.key(role), daemon, timeoutMs);
    await this.loadConfig(this.key(role), daemon);
    this.writeState();
  }

  /** Stops a node's FRR (every daemon, kill -9: what a dead machine looks like to the leaf). */
  async stopRouter(role: FrrRole): Promise<void> {
    const key = this.key(role);
    for (const d of ['bgpd', 'staticd', 'bfdd', 'zebra'] as const) await this.killDaemon(key, d);
    this.writeState();
  }

  /** Starts a stopped node's FRR again with its config. */
  async startRouter(role: FrrRole, timeoutMs = 30_000): Promise<void> {
    const key = this.key(role);
    await this.startFrr(key, timeoutMs);
    this.writeState();
  }

  private signalDaemon(role: FrrRole, daemon: FrrDaemon, sig: NodeJS.Signals): void {
    const t = this.procs.daemons.get(`${this.key(role)}/${daemon}`);
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
    this.procs.killAllSync();
    for (const ns of this.createdNs) killNamespace(ns);
    this.createdNs.clear();
    if (!this.opts.keepDir && this.opts.dir === undefined) rmSync(this.dir, { recursive: true, force: true });
  }

  async teardown(): Promise<void> {
    const exits = this.procs.exitAll();
    this.teardownSync();
    await exits.wait();
  }
}

/** Creates and starts a fabric; the caller must call `teardown()` (the tests do it in t.after). */
export async function startFabric(opts: FabricOptions = {}): Promise<Fabric> {
  const f = new Fabric(opts);
  await f.start();
  return f;
}
