// Shared by the fault e2e tests: the controller lab (real FRR leaf and GoBGP, the API double, the
// built `cosmolet run` in the node namespace) with the small cluster of test/e2e/controller, plus
// what the fault tests need beyond it: cosmolet started with its own environment (a PATH without
// `ip`), a cosmolet counter read from /metrics, and the node's kernel routes of cosmolet's protocol.
import type { TestContext } from 'node:test';
import type { KubeObject } from '../../../src/model/objects.js';
import type { ControllerLab, CosmoletProcess } from '../controller/harness.js';
import { node, services, slices } from '../controller/cluster.js';

/** Empties the API double and loads the small mixed cluster (`expectedRoutes` at the leaf). */
export function resetCluster(lab: ControllerLab, extra: KubeObject[] = []): void {
  for (const r of ['services', 'endpointslices', 'nodes', 'events'] as const) {
    for (const o of lab.api.list<KubeObject>(r))
      lab.api.delete(r, o.metadata?.namespace, o.metadata?.name ?? '');
  }
  lab.api.clearFaults();
  lab.api.create('nodes', node());
  for (const s of services) lab.api.create('services', structuredClone(s));
  for (const s of slices) lab.api.create('endpointslices', structuredClone(s));
  if (extra.length > 0) lab.api.load(extra);
}

/**
 * Starts the built `cosmolet run` like `lab.startCosmolet`, but through `env` so its environment
 * (PATH) can differ from this process's; killed (SIGKILL, by pid) when the test ends.
 */
export function startCosmolet(
  t: TestContext,
  lab: ControllerLab,
  config: Record<string, unknown> = {},
  env: Record<string, string> = {},
): CosmoletProcess {
  const c = lab.startCosmolet(config, [], env);
  t.after(async () => {
    c.kill('SIGKILL');
    await c.exited;
  });
  return c;
}

/** A counter or gauge without labels from cosmolet's /metrics (NaN when absent). */
export async function metric(lab: ControllerLab, name: string): Promise<number> {
  const body = (await lab.get('/metrics')).body;
  return Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(body)?.[1] ?? 'NaN');
}

/** Host routes of cosmolet's kernel protocol (73) on the node, both families. */
export async function nodeKernelRoutes(lab: ControllerLab): Promise<Set<string>> {
  const out = new Set<string>();
  for (const family of ['-4', '-6'] as const) {
    const r = await lab.fabric.exec('node', ['ip', family, '-json', 'route', 'show', 'proto', '73'], {
      timeoutMs: 30_000,
    });
    for (const route of JSON.parse(r.stdout || '[]') as { dst: string }[]) {
      out.add(route.dst.includes('/') ? route.dst : `${route.dst}/${family === '-4' ? 32 : 128}`);
    }
  }
  return out;
}

/** What differs between a set and the expected list, for assertion messages. */
export function difference(
  have: Set<string>,
  want: readonly string[],
): { missing: string[]; stale: string[] } {
  const w = new Set(want);
  return {
    missing: want.filter((p) => !have.has(p)),
    stale: [...have].filter((p) => !w.has(p)),
  };
}
