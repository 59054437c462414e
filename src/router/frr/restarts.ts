// Restart detection: an identity of the running FRR daemons that changes whenever one restarted
// (the FRR monitor asks it every loop; a restarted staticd has lost its routes).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { restartCheck, type RestartResult } from './checks.js';

export interface DaemonIdentity {
  name: string;
  pid?: number;
  /** Process start time in clock ticks since boot (/proc/<pid>/stat field 22), when visible. */
  startTime?: string;
  /** mtime of the daemon's vty socket, which each start re-creates. */
  socketMtimeMs?: number;
}

export interface FrrIdentity {
  /** Changes whenever one of the daemons restarted (or appeared / disappeared). */
  token: string;
  daemons: DaemonIdentity[];
}

async function daemonIdentity(socketDir: string, name: string): Promise<DaemonIdentity> {
  const id: DaemonIdentity = { name };
  try {
    const pid = Number((await readFile(join(socketDir, `${name}.pid`), 'utf8')).trim());
    if (Number.isInteger(pid) && pid > 0) {
      id.pid = pid;
      try {
        const statText = await readFile(`/proc/${pid}/stat`, 'utf8');
        // Fields after the command name, which is in parentheses and may contain spaces.
        const fields = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
        id.startTime = fields[19];
      } catch {
        // Not in our PID namespace (no hostPID): the socket mtime still changes on restart.
      }
    }
  } catch {
    // No pid file: a non-default layout; rely on the socket.
  }
  try {
    id.socketMtimeMs = (await stat(join(socketDir, `${name}.vty`))).mtimeMs;
  } catch {
    // Daemon not running.
  }
  return id;
}

/**
 * An identity of the running FRR daemons (pid + start time, vty socket mtime). The controller calls
 * it every loop; when the token changes, bgpd, zebra or staticd restarted and a full re-read and
 * re-apply is due (a restarted staticd has lost every static route that was not saved).
 */
export async function readFrrIdentity(
  socketDir: string,
  daemons: readonly string[] = ['zebra', 'bgpd', 'staticd', 'mgmtd'],
): Promise<FrrIdentity> {
  const list = await Promise.all(daemons.map((d) => daemonIdentity(socketDir, d)));
  const token = list
    .map((d) => `${d.name}:${d.pid ?? '-'}:${d.startTime ?? '-'}:${d.socketMtimeMs ?? '-'}`)
    .join(',');
  return { token, daemons: list };
}

/** Remembers the last identity; `changed()` is true once after each restart (restartCheck). */
export class FrrRestartDetector {
  private last: RestartResult | undefined;
  constructor(
    private readonly socketDir: string,
    private readonly daemons: readonly string[] = ['zebra', 'bgpd', 'staticd', 'mgmtd'],
  ) {}

  async changed(): Promise<boolean> {
    const { token } = await readFrrIdentity(this.socketDir, this.daemons);
    this.last = restartCheck(token, this.last);
    return this.last.restarted;
  }
}
