// Which nodes report a problem that every node sees alike (an invalid Service IP, one outside
// advertise.allowedCIDRs): the few whose hash of (Service, node) is lowest among the nodes known
// from the EndpointSlices (rendezvous hashing). Every node computes the same answer from the same
// cluster, so a refused IP yields a handful of Events, not one per node of a 5,000-node cluster.

/** How many nodes report each Service's refusals. */
export const REPORTERS_PER_SERVICE = 3;

/** FNV-1a, 32 bits: cheap, stable across processes and versions. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function rank(service: string, node: string): number {
  return fnv1a(`${service}\u0000${node}`);
}

/**
 * Whether `self` is among the `count` lowest-ranked nodes for `service`. A node that runs no
 * endpoint (and so is not among `nodes`) counts itself in, so a small cluster always has a reporter.
 */
export function isReporter(
  service: string,
  self: string,
  nodes: Iterable<string>,
  count: number = REPORTERS_PER_SERVICE,
): boolean {
  const mine = rank(service, self);
  let lower = 0;
  for (const n of nodes) {
    if (n === self) continue;
    const r = rank(service, n);
    // Ties broken by name, so two nodes never both think they are ahead of each other.
    if (r < mine || (r === mine && n < self)) {
      lower++;
      if (lower >= count) return false;
    }
  }
  return true;
}
