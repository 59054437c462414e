// The API double's authentication and authorization: bearer tokens (rotating, several users), and
// TokenReview and SubjectAccessReview for non-resource URLs, so delegated authentication and
// authorization of cosmolet's HTTP endpoints can be tested.
import { parseJson } from './http.js';

/** Who a token belongs to, as TokenReview reports it. */
export interface DoubleUser {
  username: string;
  groups?: string[];
  /**
   * What the user may do on the API's resources: everything (the default; the double has no RBAC
   * for resources) or nothing, answered 403 Forbidden as RBAC does for a user without any rule.
   */
  resources?: 'all' | 'none';
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
    const auth = authorization ?? '';
    return auth.startsWith('Bearer ') && this.tokens.has(auth.slice(7));
  }

  /** The user a request's Authorization header names, if any. */
  user(authorization: string | undefined): DoubleUser | undefined {
    const auth = authorization ?? '';
    return auth.startsWith('Bearer ') ? this.tokens.get(auth.slice(7)) : undefined;
  }

  /** The TokenReview answering a POST .../tokenreviews body. */
  tokenReview(body: string): unknown {
    this.reviews.tokenReviews += 1;
    const review = parseJson(body) as { spec?: { token?: unknown } };
    const user = typeof review.spec?.token === 'string' ? this.tokens.get(review.spec.token) : undefined;
    return {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      status: user
        ? { authenticated: true, user: { username: user.username, groups: user.groups ?? [] } }
        : { authenticated: false, error: 'invalid bearer token' },
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
