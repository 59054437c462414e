// The reflectors cosmolet runs: Services and EndpointSlices per watched namespace (or one
// all-namespaces watch each), and this node's Node object by name. Their stores hold the plan's
// projections (src/plan/input.ts), not the objects, and the selectors leave out what another proxy
// serves (service.kubernetes.io/service-proxy-name) on the API server's side.
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { KubeClient } from './client.js';
import {
  Reflector,
  type ReflectedResource,
  type ReflectorChange,
  type ReflectorHooks,
  type ReflectorTimers,
} from './reflector.js';
import { NodeNames } from '../plan/node-names.js';
import {
  projectNode,
  projectService,
  projectSlice,
  sameNode,
  sameService,
  sameSlice,
  type NodeInfo,
  type ServiceInfo,
  type SliceInfo,
} from '../plan/input.js';

export const SERVICE_PROXY_NAME_SELECTOR = '!service.kubernetes.io/service-proxy-name';

export interface ReflectorSetOptions {
  client: KubeClient;
  /** Namespaces to watch; empty = all namespaces (one all-namespaces watch). */
  namespaces: string[];
  /** services.labelSelector from the config ('' = none). */
  serviceLabelSelector?: string;
  nodeName: string;
  logger: Logger;
  hooks?: ReflectorHooks;
  /** Called for every change the plan can see: level-triggered callers need only the key. */
  onChange?: (resource: ReflectedResource, key: string, type: ReflectorChange<unknown>['type']) => void;
  /** A field of the wrong type was dropped (`resource.field`); the object is read without it. */
  onMalformed?: (field: string) => void;
  timers?: Partial<ReflectorTimers>;
  /** Default: the real clock. */
  clock?: Clock;
}

/**
 * Services and EndpointSlices per namespace (or all), and this Node. The stores keep the plan's
 * projections (src/plan/input.ts), not the objects.
 */
export class ReflectorSet {
  readonly services: Reflector<ServiceInfo>[];
  readonly endpointSlices: Reflector<SliceInfo>[];
  readonly node: Reflector<NodeInfo>;
  /** The node names the slices share; each slice's are released when its store lets go of it. */
  readonly nodeNames = new NodeNames();

  constructor(options: ReflectorSetOptions) {
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
    const report = options.onMalformed;
    this.services = namespaces.map(
      (ns) =>
        new Reflector({
          ...common,
          resource: 'services',
          ...(ns ? { namespace: ns } : {}),
          labelSelector: svcSelector,
          // The API server applies the label selector (above): the store needs no labels.
          project: (raw) => projectService(raw, report, { labels: false }),
          same: sameService,
          onChange: onChange('services'),
        }),
    );
    this.endpointSlices = namespaces.map(
      (ns) =>
        new Reflector({
          ...common,
          resource: 'endpointslices',
          ...(ns ? { namespace: ns } : {}),
          labelSelector: SERVICE_PROXY_NAME_SELECTOR,
          project: (raw) => projectSlice(raw, options.nodeName, report, this.nodeNames),
          release: (info) => this.nodeNames.release(info.nodes),
          same: sameSlice,
          onChange: onChange('endpointslices'),
        }),
    );
    this.node = new Reflector({
      ...common,
      resource: 'nodes',
      fieldSelector: `metadata.name=${options.nodeName}`,
      project: (raw) => projectNode(raw, report),
      same: sameNode,
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

  serviceItems(): ServiceInfo[] {
    return this.services.flatMap((r) => r.items());
  }

  endpointSliceItems(): SliceInfo[] {
    return this.endpointSlices.flatMap((r) => r.items());
  }

  /** One Service by `namespace/name` (a handful of stores: one per watched namespace). */
  service(key: string): ServiceInfo | undefined {
    for (const r of this.services) {
      const s = r.get(key);
      if (s) return s;
    }
    return undefined;
  }

  endpointSlice(key: string): SliceInfo | undefined {
    for (const r of this.endpointSlices) {
      const s = r.get(key);
      if (s) return s;
    }
    return undefined;
  }

  /** This node's object, or undefined when it does not exist (advertise nothing). */
  nodeObject(): NodeInfo | undefined {
    return this.node.items()[0];
  }
}
