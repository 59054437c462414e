// One watch line decoded into an event, or the reason it is ignored. Pure: the reflector applies it.
import { GoneError, KubeApiError } from '../errors.js';
import type { KubeObject } from '../model/objects.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export type WatchLine =
  /** An ERROR event: 410 is a GoneError (relist), anything else a KubeApiError. */
  | { type: 'ERROR'; error: KubeApiError }
  | { type: Exclude<WatchEventType, 'ERROR'>; object: KubeObject }
  /** Not an event: logged with `detail`, then skipped. */
  | { ignored: string; detail: Record<string, unknown> };

const LOGGED_LINE_CHARS = 200;

/** `resource` names the watch in error messages. */
export function decodeWatchLine(line: string, resource: string): WatchLine {
  let ev: { type?: unknown; object?: unknown } | null;
  try {
    ev = JSON.parse(line) as typeof ev;
  } catch {
    ev = null;
  }
  // Not JSON, or JSON but not an object ("null" threw a TypeError and failed the watch).
  if (!ev || typeof ev !== 'object')
    return { ignored: 'ignoring a malformed watch line', detail: { line: line.slice(0, LOGGED_LINE_CHARS) } };
  const type = ev.type;
  if (type === 'ERROR') {
    const status = (ev.object ?? {}) as { code?: unknown; message?: unknown };
    const message = `watch ${resource}: ${typeof status.message === 'string' ? status.message : 'error event'}`;
    const error =
      status.code === 410
        ? new GoneError(message)
        : new KubeApiError(typeof status.code === 'number' ? status.code : 500, message);
    return { type, error };
  }
  if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED' && type !== 'BOOKMARK')
    return { ignored: 'ignoring a watch event of unknown type', detail: { type } };
  const object = ev.object;
  if (!object || typeof object !== 'object')
    return { ignored: 'ignoring a watch event without an object', detail: { type } };
  return { type, object };
}
