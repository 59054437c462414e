// Client setup: where the API server comes from, TLS and auth applied freshly per request.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { ErrorCodes, CosmoletError } from '../../../src/errors.js';
import { loadKubeClient } from '../../../src/kube/client.js';
import type { FakeApiServer } from '@cosmolet/kube-double/apiserver';
import { startDouble, tempDir } from './helpers.js';

const execFileAsync = promisify(execFile);

async function rejectsWith(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CosmoletError);
    assert.equal(err.code, code);
    assert.match(err.message, re);
    return true;
  });
}

void test('no kubeconfig, no $KUBECONFIG, not in a cluster: a clear KUBECONFIG_MISSING', async () => {
  await rejectsWith(
    loadKubeClient({ env: {} }),
    ErrorCodes.KUBECONFIG_MISSING,
    /--kubeconfig.*KUBECONFIG.*cluster/,
  );
  await rejectsWith(
    loadKubeClient({ kubeconfigPath: '/nonexistent/kc', env: {} }),
    ErrorCodes.KUBECONFIG_MISSING,
    /\/nonexistent\/kc/,
  );
  await rejectsWith(
    loadKubeClient({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, serviceAccountDir: '/nonexistent' }),
    ErrorCodes.KUBECONFIG_MISSING,
    /in-cluster/,
  );
});

void test('order: --kubeconfig, then $KUBECONFIG, then in-cluster', async (t) => {
  const a = await startDouble(t);
  const b = await startDouble(t);
  const env = {
    KUBECONFIG: b.kubeconfig,
    KUBERNETES_SERVICE_HOST: '192.0.2.1',
    KUBERNETES_SERVICE_PORT: '443',
  };
  assert.equal((await loadKubeClient({ kubeconfigPath: a.kubeconfig, env })).server, a.server.url);
  assert.equal((await loadKubeClient({ env })).server, b.server.url);
  // A list in $KUBECONFIG: the first file's current context wins.
  assert.equal(
    (await loadKubeClient({ env: { KUBECONFIG: `${b.kubeconfig}:${a.kubeconfig}` } })).server,
    b.server.url,
  );
});

void test('plain http without insecure-skip-tls-verify is refused up front', async (t) => {
  const path = join(tempDir(t), 'kc');
  writeFileSync(
    path,
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]\n' +
      'users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
  );
  await rejectsWith(
    loadKubeClient({ kubeconfigPath: path }),
    ErrorCodes.KUBECONFIG_MISSING,
    /insecure-skip-tls-verify/,
  );
});

function kubeconfigFile(t: TestContext, server: string, cluster: string, user: string): string {
  const path = join(tempDir(t), 'kc');
  writeFileSync(
    path,
    `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${server}"${cluster}}}]\n` +
      `users: [{name: u, user: {${user}}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
  );
  return path;
}

void test('regression: a bearer token was sent over plain http; now refused at start, and never sent', async (t) => {
  const path = kubeconfigFile(t, 'http://127.0.0.1:1', ', insecure-skip-tls-verify: true', 'token: secret');
  await rejectsWith(loadKubeClient({ kubeconfigPath: path }), ErrorCodes.KUBECONFIG_MISSING, /plain http/);
  // Without credentials plain http still works (a local proxy such as `kubectl proxy`), with a warning.
  const open = kubeconfigFile(t, 'http://127.0.0.1:1', ', insecure-skip-tls-verify: true', '');
  const client = await loadKubeClient({ kubeconfigPath: open });
  assert.match(client.warnings?.join('\n') ?? '', /plain http/);
});

void test('regression: insecure-skip-tls-verify was honoured silently; now a warning at start', async (t) => {
  const path = kubeconfigFile(t, 'https://127.0.0.1:1', ', insecure-skip-tls-verify: true', 'token: secret');
  const client = await loadKubeClient({ kubeconfigPath: path });
  assert.match(client.warnings?.join('\n') ?? '', /insecure-skip-tls-verify.*not verified/);
  const verified = kubeconfigFile(t, 'https://127.0.0.1:1', '', 'token: secret');
  assert.deepEqual((await loadKubeClient({ kubeconfigPath: verified })).warnings, []);
});

void test('in-cluster: service account token and CA, over https', async (t) => {
  const { server } = await startDouble(t);
  const dir = join(tempDir(t), 'sa');
  mkdirSync(dir);
  const kc = parse(server.kubeconfig()) as {
    clusters: { cluster: { 'certificate-authority-data': string } }[];
  };
  const ca = kc.clusters[0]?.cluster['certificate-authority-data'] ?? '';
  writeFileSync(join(dir, 'ca.crt'), Buffer.from(ca, 'base64'));
  writeFileSync(join(dir, 'token'), 'test-token');
  const client = await loadKubeClient({
    env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(server.port) },
    serviceAccountDir: dir,
  });
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 200);
});

/** A kubeconfig for the double whose user is `user` (YAML lines under `user:`) instead of the token. */
function kubeconfigWithUser(server: FakeApiServer, user: string): string {
  const kc = server.kubeconfig().replace(/user:\n\s+token: [^\n]+/, `user:\n${user}`);
  assert.doesNotMatch(kc, /token: test-token/);
  return kc;
}

function execPlugin(dir: string, tokenFile: string, extra = ''): { script: string; runs: () => number } {
  const script = join(dir, 'cred.sh');
  const counter = join(dir, 'runs');
  writeFileSync(counter, '');
  writeFileSync(
    script,
    `#!/bin/sh\necho x >> ${counter}\n${extra}printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$(cat ${tokenFile})"\n`,
    { mode: 0o755 },
  );
  return { script, runs: () => readFileSync(counter, 'utf8').split('\n').filter(Boolean).length };
}

const EXEC_USER = (script: string) =>
  `      exec:\n        apiVersion: client.authentication.k8s.io/v1\n        command: ${script}\n        interactiveMode: Never`;

void test('an exec credential is cached, and re-fetched once when the server answers 401 (regression: 401 forever)', async (t) => {
  const { server } = await startDouble(t);
  const dir = tempDir(t);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'test-token');
  const plugin = execPlugin(dir, tokenFile);
  const path = join(dir, 'kc');
  writeFileSync(path, kubeconfigWithUser(server, EXEC_USER(plugin.script)));
  const client = await loadKubeClient({ kubeconfigPath: path });
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 200);
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 200);
  assert.equal(plugin.runs(), 1, 'the credential is cached between requests');
  // The credential rotates: the server refuses the old token, the plugin now gives the new one.
  server.setToken('rotated');
  writeFileSync(tokenFile, 'rotated');
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 200);
  assert.equal(plugin.runs(), 2);
  // A watch (stream) refreshes the same way.
  server.setToken('rotated-again');
  writeFileSync(tokenFile, 'rotated-again');
  const w = await client.stream('/api/v1/nodes?watch=1');
  assert.equal(w.status, 200);
  w.close();
  // A credential the server keeps refusing: one refresh, then the caller sees the 401.
  server.setToken('unknown-to-the-plugin');
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 401);
  assert.equal(plugin.runs(), 4);
});

void test('a hanging exec plugin fails the start within its timeout, naming the plugin (regression: hung start)', async (t) => {
  const { server } = await startDouble(t);
  const dir = tempDir(t);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'test-token');
  const plugin = execPlugin(dir, tokenFile, 'sleep 60\n');
  const path = join(dir, 'kc');
  writeFileSync(path, kubeconfigWithUser(server, EXEC_USER(plugin.script)));
  const started = Date.now();
  await rejectsWith(
    loadKubeClient({ kubeconfigPath: path, execTimeoutMs: 300 }),
    ErrorCodes.KUBECONFIG_MISSING,
    /cred\.sh did not answer within 0\.3 s/,
  );
  assert.ok(Date.now() - started < 5000);
});

void test('a failing exec plugin is a clear error at start, with its stderr', async (t) => {
  const { server } = await startDouble(t);
  const dir = tempDir(t);
  const plugin = execPlugin(dir, join(dir, 'none'), 'echo "no cloud login" >&2; exit 3\n');
  const path = join(dir, 'kc');
  writeFileSync(path, kubeconfigWithUser(server, EXEC_USER(plugin.script)));
  await rejectsWith(
    loadKubeClient({ kubeconfigPath: path }),
    ErrorCodes.KUBECONFIG_MISSING,
    /exit 3.*no cloud login/,
  );
});

void test('kubeconfig token-file: trimmed (regression: a trailing newline broke every request) and re-read as it rotates', async (t) => {
  const { server } = await startDouble(t);
  const dir = tempDir(t);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'test-token\n');
  const path = join(dir, 'kc');
  writeFileSync(path, kubeconfigWithUser(server, `      token-file: ${tokenFile}`));
  const client = await loadKubeClient({ kubeconfigPath: path, tokenReloadMs: 60_000 });
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 200);
  // Rotated (regression: read once, 401 forever): the 401 makes the client read the file again.
  server.setToken('second');
  writeFileSync(tokenFile, 'second\n');
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 200);
});

function serviceAccountDir(t: TestContext, server: FakeApiServer, token: string): string {
  const dir = join(tempDir(t), 'sa');
  mkdirSync(dir);
  const kc = parse(server.kubeconfig()) as {
    clusters: { cluster: { 'certificate-authority-data': string } }[];
  };
  writeFileSync(
    join(dir, 'ca.crt'),
    Buffer.from(kc.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64'),
  );
  writeFileSync(join(dir, 'token'), token);
  return dir;
}

function inClusterEnv(server: FakeApiServer): NodeJS.ProcessEnv {
  return { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(server.port) };
}

void test('in-cluster: a bound token is re-read before the old one expires, with no request refused', async (t) => {
  const { server } = await startDouble(t);
  const dir = serviceAccountDir(t, server, 'test-token\n');
  const client = await loadKubeClient({
    env: inClusterEnv(server),
    serviceAccountDir: dir,
    tokenReloadMs: 50,
  });
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 200);
  // The kubelet writes the new token while the old one is still valid (at 80% of its life).
  server.setToken('second', { keepPrevious: true });
  writeFileSync(join(dir, 'token'), 'second');
  const deadline = Date.now() + 5000;
  // The old token expires once the client has had time to re-read the file.
  await new Promise((r) => setTimeout(r, 100));
  server.revokeToken('test-token');
  const before = server.requests.length;
  while (Date.now() < deadline) {
    assert.equal((await client.request('GET', '/api/v1/nodes')).status, 200);
    if (server.requests.length - before >= 3) break;
  }
  assert.deepEqual(
    server.requests.slice(before).map((r) => r.status),
    [200, 200, 200],
    'no 401: the rotated token was already in use',
  );
});

void test('in-cluster: a token revoked before the re-read is recovered on the 401 itself', async (t) => {
  const { server } = await startDouble(t);
  const dir = serviceAccountDir(t, server, 'test-token');
  const client = await loadKubeClient({
    env: inClusterEnv(server),
    serviceAccountDir: dir,
    tokenReloadMs: 3_600_000,
  });
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 200);
  server.setToken('second');
  writeFileSync(join(dir, 'token'), 'second');
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 200);
  // While the file is being replaced (empty or missing), the last good token keeps serving.
  writeFileSync(join(dir, 'token'), '');
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 200);
});

void test('in-cluster never loads @kubernetes/client-node; a kubeconfig does (issue 10: 70 MB of RSS)', async (t) => {
  const { server, kubeconfig } = await startDouble(t);
  const dir = serviceAccountDir(t, server, 'test-token');
  const probe = async (options: string): Promise<string> => {
    const code = `
      import { createRequire } from 'node:module';
      import { loadKubeClient } from ${JSON.stringify(new URL('../../../src/kube/client.ts', import.meta.url).pathname)};
      const client = await loadKubeClient(${options});
      const status = (await client.request('GET', '/api/v1/nodes')).status;
      const loaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/node-fetch/'));
      console.log(JSON.stringify({ status, loaded }));`;
    // Asynchronously: the double answers from this very process.
    const r = await execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      encoding: 'utf8',
    });
    return r.stdout.trim();
  };
  assert.equal(
    await probe(
      `{ env: ${JSON.stringify(inClusterEnv(server))}, serviceAccountDir: ${JSON.stringify(dir)} }`,
    ),
    JSON.stringify({ status: 200, loaded: false }),
  );
  assert.equal(
    await probe(`{ kubeconfigPath: ${JSON.stringify(kubeconfig)}, env: {} }`),
    JSON.stringify({ status: 200, loaded: true }),
  );
});

void test('an unreachable server is a KUBE_UNREACHABLE error', async (t) => {
  const { server, client } = await startDouble(t);
  await server.close();
  await rejectsWith(
    client.request('GET', '/api/v1/nodes'),
    ErrorCodes.KUBE_UNREACHABLE,
    /GET \/api\/v1\/nodes/,
  );
  await rejectsWith(client.stream('/api/v1/nodes?watch=1'), ErrorCodes.KUBE_UNREACHABLE, /ECONNREFUSED/);
});
