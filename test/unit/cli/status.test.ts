// `cosmolet status` against the API double and HTTPS servers on loopback standing in for the nodes'
// /status (each with the one serving certificate of the DaemonSet, for cosmolet-metrics.cosmolet.svc, and a
// TokenReview for audience cosmolet as cosmolet makes it): pods found by namespace and label
// selector, each read at its pod IP and named `http` port, the CA read from the chart's
// cosmolet-ca ConfigMap and the token minted for the chart's cosmolet-status ServiceAccount, the
// merge per Service IP, and unreachable nodes listed with exit 1. Issue 21 item 3: the operator's
// own token went to every node over plain http (or unverified https), and the answer was read
// without a limit.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { MAX_STATUS_BYTES, statusCommand } from '../../../src/cli/status.js';
import { loadKubeClient } from '../../../src/kube/client.js';
import { FakeApiServer } from '@cosmolet/kube-double/apiserver';
import { makeServingCert, type ServingCert } from '@cosmolet/lab/access/serving-cert';
import type { KubeObject } from '../../../src/model/objects.js';
import { DelegatingAuthorizer } from '../../../src/observe/auth.js';
import type { ClusterStatus } from '../../../src/observe/cluster-status.js';
import type { StatusDocument } from '../../../src/observe/status.js';

const TOKEN = 'operator-token';
const STATUS_USER = 'system:serviceaccount:cosmolet:cosmolet-status';

// One CA and serving certificate for the file, and one from another CA (an impostor node).
const certDir = mkdtempSync(join(tmpdir(), 'cosmolet-status-certs-'));
process.on('exit', () => rmSync(certDir, { recursive: true, force: true }));
const CERT = makeServingCert(join(certDir, 'good'));
const WRONG_NAME = makeServingCert(join(certDir, 'good'), {
  serverName: 'other.cosmolet.svc',
  name: 'other',
});
const IMPOSTOR = makeServingCert(join(certDir, 'impostor'));

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

interface NodeServer {
  port: number;
  /** The Authorization header of every request that reached the node. */
  auth: string[];
  /** Bytes written by a node that streams forever. */
  written: () => number;
}

/**
 * A node's /status on 127.0.0.1:<port>: HTTPS with `cert` (plain http with null), answering only
 * a token that the double's TokenReview authenticates for audience cosmolet and its
 * SubjectAccessReview allows, as cosmolet does; `stream` answers an endless body instead.
 */
async function nodeServer(
  t: TestContext,
  api: FakeApiServer | undefined,
  body: StatusDocument | 'stream',
  cert: ServingCert | null = CERT,
): Promise<NodeServer> {
  const auth: string[] = [];
  let written = 0;
  const authorizer = api
    ? new DelegatingAuthorizer({ client: await adminClient(t, api), audiences: ['cosmolet'] })
    : undefined;
  const handler: http.RequestListener = (req, res) => {
    auth.push(req.headers.authorization ?? '');
    if (req.url !== '/status') return void res.writeHead(404).end();
    void (async () => {
      const d = authorizer ? await authorizer.check(req.headers.authorization, '/status') : { status: 200 };
      if (d.status !== 200) return void res.writeHead(d.status).end('Unauthorized');
      res.writeHead(200, { 'content-type': 'application/json' });
      if (body !== 'stream') return void res.end(JSON.stringify(body));
      const chunk = Buffer.alloc(1 << 20, 'x');
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk)) written += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    })();
  };
  const srv = cert
    ? https.createServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) }, handler)
    : http.createServer(handler);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  t.after(() => srv.closeAllConnections());
  return { port: (srv.address() as { port: number }).port, auth, written: () => written };
}

/** A client of the double with the operator's token (for cosmolet's own reviews in nodeServer). */
async function adminClient(t: TestContext, api: FakeApiServer) {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-status-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  api.writeKubeconfig(join(dir, 'kubeconfig'));
  return loadKubeClient({ kubeconfigPath: join(dir, 'kubeconfig'), env: {} });
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

async function cluster(
  t: TestContext,
  chart = true,
): Promise<{ api: FakeApiServer; kubeconfig: string; dir: string }> {
  const api = await FakeApiServer.start({ token: TOKEN });
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-status-'));
  t.after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const kubeconfig = join(dir, 'kubeconfig');
  api.writeKubeconfig(kubeconfig);
  if (chart) {
    api.upsert('configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cosmolet-ca', namespace: 'cosmolet' },
      data: { 'ca.crt': readFileSync(CERT.caFile, 'utf8') },
    } as KubeObject);
    api.upsert('serviceaccounts', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'cosmolet-status', namespace: 'cosmolet' },
    });
    api.allow(STATUS_USER, 'get', '/status');
  }
  return { api, kubeconfig, dir };
}

test('regression: cosmolet status sent the operator token in cleartext; now HTTPS verified against the chart CA with a 10-minute token bound to audience cosmolet, merged per Service IP', async (t) => {
  const { api, kubeconfig } = await cluster(t);
  const a = await nodeServer(
    t,
    api,
    doc(
      'n1',
      [web(true, true, 'gold')],
      [{ service: 'shop/lb', ip: '192.0.2.10', reason: 'no-local-endpoints' }],
    ),
  );
  const b = await nodeServer(t, api, doc('n2', [web(true, false, 'gold')], []));
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
  // The operator's own token never left for a node; the one that did is bound to cosmolet.
  assert.equal(a.auth.length, 1);
  assert.notEqual(a.auth[0], `Bearer ${TOKEN}`, "the operator's token reached the node");
  assert.deepEqual(b.auth, a.auth, 'one token for the run');
  const minted = api.requests.filter((e) => e.path.endsWith('/serviceaccounts/cosmolet-status/token'));
  assert.deepEqual(
    minted.map((e) => [e.method, e.status]),
    [['POST', 201]],
  );
  assert.ok(v.nodes.every((n) => n.url.startsWith('https://')));

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
  const a = await nodeServer(t, api, doc('n1', [web(true, true)], []));
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
    '--ca-file',
    CERT.caFile,
    '--server-name',
    CERT.serverName,
    '--token-file',
    await statusTokenFile(t, kubeconfig),
    '--json',
  ]);
  assert.equal(r.code, 1);
  const v = JSON.parse(r.stdout) as ClusterStatus;
  assert.deepEqual(
    v.nodes.map((n) => [n.name, n.reachable, n.url]),
    [
      ['n1', true, `https://127.0.0.1:${a.port}/status`],
      ['n2', false, 'https://127.0.0.1:1/status'],
    ],
  );
  assert.match(v.nodes[1]?.error ?? '', /ECONNREFUSED/);

  // No pods there: said, exit 1.
  const r2 = await run(['--kubeconfig', kubeconfig, '--namespace', 'nowhere']);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /no pods match app\.kubernetes\.io\/name=cosmolet in namespace nowhere/);
});

test('regression: --https did not verify the certificate; a node whose certificate the CA did not sign, or for another name, gets no token', async (t) => {
  const { api, kubeconfig } = await cluster(t);
  const labels = { 'app.kubernetes.io/name': 'cosmolet' };
  const impostor = await nodeServer(t, api, doc('n1', [web(true, true)], []), IMPOSTOR);
  const renamed = await nodeServer(t, api, doc('n2', [web(true, true)], []), WRONG_NAME);
  const plain = await nodeServer(t, api, doc('n3', [web(true, true)], []), null);
  api.upsert('pods', pod('p1', 'cosmolet', 'n1', '127.0.0.1', impostor.port, labels));
  api.upsert('pods', pod('p2', 'cosmolet', 'n2', '127.0.0.1', renamed.port, labels));
  api.upsert('pods', pod('p3', 'cosmolet', 'n3', '127.0.0.1', plain.port, labels));
  const r = await run(['--kubeconfig', kubeconfig, '--json']);
  assert.equal(r.code, 1);
  const v = JSON.parse(r.stdout) as ClusterStatus;
  const errors = Object.fromEntries(v.nodes.map((n) => [n.name, n.error ?? '']));
  assert.match(errors.n1 ?? '', /self[- ]signed|unable to verify|unable to get local issuer/i);
  assert.match(
    errors.n2 ?? '',
    /Hostname\/IP does not match certificate's altnames: Host: cosmolet-metrics\.cosmolet\.svc/,
  );
  assert.match(errors.n3 ?? '', /wrong version number|EPROTO|packet length/i);
  assert.deepEqual([impostor.auth, renamed.auth, plain.auth], [[], [], []], 'no request, no token');
});

test('--insecure-http reads plain http and sends no token at all', async (t) => {
  const { api, kubeconfig } = await cluster(t);
  const a = await nodeServer(t, undefined, doc('n1', [web(true, true)], []), null);
  api.upsert(
    'pods',
    pod('p1', 'cosmolet', 'n1', '127.0.0.1', a.port, { 'app.kubernetes.io/name': 'cosmolet' }),
  );
  const r = await run(['--kubeconfig', kubeconfig, '--insecure-http']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(a.auth, [''], 'no Authorization header');
  assert.equal(api.requests.filter((e) => e.path.endsWith('/token')).length, 0, 'no token minted');
  await assert.rejects(
    run(['--kubeconfig', kubeconfig, '--insecure-http', '--token-file', '/x']),
    /--token-file has no use with --insecure-http/,
  );
});

test('regression: a node answer was read whole (403 MB: 1 GB RSS, 600 MB: RangeError); now reading stops at 16 MiB with an error for that node', async (t) => {
  const { api, kubeconfig } = await cluster(t);
  const endless = await nodeServer(t, api, 'stream');
  const good = await nodeServer(t, api, doc('n2', [web(true, true)], []));
  const labels = { 'app.kubernetes.io/name': 'cosmolet' };
  api.upsert('pods', pod('p1', 'cosmolet', 'n1', '127.0.0.1', endless.port, labels));
  api.upsert('pods', pod('p2', 'cosmolet', 'n2', '127.0.0.1', good.port, labels));
  const r = await run(['--kubeconfig', kubeconfig, '--json', '--timeout-seconds', '60']);
  assert.equal(r.code, 1);
  const v = JSON.parse(r.stdout) as ClusterStatus;
  assert.deepEqual(
    v.nodes.map((n) => [n.name, n.reachable]),
    [
      ['n1', false],
      ['n2', true],
    ],
  );
  assert.match(v.nodes[0]?.error ?? '', new RegExp(`larger than ${MAX_STATUS_BYTES} bytes`));
  // The connection was closed, not drained: the node wrote little past the cap (socket buffers).
  assert.ok(endless.written() < MAX_STATUS_BYTES + 32 * 1024 * 1024, `${endless.written()} bytes written`);
});

test('no CA ConfigMap or no status ServiceAccount: a clear error naming --ca-file / --token-file', async (t) => {
  const { api, kubeconfig } = await cluster(t, false);
  const a = await nodeServer(t, api, doc('n1', [web(true, true)], []));
  api.upsert(
    'pods',
    pod('p1', 'cosmolet', 'n1', '127.0.0.1', a.port, { 'app.kubernetes.io/name': 'cosmolet' }),
  );
  await assert.rejects(
    run(['--kubeconfig', kubeconfig]),
    /ConfigMap cosmolet\/cosmolet-ca: HTTP 404.*--ca-file/,
  );
  await assert.rejects(
    run(['--kubeconfig', kubeconfig, '--ca-file', CERT.caFile]),
    /ServiceAccount cosmolet\/cosmolet-status .*audience cosmolet.*HTTP 404.*--token-file/,
  );
  assert.deepEqual(a.auth, [], 'nothing reached the node');
});

test('cosmolet status: bad flags exit as usage errors', async () => {
  await assert.rejects(run(['--port', '0']), /--port must be 1 to 65535/);
  await assert.rejects(run(['extra']), /unexpected argument "extra"/);
  await assert.rejects(run(['--bogus']), /cosmolet status: Unknown option '--bogus'/);
  await assert.rejects(
    run(['--ca-file', '/nonexistent/ca.crt']),
    /--ca-file: cannot read \/nonexistent\/ca\.crt/,
  );
});

test('cosmolet status shows both classes while nodes disagree, and none from a node without classes', async (t) => {
  const { api, kubeconfig } = await cluster(t);
  // n1 runs the new config (silver), n2 the old (gold); n3 is a cosmolet from before route classes,
  // whose routes carry no `class` at all.
  const old = web(true, true);
  delete (old as { class?: unknown }).class;
  const servers = [
    await nodeServer(t, api, doc('n1', [web(true, true, 'silver')], [])),
    await nodeServer(t, api, doc('n2', [web(true, true, 'gold')], [])),
    await nodeServer(t, api, doc('n3', [old], [])),
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

/** A token for cosmolet-status bound to cosmolet, minted as an operator would, in a file. */
async function statusTokenFile(t: TestContext, kubeconfig: string): Promise<string> {
  const client = await loadKubeClient({ kubeconfigPath: kubeconfig, env: {} });
  const r = await client.request(
    'POST',
    '/api/v1/namespaces/cosmolet/serviceaccounts/cosmolet-status/token',
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: ['cosmolet'], expirationSeconds: 600 },
    },
  );
  assert.equal(r.status, 201, r.body);
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-status-token-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  writeFileSync(file, (JSON.parse(r.body) as { status: { token: string } }).status.token + '\n');
  return file;
}
