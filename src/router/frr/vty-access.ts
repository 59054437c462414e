// Why vtysh cannot reach FRR, read from the socket directory when a call printed nothing: no FRR
// there, or vty sockets (srwxrwx--- frr:frrvty) this process may not open, and the chart value that
// gives it their group. vtysh itself only says "failed to connect to any daemons".
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcessIdentity {
  uid: number;
  /** The primary and supplementary groups. */
  gids: readonly number[];
  /** CAP_DAC_OVERRIDE in the effective set: file permissions do not apply. */
  dacOverride: boolean;
}

/** CAP_DAC_OVERRIDE's bit in /proc/self/status CapEff. */
const CAP_DAC_OVERRIDE = 1n;

export function currentIdentity(): ProcessIdentity {
  let dacOverride = false;
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (hex !== undefined) dacOverride = ((BigInt(`0x${hex}`) >> CAP_DAC_OVERRIDE) & 1n) === 1n;
  } catch {
    // Not Linux: file permissions are assumed to apply.
  }
  const uid = process.getuid?.() ?? -1;
  const gids = [...new Set([process.getgid?.() ?? -1, ...(process.getgroups?.() ?? [])])];
  return { uid, gids, dacOverride };
}

/** What keeps this process from FRR's vty sockets in `socketDir`, or undefined when nothing seen does. */
export function vtyAccessProblem(
  socketDir: string,
  id: ProcessIdentity = currentIdentity(),
): string | undefined {
  let names: string[];
  try {
    names = readdirSync(socketDir).filter((n) => n.endsWith('.vty'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return `cannot read ${socketDir} (${code}): is FRR installed on this node?`;
  }
  if (names.length === 0)
    return `no FRR vty socket (*.vty) in ${socketDir}: is FRR installed and running on this node?`;
  if (id.dacOverride) return undefined;
  for (const name of names.sort()) {
    let st;
    try {
      st = statSync(join(socketDir, name));
    } catch {
      continue;
    }
    if (!st.isSocket()) continue;
    // Connecting to a Unix socket needs write permission on it.
    const bit = id.uid === st.uid ? 0o200 : id.gids.includes(st.gid) ? 0o020 : 0o002;
    if ((st.mode & bit) !== 0) continue;
    return (
      `cosmolet (uid ${id.uid}, groups ${id.gids.join(',')}) may not open ${join(socketDir, name)} ` +
      `(owner ${st.uid}, group ${st.gid}, mode ${(st.mode & 0o777).toString(8)}): it must run in group ${st.gid}. ` +
      `Set the chart's frrVtyGroupId: ${st.gid} (or leave it null so the entrypoint joins it at start)`
    );
  }
  return undefined;
}
