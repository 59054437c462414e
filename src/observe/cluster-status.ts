// One view across the cluster from every node's /status (what `cosmolet status` prints): per
// Service IP, the nodes that advertise it (planned, installed, and held by bgpd), the nodes that
// installed it but whose bgpd does not hold it, the nodes that planned it but have not installed it,
// the nodes that skip it with their reason, and its route class (more than one only while nodes
// disagree, for example during a rollout of new classes). Pure: the documents come from the caller.
import { hostPrefix, parseIP } from '../net/ip.js';
import type { StatusDocument } from './status.js';

export interface NodeStatusRead {
  node: string;
  pod: string;
  /** Where /status was read (`http://address:port/status`). */
  url: string;
  doc?: StatusDocument;
  /** Why it could not be read (unreachable, 401/403, bad JSON). */
  error?: string;
}

export interface ClusterPrefix {
  prefix: string;
  services: string[];
  /** The route classes the nodes that plan it give it (rule 7); empty: none. */
  classes: string[];
  advertising: string[];
  installedNotInBgp: string[];
  notInstalled: string[];
  skipped: { node: string; reason: string }[];
}

export interface ClusterStatus {
  nodes: { name: string; pod: string; url: string; reachable: boolean; error: string | null }[];
  prefixes: ClusterPrefix[];
}

export function clusterStatus(reads: NodeStatusRead[]): ClusterStatus {
  const byPrefix = new Map<string, ClusterPrefix>();
  const entry = (prefix: string): ClusterPrefix => {
    let p = byPrefix.get(prefix);
    if (!p) {
      p = {
        prefix,
        services: [],
        classes: [],
        advertising: [],
        installedNotInBgp: [],
        notInstalled: [],
        skipped: [],
      };
      byPrefix.set(prefix, p);
    }
    return p;
  };
  const sorted = [...reads].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  for (const r of sorted) {
    if (!r.doc) continue;
    for (const route of r.doc.routes) {
      const p = entry(route.prefix);
      for (const s of route.services) if (!p.services.includes(s)) p.services.push(s);
      // Documents from a cosmolet older than route classes have no `class`.
      const cls = (route as { class?: string | null }).class;
      if (typeof cls === 'string' && !p.classes.includes(cls)) p.classes.push(cls);
      if (!route.installed) p.notInstalled.push(r.node);
      else if (route.bgp.valid) p.advertising.push(r.node);
      else p.installedNotInBgp.push(r.node);
    }
    for (const s of r.doc.skipped) {
      const ip = parseIP(s.ip);
      if (!ip) continue;
      const p = entry(hostPrefix(ip));
      if (!p.services.includes(s.service)) p.services.push(s.service);
      if (!p.skipped.some((x) => x.node === r.node)) p.skipped.push({ node: r.node, reason: s.reason });
    }
  }
  for (const p of byPrefix.values()) {
    p.services.sort();
    p.classes.sort();
  }
  return {
    nodes: sorted.map((r) => ({
      name: r.node,
      pod: r.pod,
      url: r.url,
      reachable: r.doc !== undefined,
      error: r.doc ? null : (r.error ?? 'no answer'),
    })),
    prefixes: [...byPrefix.values()].sort((a, b) => (a.prefix < b.prefix ? -1 : 1)),
  };
}

/** The view as a table, then the nodes that could not be read. */
export function renderClusterStatus(s: ClusterStatus): string {
  const rows: string[][] = [
    ['PREFIX', 'SERVICES', 'CLASS', 'ADVERTISED BY', 'NOT IN BGP', 'NOT INSTALLED', 'SKIPPED'],
  ];
  for (const p of s.prefixes) {
    const reasons = new Map<string, string[]>();
    for (const k of p.skipped) reasons.set(k.reason, [...(reasons.get(k.reason) ?? []), k.node]);
    rows.push([
      p.prefix,
      p.services.join(','),
      p.classes.join(',') || '-',
      p.advertising.join(',') || '-',
      p.installedNotInBgp.join(',') || '-',
      p.notInstalled.join(',') || '-',
      [...reasons].map(([r, n]) => `${n.join(',')}: ${r}`).join('; ') || '-',
    ]);
  }
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  const lines = rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join('  ')
      .trimEnd(),
  );
  const reachable = s.nodes.filter((n) => n.reachable).length;
  lines.push('', `${reachable} of ${s.nodes.length} nodes answered.`);
  for (const n of s.nodes.filter((x) => !x.reachable))
    lines.push(`unreachable: ${n.name} (${n.url}): ${n.error ?? ''}`);
  return lines.join('\n') + '\n';
}
