// The fabric lab: a small data center on one machine. A leaf (FRR), N nodes (FRR: zebra, staticd,
// bgpd; where cosmolet runs), each peering with the leaf over IPv6 unnumbered eBGP with extended
// next hop (IPv4 and IPv6 unicast), and `ext` (gobgpd, numbered IPv4 and IPv6 sessions to every
// node). Used by the e2e tests, the benchmark and `cosmolet lab`. The shape is in
// topology.ts, the router configs in config.ts, the processes and their files in
// processes.ts, the options in options.ts, the BGP read-outs in bgp.ts; this
// file is the handle that starts, inspects, breaks and tears down one fabric.
//
// Everything a fabric starts is tracked by pid and lives in namespaces whose names carry a unique
// prefix, so teardown (also on failure, SIGINT, SIGTERM and exit) removes exactly what it made.
// With one node (the default) the node is `node` (namespace `<prefix>-node`) as it always was.
// Why one file of this length: it is the one handle tests hold (start, inspect, break, tear
// down); each of its jobs delegates to the files beside it named above.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabError, LabErrorCodes } from '../errors.js';
import type { Logger } from 'cosmolet/logger';
import { silentLogger } from 'cosmolet/observe/log';
import { runCommand, type RunResult } from 'cosmolet/router/exec';
import { bgpSummary } from 'cosmolet/router/frr/bgpd';
import type { BgpPeer, BgpView } from 'cosmolet/router/frr/parse';
import { Vtysh } from 'cosmolet/router/frr/vtysh';
import { bgpTable, gobgpDestinations, gobgpRib, nodeSessionsUp, prefixesFromNodes } from './bgp.js';
import { nodeAddressing, type FabricAddressing, type NodeAddressing } from './config.js';
import {
  exited,
  frrArgv,
  gobgpdArgv,
  writeRouterFiles,
  ProcessTable,
  type FrrDaemon,
  type SpawnOptions,
} from './processes.js';
import { addressingFromOptions, optionsFromState, type FabricOptions } from './options.js';
import { checkPrerequisites } from './prereq.js';
import { readFabricState, writeFabricState, type FabricState } from './state.js';
import { createTopology, killNamespace, MAX_NODES, nodeNames, type FabricNodeName } from './topology.js';
import { waitFor } from '../wait.js';

/** `node` is the first node; `node1`..`nodeN` name nodes of a fabric with several. */
export type Role = string;
export type FrrRole = string;

function run(argv: string[], timeoutMs = 15_000, input?: string): Promise<RunResult> {
  return runCommand(argv, { timeoutMs, ...(input !== undefined ? { input } : {}) });
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
    this.addressing = addressingFromOptions(opts, count);
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
      writeRouterFiles(this.dir, this.addressing, this.nodes);
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
            LabErrorCodes.LAB_FAILED,
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
    const t = this.procs.spawn('ext', 'gobgpd', gobgpdArgv(this.dir, this.ns.ext), {
      logFile: join(this.dir, 'ext', 'gobgpd.log'),
    });
    this.procs.daemons.set('ext/gobgpd', t);
    await waitFor(
      'gobgpd API',
      async () => {
        if (t.child.exitCode !== null)
          throw new LabError(LabErrorCodes.LAB_FAILED, `gobgpd exited with ${t.child.exitCode}`);
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
    const peers = await this.nodePeers(role);
    return nodeSessionsUp(peers, nodeAddressing(index), this.addressing.ipv6Unicast) ? peers : undefined;
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

  /** Prefixes the leaf holds a valid path for (IPv4 and IPv6 unicast). */
  async leafRoutes(): Promise<Set<string>> {
    const view = await bgpTable(this.vtysh('leaf'));
    return new Set([...view].filter(([, s]) => s.valid).map(([p]) => p));
  }

  /** A node's own BGP table (default the first node). */
  nodeBgp(role: FrrRole = 'node'): Promise<BgpView> {
    return bgpTable(this.vtysh(role));
  }

  /** Prefixes gobgpd in `ext` holds in its global RIB (IPv4 and IPv6). */
  gobgpRoutes(): Promise<Set<string>> {
    return gobgpRib((argv, opts) => this.exec('ext', argv, opts));
  }

  /** How many prefixes the leaf received from the nodes (IPv4 + IPv6); cheap enough to poll. */
  async leafPrefixCount(): Promise<number> {
    return prefixesFromNodes(await bgpSummary(this.vtysh('leaf')));
  }

  /** How many destinations gobgpd holds (IPv4 + IPv6), from `gobgp global rib summary`. */
  gobgpPrefixCount(): Promise<number> {
    return gobgpDestinations((argv, opts) => this.exec('ext', argv, opts));
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
    const f = new Fabric(optionsFromState(state, logger));
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
      throw new LabError(LabErrorCodes.LAB_FAILED, `${role} ${daemon} is not running`);
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
