// `cosmolet lab` end to end with one node, as root with real FRR, GoBGP, nftables and the built CLI:
// up and down twice, recovery after a killed `up`, the manifest-directory watch, `status --json`
// against what the leaf holds, and curl from the leaf through the DNAT data path. The stories of
// several nodes are in nodes.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { namespacesWithPrefix } from '@cosmolet/lab/fabric/topology';
import { waitFor } from '@cosmolet/lab/wait';
import { readState } from '@cosmolet/lab/state/state';
import { fabricHandle } from '@cosmolet/lab/command/view';
import {
  children,
  cli,
  CLI,
  curlFromLeaf,
  down,
  ipState,
  isRoot,
  leafRoutes,
  newLab,
  service,
  skip,
  state,
  status,
  up,
} from './helpers.js';

test('lab up, status --json agrees with the leaf, down; twice in a row', { skip }, async (t) => {
  const lab = newLab(t);
  for (let round = 1; round <= 2; round++) {
    const started = Date.now();
    const r = await up(lab, 1);
    t.diagnostic(`round ${round}: lab up took ${Date.now() - started} ms`);
    assert.match(r.stdout, /kubectl --kubeconfig \S+ get nodes,svc -A/);
    assert.match(r.stdout, /vtysh --vty_socket \S+ -c 'show bgp ipv4 unicast'/);
    assert.match(r.stdout, /lab down/);
    for (const role of ['node', 'leaf', 'ext'])
      assert.ok(namespacesWithPrefix(lab.prefix).includes(`${lab.prefix}-${role}`));

    const v = await status(lab);
    assert.equal(v.running, true);
    assert.deepEqual(
      v.nodes.map((n) => [n.name, n.ready]),
      [['lab-node-1', true]],
    );
    const ips = v.services.flatMap((s) => s.ips);
    // The examples: advertised dual-stack Services; the Local LB whose pod is on lab-node-2 (not in a
    // one-node lab) is not; one without ready endpoints, one opted out.
    assert.equal(ipState(v, '10.96.0.10')?.state, 'advertised');
    assert.equal(ipState(v, 'fd00:10:96::a')?.state, 'advertised');
    assert.equal(ipState(v, '10.96.0.20')?.state, 'advertised');
    assert.equal(ipState(v, '192.0.2.10')?.reason, 'no-local-endpoints');
    assert.equal(ipState(v, '2001:db8:96::10')?.reason, 'no-local-endpoints');
    assert.equal(ipState(v, '10.96.0.12')?.reason, 'no-ready-endpoints');
    assert.equal(ipState(v, '10.96.0.13')?.reason, 'opted-out');
    // The view's leaf column is what the leaf holds, and the leaf holds exactly what is advertised.
    const leaf = new Set([...(await leafRoutes(lab))].filter(service));
    const advertised = ips.filter((i) => i.state === 'advertised').map((i) => i.prefix);
    assert.deepEqual([...leaf].sort(), [...new Set(advertised)].sort());
    for (const i of ips) {
      assert.equal(i.leaf, leaf.has(i.prefix), `leaf flag of ${i.ip}`);
      assert.equal(i.leafNextHops, i.state === 'advertised' ? 1 : 0, `leaf next hops of ${i.ip}`);
      assert.deepEqual(
        i.installed,
        i.state === 'advertised' ? ['lab-node-1'] : [],
        `installed on of ${i.ip}`,
      );
      assert.equal(i.gobgp, i.state === 'advertised', `gobgp flag of ${i.ip}`);
    }

    // Route classes: shop/checkout is gold (examples/lab), so exactly its advertised prefixes carry
    // gold's community at the leaf (the node's route-map sets it on metric 1001).
    const gold = ips
      .filter((i) => i.state === 'advertised' && (i.ip === '10.96.0.30' || i.ip === 'fd00:10:96::1e'))
      .map((i) => i.prefix);
    const withGold = new Set<string>();
    for (const family of ['ipv4', 'ipv6']) {
      const text = await fabricHandle(state(lab))
        .vtysh('leaf')
        .show(`show bgp ${family} unicast community 65000:101 json`);
      const routes = (JSON.parse(text || '{}') as { routes?: Record<string, unknown> }).routes ?? {};
      for (const p of Object.keys(routes)) withGold.add(p);
    }
    assert.deepEqual([...withGold].sort(), [...new Set(gold)].sort(), "gold's community at the leaf");

    // A second `up` reuses the running lab.
    const again = await up(lab, 1);
    assert.match(again.stdout, /already running/);
    await down(lab);
  }
  // down is idempotent.
  const r = await cli(['lab', 'down', ...lab.args]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /nothing to do/);
  const s = await cli(['lab', 'status', '--json', ...lab.args]);
  assert.equal(s.code, 3);
  assert.deepEqual(JSON.parse(s.stdout), { running: false });
});

test('a killed lab up is cleaned up by lab down, and a new up works', { skip }, async (t) => {
  const lab = newLab(t);
  // Kill once while the fabric starts, once while cosmolet starts.
  const killPoints: [string, () => boolean][] = [
    ['fabric', () => namespacesWithPrefix(lab.prefix).includes(`${lab.prefix}-ext`)],
    [
      'cosmolet',
      () => (readState(lab.stateDir)?.processes ?? []).some((p) => p.name === 'lab-node-1/forward'),
    ],
  ];
  for (const [where, reached] of killPoints) {
    const child = spawn(
      process.execPath,
      [
        CLI,
        'lab',
        'up',
        '--detach',
        '--kube',
        'double',
        '--nodes',
        '1',
        '--manifests',
        lab.manifests,
        ...lab.args,
      ],
      { stdio: 'ignore' },
    );
    children.add(child);
    const exited = new Promise((r) => child.once('exit', r));
    await waitFor(`lab up to reach the ${where} step`, reached, 60_000, 10);
    child.kill('SIGKILL');
    await exited;
    children.delete(child);
    assert.equal(readState(lab.stateDir)?.status, 'starting', `killed during ${where}: state says starting`);
    const st = await cli(['lab', 'status', ...lab.args]);
    assert.equal(st.code, 3, 'status of a half-made lab exits 3');
    assert.match(st.stdout, /not whole/);
    await down(lab);
  }
  // And after a killed up, `up` itself recovers.
  const child = spawn(
    process.execPath,
    [
      CLI,
      'lab',
      'up',
      '--detach',
      '--kube',
      'double',
      '--nodes',
      '1',
      '--manifests',
      lab.manifests,
      ...lab.args,
    ],
    { stdio: 'ignore' },
  );
  children.add(child);
  const exited = new Promise((r) => child.once('exit', r));
  await waitFor('lab up to start the cluster', killPoints[1]?.[1] ?? (() => true), 60_000, 10);
  child.kill('SIGKILL');
  await exited;
  const r = await up(lab, 1);
  assert.match(r.stdout, /cleaning up a lab that is not whole/);
  const v = await status(lab);
  assert.equal(ipState(v, '10.96.0.10')?.leaf, true);
  await down(lab);
});

test(
  'the manifest directory drives the cluster; curl from the leaf follows the routes',
  { skip },
  async (t) => {
    const lab = newLab(t);
    await up(lab, 1);
    const leafHas = async (prefix: string, want: boolean): Promise<void> => {
      await waitFor(
        `the leaf to ${want ? 'hold' : 'withdraw'} ${prefix}`,
        async () => (await leafRoutes(lab)).has(prefix) === want,
        20_000,
        100,
      );
    };

    // The data path: IPv4 over the IPv6 unnumbered link, and IPv6 (one node: every pod is on it).
    assert.match(
      curlFromLeaf(lab, 'http://10.96.0.10/').body,
      /pod default\/web-\d of default\/web on lab-node-1/,
    );
    assert.match(curlFromLeaf(lab, 'http://[fd00:10:96::a]/').body, /pod default\/web-\d/);
    assert.match(curlFromLeaf(lab, 'http://10.96.0.20/').body, /pod shop\/storefront-0/);
    assert.equal(curlFromLeaf(lab, 'http://10.96.0.12:5432/').ok, false, 'db has no route at the leaf');

    // Edit a file: web's IPv4 endpoints become unready -> withdrawn at the leaf, curl fails; IPv6 stays.
    const web = join(lab.manifests, 'web.yaml');
    const original = readFileSync(web, 'utf8');
    const ipv4Part = original.indexOf('name: web-ipv4');
    const ipv6Part = original.indexOf('name: web-ipv6');
    const edited =
      original.slice(0, ipv4Part) +
      original.slice(ipv4Part, ipv6Part).replaceAll('ready: true', 'ready: false') +
      original.slice(ipv6Part);
    assert.notEqual(edited, original);
    writeFileSync(web, edited);
    await leafHas('10.96.0.10/32', false);
    assert.equal(curlFromLeaf(lab, 'http://10.96.0.10/').ok, false, 'curl must fail once withdrawn');
    assert.ok(curlFromLeaf(lab, 'http://[fd00:10:96::a]/').ok, 'the IPv6 ClusterIP stays');
    const v = await status(lab);
    assert.equal(ipState(v, '10.96.0.10')?.reason, 'no-ready-endpoints');
    assert.equal(ipState(v, '10.96.0.10')?.leaf, false);

    // Back to ready -> advertised again and reachable.
    writeFileSync(web, original);
    await leafHas('10.96.0.10/32', true);
    await waitFor(
      'curl 10.96.0.10 from the leaf',
      () => curlFromLeaf(lab, 'http://10.96.0.10/').ok,
      10_000,
      100,
    );

    // Add a file: a new Service with a new pod -> advertised and served.
    const extra = join(lab.manifests, 'extra.yaml');
    const svc = [
      'apiVersion: v1',
      'kind: Service',
      'metadata: { name: extra, namespace: default }',
      'spec:',
      '  clusterIP: 10.96.0.40',
      '  clusterIPs: [10.96.0.40]',
      '  ports: [{ port: 80, targetPort: 9090 }]',
    ].join('\n');
    const slice = [
      'apiVersion: discovery.k8s.io/v1',
      'kind: EndpointSlice',
      'metadata: { name: extra-ipv4, namespace: default, labels: { kubernetes.io/service-name: extra } }',
      'addressType: IPv4',
      'ports: [{ port: 9090 }]',
      'endpoints:',
      '  - addresses: [10.244.1.40]',
      '    conditions: { ready: true }',
      '    targetRef: { kind: Pod, name: extra-0, namespace: default }',
    ].join('\n');
    writeFileSync(extra, `${svc}\n---\n${slice}\n`);
    await leafHas('10.96.0.40/32', true);
    await waitFor(
      'curl 10.96.0.40 from the leaf',
      () => /pod default\/extra-0/.test(curlFromLeaf(lab, 'http://10.96.0.40/').body),
      10_000,
      100,
    );

    // Remove an object from the file: the EndpointSlice is deleted -> no ready endpoints -> withdrawn.
    writeFileSync(extra, `${svc}\n`);
    await leafHas('10.96.0.40/32', false);
    // Remove the file: the Service is deleted too.
    rmSync(extra);
    await waitFor(
      'the extra Service to be gone from the view',
      async () => !(await status(lab)).services.some((s) => s.service === 'default/extra'),
      20_000,
      200,
    );
    await down(lab);
  },
);

test(
  'lab up as a non-root user says so and how to fix it',
  { skip: isRoot ? false : 'needs root to drop it' },
  () => {
    if (spawnSync('which', ['setpriv']).status !== 0) return;
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        CLI,
        'lab',
        'up',
        '--state-dir',
        '/nonexistent/x',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /needs root/);
    assert.match(r.stderr, /fix: sudo/);
  },
);
