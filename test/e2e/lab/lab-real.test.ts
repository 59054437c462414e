// `cosmolet lab up --kube real` end to end, as root with real FRR, GoBGP, nftables, the built CLI and
// a real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler built from
// Kubernetes' Go modules): the examples/lab-real Deployments scheduled onto the three nodes, their
// EndpointSlices from the real controller, cosmolet in-cluster with a bound token (no kubeconfig),
// exactly the example prefixes at the leaf; a Service and Pod applied with kubectl reach the leaf at
// the allocated ClusterIPs; a cordon withdraws the node while the leaf keeps every prefix; a node
// stopped and started; the Local LoadBalancer IP moves with its Deployment; `lab down` leaves no
// process, namespace or file. One lab for the whole story (bring-up is the expensive part); and an
// `up` killed while the control plane starts (its processes not yet recorded) is removed by `down`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cachedKubeBinDir } from '@cosmolet/lab/control-plane/binaries';
import { readState } from '@cosmolet/lab/state/state';
import { waitFor } from '@cosmolet/lab/wait';
import { runCommand } from '../../../src/router/exec.js';
import {
  children,
  cli,
  CLI,
  curlFromLeaf,
  down,
  ipState,
  leafPathsAsync,
  newLab,
  REAL_EXAMPLES,
  sampleLeaf,
  skip,
  sorted,
  state,
  status,
  type Lab,
} from './helpers.js';

const built = cachedKubeBinDir() !== undefined;
const hasGo = spawnSync('go', ['version']).status === 0;
const skipReal =
  skip || (!built && !hasGo ? 'needs the control plane built (bash scripts/go-tools.sh kube)' : false);

const ALL = ['lab-node-1', 'lab-node-2', 'lab-node-3'];
/** The examples' advertised prefixes and the nodes that advertise each (db: not ready; legacy: opted out). */
const EXPECTED: Record<string, string[]> = {
  '10.96.0.10/32': ALL,
  '10.96.0.11/32': ALL,
  '10.96.0.20/32': ALL,
  '10.96.0.30/32': ALL,
  '192.0.2.10/32': ['lab-node-2'],
  '2001:db8:96::10/128': ['lab-node-2'],
  'fd00:10:96::14/128': ALL,
  'fd00:10:96::1e/128': ALL,
  'fd00:10:96::a/128': ALL,
  'fd00:10:96::b/128': ALL,
};

/** kubectl (the one built with the control plane) with the lab's admin kubeconfig; async, so a leaf sampler keeps running. */
async function kubectl(lab: Lab, args: string[], input?: string): Promise<string> {
  const s = state(lab);
  const r = await runCommand([join(s.dir, 'kubectl'), '--kubeconfig', s.kubeconfig, ...args], {
    timeoutMs: 60_000,
    okCodes: 'any',
    ...(input !== undefined ? { input } : {}),
  });
  assert.equal(r.exitCode, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Waits until the leaf's next hops per Service prefix are `want` (prefix -> nodes). */
async function leafIs(
  lab: Lab,
  want: Record<string, string[]>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  let last = '';
  await waitFor(
    what,
    async () => {
      const leaf = sorted(await leafPathsAsync(lab));
      last = JSON.stringify(leaf);
      return (
        JSON.stringify(leaf) ===
        JSON.stringify(sorted(new Map(Object.entries(want).map(([k, v]) => [k, new Set(v)]))))
      );
    },
    timeoutMs,
    100,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\nleaf: ${last}\nwant: ${JSON.stringify(want)}`);
  });
}

function without(want: Record<string, string[]>, node: string): Record<string, string[]> {
  return Object.fromEntries(Object.entries(want).map(([k, v]) => [k, v.filter((n) => n !== node)]));
}

test(
  'lab up --kube real: the examples on a real control plane, kubectl, a cordon, a node stopped, lab down',
  { skip: skipReal },
  async (t) => {
    const lab = newLab(t, REAL_EXAMPLES);
    const started = Date.now();
    const r = await cli(
      ['lab', 'up', '--kube', 'real', '--detach', '--nodes', '3', '--manifests', lab.manifests, ...lab.args],
      built ? 240_000 : 40 * 60_000,
    );
    assert.equal(r.code, 0, `lab up --kube real failed:\n${r.stdout}\n${r.stderr}`);
    t.diagnostic(
      `lab up --kube real with 3 nodes took ${Date.now() - started} ms${built ? '' : ' (with the build)'}`,
    );
    assert.match(r.stdout, /kube-apiserver v1\.\d+\.\d+/);
    assert.match(r.stdout, /RBAC from the chart \(helm template\) applied with kubectl/);
    assert.match(r.stdout, /lab up --kube double/, 'the hints say how to switch back');

    // 1. lab status --json: which API server, the admin kubeconfig, exactly the examples' prefixes.
    let v = await status(lab);
    assert.equal(v.apiServer.kind, 'kube-apiserver');
    assert.match(v.apiServer.version ?? '', /^v1\.\d+\.\d+/);
    assert.equal(v.kubeconfig, join(lab.stateDir, 'kubeconfig'));
    assert.ok(existsSync(v.kubeconfig));
    await waitFor(
      'lab status to show exactly the example prefixes',
      async () => {
        v = await status(lab);
        const advertised = Object.fromEntries(
          v.prefixes.filter((p) => p.nodes.length > 0).map((p) => [p.prefix, p.nodes]),
        );
        return (
          JSON.stringify(sorted(new Map(Object.entries(advertised).map(([k, n]) => [k, new Set(n)])))) ===
          JSON.stringify(sorted(new Map(Object.entries(EXPECTED).map(([k, n]) => [k, new Set(n)]))))
        );
      },
      20_000,
      200,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${JSON.stringify(v.prefixes)}`);
    });
    for (const p of v.prefixes) assert.equal(p.leafNextHops, p.nodes.length, `leaf next hops of ${p.prefix}`);
    assert.equal(ipState(v, '10.96.0.12')?.reason, 'no-ready-endpoints', 'db: its pod is not ready');
    assert.equal(ipState(v, '10.96.0.13')?.reason, 'opted-out');
    await leafIs(lab, EXPECTED, 'the leaf to hold exactly the example prefixes');
    assert.match(
      curlFromLeaf(lab, 'http://192.0.2.10/').body,
      /pod shop\/storefront-\S+ of shop\/storefront on lab-node-2 /,
    );

    // 2. cosmolet runs in-cluster: no kubeconfig, its Pod's bound ServiceAccount token.
    const s = state(lab);
    for (const node of s.nodes) {
      const p = s.processes.find((x) => x.name === `${node.name}/cosmolet`);
      assert.ok(p, `${node.name}'s cosmolet is recorded`);
      const argv = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0');
      const env = readFileSync(`/proc/${p.pid}/environ`, 'utf8').split('\0');
      assert.ok(argv.includes('run') && !argv.includes('--kubeconfig'), `${node.name}: ${argv.join(' ')}`);
      assert.ok(env.includes('KUBERNETES_SERVICE_HOST=127.0.0.1'), `${node.name}: in-cluster environment`);
      assert.ok(!env.some((e) => e.startsWith('KUBECONFIG=')), `${node.name}: no KUBECONFIG`);
      const jwt = readFileSync(join(node.dir, 'serviceaccount', 'token'), 'utf8').split('.')[1] ?? '';
      const claims = JSON.parse(Buffer.from(jwt, 'base64url').toString('utf8')) as {
        sub: string;
        exp: number;
        'kubernetes.io': { pod?: { name: string } };
      };
      assert.equal(claims.sub, 'system:serviceaccount:cosmolet:cosmolet');
      assert.equal(claims['kubernetes.io'].pod?.name, `cosmolet-${node.name}`, 'bound to its Pod');
      assert.ok(claims.exp * 1000 > Date.now() + 30 * 60_000, 'a token that lives an hour');
    }

    // 3. kubectl apply: a Service (ClusterIPs from the allocator) and a Pod the scheduler places.
    await kubectl(
      lab,
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'hello', namespace: 'default' },
            spec: {
              ipFamilyPolicy: 'RequireDualStack',
              selector: { app: 'hello' },
              ports: [{ port: 80, targetPort: 9090 }],
            },
          },
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'hello', namespace: 'default', labels: { app: 'hello' } },
            spec: {
              nodeSelector: { 'kubernetes.io/hostname': 'lab-node-1' },
              containers: [
                { name: 'hello', image: 'registry.k8s.io/pause:3.10', ports: [{ containerPort: 9090 }] },
              ],
            },
          },
        ],
      }),
    );
    const ips = (
      JSON.parse(await kubectl(lab, ['get', 'service', 'hello', '-o', 'json'])) as {
        spec: { clusterIPs: string[] };
      }
    ).spec.clusterIPs;
    assert.equal(ips.length, 2, 'dual-stack ClusterIPs from the real allocator');
    const hello = Object.fromEntries(ips.map((ip) => [ip.includes(':') ? `${ip}/128` : `${ip}/32`, ALL]));
    const withHello = { ...EXPECTED, ...hello };
    await leafIs(lab, withHello, 'the leaf to hold the new Service from every node');
    await waitFor(
      'curl the new ClusterIP from the leaf',
      () =>
        /pod default\/hello of default\/hello on lab-node-1 \(10\.244\.1\.\d+:9090\)/.test(
          curlFromLeaf(lab, `http://${ips[0] ?? ''}/`).body,
        ),
      15_000,
      100,
    );

    // 4. Cordon lab-node-3: it withdraws everything, the leaf keeps every prefix through the others,
    //    and checkout (its pod is on lab-node-3) still answers through them.
    const sampler = sampleLeaf(lab, Object.keys(withHello));
    await kubectl(lab, ['cordon', 'lab-node-3']);
    await leafIs(lab, without(withHello, 'lab-node-3'), 'lab-node-3 to leave the leaf');
    assert.match(
      curlFromLeaf(lab, 'http://10.96.0.30/').body,
      /pod shop\/checkout-\S+ of shop\/checkout on lab-node-3 /,
    );
    await kubectl(lab, ['uncordon', 'lab-node-3']);
    await leafIs(lab, withHello, 'lab-node-3 back at the leaf');
    const sampled = await sampler.stop();
    assert.ok(sampled.samples > 3);
    assert.deepEqual(sampled.missing, [], 'no prefix left the leaf during the cordon');

    // 5. A node stopped and started.
    let c = await cli(['lab', 'node', 'stop', 'lab-node-1', ...lab.args], 60_000);
    assert.equal(c.code, 0, c.stderr);
    await leafIs(lab, without(withHello, 'lab-node-1'), "lab-node-1's next hops to leave the leaf");
    c = await cli(['lab', 'node', 'start', 'lab-node-1', ...lab.args], 120_000);
    assert.equal(c.code, 0, c.stderr);
    await leafIs(lab, withHello, 'lab-node-1 back at the leaf', 60_000);

    // 6. The Local LoadBalancer IP follows its pod: the Deployment moved to lab-node-3 in its file.
    const lb = join(lab.manifests, 'storefront-lb.yaml');
    writeFileSync(
      lb,
      readFileSync(lb, 'utf8').replace(
        'kubernetes.io/hostname: lab-node-2',
        'kubernetes.io/hostname: lab-node-3',
      ),
    );
    await leafIs(
      lab,
      { ...withHello, '192.0.2.10/32': ['lab-node-3'], '2001:db8:96::10/128': ['lab-node-3'] },
      'the Local IP to move to lab-node-3',
      60_000,
    );
    // The pod's namespace and lab-node-3's kube-proxy rules follow the EndpointSlice as kube-proxy
    // does, a moment after cosmolet may have seen it.
    await waitFor(
      'curl 192.0.2.10 from the leaf to reach the pod on lab-node-3',
      () => / of shop\/storefront on lab-node-3 /.test(curlFromLeaf(lab, 'http://192.0.2.10/').body),
      15_000,
      100,
    );

    // 7. lab down: every process (the control plane's too), namespace and file gone.
    await down(lab);
  },
);

test(
  'a lab up --kube real killed while the control plane starts is removed by lab down',
  { skip: skipReal || (!built ? 'needs the control plane built' : false) },
  async (t) => {
    const lab = newLab(t, REAL_EXAMPLES);
    const child = spawn(
      process.execPath,
      [
        CLI,
        'lab',
        'up',
        '--kube',
        'real',
        '--detach',
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
    // Killed once kube-apiserver runs: its processes are not in lab.json yet.
    const apiserverRuns = (): boolean =>
      spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
        .stdout.split('\n')
        .some((l) => l.includes('kube-apiserver') && l.includes(join(lab.stateDir, 'control-plane')));
    await waitFor('kube-apiserver of the lab to start', apiserverRuns, 120_000, 20);
    child.kill('SIGKILL');
    await exited;
    children.delete(child);
    assert.ok(
      !(readState(lab.stateDir)?.processes ?? []).some((p) => p.name.startsWith('control-plane/')),
      'killed before the control plane was recorded',
    );
    await down(lab);
  },
);
