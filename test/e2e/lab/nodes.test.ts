// The DaemonSet story end to end with three nodes (real FRR, GoBGP, nftables, the built CLI): the
// leaf's ECMP next hops are exactly the nodes whose plan advertises each prefix; a Local-policy
// LoadBalancer IP is advertised only by the node with a ready local endpoint and moves with the pod;
// a cordoned node withdraws while the others keep every prefix (the leaf sampled every 100 ms); a
// stopped node's next hops leave the leaf and come back; `lab status --json` and `cosmolet status`
// agree with the leaf. One lab for the whole story (bring-up is the expensive part).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@cosmolet/lab/wait';
import { loadKubeClient } from '../../../src/kube/client.js';
import type { ClusterStatus } from '../../../src/observe/cluster-status.js';
import {
  cli,
  CLI,
  curlFromLeaf,
  down,
  leafPaths,
  newLab,
  planned,
  sampleLeaf,
  sorted,
  skip,
  state,
  status,
  up,
  type Lab,
} from './helpers.js';

const NODES = ['lab-node-1', 'lab-node-2', 'lab-node-3'];

/** The leaf's next hops equal, for every prefix, the nodes whose plan advertises it. */
async function ecmpMatchesPlans(lab: Lab, timeoutMs = 20_000): Promise<Record<string, string[]>> {
  let last = '';
  return waitFor(
    'the leaf next hops to equal the advertising nodes',
    async () => {
      const [plan, leaf] = [sorted(await planned(lab)), sorted(leafPaths(lab))];
      last = `plans ${JSON.stringify(plan)}\nleaf  ${JSON.stringify(leaf)}`;
      return JSON.stringify(plan) === JSON.stringify(leaf) ? leaf : undefined;
    },
    timeoutMs,
    100,
  ).catch((err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${last}`);
  });
}

/** `cosmolet status --json` as an operator on the fabric (the leaf) runs it. */
function cosmoletStatus(lab: Lab): { code: number | null; view: ClusterStatus } {
  const kubeconfig = join(state(lab).dir, 'node-kubeconfig');
  const r = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      `${lab.prefix}-leaf`,
      process.execPath,
      CLI,
      'status',
      '--json',
      '--kubeconfig',
      kubeconfig,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.ok(r.stdout, `cosmolet status printed nothing: ${r.stderr}`);
  return { code: r.status, view: JSON.parse(r.stdout) as ClusterStatus };
}

async function setUnschedulable(lab: Lab, node: string, value: boolean): Promise<void> {
  // What `kubectl cordon` sends.
  const client = await loadKubeClient({ kubeconfigPath: state(lab).kubeconfig });
  const r = await client.request(
    'PATCH',
    `/api/v1/nodes/${node}`,
    { spec: { unschedulable: value } },
    {
      contentType: 'application/merge-patch+json',
    },
  );
  assert.equal(r.status, 200, r.body);
}

test(
  'three nodes: ECMP, Local policy, cordon, a node stopped, and cosmolet status agree with the leaf',
  { skip },
  async (t) => {
    const lab = newLab(t);
    const started = Date.now();
    await up(lab, 3);
    t.diagnostic(`lab up with 3 nodes took ${Date.now() - started} ms`);

    // 1. ECMP: every prefix's next hops are the nodes whose plan advertises it.
    const leaf = await ecmpMatchesPlans(lab);
    assert.deepEqual(leaf['10.96.0.10/32'], NODES, 'web (a pod on every node) from every node');
    assert.deepEqual(leaf['10.96.0.30/32'], NODES, 'checkout (Cluster policy) from every node');
    assert.deepEqual(
      leaf['192.0.2.10/32'],
      ['lab-node-2'],
      'the Local LB IP only from the node with its pod',
    );
    assert.deepEqual(leaf['2001:db8:96::10/128'], ['lab-node-2']);
    assert.equal(leaf['10.96.0.12/32'], undefined, 'db has no ready endpoint');

    // lab status --json: the shape of the issue, and it agrees with the leaf.
    const v = await status(lab);
    assert.deepEqual(
      v.nodes.map((n) => [n.name, n.ready]),
      NODES.map((n) => [n, true]),
    );
    for (const p of v.prefixes) {
      assert.deepEqual(p.nodes, leaf[p.prefix] ?? [], `lab status nodes of ${p.prefix}`);
      assert.equal(p.leafNextHops, (leaf[p.prefix] ?? []).length, `lab status leafNextHops of ${p.prefix}`);
    }
    // cosmolet status, run on the fabric with the operator's kubeconfig, agrees too, once every
    // node's cosmolet has read what its bgpd holds (it reads bgpd every loop interval, 10 s here:
    // right after `lab up` a node can still show a prefix as installed but not yet held).
    let cs = cosmoletStatus(lab);
    await waitFor(
      "every node's /status to show what its bgpd holds",
      () => {
        cs = cosmoletStatus(lab);
        return cs.view.prefixes.every(
          (p) => JSON.stringify(p.advertising) === JSON.stringify(leaf[p.prefix] ?? []),
        );
      },
      25_000,
      500,
    ).catch(() => undefined); // the assertions below say what differs
    assert.equal(cs.code, 0);
    assert.deepEqual(
      cs.view.nodes.map((n) => [n.name, n.reachable]),
      NODES.map((n) => [n, true]),
    );
    for (const p of cs.view.prefixes) {
      assert.deepEqual(p.advertising, leaf[p.prefix] ?? [], `cosmolet status ${p.prefix}`);
      // shop/checkout is gold (examples/lab); nothing else in the lab has a class.
      const checkout = p.prefix === '10.96.0.30/32' || p.prefix === 'fd00:10:96::1e/128';
      assert.deepEqual(p.classes, checkout ? ['gold'] : [], `cosmolet status class of ${p.prefix}`);
    }
    assert.deepEqual(cs.view.prefixes.find((p) => p.prefix === '192.0.2.10/32')?.skipped, [
      { node: 'lab-node-1', reason: 'no-local-endpoints' },
      { node: 'lab-node-3', reason: 'no-local-endpoints' },
    ]);

    // The data path: answers come from pods on different nodes; the Local IP from lab-node-2's pod.
    const answeredBy = new Set<string>();
    await waitFor(
      'curl 10.96.0.10 from the leaf to reach pods on every node',
      () => {
        const m = / on (lab-node-\d) /.exec(curlFromLeaf(lab, 'http://10.96.0.10/').body);
        if (m?.[1]) answeredBy.add(m[1]);
        return answeredBy.size === 3;
      },
      30_000,
      20,
    );
    assert.match(
      curlFromLeaf(lab, 'http://192.0.2.10/').body,
      /pod shop\/storefront-0 of shop\/storefront on lab-node-2 .* from 10\.255\.0\.2/,
    );
    // lab-node-1's kube-proxy refuses the Local IP (no local endpoint); lab-node-2's sends it to the pod.
    const rules = (node: string): string =>
      spawnSync(
        'ip',
        ['netns', 'exec', `${lab.prefix}-${node}`, 'nft', 'list', 'table', 'inet', 'cosmolet_lab'],
        {
          encoding: 'utf8',
        },
      ).stdout;
    assert.match(rules('node1'), /ip daddr 192\.0\.2\.10 tcp dport 80 reject with tcp reset/);
    assert.match(rules('node2'), /ip daddr 192\.0\.2\.10 tcp dport 80 dnat ip to 10\.244\.2\.20:8080/);

    // 2. The Local IP moves with its pod: to lab-node-3 (an address of its block).
    const lb = join(lab.manifests, 'storefront-lb.yaml');
    const original = readFileSync(lb, 'utf8');
    writeFileSync(
      lb,
      original
        .replaceAll('nodeName: lab-node-2', 'nodeName: lab-node-3')
        .replaceAll('10.244.2.20', '10.244.3.20')
        .replaceAll('fd00:10:244:2::20', 'fd00:10:244:3::20'),
    );
    await waitFor(
      '192.0.2.10 to move to lab-node-3',
      () => {
        const p = leafPaths(lab).get('192.0.2.10/32');
        return p !== undefined && [...p].join() === 'lab-node-3';
      },
      20_000,
      100,
    );
    await ecmpMatchesPlans(lab);
    await waitFor(
      'curl 192.0.2.10 to reach the pod on lab-node-3',
      () => / on lab-node-3 /.test(curlFromLeaf(lab, 'http://192.0.2.10/').body),
      20_000,
      100,
    );

    // 3. Cordon lab-node-3: it withdraws everything, the others keep every prefix (sampled at the leaf).
    const before = leafPaths(lab);
    // 192.0.2.10 is only on lab-node-3 now, which withdraws it by design: sample the others.
    const kept = [...before.keys()].filter((p) => [...(before.get(p) ?? [])].some((n) => n !== 'lab-node-3'));
    const sampler = sampleLeaf(lab, kept);
    await waitFor('the sampler to start', () => sampler.count() >= 3, 10_000, 20);
    await setUnschedulable(lab, 'lab-node-3', true);
    await waitFor(
      'lab-node-3 to leave every next-hop set',
      () => {
        const now = leafPaths(lab);
        return kept.every((p) => now.has(p)) && [...now.values()].every((s) => !s.has('lab-node-3'));
      },
      20_000,
      100,
    );
    await ecmpMatchesPlans(lab);
    // Keep sampling for 2 s more: a prefix that flaps after the withdrawal counts too.
    const seen = sampler.count();
    await waitFor('20 more samples', () => sampler.count() >= seen + 20, 30_000, 50);
    const cordoned = await sampler.stop();
    t.diagnostic(`cordon: ${cordoned.samples} samples of ${kept.length} prefixes at the leaf`);
    assert.ok(cordoned.samples >= 20, 'the sampler ran');
    assert.deepEqual(cordoned.missing, [], 'no prefix ever left the leaf while lab-node-3 withdrew');
    // checkout's only pod is on the cordoned node: still served, through lab-node-1 and lab-node-2.
    assert.match(
      curlFromLeaf(lab, 'http://10.96.0.30/').body,
      /pod shop\/checkout-0 of shop\/checkout on lab-node-3/,
    );
    await setUnschedulable(lab, 'lab-node-3', false);
    await waitFor(
      'lab-node-3 back on 10.96.0.10',
      () => leafPaths(lab).get('10.96.0.10/32')?.has('lab-node-3') === true,
      20_000,
      100,
    );
    await ecmpMatchesPlans(lab);

    // 4. Stop lab-node-1 (FRR and cosmolet): its next hops leave the leaf; start: they come back.
    const stop = await cli(['lab', 'node', 'stop', 'lab-node-1', ...lab.args], 60_000);
    assert.equal(stop.code, 0, stop.stderr);
    const stopped = await waitFor(
      'lab-node-1 to leave the leaf',
      () => {
        const now = leafPaths(lab);
        return [...now.values()].every((s) => !s.has('lab-node-1')) ? now : undefined;
      },
      20_000,
      100,
    );
    assert.deepEqual([...(stopped.get('10.96.0.10/32') ?? [])].sort(), ['lab-node-2', 'lab-node-3']);
    const partial = cosmoletStatus(lab);
    assert.equal(partial.code, 1, 'an unreachable node makes cosmolet status exit 1');
    assert.deepEqual(
      partial.view.nodes.map((n) => [n.name, n.reachable]),
      [
        ['lab-node-1', false],
        ['lab-node-2', true],
        ['lab-node-3', true],
      ],
    );
    for (const p of partial.view.prefixes)
      assert.deepEqual(
        p.advertising,
        [...(stopped.get(p.prefix) ?? [])].sort(),
        `cosmolet status ${p.prefix}, node stopped`,
      );
    const vs = await status(lab);
    assert.equal(vs.nodes.find((n) => n.name === 'lab-node-1')?.ready, false);
    const start = await cli(['lab', 'node', 'start', 'lab-node-1', ...lab.args], 120_000);
    assert.equal(start.code, 0, start.stderr);
    await waitFor(
      'lab-node-1 back on 10.96.0.10',
      () => leafPaths(lab).get('10.96.0.10/32')?.has('lab-node-1') === true,
      30_000,
      100,
    );
    const after = await ecmpMatchesPlans(lab);
    assert.deepEqual(after['10.96.0.10/32'], NODES);
    await down(lab);
  },
);
