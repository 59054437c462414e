// The keys that watch events touched since the last reconcile (client-go's workqueue with one
// worker): a key says only "look again"; the worker reads the object's current state from the
// stores, so ten updates of one object between two reconciles cost one read. A full recheck walks
// every key of the stores the same way, a slice at a time (recheckSlice), so it never holds the
// worker for longer than one slice.
import type { ReflectedResource } from '../kube/reflector.js';
import type { NodeInfo, ServiceInfo, SliceInfo } from '../plan/input.js';
import type { PlanState } from '../plan/state.js';

/** What the reconciler reads from the cluster: the reflectors' stores (projections). */
export interface ClusterSource {
  /** True once every reflector has completed its first full list. */
  synced(): boolean;
  services(): Iterable<ServiceInfo>;
  endpointSlices(): Iterable<SliceInfo>;
  service(key: string): ServiceInfo | undefined;
  endpointSlice(key: string): SliceInfo | undefined;
  node(): NodeInfo | undefined;
}

/** Every key of the stores, Services first; read lazily, so a recheck sees the stores as they are. */
export type RecheckKeys = Iterator<readonly [ReflectedResource, string]>;

export function everyKey(cluster: ClusterSource): RecheckKeys {
  return (function* () {
    for (const s of cluster.services()) yield ['services', s.key] as const;
    for (const s of cluster.endpointSlices()) yield ['endpointslices', s.key] as const;
  })();
}

export class ChangeQueue {
  private readonly services = new Set<string>();
  private readonly slices = new Set<string>();
  private node = false;
  /** Every object at once, not just the queued keys: at start. */
  private everything = true;

  add(resource: ReflectedResource, key: string): void {
    if (resource === 'services') this.services.add(key);
    else if (resource === 'endpointslices') this.slices.add(key);
    else this.node = true;
  }

  /**
   * Whether every object is due (at start), and no longer: the caller feeds them itself (the first
   * plan, in slices). The keys queued from now on stay queued.
   */
  takeEverything(): boolean {
    const was = this.everything;
    this.everything = false;
    if (was) {
      // The caller reads every object from the stores now: what was queued before is in it.
      this.services.clear();
      this.slices.clear();
      this.node = false;
    }
    return was;
  }

  /** Every object again, at once (a first plan that failed part of the way). */
  everythingAgain(): void {
    this.everything = true;
  }

  /** Feeds the queued keys (or, at start, every object) from the stores into the plan; empties the queue. */
  drainInto(state: PlanState, cluster: ClusterSource): void {
    if (this.everything) {
      state.reset(cluster.services(), cluster.endpointSlices(), cluster.node());
      this.everything = false;
    } else {
      for (const key of this.slices) state.setSlice(key, cluster.endpointSlice(key));
      for (const key of this.services) state.setService(key, cluster.service(key));
      if (this.node) state.setNode(cluster.node());
    }
    this.services.clear();
    this.slices.clear();
    this.node = false;
  }

  /**
   * One slice of a full recheck: up to `budget` Services are marked to be decided again, and the
   * slices that drifted from the stores (none, unless an event was lost) are fed in; a slice that
   * did not drift costs a lookup, a sixteenth of a Service's decision. False once `keys` is exhausted.
   */
  recheck(keys: RecheckKeys, budget: number, state: PlanState, cluster: ClusterSource): boolean {
    let work = 0;
    while (work < budget) {
      const next = keys.next();
      if (next.done) return false;
      const [resource, key] = next.value;
      if (resource === 'services') {
        state.setService(key, cluster.service(key));
        work++;
      } else {
        const info = cluster.endpointSlice(key);
        if (state.sliceInfo(key) !== info) state.setSlice(key, info);
        work += 1 / 16;
      }
    }
    return true;
  }
}
