// Client setup: where the API server comes from, TLS and auth applied freshly per request.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ErrorCodes, CosmoletError } from '../../../src/errors.js';
import { loadKubeClient } from '../../../src/kube/client.js';
import { startDouble, tempDir } from './helpers.js';

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

void test('an exec credential plugin runs per request, so a rotated token is used at once', async (t) => {
  const { server } = await startDouble(t);
  const dir = tempDir(t);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'test-token');
  const script = join(dir, 'cred.sh');
  writeFileSync(
    script,
    `#!/bin/sh\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$(cat ${tokenFile})"\n`,
    { mode: 0o755 },
  );
  const kc = server
    .kubeconfig()
    .replace(
      /user:\n\s+token: test-token/,
      `user:\n      exec:\n        apiVersion: client.authentication.k8s.io/v1\n        command: ${script}\n        interactiveMode: Never`,
    );
  assert.match(kc, /exec:/);
  const path = join(dir, 'kc');
  writeFileSync(path, kc);
  const client = await loadKubeClient({ kubeconfigPath: path });
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 200);
  writeFileSync(tokenFile, 'rotated-away');
  assert.equal((await client.request('GET', '/api/v1/nodes')).status, 401);
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
