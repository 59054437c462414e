// Kubernetes Events (core/v1) about Services, recorded the way client-go's recorder does it:
// - a repeat of the same event (same object, type, reason, message) PATCHes count and lastTimestamp
//   of the Event already posted instead of creating a new one (LRU cache of recent events);
// - a per-object token bucket (burst 25, one more every 5 minutes, like client-go's spam filter);
// - a bounded queue drained by one background sender: record() never blocks and never throws.
// Everything dropped (queue full, rate-limited, refused by the API) is reported through a hook.
import { realClock, type Clock, type Timer } from '../clock.js';
import { CosmoletError, ErrorCodes, KubeApiError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { statusMessage, type KubeClient } from './client.js';

/** The Service an Event is about (a store's projection carries these). */
export interface ServiceRef {
  namespace: string;
  name: string;
  uid?: string | undefined;
  resourceVersion?: string | undefined;
}

export type EventType = 'Normal' | 'Warning';

export const EventReasons = {
  advertised: 'Advertised',
  withdrawn: 'Withdrawn',
  invalidIP: 'InvalidIP',
  outsideAllowedCIDRs: 'OutsideAllowedCIDRs',
  routeConflict: 'RouteConflict',
  unknownRouteClass: 'UnknownRouteClass',
} as const;

export type EventDropReason = 'queue-full' | 'rate-limited' | 'api-error' | 'closed';

export interface EventRecorderHooks {
  dropped?(reason: EventDropReason): void;
  /** An Event was created (POST) or an existing one's count bumped (PATCH). */
  sent?(how: 'created' | 'patched'): void;
}

export interface EventRecorderOptions {
  client: KubeClient;
  nodeName: string;
  logger: Logger;
  hooks?: EventRecorderHooks;
  /** Pending events beyond this are dropped. Default 1000. */
  queueSize?: number;
  /** Token bucket per involved object. Defaults: burst 25, refill one per 300 s (client-go). */
  burst?: number;
  refillPerSecond?: number;
  /** Aggregation cache entries (LRU). Default 4096. */
  cacheSize?: number;
  /** Attempts per event for transient failures (5xx, 429, unreachable), and the pause between. */
  maxAttempts?: number;
  retryDelayMs?: number;
  /** The Events' timestamps, the token buckets' refill and the retry and close timers. Default: the real clock. */
  clock?: Clock;
}

interface Pending {
  service: ServiceRef;
  type: EventType;
  reason: string;
  message: string;
  at: Date;
}

interface Posted {
  namespace: string;
  name: string;
  count: number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

export const EVENT_COMPONENT = 'cosmolet';

export class EventRecorder {
  private readonly queue: Pending[] = [];
  private readonly posted = new Map<string, Posted>();
  private readonly buckets = new Map<string, Bucket>();
  private draining: Promise<void> | undefined;
  private closed = false;
  private readonly abort = new AbortController();
  private seq = 0;
  private readonly queueSize: number;
  private readonly burst: number;
  private readonly refillPerSecond: number;
  private readonly cacheSize: number;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly options: EventRecorderOptions) {
    this.queueSize = options.queueSize ?? 1000;
    this.burst = options.burst ?? 25;
    this.refillPerSecond = options.refillPerSecond ?? 1 / 300;
    this.cacheSize = options.cacheSize ?? 4096;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.clock = options.clock ?? realClock;
    this.log = options.logger.child({ component: 'events' });
  }

  /** This node started advertising `ip` for the Service. */
  advertised(service: ServiceRef, ip: string): void {
    this.record(service, 'Normal', EventReasons.advertised, `Node ${this.options.nodeName} advertises ${ip}`);
  }

  /** This node stopped advertising `ip` for the Service. */
  withdrawn(service: ServiceRef, ip: string, why?: string): void {
    const tail = why ? ` (${why})` : '';
    this.record(
      service,
      'Normal',
      EventReasons.withdrawn,
      `Node ${this.options.nodeName} withdrew ${ip}${tail}`,
    );
  }

  /** An IP skipped because of a problem in the Service or the config. */
  skipped(service: ServiceRef, ip: string, reason: 'invalid-ip' | 'outside-allowed-cidrs'): void {
    if (reason === 'invalid-ip') {
      this.record(
        service,
        'Warning',
        EventReasons.invalidIP,
        `Not advertising "${ip}": not a plain IPv4 or IPv6 address`,
      );
    } else {
      this.record(
        service,
        'Warning',
        EventReasons.outsideAllowedCIDRs,
        `Not advertising ${ip}: outside advertise.allowedCIDRs`,
      );
    }
  }

  /** Rule 7: the Service's route-class annotation names no configured class (it takes the default). */
  unknownRouteClass(service: ServiceRef, message: string): void {
    this.record(service, 'Warning', EventReasons.unknownRouteClass, message);
  }

  /** A prefix this node should advertise is held by a route that is not cosmolet's. */
  conflict(service: ServiceRef, prefix: string): void {
    this.record(
      service,
      'Warning',
      EventReasons.routeConflict,
      `Node ${this.options.nodeName} cannot advertise ${prefix}: a route that is not cosmolet's holds it`,
    );
  }

  /** Queues an Event about `service`; returns at once, never throws. */
  record(service: ServiceRef, type: EventType, reason: string, message: string): void {
    try {
      if (this.closed) return this.drop('closed');
      if (!service.name || !service.namespace) return;
      if (!this.take(objectRef(service))) return this.drop('rate-limited');
      if (this.queue.length >= this.queueSize) return this.drop('queue-full');
      this.queue.push({ service, type, reason, message, at: new Date(this.clock.now()) });
      this.kick();
    } catch (err) {
      this.log.warn({ err }, 'cannot record an event');
    }
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Resolves once everything queued so far has been sent (or dropped). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Stops accepting events and sends what is queued, for at most `timeoutMs`. */
  async close(timeoutMs = 2000): Promise<void> {
    this.closed = true;
    let timer: Timer | undefined;
    await Promise.race([
      this.flush(),
      new Promise<void>((r) => (timer = this.clock.setTimeout(r, timeoutMs))),
    ]);
    timer?.cancel();
    // Whatever is still in flight (retry pauses, slow requests) is abandoned.
    this.abort.abort();
    for (let n = this.queue.splice(0).length; n > 0; n--) this.drop('closed');
  }

  private drop(reason: EventDropReason): void {
    try {
      this.options.hooks?.dropped?.(reason);
    } catch {
      // a broken metrics hook must not break the caller
    }
  }

  private take(key: string): boolean {
    const now = this.clock.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, updated: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.updated) / 1000) * this.refillPerSecond);
    b.updated = now;
    this.buckets.delete(key);
    this.buckets.set(key, b);
    if (this.buckets.size > this.cacheSize) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    for (let e = this.queue.shift(); e; e = this.queue.shift()) {
      try {
        await this.send(e);
      } catch (err) {
        this.drop('api-error');
        this.log.warn({ err, reason: e.reason }, 'event dropped');
      }
    }
  }

  private async send(e: Pending): Promise<void> {
    const svc = e.service;
    const namespace = svc.namespace;
    const key = aggregationKey(e, this.options.nodeName);
    const previous = this.posted.get(key);
    const ts = e.at.toISOString();
    if (previous) {
      const count = previous.count + 1;
      const res = await this.attempt(
        'PATCH',
        `/api/v1/namespaces/${enc(previous.namespace)}/events/${enc(previous.name)}`,
        {
          count,
          lastTimestamp: ts,
          message: e.message,
        },
      );
      if (res === 200) {
        this.remember(key, { ...previous, count });
        this.options.hooks?.sent?.('patched');
        return;
      }
      // 404: the Event expired (the API server keeps them for an hour): post a new one.
      this.posted.delete(key);
    }
    const name = `${svc.name}.${this.eventSuffix(e.at)}`;
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Service',
        namespace,
        name: svc.name,
        uid: svc.uid,
        resourceVersion: svc.resourceVersion,
      },
      reason: e.reason,
      message: e.message,
      type: e.type,
      source: { component: EVENT_COMPONENT, host: this.options.nodeName },
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
      reportingComponent: EVENT_COMPONENT,
      reportingInstance: this.options.nodeName,
    };
    const status = await this.attempt('POST', `/api/v1/namespaces/${enc(namespace)}/events`, event);
    if (status !== 201 && status !== 200) throw new KubeApiError(status, `POST event: HTTP ${status}`);
    this.remember(key, { namespace, name, count: 1 });
    this.options.hooks?.sent?.('created');
  }

  /** Sends with retries on transient failures; returns the final status (404 is returned, not thrown). */
  private async attempt(method: string, path: string, body: unknown): Promise<number> {
    let last = '';
    let lastStatus = 0;
    for (let i = 0; i < this.maxAttempts; i++) {
      if (i > 0) await this.pause();
      if (this.abort.signal.aborted) break;
      try {
        const res = await this.options.client.request(method, path, body, {
          contentType: method === 'PATCH' ? 'application/merge-patch+json' : 'application/json',
          timeoutMs: 10_000,
          signal: this.abort.signal,
        });
        if (res.status < 300 || res.status === 404) return res.status;
        last = `HTTP ${res.status}: ${statusMessage(res.body)}`;
        lastStatus = res.status;
        if (res.status !== 429 && res.status < 500) break;
      } catch (err) {
        last = errorMessage(err);
        lastStatus = 0;
      }
    }
    const message = `${method} ${path}: ${last}`;
    throw lastStatus > 0
      ? new KubeApiError(lastStatus, message)
      : new CosmoletError(ErrorCodes.KUBE_UNREACHABLE, message);
  }

  private async pause(): Promise<void> {
    const signal = this.abort.signal;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        timer.cancel();
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = this.clock.setTimeout(done, this.retryDelayMs);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private remember(key: string, p: Posted): void {
    this.posted.delete(key);
    this.posted.set(key, p);
    if (this.posted.size > this.cacheSize) {
      const oldest = this.posted.keys().next().value;
      if (oldest !== undefined) this.posted.delete(oldest);
    }
  }

  /** client-go names Events `<object>.<unix nanoseconds in hex>`; a counter keeps them unique. */
  private eventSuffix(at: Date): string {
    this.seq = (this.seq + 1) % 1_000_000;
    return (BigInt(at.getTime()) * 1_000_000n + BigInt(this.seq)).toString(16);
  }
}

function objectRef(s: ServiceRef): string {
  return `${s.namespace}/${s.name}/${s.uid ?? ''}`;
}

function aggregationKey(e: Pending, host: string): string {
  return [EVENT_COMPONENT, host, 'Service', objectRef(e.service), e.type, e.reason, e.message].join('\u0000');
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
