// The API double's object store: one global resourceVersion (etcd's revision), the objects of every
// resource, and the event history that watches replay from and list pages are read back from
// (./list.ts).
import { randomBytes, randomUUID } from 'node:crypto';
import { CosmoletError, ErrorCodes } from 'cosmolet/errors';
import type { KubeObject } from 'cosmolet/model/objects';
import { HttpError, notFound, objectDetails, qualifiedResource } from './http.js';
import { listPage, type ListPage } from './list.js';
import { clone } from './objects.js';
import {
  apiVersionOf,
  keyOf,
  RESOURCES,
  resourceForKind,
  resourceInfo,
  type ResourceInfo,
  type ResourceName,
} from './resources.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface HistoryEntry {
  rv: number;
  resource: string;
  type: EventType;
  object: KubeObject;
  previous: KubeObject | undefined;
}

export class ObjectStore {
  private readonly stores = new Map<string, Map<string, KubeObject>>();
  /**
   * JSON text of stored objects for list pages: a write stores a new object rather than changing
   * one, so the text stays valid as long as the object lives (a restart without continuity, which
   * renumbers every object in place, starts a new cache).
   */
  private jsonCache = new WeakMap<KubeObject, string>();
  /** Sorted keys per resource for list pages, dropped when a key comes or goes (not on updates). */
  private readonly sortedKeys = new Map<string, string[]>();
  private rv = 1;
  private compactedRevision = 0;
  private events: HistoryEntry[] = [];

  /**
   * @param historyLimit how many events the history keeps before compacting the oldest.
   * @param onEvent called for every write (the watches deliver it).
   */
  constructor(
    private readonly historyLimit: number,
    private readonly onEvent: (entry: HistoryEntry) => void,
  ) {
    for (const r of RESOURCES) this.stores.set(r.name, new Map());
  }

  /** The current global resourceVersion. */
  get resourceVersion(): number {
    return this.rv;
  }

  /** The newest resourceVersion the history no longer holds. */
  get compactedRv(): number {
    return this.compactedRevision;
  }

  get history(): readonly HistoryEntry[] {
    return this.events;
  }

  private store(resource: string): Map<string, KubeObject> {
    const s = this.stores.get(resource);
    if (!s) throw new CosmoletError(ErrorCodes.KUBE_API, `unknown resource ${resource}`);
    return s;
  }

  /** The stored object itself (not a copy): for replies, never to be changed. */
  peek(resource: string, key: string): KubeObject | undefined {
    return this.store(resource).get(key);
  }

  /** The stored objects themselves of a resource, in insertion order. */
  objects(resource: string): KubeObject[] {
    return [...this.store(resource).values()];
  }

  get<T extends KubeObject>(
    resource: ResourceName,
    namespace: string | undefined,
    name: string,
  ): T | undefined {
    const o = this.store(resource).get(keyOf(namespace, name));
    return o ? (clone(o) as T) : undefined;
  }

  /** All objects of a resource (in a namespace), sorted by key. */
  list<T extends KubeObject>(resource: ResourceName, namespace?: string): T[] {
    const out: T[] = [];
    for (const [k, o] of [...this.store(resource).entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (namespace === undefined || o.metadata?.namespace === namespace) out.push(clone(o) as T);
      void k;
    }
    return out;
  }

  create<T extends KubeObject>(resource: ResourceName, obj: T): T {
    return this.createObject(resource, clone(obj)) as T;
  }

  update<T extends KubeObject>(resource: ResourceName, obj: T): T {
    return this.updateObject(resource, clone(obj), false) as T;
  }

  upsert<T extends KubeObject>(resource: ResourceName, obj: T): T {
    return this.upsertOwned(resource, clone(obj), true) as T;
  }

  /** Upserts an object nobody else holds (kept as it is); returns a copy only when asked. */
  private upsertOwned(resource: ResourceName, obj: KubeObject, copy: boolean): KubeObject {
    const info = resourceInfo(resource);
    const k = keyOf(info.namespaced ? obj.metadata?.namespace : undefined, obj.metadata?.name ?? '');
    if (obj.metadata) delete obj.metadata.resourceVersion;
    return this.store(resource).has(k)
      ? this.updateObject(resource, obj, false, undefined, copy)
      : this.createObject(resource, obj, undefined, copy);
  }

  /**
   * Upserts objects of any supported kind (by `kind`); returns those of other kinds. `owned`: the
   * caller hands the objects over (freshly parsed ones), so they are stored without copying, which
   * makes loading 150,000 objects three times faster.
   */
  load(objects: KubeObject[], options: { owned?: boolean } = {}): { loaded: number; skipped: KubeObject[] } {
    const skipped: KubeObject[] = [];
    let loaded = 0;
    for (const o of objects) {
      const r = resourceForKind(o.kind);
      if (!r) skipped.push(o);
      else {
        if (options.owned) this.upsertOwned(r.name as ResourceName, o, false);
        else this.upsert(r.name as ResourceName, o);
        loaded++;
      }
    }
    return { loaded, skipped };
  }

  /** Deletes; returns false when the object did not exist. */
  delete(resource: ResourceName, namespace: string | undefined, name: string): boolean {
    try {
      this.deleteObject(resource, namespace, name);
      return true;
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) return false;
      throw err;
    }
  }

  /** Stores a new object (taken over, not copied); `pathNamespace` is the namespace in the URL. */
  createObject(resource: string, obj: KubeObject, pathNamespace?: string, copy = true): KubeObject {
    const info = resourceInfo(resource);
    const meta = (obj.metadata ??= {});
    if (info.namespaced) {
      if (pathNamespace && meta.namespace && meta.namespace !== pathNamespace) {
        throw new HttpError(
          400,
          'BadRequest',
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      meta.namespace = pathNamespace ?? meta.namespace ?? 'default';
    } else {
      delete meta.namespace;
    }
    if (!meta.name && typeof meta.generateName === 'string') {
      meta.name = meta.generateName + randomBytes(3).toString('hex').slice(0, 5);
    }
    if (!meta.name)
      throw new HttpError(422, 'Invalid', `${info.kind} is invalid: metadata.name: Required value`);
    const key = keyOf(meta.namespace, meta.name);
    const store = this.store(resource);
    if (store.has(key)) {
      throw new HttpError(
        409,
        'AlreadyExists',
        `${qualifiedResource(info)} "${meta.name}" already exists`,
        undefined,
        objectDetails(info, meta.name),
      );
    }
    obj.apiVersion = apiVersionOf(info);
    obj.kind = info.kind;
    meta.uid = randomUUID();
    meta.creationTimestamp = new Date().toISOString();
    const rv = this.bump();
    meta.resourceVersion = String(rv);
    store.set(key, obj);
    this.sortedKeys.delete(resource);
    this.record(rv, resource, 'ADDED', obj, undefined);
    return copy ? clone(obj) : obj;
  }

  /** Replaces an object (taken over, not copied); `checkRv`: its resourceVersion is a precondition. */
  updateObject(
    resource: string,
    obj: KubeObject,
    checkRv: boolean,
    pathNamespace?: string,
    copy = true,
  ): KubeObject {
    const info = resourceInfo(resource);
    const meta = (obj.metadata ??= {});
    if (info.namespaced) meta.namespace = pathNamespace ?? meta.namespace ?? 'default';
    else delete meta.namespace;
    const key = keyOf(meta.namespace, meta.name ?? '');
    const store = this.store(resource);
    const old = store.get(key);
    if (!old) throw notFound(info, meta.name ?? '');
    if (checkRv && meta.resourceVersion && meta.resourceVersion !== old.metadata?.resourceVersion) {
      throw new HttpError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualifiedResource(info)} "${meta.name ?? ''}": the object has been modified; please apply your changes to the latest version and try again`,
        undefined,
        objectDetails(info, meta.name ?? ''),
      );
    }
    obj.apiVersion = apiVersionOf(info);
    obj.kind = info.kind;
    meta.uid = old.metadata?.uid;
    meta.creationTimestamp = old.metadata?.creationTimestamp;
    const rv = this.bump();
    meta.resourceVersion = String(rv);
    store.set(key, obj);
    this.record(rv, resource, 'MODIFIED', obj, old);
    return copy ? clone(obj) : obj;
  }

  deleteObject(resource: string, namespace: string | undefined, name: string): KubeObject {
    const info = resourceInfo(resource);
    const key = keyOf(info.namespaced ? namespace : undefined, name);
    const store = this.store(resource);
    const old = store.get(key);
    if (!old) throw notFound(info, name);
    store.delete(key);
    this.sortedKeys.delete(resource);
    const rv = this.bump();
    // The DELETED event carries the last state with the deletion's resourceVersion.
    const gone = clone(old);
    (gone.metadata ??= {}).resourceVersion = String(rv);
    this.record(rv, resource, 'DELETED', gone, old);
    return clone(gone);
  }

  private bump(): number {
    this.rv += 1;
    return this.rv;
  }

  private record(
    rv: number,
    resource: string,
    type: EventType,
    object: KubeObject,
    previous: KubeObject | undefined,
  ): void {
    const entry: HistoryEntry = { rv, resource, type, object, previous };
    this.events.push(entry);
    if (this.events.length > this.historyLimit) {
      const dropped = this.events.splice(0, this.events.length - this.historyLimit);
      const last = dropped[dropped.length - 1];
      if (last) this.compactedRevision = Math.max(this.compactedRevision, last.rv);
    }
    this.onEvent(entry);
  }

  /** Forgets the history up to now: watches and continue tokens from older versions get 410. */
  compact(): void {
    this.compactedRevision = this.rv;
    this.events = [];
  }

  /**
   * Every object gets a new resourceVersion, numbered on from a gap above the old counter (so no old
   * and new version can be mistaken for each other), and the history is lost: an etcd restore.
   */
  renumber(): void {
    this.rv += 1000;
    for (const store of this.stores.values()) {
      for (const o of store.values()) (o.metadata ??= {}).resourceVersion = String(++this.rv);
    }
    this.jsonCache = new WeakMap();
    this.compact();
  }

  /**
   * The JSON text of a stored object as a list item, cached (list pages of 100,000 objects are mostly
   * this). kube-apiserver leaves out each item's kind and apiVersion (the List carries them).
   */
  jsonOf(o: KubeObject): string {
    let text = this.jsonCache.get(o);
    if (text === undefined) {
      text = JSON.stringify({ ...o, kind: undefined, apiVersion: undefined });
      this.jsonCache.set(o, text);
    }
    return text;
  }

  /** The keys of a resource's objects, sorted, for list pages (dropped when a key comes or goes). */
  keysSorted(resource: string): string[] {
    let keys = this.sortedKeys.get(resource);
    if (!keys) {
      keys = [...this.store(resource).keys()].sort();
      this.sortedKeys.set(resource, keys);
    }
    return keys;
  }

  /** The stored objects of a resource by key (not copies): for replies, never to be changed. */
  objectsByKey(resource: string): ReadonlyMap<string, KubeObject> {
    return this.store(resource);
  }

  /** A LIST page (./list.ts). */
  listPage(info: ResourceInfo, namespace: string | undefined, query: Record<string, string>): ListPage {
    return listPage(this, info, namespace, query);
  }
}
