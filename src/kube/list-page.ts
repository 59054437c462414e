// A LIST page read as it arrives: a byte scan finds where each element of `items` ends, the
// elements whole in one chunk are parsed together (one JSON.parse per chunk, not per item) and
// handed over one by one to the caller (who projects each and drops the rest), so memory follows
// the chunk and the largest object, not the page. JSON.parse of a whole page held the body, its
// string and the full tree at once: about 4x the page, and a page of Services carrying 250 KB
// annotations is 62 MB.
// (A JSON.parse reviver does not help: V8 builds the whole tree before it calls the reviver.)
// Everything outside `items` (kind, apiVersion, metadata) is kept and parsed at the end, where the
// page is validated: a 200 whose body is not a list must never read as "no objects".
// Every page is scanned, also a small one: parsed whole in one JSON.parse (as the list floor does),
// a page's tree outlived the chart's 2 MB semi-space and was promoted, so GC took 29% of a cold
// start. Scanned, its items die young: at 50,000 Services the cold start went from 1.79x to 1.44x
// its floors and RSS from 271 to 255 MB (docs/benchmarks.md). Measured in a process with Node.js's
// default 16 MB semi-space, the whole parse had looked faster.
import { KubeApiError } from '../errors.js';

export interface ListPageHead {
  kind: string;
  resourceVersion: string;
  /** '' on the last page. */
  continue: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
/** A top-level key longer than this is not `items` (and is not collected). */
const MAX_KEY_BYTES = 64;

type Route = 'head' | 'between' | 'item';

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Splits a list body into its items as bytes arrive (write), then validates what is around them
 * (end). Items are handed over in order; nothing is kept of them here.
 */
export class ListPageReader {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private started = false;
  private closed = false;
  /** Where the current bytes go: the head (all but items), nowhere (between items), the item. */
  private route: Route = 'head';
  private head: Buffer[] = [];
  private item: Buffer[] = [];
  /** At depth 1: a key is expected next (after `{` or `,`), and the last key read. */
  private expectKey = false;
  private keyParts: Buffer[] | undefined;
  private keyLength = 0;
  private lastKey = '';
  /** After `"items":`, until the value's first byte. */
  private awaitingItems = false;
  private sawItems = false;
  /** Items whole in the current chunk, parsed together when it is done: their first and last byte. */
  private batchFrom = -1;
  private batchTo = 0;
  /** Between items, after the comma that ended one: another item must come. */
  private afterComma = false;
  bytes = 0;

  constructor(
    private readonly what: string,
    private readonly onItem: (raw: unknown) => void,
  ) {}

  write(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.scan(chunk);
  }

  private scan(chunk: Buffer): void {
    let segment = 0;
    const len = chunk.length;
    let i = 0;
    while (i < len) {
      if (this.route === 'item') {
        // Inside an item only its end matters: a tight scan, no per-string native calls.
        const stop = this.scanItem(chunk, i);
        if (stop >= len) {
          i = len;
          break;
        }
        i = stop;
        const c = chunk[i] ?? 0;
        if (c === COMMA || c === CLOSE_ARRAY) {
          this.itemEnds(chunk, segment, i);
          if (c === COMMA) {
            this.route = 'between';
            this.afterComma = true;
            i += 1;
            segment = i;
          } else {
            this.route = 'head';
            segment = i;
            this.depth = 1;
            this.expectKey = false;
            i += 1;
          }
          continue;
        }
        // `}` at the items' depth: unbalanced, left to the general scan below.
      }
      if (this.inString) {
        i = this.scanString(chunk, i);
        continue;
      }
      const c = chunk[i] ?? 0;
      if (isSpace(c)) {
        i += 1;
        continue;
      }
      if (!this.started) {
        if (c !== OPEN_OBJECT) throw this.invalid('the body is not a JSON object');
        this.started = true;
      } else if (this.closed) {
        throw this.invalid('bytes after the end of the JSON object');
      }
      if (this.awaitingItems) {
        this.awaitingItems = false;
        if (c === OPEN_ARRAY) {
          // The head keeps `[`; the elements go to the caller one by one.
          this.head.push(chunk.subarray(segment, i + 1));
          this.depth = 2;
          this.route = 'between';
          i += 1;
          segment = i;
          continue;
        }
      }
      if (this.route === 'between') {
        // A comma is taken with the item before it: one here, or `]` after one, is a missing item.
        if (c === COMMA || (c === CLOSE_ARRAY && this.afterComma)) throw this.invalid('an item is not JSON');
        this.afterComma = false;
        if (c === CLOSE_ARRAY) {
          this.route = 'head';
          segment = i;
          this.depth = 1;
          this.expectKey = false;
          i += 1;
          continue;
        }
        this.route = 'item';
        segment = i;
        continue;
      }
      switch (c) {
        case QUOTE:
          this.inString = true;
          if (this.depth === 1 && this.expectKey) {
            this.keyParts = [];
            this.keyLength = 0;
          }
          break;
        case OPEN_OBJECT:
        case OPEN_ARRAY:
          this.depth += 1;
          if (this.depth === 1) this.expectKey = true;
          break;
        case CLOSE_OBJECT:
        case CLOSE_ARRAY:
          this.depth -= 1;
          if (this.depth < 0) throw this.invalid('unbalanced brackets');
          if (this.depth === 0) this.closed = true;
          break;
        case COMMA:
          if (this.depth === 1) this.expectKey = true;
          break;
        case COLON:
          if (this.depth === 1) {
            this.expectKey = false;
            if (this.lastKey === 'items') {
              if (this.sawItems) throw this.invalid('items appears twice');
              this.sawItems = true;
              this.awaitingItems = true;
            }
          }
          break;
      }
      i += 1;
    }
    this.flushBatch(chunk);
    if (segment < len && this.route !== 'between')
      (this.route === 'item' ? this.item : this.head).push(chunk.subarray(segment, len));
  }

  /**
   * From `from` inside an item: the index of the `,`, `]` or `}` at the items' depth that ends it,
   * or the chunk's length when it goes on in the next chunk. Keeps depth and string state.
   */
  private scanItem(chunk: Buffer, from: number): number {
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    const len = chunk.length;
    let i = from;
    for (; i < len; i++) {
      const c = chunk[i] ?? 0;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
      } else if (c === QUOTE) inString = true;
      else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
      else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (depth === 2) break;
        depth--;
      } else if (c === COMMA && depth === 2) break;
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    return i;
  }

  /** Outside items, in a string from `from`: collects a top-level key; returns where to go on. */
  private scanString(chunk: Buffer, from: number): number {
    const len = chunk.length;
    let i = from;
    let escaped = this.escaped;
    for (; i < len; i++) {
      const c = chunk[i] ?? 0;
      if (escaped) escaped = false;
      else if (c === BACKSLASH) escaped = true;
      else if (c === QUOTE) break;
    }
    this.escaped = escaped;
    this.collectKey(chunk, from, i);
    if (i >= len) return len;
    this.inString = false;
    if (this.keyParts) {
      this.lastKey = Buffer.concat(this.keyParts).toString('utf8');
      this.keyParts = undefined;
    }
    return i + 1;
  }

  /**
   * An item ends at `end` of this chunk. One begun in an earlier chunk is parsed alone; those whole
   * in this chunk are parsed together, as one array, when the chunk is done (one JSON.parse per
   * chunk, not per item: a third less time for small items).
   */
  private itemEnds(chunk: Buffer, segment: number, end: number): void {
    if (this.item.length > 0) {
      this.item.push(chunk.subarray(segment, end));
      const text = Buffer.concat(this.item).toString('utf8');
      this.item = [];
      this.parse(text, false);
      return;
    }
    if (this.batchFrom < 0) this.batchFrom = segment;
    this.batchTo = end;
  }

  private flushBatch(chunk: Buffer): void {
    if (this.batchFrom < 0) return;
    const text = chunk.toString('utf8', this.batchFrom, this.batchTo);
    this.batchFrom = -1;
    this.parse(text, true);
  }

  private parse(text: string, many: boolean): void {
    if (text.trim() === '') throw this.invalid('an item is not JSON');
    let raw: unknown;
    try {
      raw = JSON.parse(many ? `[${text}]` : text);
    } catch {
      throw this.invalid('an item is not JSON');
    }
    if (!many) this.onItem(raw);
    else for (const item of raw as unknown[]) this.onItem(item);
  }

  /** The page's kind, resourceVersion and continue token; throws when the body is not a list. */
  end(): ListPageHead {
    if (!this.started) throw this.invalid('the body is empty');
    if (!this.closed || this.inString) throw this.invalid('the body ends before the JSON object does');
    let page: unknown;
    try {
      page = JSON.parse(Buffer.concat(this.head).toString('utf8'));
    } catch {
      throw this.invalid('the response is not JSON');
    }
    this.head = [];
    return this.validate(page);
  }

  /** The page's head from the parsed body (items handed over from it, if any); throws if not a list. */
  private validate(page: unknown): ListPageHead {
    const p = page as { kind?: unknown; items?: unknown; metadata?: unknown; message?: unknown };
    if (typeof p.kind !== 'string' || !p.kind.endsWith('List')) {
      const message = typeof p.message === 'string' ? ` (${p.message.slice(0, 200)})` : '';
      throw this.invalid(`kind is ${describe(p.kind)}, not a list${message}`);
    }
    if (!Array.isArray(p.items)) throw this.invalid(`items is ${describe(p.items)}, not an array`);
    // Items the splitter did not see (a key spelled with escapes): read from the head instead.
    for (const raw of p.items as unknown[]) this.onItem(raw);
    const meta = (typeof p.metadata === 'object' && p.metadata !== null ? p.metadata : {}) as {
      resourceVersion?: unknown;
      continue?: unknown;
    };
    if (typeof meta.resourceVersion !== 'string' || meta.resourceVersion === '')
      throw this.invalid(`metadata.resourceVersion is ${describe(meta.resourceVersion)}, not a version`);
    return {
      kind: p.kind,
      resourceVersion: meta.resourceVersion,
      continue: typeof meta.continue === 'string' ? meta.continue : '',
    };
  }

  private collectKey(chunk: Buffer, from: number, to: number): void {
    if (!this.keyParts || to <= from) return;
    this.keyLength += to - from;
    if (this.keyLength > MAX_KEY_BYTES) {
      this.keyParts = undefined;
      this.lastKey = '';
      return;
    }
    this.keyParts.push(Buffer.from(chunk.subarray(from, to)));
  }

  // The API answered 200, but not with a list page: an API error like any other (backoff, relist).
  private invalid(why: string): KubeApiError {
    return new KubeApiError(200, `list ${this.what}: ${why}; keeping the previous state`);
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (typeof v === 'string') return v === '' ? 'empty' : JSON.stringify(v.slice(0, 60));
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
