// The API double's resource endpoints: /api/v1[/namespaces/NS]/RES[/NAME] and
// /apis/G/V[/namespaces/NS]/RES[/NAME], with LIST, WATCH, GET, POST, PUT, PATCH (merge-patch;
// strategic-merge treated as merge-patch) and DELETE.
import type http from 'node:http';
import type { KubeObject } from 'cosmolet/model/objects';
import { HttpError, notFound, parseJson, sendJson, sendText } from './http.js';
import { mergePatch } from './objects.js';
import { keyOf, RESOURCES, type ResourceInfo } from './resources.js';
import type { ObjectStore } from './store.js';
import { tableOptions, toTable } from './tables.js';
import type { Watches } from './watch.js';

export interface ResourceRoute {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string | undefined;
}

/** /api/v1[/namespaces/NS]/RES[/NAME] and /apis/G/V[/namespaces/NS]/RES[/NAME]. */
export function parseResourcePath(path: string): ResourceRoute | undefined {
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  let group = '';
  let rest: string[];
  if (parts[0] === 'api' && parts[1] === 'v1') rest = parts.slice(2);
  else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1] ?? '';
    rest = parts.slice(3);
  } else return undefined;
  const version = parts[0] === 'api' ? 'v1' : (parts[2] ?? '');
  let namespace: string | undefined;
  // /api/v1/namespaces/NS (a Namespace object) vs /api/v1/namespaces/NS/services.
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 2) return undefined;
  const info = RESOURCES.find((r) => r.group === group && r.version === version && r.name === rest[0]);
  if (!info) return undefined;
  return { info, namespace, name: rest[1] };
}

function parseObject(body: string, info: ResourceInfo): KubeObject {
  const v = parseJson(body);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new HttpError(400, 'BadRequest', 'the request body is not a JSON object');
  }
  const obj = v as KubeObject;
  if (obj.kind !== undefined && obj.kind !== info.kind) {
    throw new HttpError(400, 'BadRequest', `kind ${String(obj.kind)} does not match ${info.name}`);
  }
  return obj;
}

export interface ResourceRequest {
  route: ResourceRoute;
  method: string;
  query: Record<string, string>;
  body: string;
  isWatch: boolean;
}

/** Serves one request on a resource path; a refused one throws HttpError. */
export function serveResource(
  store: ObjectStore,
  watches: Watches,
  { route, method, query, body, isWatch }: ResourceRequest,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): void {
  const info = route.info;
  if (route.namespace !== undefined && !info.namespaced) {
    throw new HttpError(404, 'NotFound', `the server could not find the requested resource`);
  }
  if (route.name === undefined) {
    if (method === 'GET' && isWatch) return watches.start(info, route.namespace, query, req, res);
    if (method === 'GET') {
      const page = store.listPage(info, route.namespace, query);
      const table = tableOptions(req, query);
      if (table) return sendJson(res, 200, toTable(info, page.items, page.metadata, table));
      // The same text as JSON.stringify(page), from each object's cached text.
      const items = page.items.map((o) => store.jsonOf(o)).join(',');
      return sendText(
        res,
        200,
        `{"kind":${JSON.stringify(page.kind)},"apiVersion":${JSON.stringify(page.apiVersion)},"metadata":${JSON.stringify(page.metadata)},"items":[${items}]}`,
      );
    }
    if (method === 'POST') {
      const created = store.createObject(info.name, parseObject(body, info), route.namespace);
      return sendJson(res, 201, created);
    }
    throw new HttpError(405, 'MethodNotAllowed', `${method} is not supported on a collection by this double`);
  }
  const ns = info.namespaced ? route.namespace : undefined;
  const current = store.peek(info.name, keyOf(ns, route.name));
  switch (method) {
    case 'GET':
      if (isWatch) {
        query.fieldSelector = [query.fieldSelector, `metadata.name=${route.name}`].filter(Boolean).join(',');
        return watches.start(info, route.namespace, query, req, res);
      }
      if (!current) throw notFound(info, route.name);
      return sendJson(res, 200, current);
    case 'PUT': {
      const obj = parseObject(body, info);
      if (obj.metadata?.name !== route.name) {
        throw new HttpError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
      }
      return sendJson(res, 200, store.updateObject(info.name, obj, true, ns));
    }
    case 'PATCH': {
      const ct = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
      if (ct !== 'application/merge-patch+json' && ct !== 'application/strategic-merge-patch+json') {
        throw new HttpError(
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unsupported content type ${ct}`,
        );
      }
      if (!current) throw notFound(info, route.name);
      const patch = parseJson(body);
      const merged = mergePatch(current, patch) as KubeObject;
      const meta = (merged.metadata ??= {});
      meta.name = route.name;
      if (ns !== undefined) meta.namespace = ns;
      // A resourceVersion in the patch is a precondition; otherwise it is the current one.
      return sendJson(res, 200, store.updateObject(info.name, merged, true, ns));
    }
    case 'DELETE':
      return sendJson(res, 200, store.deleteObject(info.name, ns, route.name));
    default:
      throw new HttpError(405, 'MethodNotAllowed', `${method} is not supported`);
  }
}
