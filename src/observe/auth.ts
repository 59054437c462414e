// Delegated authentication and authorization of cosmolet's HTTP endpoints, the way
// kube-rbac-proxy and controller-runtime's secure metrics serving do it: the caller's bearer token
// goes to a TokenReview (who is this?), then a SubjectAccessReview asks whether that user may `get`
// the non-resource URL (e.g. "/metrics", "/status"). RBAC grants it with
//   rules: [{nonResourceURLs: ["/metrics", "/status"], verbs: ["get"]}]
// cosmolet's own service account needs the system:auth-delegator ClusterRole to create the reviews.
// Decisions are cached briefly (keyed by a hash of the token, never the token itself).
import { createHash } from 'node:crypto';
import { parseHttpAddress } from '../config/http-address.js';
import { errorMessage } from '../errors.js';
import { statusMessage, type KubeClient } from '../kube/client.js';

export interface AuthDecision {
  /** 200 allowed, 401 no or invalid token, 403 authenticated but not allowed, 503 cannot check. */
  status: 200 | 401 | 403 | 503;
  reason: string;
  user?: string;
}

export interface RequestAuthorizer {
  check(authorization: string | undefined, path: string): Promise<AuthDecision>;
}

export interface DelegatingAuthorizerOptions {
  client: KubeClient;
  /** How long an allow is reused. Default 60 s. */
  allowTtlMs?: number;
  /** How long a refusal is reused. Default 10 s. */
  denyTtlMs?: number;
  /** While the API server cannot be asked, an allow this recent is still honoured. Default 15 min. */
  staleAllowMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  decision: AuthDecision;
  at: number;
}

interface TokenReviewStatus {
  authenticated?: unknown;
  user?: { username?: unknown; uid?: unknown; groups?: unknown; extra?: unknown };
  error?: unknown;
}

export class DelegatingAuthorizer implements RequestAuthorizer {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<AuthDecision>>();
  private readonly allowTtlMs: number;
  private readonly denyTtlMs: number;
  private readonly staleAllowMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: DelegatingAuthorizerOptions) {
    this.allowTtlMs = options.allowTtlMs ?? 60_000;
    this.denyTtlMs = options.denyTtlMs ?? 10_000;
    this.staleAllowMs = options.staleAllowMs ?? 15 * 60_000;
    this.maxEntries = options.maxEntries ?? 1000;
    this.now = options.now ?? Date.now;
  }

  async check(authorization: string | undefined, path: string): Promise<AuthDecision> {
    const m = /^Bearer ([\x21-\x7e]{1,16384})$/.exec(authorization ?? '');
    const token = m?.[1];
    if (!token) return { status: 401, reason: 'a bearer token is required (Authorization: Bearer ...)' };
    const key = `${createHash('sha256').update(token).digest('hex')} ${path}`;
    const cached = this.cache.get(key);
    const now = this.now();
    if (cached && now - cached.at < (cached.decision.status === 200 ? this.allowTtlMs : this.denyTtlMs)) {
      return cached.decision;
    }
    // Concurrent requests with the same token share one review.
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.review(token, path).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const decision = await pending;
    if (decision.status === 503) {
      // The API server is away: keep serving a caller that was allowed recently.
      if (cached?.decision.status === 200 && now - cached.at < this.staleAllowMs) return cached.decision;
      return decision;
    }
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(key, { decision, at: now });
    return decision;
  }

  private async review(token: string, path: string): Promise<AuthDecision> {
    const client = this.options.client;
    try {
      const tr = await client.request(
        'POST',
        '/apis/authentication.k8s.io/v1/tokenreviews',
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
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
