// How the API server is doing, as the reflectors see it: which resources' requests have been
// failing since when (an outage), and which are refused for the credential. Both only feed /readyz:
// an outage never changes the stores, so the routes stay as they are (fail static).
import type { Clock } from '../clock.js';
import { CosmoletError, ErrorCodes, KubeApiError } from '../errors.js';
import type { ReflectorHooks } from '../kube/reflector.js';
import type { Metrics } from '../observe/metrics.js';

/** Requests failing for longer than this make the `kubernetes-unreachable` condition. */
export const UNREACHABLE_AFTER_MS = 10_000;

/**
 * A reflector's name in the messages: its resource, and its namespace when it watches one (with
 * config.services.namespaces, a Role missing in one namespace must not be hidden by another's).
 */
function reflectorName(resource: string, namespace: string | undefined): string {
  return namespace === undefined ? resource : `${resource} in namespace ${namespace}`;
}

export class KubeHealth {
  /** Reflector (resource and namespace) -> when its requests started failing (cleared by any success). */
  private readonly failingSince = new Map<string, number>();
  /** Reflector -> the credential problem of its last failure (401, 403, no credential). */
  private readonly authFailure = new Map<string, string>();
  /** Reflectors whose watches went silent twice in a row and which relist instead, until one delivers. */
  private readonly silentWatches = new Set<string>();

  constructor(
    private readonly clock: Clock,
    private readonly metrics: Metrics,
  ) {}

  /** The reflectors' hooks: outage tracking and the reflector metrics. */
  hooks(): ReflectorHooks {
    const m = this.metrics;
    // While a reflector's watches stay silent, a list or a reopened watch does not end its outage:
    // only a watch that delivers (watchSilent false) does.
    const ok = (resource: string, namespace: string | undefined, watchDelivers = false) => {
      const name = reflectorName(resource, namespace);
      this.authFailure.delete(name);
      if (this.silentWatches.has(name) && !watchDelivers) return;
      this.silentWatches.delete(name);
      this.failingSince.delete(name);
    };
    return {
      failed: (resource, err, namespace) => {
        const name = reflectorName(resource, namespace);
        const auth = authProblem(err);
        if (auth) this.authFailure.set(name, auth);
        else this.authFailure.delete(name);
      },
      relist: (resource) => m.reflectorRelists.inc({ resource }),
      watchSilent: (resource, silent, namespace) => {
        if (silent) this.silentWatches.add(reflectorName(resource, namespace));
        else ok(resource, namespace, true);
      },
      // Any answer from the API ends an outage, even on a quiet cluster with no events.
      listed: (resource, _objects, namespace) => ok(resource, namespace),
      watchOpened: (resource, namespace) => ok(resource, namespace),
      watchRestart: (resource, reason, namespace) => {
        m.reflectorWatchRestarts.inc({ resource, reason });
        // A watch that went silent while bookmarks were due is a failure too, not progress.
        const name = reflectorName(resource, namespace);
        if (reason === 'error' || reason === 'watchdog') {
          if (!this.failingSince.has(name)) this.failingSince.set(name, this.clock.now());
        } else {
          ok(resource, namespace);
        }
      },
      event: (resource, type, namespace) => {
        ok(resource, namespace);
        m.reflectorEvents.inc({ resource, type });
        m.reflectorLastEvent.set({ resource }, this.clock.now() / 1000);
      },
      synced: (resource, synced, namespace) => {
        if (synced) ok(resource, namespace);
        m.reflectorSynced.set({ resource }, synced ? 1 : 0);
      },
    };
  }

  /** Credential problems count at once: waiting does not fix a refused token. */
  unauthorized(): string | undefined {
    const [first] = this.authFailure.entries();
    if (!first) return undefined;
    const resources = [...this.authFailure.keys()].join(', ');
    return `kubernetes-unauthorized: requests for ${resources} are refused: ${first[1]}; keeping the routes as they are`;
  }

  /**
   * Reflectors bypassing a watch path that stays silent. Not ready meanwhile: the relists keep the
   * routes converging, but a change arrives only with the next one, a silent watch later (about 6
   * minutes with kube-apiserver's 60 s bookmarks, 11 to 21 before any bookmark), where a watch takes
   * well under a second: an endpoint that turns unready keeps its route that long.
   */
  watchesSilent(): string | undefined {
    if (this.silentWatches.size === 0) return undefined;
    return `kubernetes-watches-silent: watches for ${[...this.silentWatches].join(', ')} went silent twice in a row; relisting after each silent watch until one delivers again`;
  }

  /** Resources whose requests have failed for longer than UNREACHABLE_AFTER_MS (not for the credential). */
  unreachable(): string | undefined {
    const now = this.clock.now();
    const failing = [...this.failingSince.entries()].filter(
      ([r, since]) => now - since > UNREACHABLE_AFTER_MS && !this.authFailure.has(r),
    );
    if (failing.length === 0) return undefined;
    return `kubernetes-unreachable: requests for ${failing.map(([r]) => r).join(', ')} have failed for ${Math.round(
      (now - Math.min(...failing.map(([, s]) => s))) / 1000,
    )} s; keeping the routes as they are`;
  }
}

/** Why the API server refuses cosmolet, when that is the failure (else undefined). */
export function authProblem(err: unknown): string | undefined {
  if (err instanceof KubeApiError && err.status === 401) {
    return `401 Unauthorized even after refreshing the credential (${err.message})`;
  }
  if (err instanceof KubeApiError && err.status === 403) {
    return `403 Forbidden: the service account lacks RBAC permissions (${err.message})`;
  }
  if (err instanceof CosmoletError && err.code === ErrorCodes.KUBE_AUTH) return err.message;
  return undefined;
}
