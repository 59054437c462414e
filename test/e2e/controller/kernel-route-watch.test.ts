// Kernel origination's route watch (issue 23): with the loop interval an hour away, a route of
// cosmolet's deleted by hand comes back at once (the watch re-applies it alone), and so do all of
// them when cosmolet's device is deleted (the kernel drops its IPv4 routes without a route event; the
// watch sees the link go and reads everything back). Before, both waited for the next loop interval.
import { after, before, test } from 'node:test';
import { waitFor } from '@cosmolet/lab/wait';
import { ControllerLab } from './harness.js';
import { expectedRoutes, node, services, slices } from './cluster.js';

const lab = new ControllerLab({ origination: 'kernel' });
before(async () => {
  await lab.start();
});
after(async () => {
  await lab.teardown();
});

/** cosmolet's routes in the node's main table (protocol 73 through cosmolet0). */
async function nodeRoutes(): Promise<Set<string>> {
  const out = new Set<string>();
  for (const family of ['-4', '-6']) {
    const r = await lab.fabric.exec('node', [
      'ip',
      family,
      'route',
      'show',
      'proto',
      '73',
      'dev',
      'cosmolet0',
    ]);
    for (const line of r.stdout.split('\n')) {
      const dst = line.trim().split(/\s+/)[0];
      if (dst) out.add(dst.includes('/') ? dst : `${dst}/${family === '-4' ? 32 : 128}`);
    }
  }
  return out;
}

test('kernel: a route deleted by hand, and every route when cosmolet0 is deleted, come back within 2 s (no loop interval)', async (t) => {
  lab.api.create('nodes', node());
  for (const s of services) lab.api.create('services', structuredClone(s));
  for (const s of slices) lab.api.create('endpointslices', structuredClone(s));
  const c = lab.startCosmolet({ loopIntervalSeconds: 3600 });
  t.after(async () => {
    c.kill('SIGKILL');
    await c.exited;
  });
  await lab.waitPeersHold(expectedRoutes, 30_000);
  await lab.waitReady();
  const installed = await nodeRoutes();
  const victim = [...installed].find((p) => p.endsWith('/32'));
  if (!victim) throw new Error('no IPv4 route of cosmolet installed');

  await lab.fabric.exec('node', ['ip', 'route', 'del', victim, 'dev', 'cosmolet0', 'proto', '73']);
  await waitFor(`${victim} re-applied`, async () => (await nodeRoutes()).has(victim), 2000, 20);

  await lab.fabric.exec('node', ['ip', 'link', 'del', 'cosmolet0']);
  await waitFor(
    'every route back after cosmolet0 was deleted',
    async () => {
      const now = await nodeRoutes();
      return [...installed].every((p) => now.has(p));
    },
    2000,
    20,
  );
  await lab.waitPeersHold(expectedRoutes, 15_000);
});
