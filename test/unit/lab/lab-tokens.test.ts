// The lab's stand-in for the kubelet's token handling on a real control plane (lab-tokens.ts), against
// a fake API: cosmolet's Pod is created when missing, its token is bound to that Pod and written
// with the CA and namespace, renewed at 80 % of its life and at once when the Pod is replaced, and
// the operator's token lands in node-kubeconfig.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { KubeClient, KubeResponse } from '../../../src/kube/client.js';
import { labNodes } from '@cosmolet/lab/state/state';
import { TokenKeeper } from '@cosmolet/lab/real-cluster/tokens';

interface Call {
  method: string;
  path: string;
  body: unknown;
}

/** Pods by name with a uid each; TokenRequests answered with numbered tokens. */
function fakeApi(): { client: KubeClient; calls: Call[]; pods: Map<string, string> } {
  const calls: Call[] = [];
  const pods = new Map<string, string>();
  let n = 0;
  const reply = (status: number, body: unknown): KubeResponse => ({
    status,
    headers: {},
    body: JSON.stringify(body),
  });
  const client: KubeClient = {
    server: 'https://127.0.0.1:6443',
    request(method, path, body) {
      calls.push({ method, path, body });
      const name = /\/pods\/([^/]+)$/.exec(path)?.[1];
      if (method === 'GET' && name) {
        const uid = pods.get(name);
        return Promise.resolve(
          uid ? reply(200, { metadata: { name, uid } }) : reply(404, { kind: 'Status', code: 404 }),
        );
      }
      if (method === 'POST' && path.endsWith('/pods')) {
        const p = body as { metadata: { name: string } };
        const uid = `uid-${++n}`;
        pods.set(p.metadata.name, uid);
        return Promise.resolve(reply(201, { metadata: { name: p.metadata.name, uid } }));
      }
      if (method === 'POST' && path.endsWith('/token'))
        return Promise.resolve(reply(201, { status: { token: `token-${++n}` } }));
      return Promise.resolve(reply(404, {}));
    },
    stream() {
      return Promise.reject(new Error('no streams'));
    },
  };
  return { client, calls, pods };
}

test('cosmolet Pods and bound tokens: created, renewed at 80 %, re-bound when the Pod is replaced', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-tokens-'));
  try {
    const nodes = labNodes('t', dir, 2);
    const ca = join(dir, 'ca.crt');
    writeFileSync(ca, 'CA');
    const api = fakeApi();
    const keeper = new TokenKeeper(api.client, {
      nodes,
      caCert: ca,
      operatorKubeconfig: join(dir, 'node-kubeconfig'),
      tokenSeconds: 3600,
    });
    const t0 = 1_000_000;
    assert.deepEqual(await keeper.ensure(t0), ['lab-node-1', 'lab-node-2', 'operator']);
    assert.deepEqual([...api.pods.keys()], ['cosmolet-lab-node-1', 'cosmolet-lab-node-2']);
    const sa = join(nodes[0]?.dir ?? '', 'serviceaccount');
    assert.equal(readFileSync(join(sa, 'ca.crt'), 'utf8'), 'CA');
    assert.equal(readFileSync(join(sa, 'namespace'), 'utf8'), 'cosmolet');
    assert.match(readFileSync(join(sa, 'token'), 'utf8'), /^token-\d+$/);
    assert.equal(statSync(join(sa, 'token')).mode & 0o777, 0o600);
    assert.equal(statSync(nodes[0]?.dir ?? '').mode & 0o777, 0o755, 'the node directory keeps its mode');
    // Bound to the node's Pod, for the chart's ServiceAccount.
    const first = api.calls.find((c) => c.path.endsWith('/serviceaccounts/cosmolet/token'));
    assert.equal(first?.path, '/api/v1/namespaces/cosmolet/serviceaccounts/cosmolet/token');
    assert.deepEqual((first?.body as { spec: unknown }).spec, {
      expirationSeconds: 3600,
      boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'cosmolet-lab-node-1', uid: 'uid-1' },
    });
    const kc = parseYaml(readFileSync(join(dir, 'node-kubeconfig'), 'utf8')) as {
      clusters: { cluster: { server: string } }[];
      users: { user: { token: string } }[];
    };
    assert.equal(kc.clusters[0]?.cluster.server, 'https://127.0.0.1:6443');
    assert.match(kc.users[0]?.user.token ?? '', /^token-\d+$/);

    // Before 80 % of an hour: nothing; after: both nodes (the operator's lives a day).
    assert.deepEqual(await keeper.ensure(t0 + 2_879_000), []);
    assert.deepEqual(await keeper.ensure(t0 + 2_880_000), ['lab-node-1', 'lab-node-2']);
    // A replaced Pod (deleted, made again): its token at once, bound to the new uid.
    api.pods.delete('cosmolet-lab-node-2');
    assert.deepEqual(await keeper.ensure(t0 + 2_881_000), ['lab-node-2']);
    const last = api.calls.filter((c) => c.path.endsWith('/token')).at(-1);
    assert.equal(
      (last?.body as { spec: { boundObjectRef: { uid: string } } }).spec.boundObjectRef.uid,
      api.pods.get('cosmolet-lab-node-2'),
    );
    assert.deepEqual(await keeper.ensure(t0 + 24 * 3600 * 800), ['lab-node-1', 'lab-node-2', 'operator']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
