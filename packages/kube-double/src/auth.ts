// The API double's authentication and authorization: bearer tokens (rotating, several users), and
// TokenReview and SubjectAccessReview for non-resource URLs, so delegated authentication and
// authorization of cosmolet's HTTP endpoints can be tested. Tokens carry audiences as
// kube-apiserver's do: the API server accepts only tokens bound to its own (API_AUDIENCE), a
// TokenReview checks spec.audiences (default: the API server's) and reports the ones that matched in
// status.audiences, and TokenRequest mints a token for a ServiceAccount bound to the audiences asked.
import { randomBytes } from 'node:crypto';
import { parseJson } from './http.js';

/** kube-apiserver's audience when --api-audiences is not set: its --service-account-issuer (the lab's). */
export const API_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';

/** kube-apiserver refuses a TokenRequest for less (spec.expirationSeconds). */
const MIN_TOKEN_SECONDS = 600;

/** Who a token belongs to, as TokenReview reports it. */
export interface DoubleUser {
  username: string;
  groups?: string[];
  /**
   * What the user may do on the API's resources: everything (the default; the double has no RBAC
   * for resources) or nothing, answered 403 Forbidden as RBAC does for a user without any rule.
   */
  resources?: 'all' | 'none';
  /** The audiences the token is bound to; default [API_AUDIENCE]. */
  audiences?: string[];
}

/** The identity of the double's first token: cosmolet's service account. */
export const SERVICE_ACCOUNT_USER: DoubleUser = {
  username: 'system:serviceaccount:kube-system:cosmolet',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
};

interface Grant {
  subject: string;
  verb: string;
  path: string;
}

export class Auth {
  private primaryToken: string | undefined;
  private readonly tokens = new Map<string, DoubleUser>();
  private readonly grants: Grant[] = [];
  /** TokenReview and SubjectAccessReview requests answered (tests check caching). */
  readonly reviews = { tokenReviews: 0, subjectAccessReviews: 0 };

  /** The service account's token; undefined = no authentication. */
  get token(): string | undefined {
    return this.primaryToken;
  }

  setToken(token: string, options: { keepPrevious?: boolean } = {}): void {
    if (this.primaryToken !== undefined && !options.keepPrevious) this.tokens.delete(this.primaryToken);
    this.primaryToken = token;
    this.tokens.set(token, SERVICE_ACCOUNT_USER);
  }

  addToken(token: string, user: DoubleUser): void {
    this.tokens.set(token, user);
  }

  revokeToken(token: string): void {
    this.tokens.delete(token);
  }

  allow(subject: string, verb: string, path: string): void {
    this.grants.push({ subject, verb, path });
  }

  /** Whether a request with this Authorization header may pass (always, without a token). */
  authenticates(authorization: string | undefined): boolean {
    if (this.primaryToken === undefined) return true;
    return this.user(authorization) !== undefined;
  }

  /** The user a request's Authorization header names, if its token is bound to the API server. */
  user(authorization: string | undefined): DoubleUser | undefined {
    const auth = authorization ?? '';
    const user = auth.startsWith('Bearer ') ? this.tokens.get(auth.slice(7)) : undefined;
    return user && audiencesOf(user).includes(API_AUDIENCE) ? user : undefined;
  }

  /** The TokenReview answering a POST .../tokenreviews body. */
  tokenReview(body: string): unknown {
    this.reviews.tokenReviews += 1;
    const review = parseJson(body) as { spec?: { token?: unknown; audiences?: unknown } };
    const user = typeof review.spec?.token === 'string' ? this.tokens.get(review.spec.token) : undefined;
    const asked = review.spec?.audiences;
    const wanted =
      Array.isArray(asked) && asked.length > 0 ? asked.filter((a) => typeof a === 'string') : [API_AUDIENCE];
    const matched = user ? audiencesOf(user).filter((a) => wanted.includes(a)) : [];
    let status: unknown;
    if (!user) status = { authenticated: false, error: 'invalid bearer token' };
    else if (matched.length === 0)
      status = {
        authenticated: false,
        error: `token audiences ${JSON.stringify(audiencesOf(user))} is invalid for the target audiences ${JSON.stringify(wanted)}`,
      };
    else
      status = {
        authenticated: true,
        user: { username: user.username, groups: user.groups ?? [] },
        audiences: matched,
      };
    return { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', status };
  }

  /**
   * The TokenRequest answering POST .../serviceaccounts/NAME/token (the ServiceAccount exists), or a
   * message for a 422 as kube-apiserver words it.
   */
  tokenRequest(namespace: string, name: string, body: string, now = Date.now()): object | string {
    const request = parseJson(body) as { spec?: { audiences?: unknown; expirationSeconds?: unknown } };
    const seconds = request.spec?.expirationSeconds ?? 3600;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < MIN_TOKEN_SECONDS)
      return `TokenRequest.authentication.k8s.io "${name}" is invalid: spec.expirationSeconds: Invalid value: ${JSON.stringify(seconds)}: may not specify a duration less than 10 minutes`;
    const asked = request.spec?.audiences;
    const audiences =
      Array.isArray(asked) && asked.length > 0 ? asked.filter((a) => typeof a === 'string') : [API_AUDIENCE];
    const token = `tr-${randomBytes(24).toString('base64url')}`;
    this.tokens.set(token, {
      username: `system:serviceaccount:${namespace}:${name}`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
      audiences,
    });
    return {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: { name, namespace, creationTimestamp: new Date(now).toISOString() },
      spec: { audiences, expirationSeconds: seconds, boundObjectRef: null },
      status: { token, expirationTimestamp: new Date(now + seconds * 1000).toISOString() },
    };
  }

  /** The SubjectAccessReview answering a POST .../subjectaccessreviews body (non-resource URLs only). */
  subjectAccessReview(body: string): unknown {
    this.reviews.subjectAccessReviews += 1;
    const review = parseJson(body) as {
      spec?: {
        user?: unknown;
        groups?: unknown;
        nonResourceAttributes?: { path?: unknown; verb?: unknown };
      };
    };
    const spec = review.spec ?? {};
    const groups: unknown[] = Array.isArray(spec.groups) ? (spec.groups as unknown[]) : [];
    const subjects = new Set<unknown>([spec.user, ...groups]);
    const nr = spec.nonResourceAttributes;
    const allowed =
      nr !== undefined &&
      this.grants.some((g) => subjects.has(g.subject) && g.verb === nr.verb && g.path === nr.path);
    return {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      status: allowed ? { allowed: true } : { allowed: false, reason: 'no RBAC rule allows it' },
    };
  }
}

function audiencesOf(user: DoubleUser): string[] {
  return user.audiences ?? [API_AUDIENCE];
}
