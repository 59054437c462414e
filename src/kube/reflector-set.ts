// The reflectors cosmolet runs: Services and EndpointSlices per watched namespace (or one
// all-namespaces watch each), and this node's Node object by name. The selectors leave out what
// another proxy serves (service.kubernetes.io/service-proxy-name) on the API server's side. What
// the stores keep is the caller's: the daemon hands in the plan's projections (as client-go's
// reflector is handed its transforms), so kube knows nothing of the plan.
import type { Clock } from '../clock.js';
import type { KubeObject } from '../model/objects.js';
import type { Logger } from '../logger.js';
import type { KubeClient } from './client.js';
import {
  Reflector,
  type ReflectedResource,
  type ReflectorChange,
  type ReflectorHooks,
  type ReflectorTimers,
} from './reflector.js';

export const SERVICE_PROXY_NAME_SELECTOR = '!service.kubernetes.io/service-proxy-name';

/** What one resource's store keeps of an object, and when two of those are alike (see Reflector). */
export interface Projection<T> {
  project: (raw: KubeObject) => T | undefined;
  same?: (a: T, b: T) => boolean;
  release?: (value: T) => void;
}

/** One projection per watched resource. */
export interface Projections<S, E, N> {
  services: Projection<S>;
  endpointSlices: Projection<E>;
  node: Projection<N>;
}

export interface ReflectorSetOptions<S, E, N> {
  client: KubeClient;
  /** Namespaces to watch; empty = all namespaces (one all-namespaces watch). */
  namespaces: string[];
  /** services.labelSelector from the config ('' = none). */
  serviceLabelSelector?: string;
  nodeName: string;
  projections: Projections<S, E, N>;
  logger: Logger;
  hooks?: ReflectorHooks;
  /** Called for every change the stores can see: level-triggered callers need only the key. */
  onChange?: (resource: ReflectedResource, key: string, type: ReflectorChange<unknown>['type']) => void;
  timers?: Partial<ReflectorTimers>;
  /** Default: the real clock. */
  clock?: Clock;
}

/** Services and EndpointSlices per namespace (or all), and this Node, kept as the given projections. */
export class ReflectorSet<S, E, N> {
  readonly services: Reflector<S>[];
  readonly endpointSlices: Reflector<E>[];
  readonly node: Reflector<N>;

  constructor(options: ReflectorSetOptions<S, E, N>) {
    const namespaces: (string | undefined)[] =
      options.namespaces.length > 0 ? [...new Set(options.namespaces)] : [undefined];
    const svcSelector = [SERVICE_PROXY_NAME_SELECTOR, options.serviceLabelSelector?.trim() ?? '']
      .filter((s) => s !== '')
      .join(',');
    const common = {
      client: options.client,
      logger: options.logger,
      ...(options.hooks ? { hooks: options.hooks } : {}),
      ...(options.timers ? { timers: options.timers } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    };
    const onChange =
      (resource: ReflectedResource) =>
      (change: ReflectorChange<unknown>): void =>
        options.onChange?.(resource, change.key, change.type);
    const { services, endpointSlices, node } = options.projections;
    this.services = namespaces.map(
      (ns) =>
        new Reflector({
          ...common,
          ...services,
          resource: 'services',
          ...(ns ? { namespace: ns } : {}),
          labelSelector: svcSelector,
          onChange: onChange('services'),
        }),
    );
    this.endpointSlices = namespaces.map(
      (ns) =>
        new Reflector({
          ...common,
          ...endpointSlices,
          resource: 'endpointslices',
          ...(ns ? { namespace: ns } : {}),
          labelSelector: SERVICE_PROXY_NAME_SELECTOR,
          onChange: onChange('endpointslices'),
        }),
    );
    this.node = new Reflector({
      ...common,
      ...node,
      resource: 'nodes',
      fieldSelector: `metadata.name=${options.nodeName}`,
      onChange: onChange('nodes'),
    });
  }

  get all(): Reflector<unknown>[] {
    return [...this.services, ...this.endpointSlices, this.node] as Reflector<unknown>[];
  }

  start(): void {
    for (const r of this.all) r.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((r) => r.stop()));
  }

  /** True once every reflector has had its first full list. */
  get synced(): boolean {
    return this.all.every((r) => r.synced);
  }

  /** The resources still waiting for their first list (for /readyz's reason). */
  unsynced(): ReflectedResource[] {
    return [...new Set(this.all.filter((r) => !r.synced).map((r) => r.resource))];
  }

  /** The oldest progress time over all loops (for the /healthz watchdog). */
  get lastProgressAt(): number {
    return Math.min(...this.all.map((r) => r.lastProgressAt));
  }

  serviceItems(): S[] {
    return this.services.flatMap((r) => r.items());
  }

  endpointSliceItems(): E[] {
    return this.endpointSlices.flatMap((r) => r.items());
  }

  /** One Service by `namespace/name` (a handful of stores: one per watched namespace). */
  service(key: string): S | undefined {
    for (const r of this.services) {
      const s = r.get(key);
      if (s) return s;
    }
    return undefined;
  }

  endpointSlice(key: string): E | undefined {
    for (const r of this.endpointSlices) {
      const s = r.get(key);
      if (s) return s;
    }
    return undefined;
  }

  /** This node's object, or undefined when it does not exist (advertise nothing). */
  nodeObject(): N | undefined {
    return this.node.items()[0];
  }
}
