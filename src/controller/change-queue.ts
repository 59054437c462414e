// The keys that watch events touched since the last reconcile (client-go's workqueue with one
// worker): a key says only "look again"; the worker reads the object's current state from the
// stores, so ten updates of one object between two reconciles cost one read.
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

export class ChangeQueue {
  private readonly services = new Set<string>();
  private readonly slices = new Set<string>();
  private node = false;
  /** Every object, not just the queued keys: at start and at every resync. */
  private everything = true;

  add(resource: ReflectedResource, key: string): void {
    if (resource === 'services') this.services.add(key);
    else if (resource === 'endpointslices') this.slices.add(key);
    else this.node = true;
  }

  addEverything(): void {
    this.everything = true;
  }

  /** Feeds the queued keys (or, when due, every object) from the stores into the plan; empties the queue. */
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
}
