// The fabric's topology: which network namespaces a fabric has and how they are wired. One leaf,
// N nodes and one GoBGP peer (`ext`): node i's uplink `swp1` is the leaf's `swp<i+1>` (IPv6
// link-local only: BGP unnumbered), and its `ext0` is ext's `eth<i>` (numbered v4 and v6). Also the
// cleanup of a prefix's namespaces, which is how leftovers of killed runs are found.
import { spawnSync } from 'node:child_process';
import { LabError, LabErrorCodes } from '../errors.js';
import { runCommand } from 'cosmolet/router/exec';
import { nodeAddressing } from './config.js';

export const MAX_NODES = 8;

/** A node of the fabric: its router key (directory and daemon names) and namespace. */
export interface FabricNodeName {
  index: number;
  /** `node` when the fabric has one node (as it always had), else `node1`..`nodeN`. */
  key: string;
  ns: string;
}

export function nodeNames(prefix: string, count: number): FabricNodeName[] {
  return Array.from({ length: count }, (_, index) => {
    const key = count === 1 ? 'node' : `node${index + 1}`;
    return { index, key, ns: `${prefix}-${key}` };
  });
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

export function killNamespace(ns: string): void {
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

function run(argv: string[], input?: string): Promise<unknown> {
  return runCommand(argv, { timeoutMs: 15_000, ...(input !== undefined ? { input } : {}) });
}

/**
 * Creates the namespaces and links. `created` is told each namespace as soon as it exists, so a
 * failure half-way still deletes it.
 */
export async function createTopology(
  prefix: string,
  nodes: FabricNodeName[],
  ns: { leaf: string; ext: string },
  addressing: { leafRouterId: string; leafLoopbackV6: string; nodeNetworks: string[][] },
  created: (ns: string) => void,
): Promise<void> {
  const taken = namespacesWithPrefix(prefix);
  if (taken.length > 0) {
    // Never adopt (and later delete) namespaces this fabric did not create.
    throw new LabError(
      LabErrorCodes.LAB_FAILED,
      `namespaces ${taken.join(', ')} already exist: another lab uses prefix ${prefix} (cleanupStale removes leftovers)`,
    );
  }
  const all = [...nodes.map((n) => n.ns), ns.leaf, ns.ext];
  await Promise.all(
    all.map(async (name) => {
      await run(['ip', 'netns', 'add', name]);
      created(name);
      // No DAD (addresses usable at once), forwarding on, no RAs learnt (no surprise default route);
      // ECMP hashes on ports too, as a leaf switch does, so connections spread over the nodes.
      await run([
        'ip',
        'netns',
        'exec',
        name,
        'sysctl',
        '-q',
        '-w',
        'net.ipv4.ip_forward=1',
        'net.ipv6.conf.all.forwarding=1',
        'net.ipv6.conf.all.accept_dad=0',
        'net.ipv6.conf.default.accept_dad=0',
        'net.ipv6.conf.all.accept_ra=0',
        'net.ipv6.conf.default.accept_ra=0',
        'net.ipv4.fib_multipath_hash_policy=1',
        'net.ipv6.fib_multipath_hash_policy=1',
      ]);
    }),
  );
  const batches = new Map<string, string[]>();
  batches.set(ns.leaf, [
    'link set lo up',
    // The leaf's loopback: the source of a curl from the leaf, and the way back to it.
    `addr add ${addressing.leafRouterId}/32 dev lo`,
    `addr add ${addressing.leafLoopbackV6}/128 dev lo`,
    ...nodes.map((n) => `link set swp${n.index + 1} up`),
  ]);
  batches.set(ns.ext, ['link set lo up']);
  for (const n of nodes) {
    const a = nodeAddressing(n.index);
    const own = new Set([`${a.routerId}/32`, `${a.loopbackV6}/128`]);
    // A block a node originates must be in its RIB: the pods' host routes are more specific (as
    // Calico does for its blocks); its loopback is on lo.
    const blocks = (addressing.nodeNetworks[n.index] ?? []).filter((p) => !own.has(p));
    batches.set(n.ns, [
      ...blocks.map((p) => `route add blackhole ${p}`),
      'link set lo up',
      `addr add ${a.routerId}/32 dev lo`,
      `addr add ${a.loopbackV6}/128 dev lo`,
      `link add swp1 type veth peer name swp${n.index + 1} netns ${ns.leaf}`,
      `link add ext0 type veth peer name eth${n.index} netns ${ns.ext}`,
      'link set swp1 up',
      'link set ext0 up',
      `addr add ${a.extV4}/30 dev ext0`,
      `addr add ${a.extV6}/64 dev ext0 nodad`,
    ]);
    batches
      .get(ns.ext)
      ?.push(
        `link set eth${n.index} up`,
        `addr add ${a.extPeerV4}/30 dev eth${n.index}`,
        `addr add ${a.extPeerV6}/64 dev eth${n.index} nodad`,
      );
  }
  // Nodes first: their batches create the veths the leaf and ext batches bring up.
  for (const n of nodes)
    await run(['ip', '-n', n.ns, '-batch', '-'], (batches.get(n.ns) ?? []).join('\n') + '\n');
  await Promise.all(
    [ns.leaf, ns.ext].map((name) =>
      run(['ip', '-n', name, '-batch', '-'], (batches.get(name) ?? []).join('\n') + '\n'),
    ),
  );
}
