// The node names EndpointSlice projections share (src/plan/input.ts projectSlice): one string per
// name while any kept slice names it.
/**
 * Node names shared by the slices that name them, each released with the last slice that does: a
 * table that only grew kept every name any EndpointSlice ever carried (40 updates of a slice with
 * 1,000 endpoints on new nodes kept +12.9 MB of heap after it was deleted). Sharing saves a third of the
 * slices' memory at 10,000 slices on 100 nodes (3.1 MB instead of 4.7 MB); the store that keeps the
 * projections releases each one it drops.
 */
export class NodeNames {
  private readonly refs = new Map<string, { name: string; count: number }>();
  /**
   * Lists of nodes shared too: the IPv4 and IPv6 slices of a dual-stack Service name the same
   * nodes, and so do the slices of Services scheduled alike (an array each was 90 bytes a slice).
   */
  private readonly lists = new Map<string, { list: readonly string[]; count: number }>();

  acquire(name: string): string {
    const known = this.refs.get(name);
    if (known) {
      known.count += 1;
      return known.name;
    }
    this.refs.set(name, { name, count: 1 });
    return name;
  }

  /** The shared, frozen list of these names (sorted, distinct, not empty). */
  acquireList(names: readonly string[]): readonly string[] {
    // A node name is a DNS subdomain: no newline in it.
    const key = names.join('\n');
    const known = this.lists.get(key);
    if (known) {
      known.count += 1;
      return known.list;
    }
    const list = Object.freeze(names.map((n) => this.acquire(n)));
    this.lists.set(key, { list, count: 1 });
    return list;
  }

  /** The nodes of a projection acquired through this table, which leaves its store. */
  release(nodes: readonly string[]): void {
    if (nodes.length === 0) return;
    const key = nodes.join('\n');
    const known = this.lists.get(key);
    if (known?.list !== nodes) return;
    known.count -= 1;
    if (known.count > 0) return;
    this.lists.delete(key);
    for (const n of nodes) {
      const name = this.refs.get(n);
      if (!name) continue;
      name.count -= 1;
      if (name.count <= 0) this.refs.delete(n);
    }
  }

  /** Distinct names held. */
  get size(): number {
    return this.refs.size;
  }

  /** Distinct lists held. */
  get listCount(): number {
    return this.lists.size;
  }
}
