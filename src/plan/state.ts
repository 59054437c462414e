// The plan, kept up to date one change at a time. Setting a Service or an EndpointSlice marks only
// the Service it names; `update()` decides again only the marked Services and, through an index of
// prefix -> qualifying Services, turns their decisions into the few prefixes that flipped and the
// decisions that changed. A Node change (or a reset) marks every Service. The result always equals
// `computeProjectedPlan` over the same inputs: a seeded property test holds the two side by side.
// Why one file of this length: the indexes (prefix -> Services, Service -> slices) and the update
// that keeps them are one invariant; the decisions themselves are in decide.ts and input.ts.
import {
  addSlice,
  compileSettings,
  considered,
  decideService,
  nodeBlockReason,
  prefixClass,
  serviceClass,
  shownIP,
  type Compiled,
  type IPDecision,
  type ServiceReadiness,
} from './decide.js';
import { planDocument, type RouteRow, type SkipRow } from './document.js';
import type { NodeInfo, ServiceInfo, SliceInfo } from './input.js';
import { FamilyCount, hostPrefix, type Family, type IP } from '../net/ip.js';
import type {
  DecisionChange,
  DecisionState,
  IPKind,
  Plan,
  PlanSettings,
  SkipReason,
  UnknownRouteClass,
} from './types.js';

export interface PlanStateOptions {
  nodeName: string;
  settings: PlanSettings;
  missingNode: 'assume-schedulable' | 'advertise-nothing';
}

/** What one `update()` found. */
export interface PlanUpdate {
  /** Host prefixes that became advertised or stopped being advertised, sorted. */
  flipped: string[];
  /** Advertised prefixes, before and after, whose route class changed, sorted. */
  reclassed: string[];
  /**
   * Services whose route-class annotation names no configured class, found in this update: each
   * once when it appears or changes (not again at every resync).
   */
  unknownRouteClasses: UnknownRouteClass[];
  /** Per (Service, IP): the decision as a reader of the plan sees it, before and after. */
  changes: DecisionChange[];
  /** How many Services were decided again. */
  examined: number;
  /** How many Services' decisions changed (the plan document changed when this is not 0). */
  decided: number;
}

interface Route {
  ip: IP;
  /**
   * The qualifying decisions (their Service, kinds and class): usually one, so a list (smaller than a
   * Map), of the kept entries themselves (an object of its own per route was 48 bytes more).
   */
  services: Entry[];
}

/** A route's class (rule 7; "" = none): the first by name among its Services' classes. */
function routeClassOf(route: Route): string {
  let c = '';
  for (const q of route.services) c = prefixClass(c, q.routeClass);
  return c;
}

/** A decided IP with what the plan shows for it (undefined: hidden behind another Service's route). */
interface Entry extends IPDecision {
  shown?: DecisionState | undefined;
  /** The Service decided. */
  service: string;
}

export class PlanState {
  private readonly compiled: Compiled;
  private nodeBlock: SkipReason | undefined;
  private readonly services = new Map<string, ServiceInfo>();
  private readonly slices = new Map<string, SliceInfo>();
  /** Service -> its slices' keys: a list copied on change (a Set per Service was 190 bytes for two). */
  private readonly slicesOf = new Map<string, readonly string[]>();
  /** Node name -> how many slices have endpoints on it. */
  private readonly nodeRefs = new Map<string, number>();
  /** Considered Services only: their IPs, decided. */
  private readonly decided = new Map<string, Entry[]>();
  /** Advertised prefixes: prefix -> the Services that qualify for it. */
  private readonly routes = new Map<string, Route>();
  /** prefix -> Services with a skipped entry for it (shown only while nobody advertises it). */
  private readonly skippers = new Map<string, Set<string>>();
  private readonly dirty = new Set<string>();
  private allDirty = true;
  private cached: Plan | undefined;
  private readonly advertisedCount = new FamilyCount();
  private readonly skippedCount = new Map<SkipReason, number>();
  /** Advertised prefixes per route class ("" = none). */
  private readonly classCount = new Map<string, number>();
  /** Services whose annotation names no configured class -> that annotation (reported once). */
  private readonly unknownClass = new Map<string, string>();

  constructor(private readonly opts: PlanStateOptions) {
    this.compiled = compileSettings(opts.settings);
    this.nodeBlock = nodeBlockReason(undefined, opts.settings, opts.missingNode);
  }

  setService(key: string, info: ServiceInfo | undefined): void {
    if (info) this.services.set(key, info);
    else this.services.delete(key);
    this.dirty.add(key);
  }

  setSlice(key: string, info: SliceInfo | undefined): void {
    const old = this.slices.get(key);
    for (const n of old?.nodes ?? []) {
      const c = (this.nodeRefs.get(n) ?? 1) - 1;
      if (c > 0) this.nodeRefs.set(n, c);
      else this.nodeRefs.delete(n);
    }
    for (const n of info?.nodes ?? []) this.nodeRefs.set(n, (this.nodeRefs.get(n) ?? 0) + 1);
    if (old?.service) {
      this.dirty.add(old.service);
      const keys = this.slicesOf.get(old.service)?.filter((k) => k !== key) ?? [];
      if (keys.length > 0) this.slicesOf.set(old.service, keys);
      else this.slicesOf.delete(old.service);
    }
    if (info) {
      this.slices.set(key, info);
      if (info.service) {
        this.dirty.add(info.service);
        const keys = this.slicesOf.get(info.service) ?? [];
        if (!keys.includes(key)) this.slicesOf.set(info.service, [...keys, key]);
      }
    } else {
      this.slices.delete(key);
    }
  }

  setNode(node: NodeInfo | undefined): void {
    const block = nodeBlockReason(node, this.opts.settings, this.opts.missingNode);
    if (block !== this.nodeBlock) this.allDirty = true;
    this.nodeBlock = block;
  }

  /**
   * Makes the inputs equal to the stores' (a full resync) and marks every Service for a decision.
   * The stores hand out the same objects the state already holds, so an input that did not drift
   * is recognised by identity and costs a lookup, not a rebuild of the indexes.
   */
  reset(services: Iterable<ServiceInfo>, slices: Iterable<SliceInfo>, node: NodeInfo | undefined): void {
    const seenServices = new Set<string>();
    for (const s of services) {
      seenServices.add(s.key);
      if (this.services.get(s.key) !== s) this.services.set(s.key, s);
    }
    for (const key of this.services.keys()) if (!seenServices.has(key)) this.services.delete(key);
    const seenSlices = new Set<string>();
    for (const s of slices) {
      seenSlices.add(s.key);
      if (this.slices.get(s.key) !== s) this.setSlice(s.key, s);
    }
    for (const key of [...this.slices.keys()]) if (!seenSlices.has(key)) this.setSlice(key, undefined);
    this.dirty.clear();
    this.allDirty = true;
    this.nodeBlock = nodeBlockReason(node, this.opts.settings, this.opts.missingNode);
  }

  serviceInfo(key: string): ServiceInfo | undefined {
    return this.services.get(key);
  }

  /** The slice the plan holds under `key` (the store's own object while nothing drifted). */
  sliceInfo(key: string): SliceInfo | undefined {
    return this.slices.get(key);
  }

  /** The nodes that run an endpoint of some slice: the cluster as this node can see it. */
  knownNodes(): IterableIterator<string> {
    return this.nodeRefs.keys();
  }

  /** Whether the plan advertises this host prefix now (as of the last update). */
  advertises(prefix: string): boolean {
    return this.routes.has(prefix);
  }

  /** An advertised prefix's route class ("" = none); undefined when it is not advertised. */
  classOf(prefix: string): string | undefined {
    const route = this.routes.get(prefix);
    return route ? routeClassOf(route) : undefined;
  }

  /** Advertised prefixes per route class ("" = none; a class that had prefixes stays, at 0). */
  advertisedByClass(): ReadonlyMap<string, number> {
    return this.classCount;
  }

  /** The Services behind an advertised prefix. */
  servicesOf(prefix: string): string[] {
    return (this.routes.get(prefix)?.services ?? []).map((q) => q.service).sort();
  }

  /** Every advertised prefix (for full diffs at a resync). */
  advertised(): IterableIterator<string> {
    return this.routes.keys();
  }

  advertisedByFamily(): Readonly<Record<Family, number>> {
    return this.advertisedCount;
  }

  skippedByReason(): ReadonlyMap<SkipReason, number> {
    return this.skippedCount;
  }

  /**
   * Decides the marked Services again; cost follows what changed, not the cluster's size.
   * `decided` counts the Services whose decisions changed.
   */
  update(): PlanUpdate {
    const keys = this.allDirty ? new Set([...this.services.keys(), ...this.decided.keys()]) : this.dirty;
    /** prefix -> its class before this update ("" = none), undefined when it was not advertised. */
    const before = new Map<string, string | undefined>();
    /** Services whose shown decisions may have changed -> their entries before this update. */
    const affected = new Map<string, readonly Entry[]>();
    const touch = (prefix: string): void => {
      if (!before.has(prefix)) before.set(prefix, this.classOf(prefix));
    };
    const unknownRouteClasses: UnknownRouteClass[] = [];
    let decided = 0;
    const examined = keys.size;
    for (const key of keys) {
      const old = this.decided.get(key);
      const svc = this.services.get(key);
      const entries =
        svc && considered(svc, this.compiled)
          ? decideService(svc, this.compiled, this.nodeBlock, this.readiness(key))
          : undefined;
      this.noteUnknownClass(key, svc && entries && !svc.optedOut ? svc : undefined, unknownRouteClasses);
      // Decided as before (most Services at a resync): nothing to re-index, nothing to report.
      if (old && entries && sameDecisions(old, entries)) continue;
      decided++;
      affected.set(key, old ?? []);
      for (const e of old ?? []) this.unindex(key, e, touch);
      if (entries) {
        const kept = keptEntries(entries, key);
        this.decided.set(key, kept);
        for (const e of kept) this.index(key, e, touch);
      } else {
        this.decided.delete(key);
      }
    }
    this.dirty.clear();
    this.allDirty = false;

    const flipped: string[] = [];
    const reclassed: string[] = [];
    for (const [prefix, wasClass] of before) {
      const nowClass = this.classOf(prefix);
      if (nowClass === wasClass) continue;
      if (wasClass !== undefined) this.classCount.set(wasClass, (this.classCount.get(wasClass) ?? 0) - 1);
      if (nowClass !== undefined) this.classCount.set(nowClass, (this.classCount.get(nowClass) ?? 0) + 1);
      const now = nowClass !== undefined;
      if (now === (wasClass !== undefined)) {
        reclassed.push(prefix);
        continue;
      }
      flipped.push(prefix);
      this.advertisedCount.add(prefix, now ? 1 : -1);
      // Another Service's skipped entry for this IP shows only while nobody advertises it.
      for (const s of this.skippers.get(prefix) ?? [])
        if (!affected.has(s)) affected.set(s, this.decided.get(s) ?? []);
    }
    if (before.size > 0 || decided > 0) this.cached = undefined;
    unknownRouteClasses.sort((a, b) => (a.service < b.service ? -1 : 1));

    const changes: DecisionChange[] = [];
    for (const [key, old] of affected) this.revisit(key, old, changes);
    changes.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : a.ip < b.ip ? -1 : 1));
    return {
      flipped: flipped.sort(),
      reclassed: reclassed.sort(),
      unknownRouteClasses,
      changes,
      examined,
      decided,
    };
  }

  /** Records a considered Service's unknown class annotation; reports it when new or changed. */
  private noteUnknownClass(key: string, svc: ServiceInfo | undefined, out: UnknownRouteClass[]): void {
    const found = svc ? serviceClass(svc, this.compiled) : undefined;
    if (found?.unknown === undefined) {
      this.unknownClass.delete(key);
      return;
    }
    if (this.unknownClass.get(key) === found.unknown) return;
    this.unknownClass.set(key, found.unknown);
    out.push({
      service: key,
      annotated: found.unknown,
      class: found.routeClass === '' ? null : found.routeClass,
    });
  }

  /** The whole plan in render's shape; built on demand and kept until the next change. */
  plan(): Plan {
    this.cached ??= this.materialize();
    return this.cached;
  }

  private readiness(service: string): ServiceReadiness | undefined {
    const keys = this.slicesOf.get(service);
    if (!keys) return undefined;
    const r: ServiceReadiness = {};
    for (const k of keys) {
      const s = this.slices.get(k);
      if (s) addSlice(r, s);
    }
    return r;
  }

  private index(service: string, e: Entry, touch: (prefix: string) => void): void {
    if (!e.ip) return;
    const prefix = hostPrefix(e.ip);
    if (e.kinds.length > 0) {
      touch(prefix);
      const route = this.routes.get(prefix);
      // A literal of one: `[]` then push would reserve room for 17 (136 bytes more per route).
      if (!route) this.routes.set(prefix, { ip: e.ip, services: [e] });
      else route.services.push(e);
    } else {
      let set = this.skippers.get(prefix);
      if (!set) this.skippers.set(prefix, (set = new Set()));
      set.add(service);
    }
  }

  private unindex(service: string, e: IPDecision, touch: (prefix: string) => void): void {
    if (!e.ip) return;
    const prefix = hostPrefix(e.ip);
    if (e.kinds.length > 0) {
      touch(prefix);
      const route = this.routes.get(prefix);
      if (route) {
        const i = route.services.findIndex((q) => q.service === service);
        if (i >= 0) route.services.splice(i, 1);
        if (route.services.length === 0) this.routes.delete(prefix);
      }
    } else {
      const set = this.skippers.get(prefix);
      set?.delete(service);
      if (set?.size === 0) this.skippers.delete(prefix);
    }
  }

  /** Recomputes what the plan shows for one Service's IPs and records what changed. */
  private revisit(service: string, old: readonly Entry[], out: DecisionChange[]): void {
    // Read the old shown states first: `old` may be the very entries updated below.
    const was = new Map<string, { state: DecisionState; local: boolean }>();
    for (const e of old) if (e.shown !== undefined) was.set(shownIP(e), { state: e.shown, local: e.local });
    const next = this.decided.get(service) ?? [];
    const seen = new Set<string>();
    for (const e of next) {
      if (e.kinds.length > 0) e.shown = 'advertised';
      else if (e.ip && this.routes.has(hostPrefix(e.ip))) e.shown = undefined;
      else e.shown = e.reason;
      if (e.shown === undefined) continue;
      const ip = shownIP(e);
      seen.add(ip);
      const w = was.get(ip);
      if (w?.state === e.shown) continue;
      out.push({ service, ip, from: w?.state, to: e.shown, local: e.local || (w?.local ?? false) });
      this.count(w?.state, -1);
      this.count(e.shown, 1);
    }
    for (const [ip, w] of was) {
      if (seen.has(ip)) continue;
      out.push({ service, ip, from: w.state, to: undefined, local: w.local });
      this.count(w.state, -1);
    }
  }

  private count(state: DecisionState | undefined, delta: number): void {
    if (state === undefined || state === 'advertised') return;
    this.skippedCount.set(state, (this.skippedCount.get(state) ?? 0) + delta);
  }

  private materialize(): Plan {
    const routes: RouteRow[] = [];
    for (const r of this.routes.values()) {
      const kinds = new Set<IPKind>();
      for (const q of r.services) for (const k of q.kinds) kinds.add(k);
      const services = r.services.map((q) => q.service);
      routes.push({ ip: r.ip, services, kinds: [...kinds], routeClass: routeClassOf(r) });
    }
    const skips: SkipRow[] = [];
    for (const [service, entries] of this.decided) {
      for (const e of entries) {
        if (e.kinds.length > 0 || !e.reason) continue;
        if (e.ip && this.routes.has(hostPrefix(e.ip))) continue;
        skips.push({ service, raw: e.raw, ip: e.ip, reason: e.reason });
      }
    }
    return planDocument(this.opts.nodeName, routes, skips);
  }
}

/** One frozen kinds list per sequence of kinds (a handful exist), shared by every kept entry. */
const sharedKinds = new Map<string, IPKind[]>();

function shared(kinds: readonly IPKind[]): IPKind[] {
  const key = kinds.join(',');
  let known = sharedKinds.get(key);
  if (!known) sharedKinds.set(key, (known = Object.freeze(kinds.slice()) as IPKind[]));
  return known;
}

/**
 * The entries as kept, marked with their Service. decideService's arrays grow by push and keep room
 * for 17 elements (152 bytes for one): the list is copied exactly sized, and the kinds list, one
 * per IP, is shared (an exactly sized copy each was 56 bytes per IP).
 */
function keptEntries(entries: readonly IPDecision[], service: string): Entry[] {
  return entries.map((d) => {
    const e = d as Entry;
    e.service = service;
    e.kinds = shared(e.kinds);
    return e;
  });
}

function sameDecisions(a: readonly IPDecision[], b: readonly IPDecision[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (!x || !y || x.key !== y.key || x.reason !== y.reason || x.local !== y.local) return false;
    if (x.routeClass !== y.routeClass) return false;
    if (x.kinds.length !== y.kinds.length || x.kinds.some((k, j) => k !== y.kinds[j])) return false;
  }
  return true;
}
