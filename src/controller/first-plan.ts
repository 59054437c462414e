// The first plan (cold start, issue 23 item 4), once every list is complete: decided a slice of
// Services at a time, each with its slices, while the routes are read back; once the read-back is
// in, what is decided so far goes out while the rest is decided. Adds only: a withdrawal waits for
// the whole plan (the full diff after it), since a Service not decided yet is not a Service to
// withdraw. A failure starts over with the whole plan at once. The reconciler hands in its read-back,
// its apply and what it shares; this file knows nothing of it.
import type { SliceInfo } from '../plan/input.js';
import type { PlanState, PlanUpdate } from '../plan/state.js';
import type { DecisionChange } from '../plan/types.js';
import { diffPrefixes, type PrefixDiff } from '../router/router.js';
import type { ChangeQueue, ClusterSource } from './change-queue.js';
import type { DesiredRoutes } from './desired-routes.js';
import type { RouteLedger } from './route-ledger.js';

export interface FirstPlanOptions {
  cluster: ClusterSource;
  state: PlanState;
  queue: ChangeQueue;
  ledger: RouteLedger;
  /** Services decided per step. */
  recheckSlice: number;
  /** The prefixes decided and not yet applied (noteUpdate fills them). */
  pending: ReadonlySet<string>;
  /** Records what an update changed (the prefixes to diff, unknown classes). */
  noteUpdate: (update: PlanUpdate) => void;
  /** Reads every route back into the ledger, holding the worker. */
  readBack: () => Promise<void>;
  /** The mark each prefix of the plan carries. */
  desired: DesiredRoutes;
  /** Applies one diff and records it in the ledger. */
  applyDiff: (diff: PrefixDiff) => Promise<void>;
  /** The whole first plan is decided. */
  planChanged: () => void;
}

export class FirstPlan {
  constructor(private readonly opts: FirstPlanOptions) {}

  /** Decides the whole plan, applying its adds in batches meanwhile; the changes it decided. */
  async run(): Promise<DecisionChange[]> {
    const { cluster, state } = this.opts;
    let readDone = false;
    const reading = this.opts.readBack().then(() => void (readDone = true));
    // Rejections are taken where they are awaited, below; none may go unhandled meanwhile.
    reading.catch(() => undefined);
    let applying: Promise<void> | undefined;
    let applyError: Error | undefined;
    const changes: DecisionChange[] = [];
    const decide = (): void => {
      const update = state.update();
      this.opts.noteUpdate(update);
      for (const c of update.changes) changes.push(c);
      if (applying || !readDone || this.opts.pending.size === 0) return;
      applying = this.applyAdds()
        .catch((err: unknown) => void (applyError ??= err instanceof Error ? err : new Error(String(err))))
        .finally(() => (applying = undefined));
    };
    try {
      const slicesOf = new Map<string, SliceInfo[]>();
      for (const s of cluster.endpointSlices()) {
        const list = slicesOf.get(s.service ?? '');
        if (list) list.push(s);
        else slicesOf.set(s.service ?? '', [s]);
      }
      state.setNode(cluster.node());
      const slice = this.opts.recheckSlice;
      let n = 0;
      for (const svc of cluster.services()) {
        for (const s of slicesOf.get(svc.key) ?? []) state.setSlice(s.key, s);
        slicesOf.delete(svc.key);
        state.setService(svc.key, svc);
        if (++n % slice !== 0) continue;
        decide();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      for (const rest of slicesOf.values()) for (const s of rest) state.setSlice(s.key, s);
      decide();
      this.opts.planChanged();
      await reading;
      while (applying) await applying;
      if (applyError) throw applyError;
    } catch (err) {
      this.opts.queue.everythingAgain();
      throw err;
    }
    return changes;
  }

  /** Adds the pending prefixes the plan advertises and the router lacks (an early batch). */
  private async applyAdds(): Promise<void> {
    const { state, ledger } = this.opts;
    const adds = new Map<string, number>();
    for (const p of this.opts.pending)
      if (state.advertises(p) && !ledger.routes.has(p) && !ledger.conflicted(p))
        adds.set(p, this.opts.desired.markOf(p));
    if (adds.size > 0) await this.opts.applyDiff(diffPrefixes(adds, ledger.routes, adds.keys()));
  }
}
