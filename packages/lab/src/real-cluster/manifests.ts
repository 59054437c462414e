// The manifest directory on a real control plane (`lab up --kube real`, default examples/lab-real/):
// every object of its YAML or JSON files is applied to kube-apiserver with server-side apply (field
// manager `cosmolet-lab`, conflicts forced, as `kubectl apply --server-side --force-conflicts`), so
// any kind the server knows works (Namespaces first, then the rest). As on the API double
// (cluster/manifests.ts): a file added or saved applies its objects, an object removed from a file (or
// the file) is deleted, a file that does not parse keeps its objects, and a change made with kubectl
// stays until the file that holds the object is saved again (an object deleted with kubectl comes
// back at the next save of any file).
//
// Status is not applied (the server ignores it outside the status subresource); a LoadBalancer
// Service's `status.loadBalancer.ingress` in a file is the lab's intent for its ingress IPs, which
// the lab's stand-in for a load-balancer controller writes through the status subresource
// (`ingressPatch`), as MetalLB or a cloud controller would.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { statusMessage, type KubeClient } from 'cosmolet/kube/client';
import type { KubeObject, Service } from 'cosmolet/model/objects';
import type { ManifestError, ManifestReport } from '../cluster/manifests.js';

export const FIELD_MANAGER = 'cosmolet-lab';

export interface ManifestObject {
  file: string;
  apiVersion: string;
  kind: string;
  namespace: string | undefined;
  name: string;
  /** The object as written (namespace filled in), serialized: applied again only when it changes. */
  text: string;
}

type Doc = KubeObject & { apiVersion?: string; kind?: string; items?: unknown[] };

/** The objects of one file's text (documents, and the items of a `List`); throws when it does not parse. */
export function parseManifestText(text: string, file: string): Doc[] {
  const out: Doc[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message ?? 'YAML error'}`);
    const v = doc.toJS() as unknown;
    if (v === null || v === undefined) continue;
    if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file}: a document is not an object`);
    const o = v as Doc;
    if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items))
      out.push(...(o.items as Doc[]));
    else out.push(o);
  }
  return out;
}

/** Namespaces first (their objects need them), then the rest in file order. */
function applyRank(o: ManifestObject): number {
  return o.kind === 'Namespace' ? 0 : 1;
}

export interface ManifestDir {
  files: string[];
  objects: Map<string, ManifestObject>;
  errors: ManifestError[];
  failedFiles: Set<string>;
}

function isManifest(name: string): boolean {
  return /\.(ya?ml|json)$/i.test(name) && !name.startsWith('.');
}

/** Reads and parses the directory: the objects by key (`apiVersion/kind/namespace/name`) and errors. */
export function readManifestDir(dir: string): ManifestDir {
  const errors: ManifestError[] = [];
  const objects = new Map<string, ManifestObject>();
  const failedFiles = new Set<string>();
  if (!existsSync(dir)) {
    errors.push({ file: dir, message: 'directory does not exist' });
    return { files: [], objects, errors, failedFiles };
  }
  const files = readdirSync(dir).filter(isManifest).sort();
  for (const file of files) {
    let docs: Doc[];
    try {
      docs = parseManifestText(readFileSync(join(dir, file), 'utf8'), file);
    } catch (err) {
      const message = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
      errors.push({
        file,
        message: message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message,
      });
      failedFiles.add(file);
      continue;
    }
    for (const o of docs) {
      const name = o.metadata?.name;
      if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || !name) {
        errors.push({ file, message: 'an object without apiVersion, kind or metadata.name; skipped' });
        continue;
      }
      const obj = structuredClone(o);
      const namespace = obj.kind === 'Namespace' ? undefined : obj.metadata?.namespace;
      const key = `${obj.apiVersion}/${obj.kind}/${namespace ?? ''}/${name}`;
      const seen = objects.get(key);
      if (seen) {
        errors.push({
          file,
          message: `${obj.kind} ${namespace ? `${namespace}/` : ''}${name} is also in ${seen.file}`,
        });
        continue;
      }
      objects.set(key, {
        file,
        apiVersion: obj.apiVersion ?? '',
        kind: obj.kind ?? '',
        namespace,
        name,
        text: JSON.stringify(obj),
      });
    }
  }
  return { files, objects, errors, failedFiles };
}

/** The IPs of each LoadBalancer Service's `status.loadBalancer.ingress` in the files, by `ns/name`. */
export function loadBalancerIntent(objects: Iterable<ManifestObject>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of objects) {
    if (m.kind !== 'Service' || m.apiVersion !== 'v1') continue;
    const svc = JSON.parse(m.text) as Service;
    if (svc.spec?.type !== 'LoadBalancer') continue;
    const ips = (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : []));
    out.set(`${m.namespace ?? 'default'}/${m.name}`, ips);
  }
  return out;
}

/**
 * The merge patch of a Service's status that makes its ingress IPs `want` (undefined: they are
 * already). Only the IPs are compared: the server adds fields of its own (ipMode) to each entry.
 */
export function ingressPatch(svc: Service, want: string[]): Record<string, unknown> | undefined {
  if (svc.spec?.type !== 'LoadBalancer') return undefined;
  const have = (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : []));
  if (JSON.stringify([...have].sort()) === JSON.stringify([...want].sort())) return undefined;
  return { status: { loadBalancer: { ingress: want.length > 0 ? want.map((ip) => ({ ip })) : null } } };
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

export class RealManifestSync {
  private managed = new Map<string, ManifestObject>();
  private errors: ManifestError[] = [];
  private files: string[] = [];
  private readonly discovery = new Map<string, ApiResource[]>();
  /** Objects whose last apply failed: tried again at the next sync even when their file is unchanged. */
  private failed = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly client: KubeClient,
  ) {}

  /** What the files say the LoadBalancer Services' ingress IPs are. */
  intent(): Map<string, string[]> {
    return loadBalancerIntent(this.managed.values());
  }

  private async resources(apiVersion: string, refresh = false): Promise<ApiResource[]> {
    const cached = this.discovery.get(apiVersion);
    if (cached && !refresh) return cached;
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const r = await this.client.request('GET', path);
    const list = r.status === 200 ? (JSON.parse(r.body) as { resources: ApiResource[] }).resources : [];
    this.discovery.set(apiVersion, list);
    return list;
  }

  /** The object's URL path, from discovery (so any kind the server serves works). */
  private async objectPath(m: ManifestObject): Promise<string> {
    const find = (list: ApiResource[]): ApiResource | undefined =>
      list.find((r) => r.kind === m.kind && !r.name.includes('/'));
    const res = find(await this.resources(m.apiVersion)) ?? find(await this.resources(m.apiVersion, true));
    if (!res) throw new Error(`the API server does not serve ${m.kind} in ${m.apiVersion}`);
    const base = m.apiVersion.includes('/') ? `/apis/${m.apiVersion}` : `/api/${m.apiVersion}`;
    const ns = res.namespaced ? `/namespaces/${m.namespace ?? 'default'}` : '';
    return `${base}${ns}/${res.name}/${m.name}`;
  }

  private describe(m: ManifestObject): string {
    return `${m.kind} ${m.namespace ? `${m.namespace}/` : ''}${m.name}`;
  }

  /** Server-side apply of one object; 'created' or 'updated'. */
  private async apply(m: ManifestObject): Promise<'created' | 'updated'> {
    const path = await this.objectPath(m);
    const obj = JSON.parse(m.text) as Record<string, unknown>;
    delete obj['status'];
    const r = await this.client.request(
      'PATCH',
      `${path}?fieldManager=${FIELD_MANAGER}&force=true`,
      JSON.stringify(obj),
      { contentType: 'application/apply-patch+yaml', timeoutMs: 30_000 },
    );
    if (r.status >= 300)
      throw new Error(`${this.describe(m)}: ${statusMessage(r.body) || `HTTP ${r.status}`}`);
    return r.status === 201 ? 'created' : 'updated';
  }

  private async exists(m: ManifestObject): Promise<boolean> {
    const r = await this.client.request('GET', await this.objectPath(m));
    return r.status === 200;
  }

  /** Brings the cluster in line with the directory; returns what it did. */
  async sync(): Promise<ManifestReport> {
    const read = readManifestDir(this.dir);
    const errors = [...read.errors];
    const next = read.objects;
    // A file that does not parse keeps what it had.
    for (const [key, m] of this.managed) if (read.failedFiles.has(m.file) && !next.has(key)) next.set(key, m);
    let created = 0;
    let updated = 0;
    let deleted = 0;
    const gone = [...this.managed].filter(([key]) => !next.has(key)).map(([, m]) => m);
    for (const m of gone.sort((a, b) => applyRank(b) - applyRank(a))) {
      try {
        const r = await this.client.request('DELETE', await this.objectPath(m), {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          propagationPolicy: 'Background',
        });
        if (r.status < 300) deleted++;
        else if (r.status !== 404)
          errors.push({ file: m.file, message: `delete ${this.describe(m)}: HTTP ${r.status}` });
      } catch (err) {
        errors.push({ file: m.file, message: `delete ${this.describe(m)}: ${(err as Error).message}` });
      }
    }
    const failed = new Set<string>();
    const applyOne = async ([key, m]: [string, ManifestObject]): Promise<void> => {
      try {
        const before = this.managed.get(key);
        if (before && before.text === m.text && !this.failed.has(key) && (await this.exists(m))) return;
        if ((await this.apply(m)) === 'created') created++;
        else updated++;
      } catch (err) {
        failed.add(key);
        errors.push({ file: m.file, message: err instanceof Error ? err.message : String(err) });
      }
    };
    const entries = [...next];
    for (const e of entries.filter(([, m]) => applyRank(m) === 0)) await applyOne(e);
    await Promise.all(entries.filter(([, m]) => applyRank(m) !== 0).map(applyOne));
    this.failed = failed;
    this.managed = next;
    this.errors = errors;
    this.files = read.files;
    return { ...this.report(), created, updated, deleted };
  }

  report(): ManifestReport {
    return {
      dir: this.dir,
      files: this.files,
      objects: this.managed.size,
      errors: this.errors,
      created: 0,
      updated: 0,
      deleted: 0,
    };
  }
}
