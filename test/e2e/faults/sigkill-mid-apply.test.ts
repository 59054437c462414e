// cosmolet SIGKILLed in the middle of a 20,000-prefix apply (10,000 dual-stack Services, kernel
// origination: one `ip -batch` that cosmolet feeds through a pipe) and restarted after the cluster
// changed: 1,000 Services deleted (their prefixes, partly installed by the killed run, are stale)
// and 1,000 added. The restarted cosmolet must leave exactly the 20,000 planned prefixes (nothing
// stale, nothing missing) in the node's kernel and at the leaf (GoBGP: the count), within a time bound.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import type { EndpointSlice, KubeObject, Service } from '../../../src/model/objects.js';
import { waitFor } from '@cosmolet/lab/wait';
import { ControllerLab } from '../controller/harness.js';
import { OTHER, node } from '../controller/cluster.js';
import { difference, nodeKernelRoutes, startCosmolet } from './common.js';

const lab = new ControllerLab({ origination: 'kernel' });
before(() => lab.start());
after(() => lab.teardown());

const SERVICES = 10_000;
const RESTART_BOUND_MS = 90_000;

function ips(i: number): [string, string] {
  return [`10.97.${i >> 8}.${i & 255}`, `fd00:10:96::1:${i.toString(16)}`];
}

function objects(i: number): KubeObject[] {
  const name = `s${i}`;
  const [v4, v6] = ips(i);
  const svc: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { type: 'ClusterIP', clusterIP: v4, clusterIPs: [v4, v6], ports: [{ port: 80, protocol: 'TCP' }] },
  };
  const slice = (family: 'IPv4' | 'IPv6', ip: string): EndpointSlice => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${name}-${family.toLowerCase()}`,
      namespace: 'default',
      labels: { 'kubernetes.io/service-name': name },
    },
    addressType: family,
    endpoints: [{ addresses: [ip], conditions: { ready: true }, nodeName: OTHER }],
  });
  return [svc, slice('IPv4', `10.2.${i >> 8}.${i & 255}`), slice('IPv6', `fd00:2::${i.toString(16)}`)];
}

const prefixes = (from: number, to: number): string[] => {
  const out: string[] = [];
  for (let i = from; i < to; i++) {
    const [v4, v6] = ips(i);
    out.push(`${v4}/32`, `${v6}/128`);
  }
  return out;
};

/** Pids of the `ip -batch` processes `parent` started. */
function ipBatchChildren(parent: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('-batch'))
        out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('kernel: cosmolet SIGKILLed in the middle of a 20,000-prefix apply and restarted: exact at the node and the leaf', async (t) => {
  for (const r of ['services', 'endpointslices', 'nodes', 'events'] as const)
    for (const o of lab.api.list<KubeObject>(r))
      lab.api.delete(r, o.metadata?.namespace, o.metadata?.name ?? '');
  lab.api.create('nodes', node());
  const all: KubeObject[] = [];
  for (let i = 0; i < SERVICES; i++) all.push(...objects(i));
  lab.api.load(all);

  const first = startCosmolet(t, lab);
  const pid = first.child.pid;
  assert.ok(pid !== undefined);
  // Catch the apply's `ip -batch` in the middle: stop it (SIGSTOP) as soon as it appears, let it
  // run in short bursts until it has installed some routes, then kill cosmolet while `ip` is still
  // stopped. On an idle machine the whole batch takes a fraction of a second, so waiting for routes
  // with `ip` running let it finish before the kill (the apply was complete, not interrupted).
  const batch = await waitFor('the first apply (ip -batch)', () => ipBatchChildren(pid)[0], 60_000, 2);
  process.kill(batch, 'SIGSTOP');
  t.after(() => {
    if (!alive(batch)) return;
    process.kill(batch, 'SIGKILL');
    process.kill(batch, 'SIGCONT');
  });
  const installedNow = async (): Promise<number> =>
    Number(
      (
        await lab.fabric.exec('node', [
          'sh',
          '-c',
          '{ ip -4 route show proto 73; ip -6 route show proto 73; } | wc -l',
        ])
      ).stdout.trim(),
    );
  let bursts = 0;
  await waitFor(
    'some routes installed by the stopped ip -batch',
    async () => {
      if ((await installedNow()) > 0) return true;
      process.kill(batch, 'SIGCONT');
      await new Promise((r) => setImmediate(r));
      process.kill(batch, 'SIGSTOP');
      bursts++;
      return false;
    },
    30_000,
    0,
  );
  first.kill('SIGKILL');
  await first.exited;
  // The orphaned `ip` applies what is left in its pipe (at most the pipe's 64 KiB: cosmolet could
  // not write more while `ip` was stopped) and ends at the pipe's end.
  process.kill(batch, 'SIGCONT');
  await waitFor('the orphaned ip -batch to end', () => !alive(batch), 30_000, 10);
  t.diagnostic(`ip -batch stopped at once, ${bursts} short runs until it had installed routes`);
  const partial = (await nodeKernelRoutes(lab)).size;
  t.diagnostic(`killed with ${partial} of ${2 * SERVICES} prefixes installed`);
  assert.ok(partial > 0 && partial < 2 * SERVICES, `in the middle of the apply: ${partial} installed`);

  // The cluster moves on while cosmolet is down: 1,000 Services deleted, 1,000 added.
  for (let i = 0; i < 1000; i++) {
    lab.api.delete('services', 'default', `s${i}`);
    for (const f of ['ipv4', 'ipv6']) lab.api.delete('endpointslices', 'default', `s${i}-${f}`);
  }
  const added: KubeObject[] = [];
  for (let i = SERVICES; i < SERVICES + 1000; i++) added.push(...objects(i));
  lab.api.load(added);
  const expected = prefixes(1000, SERVICES + 1000);

  const restartedAt = Date.now();
  const second = startCosmolet(t, lab);
  // Counted cheaply while converging (this process also serves the API), compared whole after.
  await waitFor(
    'the node kernel to hold 20,000 routes',
    async () => (await installedNow()) === expected.length,
    RESTART_BOUND_MS,
    100,
  );
  const atNode = Date.now() - restartedAt;
  await waitFor(
    'the leaf and GoBGP to hold 20,000 prefixes',
    async () =>
      (await lab.fabric.leafPrefixCount()) === expected.length &&
      (await lab.fabric.gobgpPrefixCount()) === expected.length,
    RESTART_BOUND_MS,
    250,
  );
  const atLeaf = Date.now() - restartedAt;
  assert.deepEqual(difference(await lab.leaf(), expected), { missing: [], stale: [] }, 'the leaf is exact');
  // GoBGP's count (above) only: its JSON RIB of 10,000 IPv6 routes takes longer than 30 s to print.
  assert.deepEqual(difference(await nodeKernelRoutes(lab), expected), { missing: [], stale: [] });
  await lab.waitReady(RESTART_BOUND_MS);
  const synced = /"time":"([^"]+)"[^\n]*"msg":"[^"]*synced/.exec(second.log())?.[1];
  t.diagnostic(
    `after the restart: lists synced in ${synced ? Date.parse(synced) - restartedAt : '?'} ms, ` +
      `node kernel exact in ${atNode} ms, leaf and GoBGP in ${atLeaf} ms`,
  );
  assert.ok(atLeaf < RESTART_BOUND_MS);
  // Leave the lab's node empty for whoever follows.
  second.kill('SIGKILL');
  await second.exited;
});
