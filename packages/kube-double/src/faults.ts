// Injected request failures, and the lab's fault endpoint (POST /_lab/faults) that drives every
// fault the double can inject.
import { HttpError, reasonFor } from './http.js';

export interface FailRule {
  remaining: number;
  status: number;
  retryAfterSeconds?: number;
  method?: string;
  /** Only requests that are (true) or are not (false) watches. */
  watch?: boolean;
  /** Only requests whose path contains this. */
  pathIncludes?: string;
}

/** The next N matching requests fail with a status (a Status body) and optional Retry-After. */
export class FailRules {
  private rules: FailRule[] = [];

  add(count: number, status: number, options: Omit<FailRule, 'remaining' | 'status'> = {}): void {
    this.rules.push({ remaining: count, status, ...options });
  }

  clear(): void {
    this.rules = [];
  }

  /** The failure this request must get (and counts it), or undefined to serve it. */
  take(method: string, isWatch: boolean, pathname: string): HttpError | undefined {
    const rule = this.rules.find(
      (r) =>
        r.remaining > 0 &&
        (r.method === undefined || r.method === method) &&
        (r.watch === undefined || r.watch === isWatch) &&
        (r.pathIncludes === undefined || pathname.includes(r.pathIncludes)),
    );
    if (!rule) return undefined;
    rule.remaining -= 1;
    this.rules = this.rules.filter((r) => r.remaining > 0);
    return new HttpError(
      rule.status,
      reasonFor(rule.status),
      `injected failure (${rule.status})`,
      rule.retryAfterSeconds,
    );
  }
}

/** What the fault endpoint acts on: the double's own fault methods. */
export interface FaultTarget {
  dropWatches(options: { clean?: boolean }): number;
  stallWatches(options: { newWatches?: boolean }): number;
  unstallWatches(): void;
  failNext(count: number, status: number, options: Omit<FailRule, 'remaining' | 'status'>): void;
  clearFaults(): void;
  compact(): void;
  expireWatches(): number;
}

/**
 * Applies one POST /_lab/faults body ({action, ...}); returns the action's result (null for none).
 * `restart` is not here: it closes the connection that asked for it, so the server answers first.
 */
export function applyFault(target: FaultTarget, f: Record<string, unknown>): unknown {
  const action = f.action;
  switch (action) {
    case 'dropWatches':
      return target.dropWatches({ clean: f.clean === true });
    case 'stallWatches':
      return target.stallWatches({ newWatches: f.newWatches === true });
    case 'unstallWatches':
      target.unstallWatches();
      return null;
    case 'failNext':
      target.failNext(Number(f.count ?? 1), Number(f.status ?? 500), {
        ...(typeof f.retryAfterSeconds === 'number' ? { retryAfterSeconds: f.retryAfterSeconds } : {}),
        ...(typeof f.method === 'string' ? { method: f.method } : {}),
        ...(typeof f.watch === 'boolean' ? { watch: f.watch } : {}),
        ...(typeof f.pathIncludes === 'string' ? { pathIncludes: f.pathIncludes } : {}),
      });
      return null;
    case 'clearFaults':
      target.clearFaults();
      return null;
    case 'compact':
      target.compact();
      return null;
    case 'expireWatches':
      return target.expireWatches();
    default:
      throw new HttpError(400, 'BadRequest', `unknown fault action ${String(action)}`);
  }
}
