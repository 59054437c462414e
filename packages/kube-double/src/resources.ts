// The resources the API double serves, and how their objects are keyed.
import { CosmoletError, ErrorCodes } from 'cosmolet/errors';
import type { KubeObject } from 'cosmolet/model/objects';

export interface ResourceInfo {
  /** Plural name used in URLs. */
  name: string;
  group: string; // '' = core
  version: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
}

export const RESOURCES: readonly ResourceInfo[] = [
  { name: 'services', group: '', version: 'v1', kind: 'Service', namespaced: true, shortNames: ['svc'] },
  { name: 'nodes', group: '', version: 'v1', kind: 'Node', namespaced: false, shortNames: ['no'] },
  { name: 'pods', group: '', version: 'v1', kind: 'Pod', namespaced: true, shortNames: ['po'] },
  { name: 'events', group: '', version: 'v1', kind: 'Event', namespaced: true, shortNames: ['ev'] },
  { name: 'namespaces', group: '', version: 'v1', kind: 'Namespace', namespaced: false, shortNames: ['ns'] },
  {
    name: 'serviceaccounts',
    group: '',
    version: 'v1',
    kind: 'ServiceAccount',
    namespaced: true,
    shortNames: ['sa'],
  },
  { name: 'configmaps', group: '', version: 'v1', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] },
  {
    name: 'endpointslices',
    group: 'discovery.k8s.io',
    version: 'v1',
    kind: 'EndpointSlice',
    namespaced: true,
    shortNames: [],
  },
  {
    name: 'leases',
    group: 'coordination.k8s.io',
    version: 'v1',
    kind: 'Lease',
    namespaced: true,
    shortNames: [],
  },
];

export type ResourceName =
  | 'services'
  | 'nodes'
  | 'pods'
  | 'events'
  | 'namespaces'
  | 'serviceaccounts'
  | 'configmaps'
  | 'endpointslices'
  | 'leases';

export function resourceInfo(name: string): ResourceInfo {
  const r = RESOURCES.find((x) => x.name === name);
  if (!r) throw new CosmoletError(ErrorCodes.KUBE_API, `unknown resource ${name}`);
  return r;
}

export function resourceForKind(kind: string | undefined): ResourceInfo | undefined {
  return RESOURCES.find((x) => x.kind === kind);
}

export function apiVersionOf(r: ResourceInfo): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

export function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export function objKey(o: KubeObject | undefined): string {
  return keyOf(o?.metadata?.namespace, o?.metadata?.name ?? '');
}
