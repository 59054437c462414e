// Runs an external program without a shell, with a hard timeout. The child gets its own process
// group so that a timeout kills it and anything it started (vtysh hangs forever on a stopped daemon).
import { spawn } from 'node:child_process';
import { CommandError, ErrorCodes } from '../errors.js';

export interface RunOptions {
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  timeoutMs: number;
  /** Exit codes that count as success (default: only 0); 'any' leaves the judgement to the caller. */
  okCodes?: readonly number[] | 'any';
  env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
}

/** Bounded so a runaway child cannot exhaust memory; 256 MiB is far above 20,000 routes of JSON. */
const MAX_OUTPUT = 256 * 1024 * 1024;

export function describeArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/**
 * Runs argv[0] with the remaining arguments. Resolves with the output when the exit code is in
 * `okCodes`; rejects with a CommandError (COMMAND_FAILED or COMMAND_TIMEOUT) otherwise.
 */
export function runCommand(argv: readonly string[], opts: RunOptions): Promise<RunResult> {
  const [file, ...args] = argv;
  const command = describeArgv(argv);
  if (file === undefined)
    return Promise.reject(
      new CommandError(ErrorCodes.COMMAND_FAILED, '', 'runCommand: empty argv', null, ''),
    );
  const okCodes = opts.okCodes ?? [0];
  const started = performance.now();
  return new Promise<RunResult>((resolve, reject) => {
    let settled = false;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: opts.env ?? process.env,
    });
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      killGroup(child.pid);
      finish(() =>
        reject(
          new CommandError(
            ErrorCodes.COMMAND_TIMEOUT,
            command,
            `${command}: no answer within ${opts.timeoutMs} ms, killed`,
            null,
            Buffer.concat(err).toString('utf8'),
          ),
        ),
      );
    }, opts.timeoutMs);
    const collect = (list: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT) {
        killGroup(child.pid);
        finish(() =>
          reject(
            new CommandError(ErrorCodes.COMMAND_FAILED, command, `${command}: output too large`, null, ''),
          ),
        );
        return;
      }
      list.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    child.on('error', (e) => {
      finish(() =>
        reject(new CommandError(ErrorCodes.COMMAND_FAILED, command, `${command}: ${e.message}`, null, '')),
      );
    });
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const exitCode = code ?? -1;
      finish(() => {
        if (code !== null && (okCodes === 'any' || okCodes.includes(code))) {
          resolve({ stdout, stderr, exitCode, durationMs: performance.now() - started });
          return;
        }
        const why = signal ? `killed by ${signal}` : `exit status ${exitCode}`;
        // vtysh prints its errors on stdout.
        const detail = (stderr.trim() || stdout.trim()).split('\n').slice(0, 5).join('; ');
        reject(
          new CommandError(
            ErrorCodes.COMMAND_FAILED,
            command,
            `${command}: ${why}${detail ? `: ${detail}` : ''}`,
            code,
            stderr,
          ),
        );
      });
    });
    // EPIPE when the child exits before reading its input; the exit status tells the story.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
