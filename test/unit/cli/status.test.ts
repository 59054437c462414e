// `cosmolet status` against the API double and real HTTP servers on loopback standing in for the
// nodes' /status: pods found by namespace and label selector, each read at its pod IP and named
// `http` port with the kubeconfig's bearer token (a node that gets no token refuses, as a cosmolet
// behind TokenReview would), the merge per Service IP, and unreachable nodes listed with exit 1.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { statusCommand } from '../../../src/cli/status.js';
import { FakeApiServer } from '../../../src/lab/apiserver.js';
import type { KubeObject } from '../../../src/model/objects.js';
import type { ClusterStatus } from '../../../src/observe/cluster-status.js';
import type { StatusDocument } from '../../../src/observe/status.js';

const TOKEN = 'operator-token';

function doc(
  node: string,
  routes: StatusDocument['routes'],
  skipped: StatusDocument['skipped'],
): StatusDocument {
  return { node, routes, skipped, stale: [], bgpCheckedAt: null, reconciledAt: null };
}

const web = (
  installed: boolean,
  valid: boolean,
  cls: string | null = null,
): StatusDocument['routes'][number] => ({
  prefix: '10.96.0.10/32',
  family: 'ipv4',
  services: ['default/web'],
  kinds: ['clusterIP'],
  class: cls,
  installed,
  bgp: { valid, best: valid },
});

/** A node's /status on 127.0.0.1:<port>; answers 401 without the operator's token. */
async function nodeServer(t: TestContext, body: StatusDocument): Promise<{ port: number; auth: string[] }> {
  const auth: string[] = [];
  const srv = http.createServer((req, res) => {
    auth.push(req.headers.authorization ?? '');
    if (req.url !== '/status') return void res.writeHead(404).end();
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end('Unauthorized');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  return { port: (srv.address() as { port: number }).port, auth };
}

function pod(
  name: string,
  namespace: string,
  node: string,
  ip: string,
  port: number,
  labels: Record<string, string>,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: {
      nodeName: node,
      hostNetwork: true,
      containers: [{ name: 'cosmolet', ports: [{ name: 'http', containerPort: port }] }],
    },
    status: { phase: 'Running', podIP: ip, hostIP: ip },
  } as KubeObject;
}

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await statusCommand(argv, { stdout: out, stderr: err, env: {} });
  return { code, stdout, stderr };
}

async function cluster(t: TestContext): Promise<{ api: FakeApiServer; kubeconfig: string }> {
  const api = await FakeApiServer.start({ token: TOKEN });
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-status-'));
  t.after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const kubeconfig = join(dir, 'kubeconfig');
  api.writeKubeconfig(kubeconfig);
  return { api, kubeconfig };
}

test('cosmolet status reads every node with the bearer token and merges per Service IP', async (t) => {
  const { api, kubeconfig } = await cluster(t);
  const a = await nodeServer(
    t,
    doc(
      'n1',
      [web(true, true, 'gold')],
      [{ service: 'shop/lb', ip: '192.0.2.10', reason: 'no-local-endpoints' }],
    ),
  );
  const b = await nodeServer(t, doc('n2', [web(true, false, 'gold')], []));
  const labels = { 'app.kubernetes.io/name': 'cosmolet' };
  api.upsert('pods', pod('cosmolet-a', 'cosmolet', 'n1', '127.0.0.1', a.port, labels));
  api.upsert('pods', pod('cosmolet-b', 'cosmolet', 'n2', '127.0.0.1', b.port, labels));
  // Not cosmolet's: another label, another namespace.
  api.upsert('pods', pod('other', 'cosmolet', 'n3', '127.0.0.1', 1, { app: 'other' }));
  api.upsert('pods', pod('cosmolet-x', 'elsewhere', 'n4', '127.0.0.1', 1, labels));

  const r = await run(['--kubeconfig', kubeconfig, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const v = JSON.parse(r.stdout) as ClusterStatus;
  assert.deepEqual(
    v.nodes.map((n) => [n.name, n.reachable]),
    [
      ['n1', true],
      ['n2', true],
    ],
  );
  assert.deepEqual(v.prefixes, [
    {
      prefix: '10.96.0.10/32',
      services: ['default/web'],
      classes: ['gold'],
      advertising: ['n1'],
      installedNotInBgp: ['n2'],
      notInstalled: [],
      skipped: [],
    },
    {
      prefix: '192.0.2.10/32',
      services: ['shop/lb'],
      classes: [],
      advertising: [],
      installedNotInBgp: [],
      notInstalled: [],
      skipped: [{ node: 'n1', reason: 'no-local-endpoints' }],
    },
  ]);
  assert.deepEqual(a.auth, [`Bearer ${TOKEN}`], "the operator's token reached the node");

  const text = await run(['--kubeconfig', kubeconfig]);
  assert.equal(text.code, 0);
  assert.match(
    text.stdout,
    /^PREFIX\s+SERVICES\s+CLASS\s+ADVERTISED BY\s+NOT IN BGP\s+NOT INSTALLED\s+SKIPPED$/m,
  );
  assert.match(text.stdout, /^10\.96\.0\.10\/32\s+default\/web\s+gold\s+n1\s+n2\s+-\s+-$/m);
  assert.match(text.stdout, /^192\.0\.2\.10\/32\s+shop\/lb\s+-\s+-\s+-\s+-\s+n1: no-local-endpoints$/m);
  assert.match(text.stdout, /^2 of 2 nodes answered\.$/m);
});

test('cosmolet status lists nodes it cannot read and exits 1; no pods found is said', async (t) => {
  const { api, kubeconfig } = await cluster(t);
  const a = await nodeServer(t, doc('n1', [web(true, true)], []));
  const labels = { app: 'cosmo' };
  api.upsert('pods', pod('p1', 'kube-system', 'n1', '127.0.0.1', a.port, labels));
  // Nothing listens on port 1.
  api.upsert('pods', pod('p2', 'kube-system', 'n2', '127.0.0.1', 1, labels));
  const r = await run([
    '--kubeconfig',
    kubeconfig,
    '--namespace',
    'kube-system',
    '--selector',
    'app=cosmo',
    '--json',
  ]);
  assert.equal(r.code, 1);
  const v = JSON.parse(r.stdout) as ClusterStatus;
  assert.deepEqual(
    v.nodes.map((n) => [n.name, n.reachable, n.url]),
    [
      ['n1', true, `http://127.0.0.1:${a.port}/status`],
      ['n2', false, 'http://127.0.0.1:1/status'],
    ],
  );
  assert.match(v.nodes[1]?.error ?? '', /ECONNREFUSED/);

  // No pods there: said, exit 1.
  const r2 = await run(['--kubeconfig', kubeconfig, '--namespace', 'nowhere']);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /no pods match app\.kubernetes\.io\/name=cosmolet in namespace nowhere/);
});

test('a kubeconfig user without a token sends none, and a node that requires one says 401', async (t) => {
  // An API server that asks for no token, so the kubeconfig's user has none.
  const api = await FakeApiServer.start({ tls: false });
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-status-'));
  t.after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  api.writeKubeconfig(join(dir, 'kubeconfig'));
  const a = await nodeServer(t, doc('n1', [web(true, true)], []));
  api.upsert(
    'pods',
    pod('p1', 'cosmolet', 'n1', '127.0.0.1', a.port, { 'app.kubernetes.io/name': 'cosmolet' }),
  );
  const r = await run(['--kubeconfig', join(dir, 'kubeconfig')]);
  assert.equal(r.code, 1);
  assert.deepEqual(a.auth, [''], 'no Authorization header without a token');
  assert.match(r.stdout, /^unreachable: n1 \(http:\/\/127\.0\.0\.1:\d+\/status\): HTTP 401: Unauthorized$/m);
});

test('cosmolet status: bad flags exit as usage errors', async () => {
  await assert.rejects(run(['--port', '0']), /--port must be 1 to 65535/);
  await assert.rejects(run(['extra']), /unexpected argument "extra"/);
  await assert.rejects(run(['--bogus']), /cosmolet status: Unknown option '--bogus'/);
});

test('cosmolet status shows both classes while nodes disagree, and none from a node without classes', async (t) => {
  const { api, kubeconfig } = await cluster(t);
  // n1 runs the new config (silver), n2 the old (gold); n3 is a cosmolet from before route classes,
  // whose routes carry no `class` at all.
  const old = web(true, true);
  delete (old as { class?: unknown }).class;
  const servers = [
    await nodeServer(t, doc('n1', [web(true, true, 'silver')], [])),
    await nodeServer(t, doc('n2', [web(true, true, 'gold')], [])),
    await nodeServer(t, doc('n3', [old], [])),
  ];
  const labels = { 'app.kubernetes.io/name': 'cosmolet' };
  servers.forEach((s, i) =>
    api.upsert('pods', pod(`cosmolet-${i}`, 'cosmolet', `n${i + 1}`, '127.0.0.1', s.port, labels)),
  );
  const r = await run(['--kubeconfig', kubeconfig, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const v = JSON.parse(r.stdout) as ClusterStatus;
  assert.deepEqual(
    v.prefixes.map((p) => [p.prefix, p.classes, p.advertising]),
    [['10.96.0.10/32', ['gold', 'silver'], ['n1', 'n2', 'n3']]],
  );
  const text = await run(['--kubeconfig', kubeconfig]);
  assert.match(text.stdout, /^10\.96\.0\.10\/32\s+default\/web\s+gold,silver\s+n1,n2,n3\s+-\s+-\s+-$/m);
});
