// The API double's own endpoints under /_lab/, for the lab and for tests that drive the double from
// another process: the request log, a bulk upsert, and fault injection.
import type http from 'node:http';
import type { KubeObject } from 'cosmolet/model/objects';
import type { Logger } from 'cosmolet/logger';
import { applyFault, type FaultTarget } from './faults.js';
import { HttpError, parseJson, sendJson } from './http.js';
import { parseObjects } from './objects.js';
import type { RequestLogEntry } from './request-log.js';

/** What the endpoints act on: the double's public API. */
export interface LabEndpointTarget extends FaultTarget {
  readonly requests: readonly RequestLogEntry[];
  readonly resourceVersion: number;
  load(objects: KubeObject[], options: { owned?: boolean }): { loaded: number; skipped: KubeObject[] };
  restart(options: { keepResourceVersion?: boolean; downMs?: number }): Promise<void>;
}

export function serveLabEndpoint(
  target: LabEndpointTarget,
  logger: Logger,
  method: string,
  path: string,
  body: string,
  res: http.ServerResponse,
): void {
  if (path === '/_lab/requests' && method === 'GET') {
    sendJson(res, 200, { requests: target.requests });
    return;
  }
  if (path === '/_lab/objects' && method === 'POST') {
    // Bulk upsert for the lab: YAML or JSON, one object, a List or several documents.
    let objects: KubeObject[];
    try {
      objects = parseObjects(body, 'body');
    } catch (err) {
      throw new HttpError(400, 'BadRequest', err instanceof Error ? err.message : String(err));
    }
    const { loaded, skipped } = target.load(objects, { owned: true });
    sendJson(res, 200, {
      loaded,
      skipped: skipped.map((o) => `${String(o.kind)}/${o.metadata?.name ?? ''}`),
    });
    return;
  }
  if (path === '/_lab/faults' && method === 'POST') {
    const f = parseJson(body) as Record<string, unknown>;
    if (f.action === 'restart') {
      // Answer first: the restart closes this very connection.
      sendJson(res, 202, { ok: true });
      setImmediate(() => {
        target
          .restart({
            keepResourceVersion: f.keepResourceVersion !== false,
            downMs: typeof f.downMs === 'number' ? f.downMs : 0,
          })
          .catch((err: unknown) => logger.error({ err }, 'apiserver double: restart failed'));
      });
      return;
    }
    const result = applyFault(target, f);
    sendJson(res, 200, { ok: true, result, resourceVersion: target.resourceVersion });
    return;
  }
  throw new HttpError(404, 'NotFound', `no lab endpoint ${method} ${path}`);
}
