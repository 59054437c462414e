// Shared pieces of the router e2e suites: one fabric per backend file, prefix generators, a
// reconcile step (read back + diff + apply, as the controller does) and exact-state waits.
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/observe/log.js';
import { Fabric, startFabric } from '@cosmolet/lab/fabric/fabric';
import { waitFor } from '@cosmolet/lab/wait';
import { LAB_ROUTE_CLASSES } from '@cosmolet/lab/fabric/config';
import { createRouter } from '../../../src/router/create.js';
import { Vtysh } from '../../../src/router/frr/vtysh.js';
import { diffPrefixes, type ApplyResult, type Origination, type Router } from '../../../src/router/router.js';

export const KERNEL_PROTOCOL = 73;
export const STATIC_TAG = 7300;

export function canRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  return undefined;
}

export async function fabricFor(): Promise<Fabric> {
  return startFabric({ kernelProtocol: KERNEL_PROTOCOL, staticTag: STATIC_TAG, startTimeoutMs: 90_000 });
}

/** The node's FRR client, as `cosmolet run` builds it: one per process, shared by every reader. */
export function vtyshFor(fabric: Fabric, commandTimeoutSeconds = 10): Vtysh {
  return new Vtysh({
    vtyshPath: 'vtysh',
    socketDir: fabric.socketDir('node'),
    timeoutMs: commandTimeoutSeconds * 1000,
  });
}

export function routerFor(
  fabric: Fabric,
  origination: Origination,
  commandTimeoutSeconds = 10,
  vtysh: Vtysh = vtyshFor(fabric, commandTimeoutSeconds),
): Router {
  return createRouter(
    {
      origination,
      socketDir: fabric.socketDir('node'),
      kernelProtocol: KERNEL_PROTOCOL,
      staticTag: STATIC_TAG,
      // The lab node's route-maps set a community per class mark (fabric-config.ts).
      marks: LAB_ROUTE_CLASSES.map((c) => c.mark),
      commandTimeoutSeconds,
      netns: fabric.ns.node,
      logger: silentLogger(),
    },
    vtysh,
  );
}

/**
 * `n` canonical host prefixes, IPv4 and IPv6 mixed, inside the lab's service ranges: every third
 * one IPv6 (fd00:10:96::/108), every seventh from the LB range 192.0.2.0/24 while it lasts. Unique per i.
 */
export function makePrefixes(n: number, offset = 0): string[] {
  const out: string[] = [];
  for (let i = offset; i < offset + n; i++) {
    if (i % 3 === 2) out.push(`fd00:10:96::${(i + 1).toString(16)}/128`);
    else if (i % 7 === 0 && i / 7 < 254) out.push(`192.0.2.${i / 7 + 1}/32`);
    else out.push(`10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`);
  }
  return out;
}

/**
 * What the controller does on a full resync: read back, diff against desired, apply one batch.
 * Prefixes alone are unclassed; a map gives each prefix its mark.
 */
export async function reconcile(
  router: Router,
  desired: Iterable<string> | ReadonlyMap<string, number>,
): Promise<ApplyResult> {
  const actual = await router.read();
  const wanted = isMarked(desired) ? desired : new Set(desired);
  return router.apply(diffPrefixes(wanted, actual));
}

function isMarked(d: Iterable<string> | ReadonlyMap<string, number>): d is ReadonlyMap<string, number> {
  return d instanceof Map;
}

/** The leaf's prefixes that carry a community (IPv4 and IPv6 unicast). */
export async function leafWithCommunity(fabric: Fabric, community: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const family of ['ipv4', 'ipv6']) {
    const text = await fabric.vtysh('leaf').show(`show bgp ${family} unicast community ${community} json`);
    const routes = (JSON.parse(text || '{}') as { routes?: Record<string, unknown> }).routes ?? {};
    for (const p of Object.keys(routes)) out.add(p);
  }
  return out;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function describeDiff(want: ReadonlySet<string>, got: ReadonlySet<string>): string {
  const missing = [...want].filter((p) => !got.has(p));
  const extra = [...got].filter((p) => !want.has(p));
  return `missing ${missing.length} (${missing.slice(0, 3).join(' ')}), extra ${extra.length} (${extra.slice(0, 3).join(' ')})`;
}

/** Waits until both the FRR leaf and GoBGP hold exactly `expected`. Returns the elapsed ms. */
export async function waitHeld(
  fabric: Fabric,
  expected: Iterable<string>,
  timeoutMs = 60_000,
): Promise<number> {
  const want = new Set(expected);
  const started = Date.now();
  let last = '';
  try {
    await waitFor(
      `leaf and GoBGP to hold exactly ${want.size} prefixes`,
      async () => {
        const leaf = await fabric.leafRoutes();
        if (!sameSet(want, leaf)) {
          last = `leaf: ${describeDiff(want, leaf)}`;
          return false;
        }
        const ext = await fabric.gobgpRoutes();
        if (!sameSet(want, ext)) {
          last = `gobgp: ${describeDiff(want, ext)}`;
          return false;
        }
        return true;
      },
      timeoutMs,
      want.size > 1000 ? 500 : 150,
    );
  } catch (e) {
    assert.fail(`${(e as Error).message}; last seen ${last}`);
  }
  return Date.now() - started;
}

export async function assertOwned(router: Router, expected: Iterable<string>): Promise<void> {
  const got = new Set((await router.read()).keys());
  const want = new Set(expected);
  assert.ok(sameSet(want, got), `router.read(): ${describeDiff(want, got)}`);
}

/** Brings the shared fabric back to a clean state: bgpd running, no cosmolet routes anywhere. */
export async function resetState(fabric: Fabric, router: Router): Promise<void> {
  fabric.contBgpd('node');
  if (!fabric.bgpdRunning('node')) await fabric.restartBgpd('node');
  await fabric.waitEstablished(60_000);
  await reconcile(router, []);
  await waitHeld(fabric, []);
}

/** Starts over (resetState), then advertises `n` prefixes and waits for the leaf to hold them. */
export async function advertiseFresh(fabric: Fabric, router: Router, n: number): Promise<string[]> {
  await resetState(fabric, router);
  const want = makePrefixes(n);
  await reconcile(router, want);
  await waitHeld(fabric, want);
  return want;
}

/**
 * Reads the leaf (`read`: its FIB or its BGP table) every ~100 ms while `during` runs and returns
 * every prefix of `watch` that was missing in at least one sample, with the number of samples taken.
 */
export async function sampleLeafWhile(
  read: () => Promise<ReadonlySet<string>>,
  watch: Iterable<string>,
  during: () => Promise<void>,
): Promise<{ missing: Set<string>; samples: number }> {
  const watched = [...watch];
  const missing = new Set<string>();
  const sampler = sampleLeaf(read, (held) => {
    for (const p of watched) if (!held.has(p)) missing.add(p);
  });
  try {
    await during();
  } finally {
    await sampler.stop();
  }
  return { missing, samples: sampler.count() };
}

/** Reads the leaf every ~100 ms and hands each sample, with when it was taken, to `onSample` until stopped. */
export function sampleLeaf(
  read: () => Promise<ReadonlySet<string>>,
  onSample: (held: ReadonlySet<string>, takenAt: number) => void,
): { stop: () => Promise<void>; count: () => number } {
  let samples = 0;
  let done = false;
  const loop = (async () => {
    while (!done) {
      const started = Date.now();
      onSample(await read(), started);
      samples++;
      const left = 100 - (Date.now() - started);
      if (left > 0) await new Promise((r) => setTimeout(r, left));
    }
  })();
  return {
    count: () => samples,
    stop: async () => {
      done = true;
      await loop;
    },
  };
}
