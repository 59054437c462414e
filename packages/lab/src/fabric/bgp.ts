// What the fabric's BGP speakers hold: FRR's tables through vtysh, GoBGP's RIB through its CLI.
import { LabError, LabErrorCodes } from '../errors.js';
import type { RunResult } from 'cosmolet/router/exec';
import { parseBgpRoutes, type BgpPeer, type BgpView } from 'cosmolet/router/frr/parse';
import type { Vtysh } from 'cosmolet/router/frr/vtysh';
import type { NodeAddressing } from './config.js';
import { parseGobgpRib } from './gobgp.js';

/** Runs a command in GoBGP's namespace (`ext`). */
export type ExtExec = (argv: string[], opts?: { timeoutMs?: number }) => Promise<RunResult>;

const GOBGP = ['gobgp', '-u', '127.0.0.1', '-p', '50051'];

/** An FRR router's BGP table, IPv4 and IPv6 unicast. */
export async function bgpTable(v: Vtysh): Promise<BgpView> {
  const view: BgpView = new Map();
  parseBgpRoutes(await v.showJson('show bgp ipv4 unicast json', 'bgpd'), view);
  parseBgpRoutes(await v.showJson('show bgp ipv6 unicast json', 'bgpd'), view);
  return view;
}

/** Whether a node's sessions (leaf: v4+v6 over swp1; ext: v4 and v6) are all Established. */
export function nodeSessionsUp(peers: BgpPeer[], a: NodeAddressing, ipv6Unicast: boolean): boolean {
  const want = [
    'ipv4:swp1',
    `ipv4:${a.extPeerV4}`,
    ...(ipv6Unicast ? ['ipv6:swp1', `ipv6:${a.extPeerV6}`] : []),
  ];
  const up = new Set(peers.filter((p) => p.established).map((p) => `${p.family}:${p.name}`));
  return want.every((w) => up.has(w));
}

/** How many prefixes the leaf received from the nodes (its swp sessions), from its summary. */
export function prefixesFromNodes(leafPeers: BgpPeer[]): number {
  return leafPeers.filter((p) => p.name.startsWith('swp')).reduce((n, p) => n + p.prefixesReceived, 0);
}

/** Prefixes gobgpd holds in its global RIB (IPv4 and IPv6). */
export async function gobgpRib(exec: ExtExec): Promise<Set<string>> {
  const out = new Set<string>();
  for (const afi of ['ipv4', 'ipv6']) {
    const r = await exec([...GOBGP, 'global', 'rib', '-a', afi, '-j'], { timeoutMs: 30_000 });
    for (const p of parseGobgpRib(r.stdout)) out.add(p);
  }
  return out;
}

/** How many destinations gobgpd holds (IPv4 + IPv6), from `gobgp global rib summary`. */
export async function gobgpDestinations(exec: ExtExec): Promise<number> {
  let n = 0;
  for (const afi of ['ipv4', 'ipv6']) {
    const r = await exec([...GOBGP, 'global', 'rib', 'summary', '-a', afi]);
    const m = /Destination:\s*(\d+)/.exec(r.stdout);
    if (m?.[1] === undefined)
      throw new LabError(LabErrorCodes.LAB_FAILED, `gobgp rib summary: ${r.stdout.trim()}`);
    n += Number(m[1]);
  }
  return n;
}
