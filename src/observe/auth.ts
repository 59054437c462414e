// Delegated authentication and authorization of cosmolet's HTTP endpoints, the way
// kube-rbac-proxy and controller-runtime's secure metrics serving do it: the caller's bearer token
// goes to a TokenReview (who is this?), then a SubjectAccessReview asks whether that user may `get`
// the non-resource URL (e.g. "/metrics", "/status"). RBAC grants it with
//   rules: [{nonResourceURLs: ["/metrics", "/status"], verbs: ["get"]}]
// cosmolet's own service account needs the system:auth-delegator ClusterRole to create the reviews.
// Decisions are cached briefly (keyed by a hash of the token, never the token itself): allows and
// refusals in separate least-recently-used caches, so a flood of junk tokens only ever evicts other
// refusals, never a caller that was allowed. Reviews in flight at once are capped: each one is a
// request under cosmolet's own identity, and API priority and fairness would throttle cosmolet's
// own list/watch if an unauthenticated client could start thousands.
import { createHash } from 'node:crypto';
import { parseHttpAddress } from '../config/http-address.js';
import { errorMessage } from '../errors.js';
import { statusMessage, type KubeClient } from '../kube/client.js';

export interface AuthDecision {
  /**
   * 200 allowed, 401 no or invalid token, 403 authenticated but not allowed, 429 too many reviews in
   * flight (retry), 503 cannot check.
   */
  status: 200 | 401 | 403 | 429 | 503;
  reason: string;
  user?: string;
}

export interface RequestAuthorizer {
  check(authorization: string | undefined, path: string): Promise<AuthDecision>;
}

export interface DelegatingAuthorizerOptions {
  client: KubeClient;
  /**
   * The audiences a token must be bound to (http.tokenAudiences), sent as TokenReview spec.audiences:
   * a token the API server would accept for itself is then refused, so none is ever sent to a node.
   * Undefined: the API server's own audiences (tests of the review alone).
   */
  audiences?: readonly string[];
  /** How long an allow is reused. Default 60 s. */
  allowTtlMs?: number;
  /** How long a refusal is reused. Default 10 s. */
  denyTtlMs?: number;
  /** While the API server cannot be asked, an allow this recent is still honoured. Default 15 min. */
  staleAllowMs?: number;
  /** Entries in each cache (allows, refusals). Default 1000. */
  maxEntries?: number;
  /** TokenReviews in flight at once; a new token beyond this is answered 429. Default 16. */
  maxReviewsInFlight?: number;
  now?: () => number;
}

/** Enough for Prometheus, a few operators and `cosmolet status` at once; the rest wait a second. */
export const DEFAULT_MAX_REVIEWS_IN_FLIGHT = 16;

interface Entry {
  decision: AuthDecision;
  at: number;
}

interface TokenReviewStatus {
  authenticated?: unknown;
  user?: { username?: unknown; uid?: unknown; groups?: unknown; extra?: unknown };
  audiences?: unknown;
  error?: unknown;
}

export class DelegatingAuthorizer implements RequestAuthorizer {
  private readonly allows = new Map<string, Entry>();
  private readonly refusals = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<AuthDecision>>();
  private readonly allowTtlMs: number;
  private readonly denyTtlMs: number;
  private readonly staleAllowMs: number;
  private readonly maxEntries: number;
  private readonly maxInFlight: number;
  private readonly now: () => number;
  /** The last review could not reach an answer (503): an outage, as far as we know. */
  private unavailable = false;
  /** The most reviews in flight at once so far (for tests and docs/reliability.md). */
  peakInFlight = 0;

  constructor(private readonly options: DelegatingAuthorizerOptions) {
    this.allowTtlMs = options.allowTtlMs ?? 60_000;
    this.denyTtlMs = options.denyTtlMs ?? 10_000;
    this.staleAllowMs = options.staleAllowMs ?? 15 * 60_000;
    this.maxEntries = options.maxEntries ?? 1000;
    this.maxInFlight = options.maxReviewsInFlight ?? DEFAULT_MAX_REVIEWS_IN_FLIGHT;
    this.now = options.now ?? Date.now;
  }

  async check(authorization: string | undefined, path: string): Promise<AuthDecision> {
    const m = /^Bearer ([\x21-\x7e]{1,16384})$/.exec(authorization ?? '');
    const token = m?.[1];
    if (!token) return { status: 401, reason: 'a bearer token is required (Authorization: Bearer ...)' };
    const key = `${createHash('sha256').update(token).digest('hex')} ${path}`;
    const now = this.now();
    const allow = this.allows.get(key);
    if (allow && now - allow.at < this.allowTtlMs) return touch(this.allows, key, allow).decision;
    const refusal = this.refusals.get(key);
    if (refusal && now - refusal.at < this.denyTtlMs) return touch(this.refusals, key, refusal).decision;
    // An allow too old to reuse, but young enough to honour while the API server cannot answer.
    const stale = allow && now - allow.at < this.staleAllowMs ? allow.decision : undefined;
    // Concurrent requests with the same token share one review.
    let pending = this.inflight.get(key);
    if (!pending) {
      if (this.inflight.size >= this.maxInFlight) {
        return stale ?? { status: 429, reason: 'too many token reviews in flight; retry shortly' };
      }
      pending = this.start(key, token, path);
    }
    // During an outage a review only times out: answer a recent allow now, re-check behind it.
    if (stale && this.unavailable) return stale;
    const decision = await pending;
    return decision.status === 503 && stale ? stale : decision;
  }

  /** Starts one review and files its answer in the cache it belongs to. */
  private start(key: string, token: string, path: string): Promise<AuthDecision> {
    const pending = this.review(token, path).then((decision) => {
      this.inflight.delete(key);
      this.unavailable = decision.status === 503;
      if (decision.status === 200) {
        this.refusals.delete(key);
        remember(this.allows, key, { decision, at: this.now() }, this.maxEntries);
      } else if (decision.status !== 503) {
        this.allows.delete(key);
        remember(this.refusals, key, { decision, at: this.now() }, this.maxEntries);
      }
      return decision;
    });
    this.inflight.set(key, pending);
    this.peakInFlight = Math.max(this.peakInFlight, this.inflight.size);
    return pending;
  }

  private async review(token: string, path: string): Promise<AuthDecision> {
    const client = this.options.client;
    try {
      const tr = await client.request(
        'POST',
        '/apis/authentication.k8s.io/v1/tokenreviews',
        {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, ...(this.options.audiences ? { audiences: this.options.audiences } : {}) },
        },
        { timeoutMs: 10_000 },
      );
      if (tr.status !== 201 && tr.status !== 200) {
        return {
          status: 503,
          reason: `cannot review the token: TokenReview answered ${tr.status}${refusal(tr.status, tr.body)}`,
        };
      }
      const status = (JSON.parse(tr.body) as { status?: TokenReviewStatus }).status ?? {};
      const user = status.user;
      if (status.authenticated !== true || typeof user?.username !== 'string') {
        return { status: 401, reason: 'the token is not valid' };
      }
      // An authenticator that ignores audiences answers without them: that token is not bound to ours.
      const wanted = this.options.audiences;
      const granted: unknown[] = Array.isArray(status.audiences) ? (status.audiences as unknown[]) : [];
      if (wanted && !granted.some((a) => typeof a === 'string' && wanted.includes(a))) {
        return { status: 401, reason: `the token is not bound to the audience ${wanted.join(' or ')}` };
      }
      const spec: Record<string, unknown> = {
        user: user.username,
        groups: Array.isArray(user.groups) ? user.groups : [],
        nonResourceAttributes: { path, verb: 'get' },
      };
      if (typeof user.uid === 'string') spec.uid = user.uid;
      if (user.extra && typeof user.extra === 'object') spec.extra = user.extra;
      const sar = await client.request(
        'POST',
        '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec },
        { timeoutMs: 10_000 },
      );
      if (sar.status !== 201 && sar.status !== 200) {
        return {
          status: 503,
          reason: `cannot check access: SubjectAccessReview answered ${sar.status}${refusal(sar.status, sar.body)}`,
        };
      }
      const allowed = (JSON.parse(sar.body) as { status?: { allowed?: unknown } }).status?.allowed === true;
      return allowed
        ? { status: 200, reason: 'allowed', user: user.username }
        : {
            status: 403,
            reason: `${user.username} may not get ${path} (RBAC: nonResourceURLs ["${path}"], verbs ["get"])`,
            user: user.username,
          };
    } catch (err) {
      return { status: 503, reason: `cannot check the token: ${errorMessage(err)}` };
    }
  }
}

/** A cache hit moves the entry to the young end of the map (Maps iterate in insertion order). */
function touch(cache: Map<string, Entry>, key: string, entry: Entry): Entry {
  cache.delete(key);
  cache.set(key, entry);
  return entry;
}

/** Files an entry; past `max`, the least recently used one goes. */
function remember(cache: Map<string, Entry>, key: string, entry: Entry, max: number): void {
  touch(cache, key, entry);
  if (cache.size > max) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
}

/**
 * Why a review was not answered, for the caller's 503: the API server's message, and on 403 the
 * missing grant (the reviews are what system:auth-delegator allows; the chart binds it).
 */
function refusal(status: number, body: string): string {
  const message = statusMessage(body).trim();
  const said = message === '' ? '' : ` (${message})`;
  if (status !== 403) return said;
  return `${said}: cosmolet's ServiceAccount needs the system:auth-delegator ClusterRole (the chart's <release>-auth-delegator ClusterRoleBinding)`;
}

/** Whether an http.address binds loopback only (then no token is asked for). */
export function isLoopbackOnly(address: string): boolean {
  const parsed = parseHttpAddress(address, true);
  if (typeof parsed === 'string' || parsed.host === undefined) return false;
  const h = parsed.host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
