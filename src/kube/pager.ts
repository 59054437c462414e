// A full LIST, page by page (as client-go's tools/pager): follows continue tokens, restarts once
// when a token expires between pages, asks for smaller pages when one is too large (and grows them
// back when objects are small again), and fails a runaway list (endless or repeated tokens) rather
// than grow without bound. Each page is read item by item (./list-page.ts) and projected as it
// arrives; nothing is kept from a page until it has proved to be a list.
import { KubeApiError, OversizeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { objectKey, type KubeObject } from '../model/objects.js';
import { retryAfterSeconds, statusMessage, type KubeClient } from './client.js';
import { ListPageReader } from './list-page.js';

export interface ListLimits {
  /** The page size asked for (the limit), unless pages have had to shrink. */
  pageSize: number;
  listTimeoutMs: number;
  /** A page body larger than this is cut off and asked again with half the limit (down to 1). */
  maxPageBytes: number;
  maxListObjects: number;
  maxListPages: number;
}

export interface ListPagerOptions<T> {
  client: KubeClient;
  /** Named in errors. */
  resource: string;
  /** The collection's path with these query parameters added to its own (selectors). */
  path: (query: Record<string, string>) => string;
  project: (raw: KubeObject) => T | undefined;
  /** Gives back a projected value the list lets go of (a failed list, a duplicate); must not throw. */
  release: (value: T) => void;
  limits: ListLimits;
  signal: AbortSignal;
  /** Whether the caller is shutting down: a page too large then fails the list instead of retrying. */
  stopping: () => boolean;
  /** A page answered (the loop is alive). */
  progress: () => void;
  log: Logger;
}

export interface ListResult<T> {
  objects: Map<string, T>;
  resourceVersion: string;
}

export class ListPager<T> {
  /** The page limit now: halved when a page is too large, grown back when pages are small. */
  private pageLimit: number;

  constructor(private readonly options: ListPagerOptions<T>) {
    this.pageLimit = Math.max(1, options.limits.pageSize);
  }

  /** Every page; on failure, whatever was projected has been released. */
  async list(): Promise<ListResult<T>> {
    const objects = new Map<string, T>();
    // The page being read: its items are not in `objects` yet.
    let page: [string, T][] = [];
    try {
      const resourceVersion = await this.pages(objects, (items) => (page = items));
      return { objects, resourceVersion };
    } catch (err) {
      for (const value of objects.values()) this.options.release(value);
      for (const [, value] of page) this.options.release(value);
      throw err;
    }
  }

  /** The pages into `next`; `reading` is told each page's projected items before they are kept. */
  private async pages(next: Map<string, T>, reading: (items: [string, T][]) => void): Promise<string> {
    const o = this.options;
    const limits = o.limits;
    let cont = '';
    let rv = '';
    let restarted = false;
    let pages = 0;
    const seen = new Set<string>();
    for (;;) {
      const limit = this.pageLimit;
      const query: Record<string, string> = { limit: String(limit) };
      if (cont) query.continue = cont;
      const items: [string, T][] = [];
      reading(items);
      const reader = new ListPageReader(o.resource, (raw) => {
        const item = raw as KubeObject | null;
        if (!item || typeof item !== 'object' || !item.metadata?.name) return;
        const value = o.project(item);
        if (value !== undefined) items.push([objectKey(item), value]);
      });
      let res;
      try {
        res = await o.client.request('GET', o.path(query), undefined, {
          timeoutMs: limits.listTimeoutMs,
          signal: o.signal,
          maxBytes: limits.maxPageBytes,
          sink: (chunk) => reader.write(chunk),
        });
      } catch (err) {
        if (!(err instanceof OversizeError) || limit <= 1 || o.stopping()) throw err;
        for (const [, value] of items) o.release(value);
        items.length = 0;
        // A page too large (objects with huge annotations): ask for the same page in fewer objects.
        this.pageLimit = Math.max(1, Math.floor(limit / 2));
        o.log.warn(
          { limit, nextLimit: this.pageLimit, maxPageBytes: limits.maxPageBytes },
          'list page too large, asking for smaller pages',
        );
        o.progress();
        continue;
      }
      o.progress();
      if (res.status === 410 && cont && !restarted) {
        // The continue token expired between pages: start the list over, once, without it.
        o.log.info('list continue token expired, restarting the list');
        for (const value of next.values()) o.release(value);
        next.clear();
        cont = '';
        restarted = true;
        continue;
      }
      if (res.status !== 200) {
        throw new KubeApiError(
          res.status,
          `list ${o.resource}: ${res.status} ${statusMessage(res.body)}`,
          retryAfterSeconds(res.headers),
        );
      }
      // A client that does not stream (a test's) hands the body over whole.
      if (res.body !== '') reader.write(Buffer.from(res.body, 'utf8'));
      const head = reader.end();
      for (const [key, value] of items) {
        const duplicate = next.get(key);
        if (duplicate !== undefined) o.release(duplicate);
        next.set(key, value);
      }
      reading([]);
      if (!rv) rv = head.resourceVersion;
      // Full pages well under the cap: the objects are small again, grow the page back.
      if (items.length >= limit && reader.bytes < limits.maxPageBytes / 4 && limit < limits.pageSize)
        this.pageLimit = Math.min(limits.pageSize, limit * 2);
      cont = head.continue;
      if (!cont) break;
      // A server that never stops paging (or repeats a token) must not grow the store without bound.
      pages += 1;
      if (seen.has(cont) || pages >= limits.maxListPages || next.size > limits.maxListObjects) {
        throw new OversizeError(
          `list ${o.resource}: runaway list (${pages} pages, ${next.size} objects${
            seen.has(cont) ? ', a continue token repeated' : ''
          }); keeping the previous state`,
        );
      }
      seen.add(cont);
    }
    return rv;
  }
}
