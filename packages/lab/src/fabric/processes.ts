// The fabric's processes: every daemon and helper a fabric starts, tracked by pid (and by child
// handle when this process started it), so that kill, restart and teardown act on exactly those.
// Also how FRR's daemons and gobgpd are started inside a namespace, and the files they run from.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'cosmolet/logger';
import { gobgpConfig, leafConfig, nodeConfig, type FabricAddressing } from './config.js';
import type { FabricNodeName } from './topology.js';
import { waitFor } from '../wait.js';

export const FRR_DIR = '/usr/lib/frr';
export const FRR_DAEMONS = ['zebra', 'staticd', 'bgpd'] as const;
export type FrrDaemon = (typeof FRR_DAEMONS)[number] | 'bfdd';

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  /** Where stdout/stderr go: a file path in the lab dir, or 'ignore' (default). */
  logFile?: string;
  cwd?: string;
}

export interface Tracked {
  role: string;
  name: string;
  pid: number | undefined;
  argv: string[];
  /** Absent for daemons of an attached fabric (started by another process). */
  child?: ChildProcess;
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

export function exited(t: Tracked): boolean {
  return t.child ? t.child.exitCode !== null || t.child.signalCode !== null : !alive(t.pid);
}

export class ProcessTable {
  readonly tracked = new Set<Tracked>();
  /** Daemons by `<role>/<daemon>`, e.g. `node2/bgpd`, `ext/gobgpd`. */
  readonly daemons = new Map<string, Tracked>();

  constructor(
    /** Detached children that outlive this process (`cosmolet lab`). */
    private readonly persistent: boolean,
    private readonly logger: Logger,
  ) {}

  spawn(
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
      detached: this.persistent,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    // A persistent lab's daemons must not keep this process alive or die with it.
    if (this.persistent) child.unref();
    // The child has its own copy of the descriptor.
    if (fd !== undefined) closeSync(fd);
    const t = { role, name, pid: child.pid, child, argv };
    this.tracked.add(t);
    child.on('exit', () => this.tracked.delete(t));
    child.on('error', (e) => this.logger.warn({ err: e.message, name }, 'spawn failed'));
    return t;
  }

  /** A daemon started by another process (an attached fabric). */
  adopt(key: string, pid: number | undefined, argv: string[]): void {
    const [role = '', name = ''] = key.split('/');
    const t: Tracked = { role, name, pid, argv };
    this.daemons.set(key, t);
    this.tracked.add(t);
  }

  running(): { role: string; name: string; pid: number }[] {
    const out: { role: string; name: string; pid: number }[] = [];
    for (const t of this.tracked)
      if (t.pid !== undefined && !exited(t)) out.push({ role: t.role, name: t.name, pid: t.pid });
    return out;
  }

  /** SIGKILL a daemon (after SIGCONT, so a stopped one dies) and wait until it is gone. */
  async kill(key: string): Promise<void> {
    const t = this.daemons.get(key);
    if (!t || exited(t)) return;
    const child = t.child;
    const gone = child
      ? new Promise<void>((resolve) => child.once('exit', () => resolve()))
      : waitFor(`${key} to exit`, () => !alive(t.pid), 10_000, 20).then(() => undefined);
    if (t.pid !== undefined) {
      process.kill(t.pid, 'SIGCONT');
      process.kill(t.pid, 'SIGKILL');
    }
    await gone;
  }

  killAllSync(): void {
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
  }

  /** Resolves when every tracked process has exited (or after 5 s). */
  exitAll(): { wait: () => Promise<void> } {
    const waits = [...this.tracked].map((t) =>
      exited(t)
        ? Promise.resolve()
        : t.child
          ? new Promise<void>((resolve) => t.child?.once('exit', () => resolve()))
          : waitFor('exit', () => !alive(t.pid), 5000, 20).catch(() => undefined),
    );
    return {
      wait: async () => {
        await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5000))]);
      },
    };
  }
}

/** How an FRR daemon of router `key` (files under `<dir>/<key>`) runs in namespace `ns`. */
export function frrArgv(dir: string, key: string, ns: string, daemon: FrrDaemon): string[] {
  const base = join(dir, key);
  const run = join(base, 'run');
  return [
    'ip',
    'netns',
    'exec',
    ns,
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
    // --v6-rr-semantics: an IPv6 route whose attributes change (a re-mark's community and MED) is
    // replaced in the kernel in place. Without it FRR 8.4's zebra deletes and re-adds it, and the
    // leaf's FIB lost the prefix for a moment at every re-mark (`ip monitor route`: a `Deleted`
    // per IPv6 update, none for IPv4), which the re-mark tests sampling it every 100 ms caught now
    // and then. Fabric switches replace routes in place; the lab's leaf should too.
    ...(daemon === 'zebra' ? ['-s', '90000000', '--v6-rr-semantics'] : []),
    // bfdd's control socket defaults to /var/run/frr/bfdd.sock, shared by every instance.
    ...(daemon === 'bfdd' ? ['--bfdctl', join(run, 'bfdd.sock')] : []),
  ];
}

/** How gobgpd runs in namespace `ns` with its config under `<dir>/ext`. */
export function gobgpdArgv(dir: string, ns: string): string[] {
  return [
    'ip',
    'netns',
    'exec',
    ns,
    'gobgpd',
    '-f',
    join(dir, 'ext', 'gobgpd.toml'),
    '--api-hosts',
    '127.0.0.1:50051',
    '--pprof-disable',
    '-l',
    'warn',
  ];
}

/** Each router's working directory under `dir` (run, log, etc, vartmp) with its config files. */
export function writeRouterFiles(dir: string, addressing: FabricAddressing, nodes: FabricNodeName[]): void {
  chmodSync(dir, 0o755);
  for (const key of [...nodes.map((n) => n.key), 'leaf']) {
    const base = join(dir, key);
    for (const sub of ['run', 'log', 'etc', 'vartmp']) mkdirSync(join(base, sub), { recursive: true });
    const index = nodes.find((n) => n.key === key)?.index;
    writeFileSync(
      join(base, 'etc', 'frr.conf'),
      index === undefined ? leafConfig(addressing) : nodeConfig(addressing, index),
    );
    writeFileSync(join(base, 'etc', 'vtysh.conf'), 'service integrated-vtysh-config\n');
    // FRR daemons drop to frr:frr; crash logs go to /var/tmp/frr, which we bind-mount per daemon.
    spawnSync('chown', ['-R', 'frr:frr', base]);
    chmodSync(join(base, 'vartmp'), 0o1777);
  }
  mkdirSync(join(dir, 'ext'), { recursive: true });
  writeFileSync(join(dir, 'ext', 'gobgpd.toml'), gobgpConfig(addressing));
}
