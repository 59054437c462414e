// The one FRR client: runs vtysh one call at a time (hard timeout, process-group kill,
// --vty_socket). Every reader of FRR, the router backends and the FRR monitor share one instance.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError, ErrorCodes, RouterParseError } from '../../errors.js';
import { runCommand, type RunResult } from '../exec.js';
import { vtyAccessProblem } from './vty-access.js';

export interface VtyshOptions {
  vtyshPath: string;
  socketDir: string;
  timeoutMs: number;
}

/**
 * Runs vtysh one call at a time: FRR's vty is single threaded per daemon, and parallel calls only
 * queue up behind each other while each one holds a process.
 */
export class Vtysh {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(readonly opts: VtyshOptions) {}

  private base(): string[] {
    return [this.opts.vtyshPath, '--vty_socket', this.opts.socketDir];
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    // The queue keeps no result: a 100,000-route table would stay in memory until the next call.
    this.tail = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  /** Runs show/exec commands with `-c`; `daemon` limits vtysh to one daemon (`-d bgpd`). */
  exec(commands: readonly string[], daemon?: string): Promise<RunResult> {
    const argv = [...this.base(), ...(daemon ? ['-d', daemon] : [])];
    for (const c of commands) argv.push('-c', c);
    return this.serial(() =>
      runCommand(argv, { timeoutMs: this.opts.timeoutMs }).catch((err: unknown) => {
        throw this.withAccessProblem(err);
      }),
    );
  }

  /**
   * vtysh exits 1 with "failed to connect to any daemons" both when FRR is not running and when this
   * process may not open the sockets: the socket directory tells which, and what to set.
   */
  private withAccessProblem(err: unknown): unknown {
    if (!(err instanceof CommandError) || err.code !== ErrorCodes.COMMAND_FAILED) return err;
    if (!/failed to connect/.test(err.message)) return err;
    const access = vtyAccessProblem(this.opts.socketDir);
    if (access === undefined) return err;
    return new CommandError(err.code, err.command, `${err.message}; ${access}`, err.exitCode, err.stderr);
  }

  async show(command: string, daemon?: string): Promise<string> {
    return (await this.exec([command], daemon)).stdout;
  }

  /**
   * The error for a call that printed nothing: vtysh could not reach the daemon. Its stderr, and what
   * the socket directory shows (no FRR there, or sockets of a group this process is not in).
   */
  printedNothing(command: string, stderr: string): RouterParseError {
    // vtysh says why on stderr when it can (no permission on the socket, PAM refused it).
    const why = stderr.trim().replace(/\s+/g, ' ').slice(0, 300);
    const access = vtyAccessProblem(this.opts.socketDir);
    return new RouterParseError(
      `vtysh "${command}" printed nothing${why ? `: ${why}` : ' (is the daemon running?)'}${access ? `; ${access}` : ''}`,
    );
  }

  async showJson(command: string, daemon?: string): Promise<unknown> {
    const { stdout: out, stderr } = await this.exec([command], daemon);
    if (out.trim() === '') throw this.printedNothing(command, stderr);
    try {
      return JSON.parse(out) as unknown;
    } catch {
      throw new RouterParseError(`vtysh "${command}" did not print JSON: ${out.slice(0, 200)}`);
    }
  }

  /**
   * Feeds config lines (config syntax, no `configure terminal`) through `vtysh -f FILE` in one
   * process. Any exit status is returned: vtysh goes on after bad lines (exit 2) and reports a `no`
   * of a missing route (13 with -c; 0 with -f on 8.4), so the caller judges the outcome by reading
   * the state back. Without `daemon`, vtysh talks to every daemon and hangs while any one is stopped.
   */
  applyConfig(
    lines: readonly string[],
    timeoutMs: number = this.opts.timeoutMs,
    daemon?: string,
  ): Promise<RunResult> {
    return this.serial(async () => {
      const dir = await mkdtemp(join(tmpdir(), 'cosmolet-vtysh-'));
      const file = join(dir, 'apply.conf');
      try {
        await writeFile(file, lines.join('\n') + '\n', { mode: 0o600 });
        return await runCommand([...this.base(), ...(daemon ? ['-d', daemon] : []), '-f', file], {
          timeoutMs,
          okCodes: 'any',
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
}
