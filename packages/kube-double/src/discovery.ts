// Discovery (/version, /api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>) in the legacy
// (non-aggregated) form, which kubectl accepts; no OpenAPI.
import { RESOURCES } from './resources.js';

function groupBody(g: string): Record<string, unknown> {
  const v = RESOURCES.find((r) => r.group === g)?.version ?? 'v1';
  const gv = { groupVersion: `${g}/${v}`, version: v };
  return { kind: 'APIGroup', apiVersion: 'v1', name: g, versions: [gv], preferredVersion: gv };
}

function resourceList(group: string, version: string): Record<string, unknown> {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group === '' ? version : `${group}/${version}`,
    resources: RESOURCES.filter((r) => r.group === group && r.version === version).map((r) => ({
      name: r.name,
      singularName: r.kind.toLowerCase(),
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
      shortNames: r.shortNames,
    })),
  };
}

/** The discovery document at `path` (served with 200), or undefined when `path` is not one. */
export function discoveryDocument(path: string, serverAddress: string): unknown {
  const groups = [...new Set(RESOURCES.filter((r) => r.group !== '').map((r) => r.group))];
  if (path === '/version') {
    return {
      major: '1',
      minor: '32',
      gitVersion: 'v1.32.0-cosmolet-double',
      gitCommit: '0000000000000000000000000000000000000000',
      gitTreeState: 'clean',
      buildDate: '2026-01-01T00:00:00Z',
      goVersion: 'go1.23',
      compiler: 'gc',
      platform: 'linux/amd64',
    };
  }
  if (path === '/api') {
    return {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    };
  }
  if (path === '/api/v1') return resourceList('', 'v1');
  if (path === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupBody) };
  const m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  if (m && groups.includes(m[1] ?? '')) {
    const group = m[1] ?? '';
    if (m[2] === undefined) return groupBody(group);
    if (RESOURCES.some((r) => r.group === group && r.version === m[2])) return resourceList(group, m[2]);
  }
  return undefined;
}
