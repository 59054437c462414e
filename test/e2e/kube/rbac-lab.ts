// What the RBAC and HTTP-auth e2e tests on the real control plane share: a RealClusterLab whose
// kube-apiserver writes an audit log of every request of cosmolet's ServiceAccount (Metadata level:
// verb, resource, namespace, response code, the authorizer's decision), the chart's RBAC as objects
// a test can cut one rule from, SubjectAccessReviews (as admin) to wait until the API server's RBAC
// has caught up with an apply, and GETs on cosmolet's HTTP port from inside the node namespace.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { waitFor } from '@cosmolet/lab/wait';
import type { CosmoletProcess } from '../controller/harness.js';
import {
  NAMESPACE,
  RealClusterLab,
  SERVICE_ACCOUNT,
  renderRbac,
  type RealClusterOptions,
} from './real-cluster.js';

/** The lab's frr.kernelProtocol (the default): the protocol of the routes cosmolet installs. */
const KERNEL_PROTOCOL = 73;

export const COSMOLET_USER = `system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}`;

export type Obj = Record<string, unknown>;

export interface AuditEvent {
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  objectRef?: {
    resource?: string;
    apiGroup?: string;
    namespace?: string;
    name?: string;
    subresource?: string;
  };
  responseStatus?: { code?: number; message?: string };
  annotations?: Record<string, string>;
}

/** kube-apiserver flags and the policy file: cosmolet's ServiceAccount at Metadata level, nothing else. */
function auditArgs(dir: string): string[] {
  const policy = join(dir, 'audit-policy.yaml');
  writeFileSync(
    policy,
    stringifyYaml({
      apiVersion: 'audit.k8s.io/v1',
      kind: 'Policy',
      omitStages: ['RequestReceived'],
      rules: [{ level: 'Metadata', users: [COSMOLET_USER] }, { level: 'None' }],
    }),
  );
  // The log backend's default mode is blocking: an event is in the file before the answer is sent.
  return [`--audit-policy-file=${policy}`, `--audit-log-path=${join(dir, 'audit.log')}`];
}

export class AuditedClusterLab extends RealClusterLab {
  constructor(
    opts: RealClusterOptions,
    readonly auditDir = mkdtempSync(join(tmpdir(), 'cosmolet-audit-')),
  ) {
    super({ ...opts, apiserverArgs: [...(opts.apiserverArgs ?? []), ...auditArgs(auditDir)] });
  }

  get auditLog(): string {
    return join(this.auditDir, 'audit.log');
  }

  /** Where the audit log ends now: `auditEvents(mark)` returns what was logged after it. */
  auditMark(): number {
    return existsSync(this.auditLog) ? statSync(this.auditLog).size : 0;
  }

  /** cosmolet's requests logged after `mark`, one event per stage (watches: ResponseStarted too). */
  auditEvents(mark = 0): AuditEvent[] {
    if (!existsSync(this.auditLog)) return [];
    return readFileSync(this.auditLog)
      .subarray(mark)
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => e.user.username === COSMOLET_USER);
  }

  override async teardown(): Promise<void> {
    try {
      await super.teardown();
    } finally {
      rmSync(this.auditDir, { recursive: true, force: true });
    }
  }

  /** Whether `user` may do it, by a SubjectAccessReview: what the API server's authorizer says now. */
  async allowed(user: SubjectUser, attributes: AccessAttributes): Promise<boolean> {
    const spec: Obj = { user: user.name, groups: user.groups };
    if ('path' in attributes) spec.nonResourceAttributes = { path: attributes.path, verb: attributes.verb };
    else
      spec.resourceAttributes = {
        verb: attributes.verb,
        group: attributes.group ?? '',
        resource: attributes.resource,
        ...(attributes.namespace ? { namespace: attributes.namespace } : {}),
      };
    const r = await this.admin.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec,
    });
    if (r.status !== 201) throw new Error(`SubjectAccessReview: HTTP ${r.status} ${r.body}`);
    return (JSON.parse(r.body) as { status?: { allowed?: boolean } }).status?.allowed === true;
  }

  /**
   * Waits until the API server's RBAC (an informer's cache) says what `want` says: a test that
   * starts cosmolet right after `kubectl apply` must not race the authorizer's view.
   */
  async waitAccess(
    user: SubjectUser,
    want: { attributes: AccessAttributes; allowed: boolean }[],
  ): Promise<void> {
    let last = '';
    await waitFor(
      'the API server to authorize as applied',
      async () => {
        for (const w of want) {
          if ((await this.allowed(user, w.attributes)) !== w.allowed) {
            last = `${JSON.stringify(w.attributes)} is not yet ${w.allowed ? 'allowed' : 'denied'}`;
            return false;
          }
        }
        return true;
      },
      15_000,
      50,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${last}`);
    });
  }

  /** Applies objects with kubectl. */
  applyObjects(objects: readonly Obj[]): void {
    this.kubectl(['apply', '-f', '-'], objects.map((o) => JSON.stringify(o)).join('\n---\n'));
  }

  /** A ClusterRoleBinding of the chart's reader ClusterRole to a ServiceAccount. */
  async bindReader(namespace: string, name: string): Promise<void> {
    this.applyObjects([
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: `${namespace}-${name}-cosmolet-reader` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cosmolet-reader' },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      },
    ]);
    await this.waitAccess(serviceAccountUser(namespace, name), [
      { attributes: { path: '/metrics', verb: 'get' }, allowed: true },
    ]);
  }

  /** Creates a namespace unless it exists. */
  ensureNamespace(name: string): void {
    const out = this.kubectl(['get', 'namespace', name, '--ignore-not-found', '-o', 'name']);
    if (out.trim() === '') this.kubectl(['create', 'namespace', name]);
  }

  /**
   * cosmolet's /readyz: from the probe listener (loopback: every condition with its message), or
   * with `token` from http.address (which never reviews it: names and states only).
   */
  async readyz(token?: string): Promise<Readyz> {
    const r = token === undefined ? await this.probe('/readyz') : await this.get('/readyz', token);
    return { status: r.status, ...(JSON.parse(r.body) as Omit<Readyz, 'status'>) };
  }

  /** One counter's value from /metrics (0 when absent), e.g. cosmolet_kube_events_dropped_total{reason="api-error"}. */
  async metric(series: string, token?: string): Promise<number> {
    const r = await this.get('/metrics', token);
    if (r.status !== 200) throw new Error(`/metrics: HTTP ${r.status} ${r.body}`);
    const line = r.body.split('\n').find((l) => l.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : 0;
  }

  /**
   * A GET from inside the node namespace with curl (the way a scraper on the node network reaches
   * cosmolet's address); the token goes in on stdin, never on a command line.
   */
  async curlNode(url: string, token?: string): Promise<{ status: number; body: string }> {
    const args = ['curl', '-sS', '--max-time', '5', '-w', '\n%{http_code}'];
    if (token) args.push('-H', '@-');
    const r = await this.fabric.exec('node', [...args, url], {
      ...(token ? { input: `Authorization: Bearer ${token}\n` } : {}),
      timeoutMs: 10_000,
    });
    const cut = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
  }

  /**
   * Kills a cosmolet started by the test, waits for it to exit, and removes the routes it left
   * (kernel origination, protocol 73): each run starts from a node without routes, so what it
   * advertises is new (an Advertised Event each) and no run depends on adopting another's routes.
   */
  async stop(c: CosmoletProcess): Promise<void> {
    c.kill('SIGKILL');
    await c.exited;
    for (const family of ['-4', '-6'])
      await this.fabric.exec('node', ['ip', family, 'route', 'flush', 'proto', String(KERNEL_PROTOCOL)]);
  }
}

export interface Readyz {
  status: number;
  ready: boolean;
  conditions: { name: string; ok: boolean; message?: string }[];
}

export interface SubjectUser {
  name: string;
  groups: string[];
}

export type AccessAttributes =
  { verb: string; resource: string; group?: string; namespace?: string } | { verb: string; path: string };

/** The user a ServiceAccount's token authenticates as, with the groups TokenReview gives it. */
export function serviceAccountUser(namespace: string, name: string): SubjectUser {
  return {
    name: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  };
}

export const COSMOLET = serviceAccountUser(NAMESPACE, SERVICE_ACCOUNT);

/** The chart's ServiceAccount and RBAC for `values`, as objects. */
export function rbacObjects(values: Record<string, unknown> = {}): Obj[] {
  return parseAllDocuments(renderRbac(values))
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null && typeof o === 'object');
}

export interface Grant {
  /** "cluster" or the namespace of a Role. */
  scope: string;
  group: string;
  resource: string;
  verb: string;
}

export const grantName = (g: Omit<Grant, 'scope'>): string =>
  `${g.group === '' ? '' : `${g.group}/`}${g.resource}:${g.verb}`;

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  nonResourceURLs?: string[];
}

function meta(o: Obj): { name?: string; namespace?: string } {
  return o.metadata ?? {};
}

/** The resource grants of the chart's own ClusterRole `cosmolet` and its Roles, one per verb. */
export function grants(objects: readonly Obj[]): Grant[] {
  const out: Grant[] = [];
  for (const o of objects) {
    if (meta(o).name !== 'cosmolet' || (o.kind !== 'ClusterRole' && o.kind !== 'Role')) continue;
    const scope = o.kind === 'Role' ? (meta(o).namespace ?? '') : 'cluster';
    for (const r of (o.rules ?? []) as Rule[])
      for (const group of r.apiGroups ?? [])
        for (const resource of r.resources ?? [])
          for (const verb of r.verbs ?? []) out.push({ scope, group, resource, verb });
  }
  return out;
}

/** The objects with one verb of one resource taken out of the ClusterRole `cosmolet` (rules split as needed). */
export function withoutGrant(objects: readonly Obj[], cut: Omit<Grant, 'scope'>): Obj[] {
  return objects.map((o) => {
    if (o.kind !== 'ClusterRole' || meta(o).name !== 'cosmolet') return o;
    const rules: Rule[] = [];
    for (const r of (o.rules ?? []) as Rule[]) {
      if (!(r.apiGroups ?? []).includes(cut.group) || !(r.resources ?? []).includes(cut.resource)) {
        rules.push(r);
        continue;
      }
      const others = (r.resources ?? []).filter((x) => x !== cut.resource);
      if (others.length > 0) rules.push({ ...r, resources: others });
      const verbs = (r.verbs ?? []).filter((v) => v !== cut.verb);
      if (verbs.length > 0) rules.push({ ...r, resources: [cut.resource], verbs });
    }
    return { ...o, rules };
  });
}

/** What cosmolet's requests used, as `group/resource:verb` with the scope (namespace or cluster). */
export function usedGrants(events: readonly AuditEvent[]): Grant[] {
  const seen = new Map<string, Grant>();
  for (const e of events) {
    const ref = e.objectRef;
    if (!ref?.resource) continue;
    const g: Grant = {
      scope: ref.namespace ?? 'cluster',
      group: ref.apiGroup ?? '',
      resource: ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource,
      verb: e.verb,
    };
    seen.set(`${g.scope} ${grantName(g)}`, g);
  }
  return [...seen.values()];
}

/** Requests the API server refused (401/403) or the authorizer did not allow. */
export function refused(events: readonly AuditEvent[]): AuditEvent[] {
  return events.filter(
    (e) =>
      e.responseStatus?.code === 401 ||
      e.responseStatus?.code === 403 ||
      (e.annotations?.['authorization.k8s.io/decision'] ?? 'allow') !== 'allow',
  );
}

/** A short line per request for failure messages. */
export function describe(events: readonly AuditEvent[]): string {
  return events
    .map((e) => `${e.stage} ${e.verb} ${e.requestURI} -> ${e.responseStatus?.code ?? '?'}`)
    .join('\n');
}
