// The API double's watches: chunked streams of events, replay from a resourceVersion, bookmarks,
// timeouts, selector transitions, and the faults that act on open streams (drop, stall, expire).
import type http from 'node:http';
import type { Socket } from 'node:net';
import {
  matchesFields,
  matchesLabels,
  type FieldRequirement,
  type LabelSelector,
} from 'cosmolet/model/selector';
import type { KubeObject } from 'cosmolet/model/objects';
import { goneStatus, HttpError } from './http.js';
import { apiVersionOf, resourceInfo, type ResourceInfo } from './resources.js';
import { objectMatcher } from './list.js';
import type { HistoryEntry, ObjectStore } from './store.js';
import { tableOptions, toTable, type TableOptions } from './tables.js';

interface Watcher {
  resource: string;
  namespace: string | undefined;
  labels: LabelSelector;
  fields: FieldRequirement[];
  res: http.ServerResponse;
  socket: Socket;
  stalled: boolean;
  bookmarks: boolean;
  /** kubectl asked for server-side printing: events carry one-row Tables. */
  table: TableOptions | undefined;
  timers: NodeJS.Timeout[];
}

/** kube-apiserver's watch cache sends a bookmark this long before a watch's timeoutSeconds. */
const PRE_TIMEOUT_BOOKMARK_SECONDS = 2;

export interface WatchOptions {
  /** Interval of BOOKMARK events on watches that asked for them. */
  bookmarkIntervalMs: number;
  /** How a watch from a compacted resourceVersion fails: in-stream ERROR (like kube-apiserver) or HTTP 410. */
  goneMode: 'stream' | 'http';
}

export class Watches {
  private readonly watchers = new Set<Watcher>();
  private stallNew = false;
  goneMode: 'stream' | 'http';
  private readonly bookmarkIntervalMs: number;

  constructor(
    private readonly store: ObjectStore,
    options: WatchOptions,
  ) {
    this.goneMode = options.goneMode;
    this.bookmarkIntervalMs = options.bookmarkIntervalMs;
  }

  get size(): number {
    return this.watchers.size;
  }

  /** Serves a WATCH request: the stream stays open until the client, a timeout or a fault ends it. */
  start(
    info: ResourceInfo,
    namespace: string | undefined,
    query: Record<string, string>,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): void {
    const { labels, fields, match } = objectMatcher(info, namespace, query);
    const fromRaw = query.resourceVersion;
    const from = fromRaw === undefined || fromRaw === '' || fromRaw === '0' ? undefined : Number(fromRaw);
    if (from !== undefined && !Number.isFinite(from)) {
      throw new HttpError(400, 'BadRequest', `invalid resourceVersion ${fromRaw ?? ''}`);
    }
    const compactedRv = this.store.compactedRv;
    const gone = from !== undefined && (from < compactedRv || from > this.store.resourceVersion);
    if (gone && this.goneMode === 'http') {
      throw new HttpError(410, 'Expired', `too old resource version: ${from} (${compactedRv})`);
    }
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-cache',
    });
    res.flushHeaders();
    const w: Watcher = {
      resource: info.name,
      namespace: info.namespaced ? namespace : undefined,
      labels,
      fields,
      res,
      socket: req.socket,
      stalled: this.stallNew,
      bookmarks: query.allowWatchBookmarks === 'true' || query.allowWatchBookmarks === '1',
      table: tableOptions(req, query),
      timers: [],
    };
    if (gone) {
      if (!w.stalled)
        this.writeEvent(w, 'ERROR', goneStatus(`too old resource version: ${from} (${compactedRv})`));
      if (!w.stalled) res.end();
      return;
    }
    this.watchers.add(w);
    const cleanup = (): void => {
      this.watchers.delete(w);
      for (const t of w.timers) clearTimeout(t);
    };
    res.on('close', cleanup);
    req.on('close', cleanup);
    // The version the watch starts from once its initial events are out (the watch cache's rule for
    // bookmarks below).
    let startedAt = from ?? this.store.resourceVersion;
    if (from === undefined) {
      // No resourceVersion: the current state as synthetic ADDED events, then changes.
      for (const o of this.store.objects(info.name)) if (match(o)) this.writeEvent(w, 'ADDED', o);
    } else {
      for (const e of this.store.history) {
        if (e.rv <= from || e.resource !== info.name) continue;
        this.deliver(w, e);
        startedAt = Math.max(startedAt, e.rv);
      }
    }
    const timeoutSeconds = query.timeoutSeconds ? Number(query.timeoutSeconds) : 0;
    if (timeoutSeconds > 0) {
      w.timers.push(
        setTimeout(() => {
          if (!w.stalled) this.end(w, true);
        }, timeoutSeconds * 1000),
      );
    }
    if (w.bookmarks) {
      const bookmark = (): void => {
        if (!this.watchers.has(w) || w.stalled) return;
        // kube-apiserver's watch cache sends a bookmark only once its version has moved past the
        // watch's: a watch opened at the latest version stays silent while nothing is written (the
        // double's version is etcd's revision, as if the cache always had etcd's progress notify).
        if (this.store.resourceVersion <= startedAt) return;
        this.writeEvent(w, 'BOOKMARK', {
          kind: info.kind,
          apiVersion: apiVersionOf(info),
          metadata: { resourceVersion: String(this.store.resourceVersion) },
        });
      };
      const tick = (): void => {
        if (!this.watchers.has(w)) return;
        bookmark();
        w.timers.push(setTimeout(tick, this.bookmarkIntervalMs));
      };
      w.timers.push(setTimeout(tick, this.bookmarkIntervalMs));
      // kube-apiserver also sends one 2 s before the watch's timeout, so that the client resumes from
      // a version as fresh as possible (and none at all for a timeout of 2 s or less).
      if (timeoutSeconds > PRE_TIMEOUT_BOOKMARK_SECONDS) {
        w.timers.push(setTimeout(bookmark, (timeoutSeconds - PRE_TIMEOUT_BOOKMARK_SECONDS) * 1000));
      }
    }
  }

  /** Sends a write to the open watches of its resource (the store's event listener). */
  publish(entry: HistoryEntry): void {
    for (const w of this.watchers) {
      if (w.resource === entry.resource) this.deliver(w, entry);
    }
  }

  private deliver(w: Watcher, e: HistoryEntry): void {
    const m = (o: KubeObject | undefined): boolean =>
      o !== undefined &&
      (w.namespace === undefined || o.metadata?.namespace === w.namespace) &&
      matchesLabels(w.labels, o.metadata?.labels) &&
      matchesFields(w.fields, o);
    const now = m(e.object);
    const before = m(e.previous);
    if (e.type === 'DELETED') {
      if (before) this.writeEvent(w, 'DELETED', e.object);
    } else if (e.type === 'ADDED') {
      if (now) this.writeEvent(w, 'ADDED', e.object);
    } else if (now && before) this.writeEvent(w, 'MODIFIED', e.object);
    else if (now) this.writeEvent(w, 'ADDED', e.object);
    else if (before && e.previous) {
      // Left the selector: kube-apiserver's watch cache sends the previous content (which still
      // matched) with the event's resourceVersion.
      const left = { ...e.previous, metadata: { ...e.previous.metadata, resourceVersion: String(e.rv) } };
      this.writeEvent(w, 'DELETED', left);
    }
  }

  private writeEvent(w: Watcher, type: string, object: unknown): void {
    if (w.stalled || w.res.writableEnded || w.res.destroyed) return;
    if (w.table && type !== 'ERROR') {
      if (type === 'BOOKMARK') return;
      object = toTable(resourceInfo(w.resource), [object as KubeObject], {}, w.table);
    }
    w.res.write(JSON.stringify({ type, object }) + '\n');
  }

  private end(w: Watcher, clean: boolean): void {
    this.watchers.delete(w);
    for (const t of w.timers) clearTimeout(t);
    if (clean) w.res.end();
    else {
      w.res.destroy();
      w.socket.destroy();
    }
  }

  /** Ends every open watch: cleanly (end of the chunked body) or abruptly (socket reset). */
  drop(options: { clean?: boolean } = {}): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) this.end(w, options.clean ?? false);
    return n;
  }

  /** Open watches stop sending anything (events, bookmarks, timeouts), like a black-holed connection. */
  stall(options: { newWatches?: boolean } = {}): number {
    for (const w of this.watchers) w.stalled = true;
    if (options.newWatches !== undefined) this.stallNew = options.newWatches;
    return this.watchers.size;
  }

  /** Stops stalling new watches (already stalled ones stay stalled until the client gives up). */
  unstall(): void {
    this.stallNew = false;
  }

  /** Writes a raw line (e.g. malformed JSON) to every open watch. */
  injectLine(line: string): number {
    for (const w of this.watchers) if (!w.stalled) w.res.write(line + '\n');
    return this.watchers.size;
  }

  /** Sends an in-stream ERROR 410 to every open watch and ends it. */
  expire(): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) {
      if (!w.stalled) this.writeEvent(w, 'ERROR', goneStatus('too old resource version'));
      this.end(w, true);
    }
    return n;
  }
}
