// The lab's manifest directory (default examples/lab/): plain Kubernetes YAML or JSON files whose
// objects are kept in the simulated cluster. A file added or edited creates or updates its objects;
// an object removed from a file, or a removed file, deletes it. A file that does not parse keeps its
// objects as they were (and the error is reported), so a half-saved edit deletes nothing. Objects
// created by other means (kubectl) are left alone.
import { existsSync, readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { KubeObject } from 'cosmolet/model/objects';
import { parseObjects } from '@cosmolet/kube-double/objects';
import { resourceForKind, type ResourceName } from '@cosmolet/kube-double/resources';
import type { FakeApiServer } from '@cosmolet/kube-double/apiserver';

export interface ManifestError {
  file: string;
  message: string;
}

export interface ManifestReport {
  dir: string;
  files: string[];
  objects: number;
  errors: ManifestError[];
  created: number;
  updated: number;
  deleted: number;
}

interface Managed {
  resource: ResourceName;
  namespace: string | undefined;
  name: string;
  file: string;
  /** The object as written in the file, serialized: an update is sent only when it changes. */
  text: string;
}

function isManifest(name: string): boolean {
  return /\.(ya?ml|json)$/i.test(name) && !name.startsWith('.');
}

/** The directory's files and their modification times, to notice changes cheaply. */
export function fingerprint(dir: string): string {
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .filter(isManifest)
    .sort()
    .map((f) => {
      try {
        const st = statSync(join(dir, f));
        return `${f}:${st.mtimeMs}:${st.size}`;
      } catch {
        return `${f}:gone`;
      }
    })
    .join('|');
}

export class ManifestSync {
  private managed = new Map<string, Managed>();
  private errors: ManifestError[] = [];
  private files: string[] = [];

  constructor(
    readonly dir: string,
    private readonly api: FakeApiServer,
  ) {}

  /** Brings the simulated cluster in line with the directory; returns what it did. */
  sync(): ManifestReport {
    const errors: ManifestError[] = [];
    const files = existsSync(this.dir) ? readdirSync(this.dir).filter(isManifest).sort() : [];
    if (!existsSync(this.dir)) errors.push({ file: this.dir, message: 'directory does not exist' });
    const next = new Map<string, Managed>();
    const failedFiles = new Set<string>();
    for (const file of files) {
      let objects: KubeObject[];
      try {
        objects = parseObjects(readFileSync(join(this.dir, file), 'utf8'), file);
      } catch (err) {
        const message = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
        errors.push({
          file,
          message: message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message,
        });
        failedFiles.add(file);
        continue;
      }
      for (const o of objects) {
        const info = resourceForKind(o.kind);
        const name = o.metadata?.name;
        if (!info || info.name === 'events') {
          errors.push({ file, message: `kind ${o.kind ?? '(none)'} is not simulated; skipped` });
          continue;
        }
        if (!name) {
          errors.push({ file, message: `a ${o.kind ?? ''} without metadata.name; skipped` });
          continue;
        }
        const namespace = info.namespaced ? (o.metadata?.namespace ?? 'default') : undefined;
        const key = `${info.name}/${namespace ?? ''}/${name}`;
        if (next.has(key)) {
          errors.push({
            file,
            message: `${o.kind} ${namespace ? `${namespace}/` : ''}${name} is also in ${next.get(key)?.file ?? ''}`,
          });
          continue;
        }
        const obj = structuredClone(o);
        if (obj.metadata && namespace) obj.metadata.namespace = namespace;
        next.set(key, {
          resource: info.name as ResourceName,
          namespace,
          name,
          file,
          text: JSON.stringify(obj),
        });
      }
    }
    // A file that does not parse keeps what it had.
    for (const [key, m] of this.managed) if (failedFiles.has(m.file) && !next.has(key)) next.set(key, m);

    let created = 0;
    let updated = 0;
    let deleted = 0;
    for (const [key, m] of this.managed) {
      if (next.has(key)) continue;
      if (this.api.delete(m.resource, m.namespace, m.name)) deleted++;
    }
    for (const [key, m] of next) {
      const before = this.managed.get(key);
      const exists = this.api.get(m.resource, m.namespace, m.name) !== undefined;
      if (before && before.text === m.text && exists) continue;
      try {
        this.api.upsert(m.resource, JSON.parse(m.text) as KubeObject);
        if (exists) updated++;
        else created++;
      } catch (err) {
        errors.push({ file: m.file, message: err instanceof Error ? err.message : String(err) });
      }
    }
    this.managed = next;
    this.errors = errors;
    this.files = files;
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

/**
 * Calls `onChange` when the directory's manifests change: inotify (debounced 100 ms), and a 1 s poll
 * of their names, sizes and times for what inotify misses (editors that replace the directory,
 * network file systems). Runs for the life of the process.
 */
export function watchManifestDir(dir: string, onChange: (why: 'inotify' | 'poll') => void): void {
  let lastPrint = fingerprint(dir);
  let debounce: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  const rewatch = (): void => {
    watcher?.close();
    watcher = undefined;
    if (!existsSync(dir)) return;
    try {
      watcher = watch(dir, () => {
        clearTimeout(debounce);
        debounce = setTimeout(() => {
          lastPrint = fingerprint(dir);
          onChange('inotify');
        }, 100);
      });
      watcher.on('error', () => undefined);
    } catch {
      watcher = undefined;
    }
  };
  rewatch();
  setInterval(() => {
    const fp = fingerprint(dir);
    if (fp === lastPrint) return;
    lastPrint = fp;
    if (!watcher) rewatch();
    onChange('poll');
  }, 1000);
}
