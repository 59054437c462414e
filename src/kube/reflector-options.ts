// What a reflector is handed and what it reports: its options, the hooks metrics listen on, the
// resources it can reflect, and the safe calls into the caller's code. The loop is ./reflector.ts.
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { KubeObject } from '../model/objects.js';
import type { KubeClient } from './client.js';
import type { ReflectorTimers } from './reflector-timers.js';
import type { ReflectorChange } from './store.js';
import type { WatchEventType } from './watch-event.js';

export type ReflectedResource = 'services' | 'endpointslices' | 'nodes';

export type WatchRestartReason =
  | 'closed' // the server ended the watch cleanly (timeout): re-watch at once
  | 'gone' // 410: relist
  | 'watchdog' // no bytes for too long (several bookmark intervals, or past the watch timeout)
  | 'error'; // connection error or an HTTP/in-stream error other than 410

/**
 * Plain callbacks (the metrics module turns them into counters and gauges). Each also gets the
 * reflector's namespace last (undefined: all namespaces): with config.services.namespaces there is
 * one reflector per resource and namespace, and a refusal in one namespace is not the other's.
 */
export interface ReflectorHooks {
  relist?(resource: ReflectedResource, namespace?: string): void;
  watchRestart?(resource: ReflectedResource, reason: WatchRestartReason, namespace?: string): void;
  event?(resource: ReflectedResource, type: WatchEventType, namespace?: string): void;
  synced?(resource: ReflectedResource, synced: boolean, namespace?: string): void;
  /**
   * Watches went silent several times in a row (while lists may still answer, e.g. a stuck watch
   * cache): true while lists stand in for them, false once a watch delivers again.
   */
  watchSilent?(resource: ReflectedResource, silent: boolean, namespace?: string): void;
  /** A full list arrived (every page): the API answers again. */
  listed?(resource: ReflectedResource, objects: number, namespace?: string): void;
  /** A watch request was answered 200 (events may still take a while). */
  watchOpened?(resource: ReflectedResource, namespace?: string): void;
  /** A list or watch failed and the loop backs off (the error says why: 401, unreachable...). */
  failed?(resource: ReflectedResource, err: unknown, namespace?: string): void;
}

export interface ReflectorOptions<T> {
  client: KubeClient;
  /**
   * What the store keeps of each object (undefined: the object is dropped). Default: the object
   * itself, without managedFields and kubectl's last-applied copy.
   */
  project?: (raw: KubeObject) => T | undefined;
  /**
   * Whether two stored values are alike: an update that changes nothing the store keeps is not
   * reported. Default: same resourceVersion and uid.
   */
  same?: (a: T, b: T) => boolean;
  /**
   * Called once for every value `project` returned when the reflector lets go of it (replaced,
   * deleted, dropped with a failed list or the previous store): projections that hold shared
   * resources (interned names) give them back.
   */
  release?: (value: T) => void;
  resource: ReflectedResource;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  logger: Logger;
  hooks?: ReflectorHooks;
  onChange?: (change: ReflectorChange<T>) => void | Promise<void>;
  timers?: Partial<ReflectorTimers>;
  /** Default: the real clock. */
  clock?: Clock;
  /** Uniform in [0, 1): the backoff's jitter and the watch timeout's draw. Default: Math.random. */
  random?: () => number;
}

/** The API path of a resource's collection (optionally in a namespace). */
export function resourcePath(resource: ReflectedResource, namespace?: string): string {
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  switch (resource) {
    case 'services':
      return `/api/v1${ns}/services`;
    case 'nodes':
      return '/api/v1/nodes';
    case 'endpointslices':
      return `/apis/discovery.k8s.io/v1${ns}/endpointslices`;
  }
}

/** A hook's arguments between the resource (first) and the namespace (last), which the caller adds. */
type Middle<T extends unknown[]> = T extends [unknown, ...infer R, (string | undefined)?] ? R : never;

/** Calls one of a reflector's hooks with its resource and namespace. */
export type CallHook = <K extends keyof ReflectorHooks>(
  name: K,
  ...args: Middle<Parameters<NonNullable<ReflectorHooks[K]>>>
) => void;

// The caller's code, called safely: a broken hook, release or change handler must never disturb
// the loop; it is logged.

/** The hook caller of one reflector. */
export function hookCaller(
  hooks: ReflectorHooks | undefined,
  resource: ReflectedResource,
  namespace: string | undefined,
  log: Logger,
): CallHook {
  return (name, ...args) => {
    const fn = hooks?.[name] as ((r: ReflectedResource, ...a: unknown[]) => void) | undefined;
    if (!fn) return;
    try {
      fn.call(hooks, resource, ...args, namespace);
    } catch (err) {
      log.warn({ err, hook: name }, 'reflector hook failed');
    }
  };
}

/** `release`, or nothing. */
export function releaser<T>(release: ((value: T) => void) | undefined, log: Logger): (value: T) => void {
  return (value) => {
    try {
      release?.(value);
    } catch (err) {
      log.warn({ err }, 'release failed');
    }
  };
}

/** `onChange`, or nothing; a rejected promise is logged too. */
export function changeHandler<T>(
  onChange: ((change: ReflectorChange<T>) => void | Promise<void>) | undefined,
  log: Logger,
): (change: ReflectorChange<T>) => void {
  return (change) => {
    if (!onChange) return;
    try {
      const r = onChange(change);
      if (r instanceof Promise) r.catch((err: unknown) => log.error({ err }, 'change handler failed'));
    } catch (err) {
      log.error({ err, key: change.key }, 'change handler failed');
    }
  };
}
