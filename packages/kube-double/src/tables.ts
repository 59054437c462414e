// Server-side printing, as kubectl asks for it (Accept: application/json;as=Table;g=meta.k8s.io):
// kubectl's usual columns for Services, EndpointSlices, Nodes, Pods and Events.
import type http from 'node:http';
import type { KubeObject } from 'cosmolet/model/objects';
import type { ResourceInfo } from './resources.js';

export interface TableOptions {
  includeObject: 'None' | 'Metadata' | 'Object';
}

export function tableOptions(
  req: http.IncomingMessage,
  query: Record<string, string>,
): TableOptions | undefined {
  const accept = req.headers.accept ?? '';
  if (!/as=Table/.test(accept) || !/g=meta\.k8s\.io/.test(accept)) return undefined;
  const inc = query.includeObject;
  return { includeObject: inc === 'None' || inc === 'Object' ? inc : 'Metadata' };
}

function age(o: KubeObject): string {
  const created = Date.parse(str(o.metadata?.creationTimestamp ?? ''));
  if (!Number.isFinite(created)) return '<unknown>';
  const s = Math.max(0, Math.floor((Date.now() - created) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

type Row = Record<string, unknown>;

/** Printable scalars only: an unexpected nested object prints as empty, not "[object Object]". */
function str(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

function ports(list: unknown): string {
  if (!Array.isArray(list) || list.length === 0) return '<none>';
  return (list as Row[])
    .map((p) => `${str(p.port ?? '')}${p.nodePort ? `:${str(p.nodePort)}` : ''}/${str(p.protocol ?? 'TCP')}`)
    .join(',');
}

const COLUMNS: Record<string, { names: string[]; cells: (o: Row & KubeObject) => unknown[] }> = {
  services: {
    names: ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age'],
    cells: (o) => {
      const spec = (o.spec ?? {}) as Row;
      const status = (o.status ?? {}) as { loadBalancer?: { ingress?: Row[] } };
      const ext = [
        ...((spec.externalIPs as string[] | undefined) ?? []),
        ...(status.loadBalancer?.ingress ?? []).map((i) => str(i.ip ?? i.hostname ?? '')),
      ];
      const type = str(spec.type ?? 'ClusterIP');
      return [
        o.metadata?.name,
        type,
        spec.clusterIP ?? '<none>',
        ext.length > 0 ? ext.join(',') : type === 'LoadBalancer' ? '<pending>' : '<none>',
        ports(spec.ports),
        age(o),
      ];
    },
  },
  endpointslices: {
    names: ['Name', 'AddressType', 'Ports', 'Endpoints', 'Age'],
    cells: (o) => {
      const eps = (Array.isArray(o.endpoints) ? o.endpoints : []) as { addresses?: string[] }[];
      const addrs = eps.flatMap((e) => e.addresses ?? []);
      const shown = addrs.slice(0, 3).join(',') + (addrs.length > 3 ? ` + ${addrs.length - 3} more...` : '');
      const p = Array.isArray(o.ports) ? (o.ports as Row[]).map((x) => str(x.port ?? '')).join(',') : '';
      return [o.metadata?.name, o.addressType ?? '', p || '<unset>', shown || '<unset>', age(o)];
    },
  },
  nodes: {
    names: ['Name', 'Status', 'Age'],
    cells: (o) => {
      const conds = (((o.status ?? {}) as Row).conditions ?? []) as Row[];
      const ready = conds.find((c) => c.type === 'Ready');
      let status = ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown';
      if (((o.spec ?? {}) as Row).unschedulable === true) status += ',SchedulingDisabled';
      return [o.metadata?.name, status, age(o)];
    },
  },
  pods: {
    names: ['Name', 'Status', 'IP', 'Node', 'Age'],
    cells: (o) => {
      const status = (o.status ?? {}) as Row;
      return [
        o.metadata?.name,
        str(status.phase ?? 'Pending'),
        str(status.podIP ?? '') || '<none>',
        str(((o.spec ?? {}) as Row).nodeName ?? '') || '<none>',
        age(o),
      ];
    },
  },
  events: {
    names: ['Last Seen', 'Type', 'Reason', 'Object', 'Message'],
    cells: (o) => {
      const inv = (o.involvedObject ?? {}) as Row;
      const last = { metadata: { creationTimestamp: o.lastTimestamp ?? o.metadata?.creationTimestamp } };
      return [
        age(last),
        o.type ?? '',
        o.reason ?? '',
        `${str(inv.kind ?? '').toLowerCase()}/${str(inv.name ?? '')}`,
        o.message ?? '',
      ];
    },
  },
};

export function toTable(
  info: ResourceInfo,
  items: KubeObject[],
  metadata: Record<string, unknown>,
  opts: TableOptions,
): unknown {
  const cols = COLUMNS[info.name] ?? {
    names: ['Name', 'Age'],
    cells: (o: KubeObject) => [o.metadata?.name, age(o)],
  };
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: cols.names.map((name, i) => ({
      name,
      type: 'string',
      format: i === 0 && name === 'Name' ? 'name' : '',
      description: '',
      priority: 0,
    })),
    rows: items.map((o) => {
      const row: Row = { cells: cols.cells(o as Row & KubeObject) };
      if (opts.includeObject === 'Object') row.object = o;
      else if (opts.includeObject === 'Metadata') {
        row.object = {
          kind: 'PartialObjectMetadata',
          apiVersion: 'meta.k8s.io/v1',
          metadata: o.metadata ?? {},
        };
      }
      return row;
    }),
  };
}
