// /status: the current plan in render's shape, each route with whether cosmolet installed it and
// what bgpd holds for it. Read from the reconciler and the FRR monitor; never written back.
import type { Plan } from '../plan/types.js';

/** What bgpd holds for a prefix: any path valid, any path best. */
export interface BgpHeld {
  valid: boolean;
  best: boolean;
}

export interface StatusRoute {
  prefix: string;
  family: string;
  services: string[];
  kinds: string[];
  /** Its route class (rule 7); null: none. */
  class: string | null;
  installed: boolean;
  bgp: BgpHeld;
}

export interface StatusDocument {
  node: string;
  routes: StatusRoute[];
  skipped: Plan['skipped'];
  /** Installed prefixes the plan no longer wants (a failed or pending apply). */
  stale: string[];
  bgpCheckedAt: string | null;
  bgpError?: string;
  reconciledAt: string | null;
  lastError?: string;
}

export interface StatusInput {
  nodeName: string;
  plan: Plan | undefined;
  /** Prefixes installed (with their marks, from the reconciler). */
  installed: ReadonlySet<string> | ReadonlyMap<string, number>;
  /** prefix -> what bgpd holds (the FRR monitor's last read). */
  bgp: ReadonlyMap<string, BgpHeld> | undefined;
  bgpCheckedAt: number | undefined;
  bgpError: string | undefined;
  reconciledAt: number | undefined;
  lastError: string | undefined;
}

export function statusDocument(input: StatusInput): StatusDocument {
  const plan = input.plan;
  const wanted = new Set(plan?.routes.map((r) => r.prefix) ?? []);
  const doc: StatusDocument = {
    node: input.nodeName,
    routes: (plan?.routes ?? []).map((r) => {
      const held = input.bgp?.get(r.prefix);
      return {
        ...r,
        installed: input.installed.has(r.prefix),
        bgp: { valid: held?.valid ?? false, best: held?.best ?? false },
      };
    }),
    skipped: plan?.skipped ?? [],
    stale: [...input.installed.keys()].filter((p) => !wanted.has(p)).sort(),
    bgpCheckedAt: input.bgpCheckedAt === undefined ? null : new Date(input.bgpCheckedAt).toISOString(),
    reconciledAt: input.reconciledAt === undefined ? null : new Date(input.reconciledAt).toISOString(),
  };
  if (input.bgpError) doc.bgpError = input.bgpError;
  if (input.lastError) doc.lastError = input.lastError;
  return doc;
}
