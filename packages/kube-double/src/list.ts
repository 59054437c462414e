// The API double's LIST pages, as kube-apiserver (with its watch cache, the default) serves them:
// resourceVersion semantics, limit/continue pages read at one resourceVersion (a snapshot rebuilt
// from the history), remainingItemCount, and the 410 for a continue token that is too old.
import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  type FieldRequirement,
  type LabelSelector,
} from 'cosmolet/model/selector';
import type { KubeObject } from 'cosmolet/model/objects';
import { HttpError } from './http.js';
import { apiVersionOf, objKey, type ResourceInfo } from './resources.js';

/** What a list page is read from: the object store (./store.ts). */
export interface ListSource {
  readonly resourceVersion: number;
  /** The newest resourceVersion the history no longer holds. */
  readonly compactedRv: number;
  /** Every write after the compacted revision, oldest first. */
  readonly history: readonly {
    rv: number;
    resource: string;
    type: string;
    object: KubeObject;
    previous: KubeObject | undefined;
  }[];
  keysSorted(resource: string): string[];
  objectsByKey(resource: string): ReadonlyMap<string, KubeObject>;
}

export interface ListPage {
  kind: string;
  apiVersion: string;
  metadata: Record<string, unknown>;
  items: KubeObject[];
}

/** A LIST or WATCH request's selectors (labelSelector, fieldSelector, the path's namespace). */
export function objectMatcher(
  info: ResourceInfo,
  namespace: string | undefined,
  query: Record<string, string>,
): { labels: LabelSelector; fields: FieldRequirement[]; match: (o: KubeObject) => boolean } {
  const labels = parseLabelSelector(query.labelSelector);
  const fields = parseFieldSelector(query.fieldSelector);
  // A cluster-scoped object has no metadata.namespace field to select on (kube-apiserver: 400).
  if (!info.namespaced && fields.some((f) => f.field === 'metadata.namespace'))
    throw new HttpError(400, 'BadRequest', 'field label not supported: metadata.namespace');
  return {
    labels,
    fields,
    match: (o: KubeObject): boolean =>
      (!info.namespaced || namespace === undefined || o.metadata?.namespace === namespace) &&
      matchesLabels(labels, o.metadata?.labels) &&
      matchesFields(fields, o),
  };
}

/** Index of the first key greater than `after` in sorted `keys`. */
function firstAfter(keys: readonly string[], after: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] ?? '') <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The resourceVersion of a continue token that goes on with the current state (after a 410). */
const INCONSISTENT = -1;

function encodeContinue(t: { rv: number; after: string }): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeContinue(s: string): { rv: number; after: string } | undefined {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as { rv?: unknown; after?: unknown };
    if (typeof t.rv === 'number' && typeof t.after === 'string') return { rv: t.rv, after: t.after };
  } catch {
    // fall through
  }
  return undefined;
}

/**
 * How the objects of `resource` at resourceVersion `at` differ from the store now: key -> the object
 * as it was then (null: it did not exist). Read back from the history, which holds every write
 * after the compacted revision.
 */
function changedSince(store: ListSource, resource: string, at: number): Map<string, KubeObject | null> {
  const out = new Map<string, KubeObject | null>();
  if (at >= store.resourceVersion) return out;
  const events = store.history;
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((events[mid]?.rv ?? 0) <= at) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < events.length; i++) {
    const e = events[i];
    if (!e || e.resource !== resource) continue;
    const key = objKey(e.previous ?? e.object);
    // The first write after `at` tells what the object was at `at`.
    if (!out.has(key)) out.set(key, e.type === 'ADDED' ? null : (e.previous ?? null));
  }
  return out;
}

const RV_MATCH_WITHOUT_RV =
  'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided';

/**
 * A LIST page:
 * - no resourceVersion, or NotOlderThan a version: the current state;
 * - resourceVersion=0: the current state, whole (the watch cache ignores limit);
 * - resourceVersionMatch=Exact: the state at that version, 410 when it is compacted;
 * - a version newer than the server's: 504 Timeout (ResourceVersionTooLarge), Retry-After 1
 *   (kube-apiserver first waits up to 3 s for its cache to catch up; the double is never behind);
 * - limit/continue: every page is read at the first page's resourceVersion (a consistent snapshot,
 *   as etcd reads at a revision), with remainingItemCount when there is no selector; a continue
 *   token older than the compacted revision is 410 Expired, and its Status carries a token that
 *   goes on with the current state (an inconsistent continuation).
 */
export function listPage(
  store: ListSource,
  info: ResourceInfo,
  namespace: string | undefined,
  query: Record<string, string>,
): ListPage {
  const { match, labels, fields } = objectMatcher(info, namespace, query);
  const rvParam = query.resourceVersion ?? '';
  const rvMatch = query.resourceVersionMatch ?? '';
  if (rvMatch !== '' && rvParam === '') {
    throw new HttpError(
      422,
      'Invalid',
      `ListOptions.meta.k8s.io "" is invalid: ${RV_MATCH_WITHOUT_RV}`,
      undefined,
      {
        group: 'meta.k8s.io',
        kind: 'ListOptions',
        causes: [
          {
            reason: 'FieldValueForbidden',
            message: RV_MATCH_WITHOUT_RV.slice('resourceVersionMatch: '.length),
            field: 'resourceVersionMatch',
          },
        ],
      },
    );
  }
  const current = store.resourceVersion;
  let listRv = current;
  let after: string | undefined;
  let limit = query.limit ? Number(query.limit) : 0;
  if (query.continue) {
    const token = decodeContinue(query.continue);
    if (!token) throw new HttpError(400, 'BadRequest', 'invalid continue token');
    if (token.rv !== INCONSISTENT && token.rv < store.compactedRv) {
      throw new HttpError(
        410,
        'Expired',
        'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
        undefined,
        undefined,
        { continue: encodeContinue({ rv: INCONSISTENT, after: token.after }) },
      );
    }
    if (token.rv !== INCONSISTENT) listRv = token.rv;
    after = token.after;
  } else if (rvParam !== '') {
    const asked = Number(rvParam);
    if (!/^\d+$/.test(rvParam) || !Number.isSafeInteger(asked)) {
      throw new HttpError(400, 'BadRequest', `invalid resource version: ${rvParam}`);
    }
    if (asked > current) {
      throw new HttpError(
        504,
        'Timeout',
        `Timeout: Too large resource version: ${asked}, current: ${current}`,
        1,
        {
          causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        },
      );
    }
    if (rvMatch === 'Exact') {
      if (asked < store.compactedRv)
        throw new HttpError(410, 'Expired', 'The resourceVersion for the provided list is too old.');
      listRv = asked;
    } else if (asked === 0) limit = 0;
  }
  const changed = changedSince(store, info.name, listRv);
  const objects = store.objectsByKey(info.name);
  let keys = store.keysSorted(info.name);
  // Objects deleted since the snapshot are in it again, in key order.
  const revived = [...changed].filter(([k, o]) => o !== null && !objects.has(k)).map(([k]) => k);
  if (revived.length > 0) keys = [...keys, ...revived].sort();
  const at = (k: string): KubeObject | undefined => {
    const then = changed.get(k);
    return then === undefined ? objects.get(k) : (then ?? undefined);
  };
  const items: KubeObject[] = [];
  let next: string | undefined;
  let stoppedAt = -1;
  // Each page starts after the last key of the previous one: found by bisection, so listing
  // 100,000 objects in pages is not quadratic.
  for (let i = after === undefined ? 0 : firstAfter(keys, after); i < keys.length; i++) {
    const o = at(keys[i] ?? '');
    if (!o || !match(o)) continue;
    if (limit > 0 && items.length >= limit) {
      next = encodeContinue({ rv: listRv, after: objKey(items[items.length - 1]) });
      stoppedAt = i;
      break;
    }
    items.push(o);
  }
  const metadata: Record<string, unknown> = { resourceVersion: String(listRv) };
  if (next) {
    metadata.continue = next;
    // etcd counts the keys left in the range; with a selector that count would be wrong, so
    // kube-apiserver leaves it out.
    if (labels.length === 0 && fields.length === 0) {
      const scoped = info.namespaced && namespace !== undefined;
      metadata.remainingItemCount =
        changed.size === 0
          ? // Keys are `namespace/name`: a namespace's keys are contiguous and end before `namespace/\uffff`.
            (scoped ? firstAfter(keys, `${namespace}/\uffff`) : keys.length) - stoppedAt
          : keys.slice(stoppedAt).filter((k) => {
              const o = at(k);
              return o !== undefined && (!scoped || o.metadata?.namespace === namespace);
            }).length;
    }
  }
  return { kind: `${info.kind}List`, apiVersion: apiVersionOf(info), metadata, items };
}
