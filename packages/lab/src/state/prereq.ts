// What `cosmolet lab up` checks before it creates anything; each error says the exact fix.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LabError, LabErrorCodes } from '../errors.js';
import { checkPrerequisites } from '../fabric/prereq.js';
import { COSMOLET_CLI, LAB_MAINS } from '../paths.js';

function prereq(message: string): LabError {
  return new LabError(LabErrorCodes.LAB_PREREQUISITE, message);
}

function which(bin: string): boolean {
  return ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'].some((d) =>
    existsSync(join(d, bin)),
  );
}

/** Everything the lab needs, checked before anything is created; each error says the exact fix. */
export function checkLabPrerequisites(command: string): void {
  if (process.getuid?.() !== 0)
    throw prereq(
      'cosmolet lab needs root: it creates network namespaces and starts FRR.\n' +
        `  fix: sudo ${command} lab up    (or: sudo bash scripts/lab.sh)`,
    );
  if (!existsSync('/proc/self/ns/net'))
    throw prereq(
      'this kernel has no network namespaces (CONFIG_NET_NS), which the lab is made of.\n' +
        '  fix: use a machine or VM with a stock Debian or Ubuntu kernel',
    );
  try {
    checkPrerequisites();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw prereq(
      `${msg}\n  fix: bash scripts/setup.sh    (or: apt-get install frr gobgpd iproute2 nftables)`,
    );
  }
  if (!which('nft'))
    throw prereq("missing: nft (the lab's kube-proxy rules)\n  fix: apt-get install nftables");
  for (const f of [LAB_MAINS.cluster, LAB_MAINS.forward, LAB_MAINS.pod, COSMOLET_CLI])
    if (!existsSync(f))
      throw prereq(`cosmolet is not built (${f} is missing)\n  fix: npm ci && npm run build`);
}

/** Namespaces of this prefix that exist now. */
export function labNamespaces(prefix: string): string[] {
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns').filter((n) => n.startsWith(`${prefix}-`));
}

export function probeNetns(prefix: string): void {
  const ns = `${prefix}-probe`;
  const r = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (r.status !== 0)
    throw prereq(
      `cannot create a network namespace (ip netns add: ${(r.stderr || '').trim()}).\n` +
        '  fix: run on a machine or VM as root; in a container, it needs --privileged (CAP_SYS_ADMIN)',
    );
  spawnSync('ip', ['netns', 'del', ns]);
}

/** FRR drops to the frr user: every directory above its sockets and logs must let others in. */
export function checkTraversable(dir: string): void {
  chmodSync(dir, 0o755);
  for (let d = dirname(dir); d !== dirname(d); d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0)
      throw new LabError(
        LabErrorCodes.LAB_FAILED,
        `${d} is not searchable by other users, so FRR (running as user frr) cannot reach ${dir}.\n` +
          `  fix: chmod o+x ${d}, or pick another --state-dir`,
      );
  }
}
