// Regression: cosmolet's requests carried no User-Agent, so a real kube-apiserver recorded the field
// manager of the Events cosmolet writes as "unknown" (managedFields) and its audit log could not tell
// cosmolet's requests from anyone else's. Every request and every watch now names cosmolet.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadKubeClient, userAgent } from '../../../src/kube/client.js';
import { buildInfo } from '../../../src/version.js';
import { tempDir } from './helpers.js';

void test('regression: requests had no User-Agent (the API server recorded cosmolet\'s Events as field manager "unknown")', async (t) => {
  const seen: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers['user-agent']);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  // No credentials over plain http, as through `kubectl proxy`.
  const kubeconfig = join(tempDir(t), 'kubeconfig');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]\n` +
      'users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
  );
  const client = await loadKubeClient({ kubeconfigPath: kubeconfig });
  await client.request('POST', '/api/v1/namespaces/default/events', { kind: 'Event' });
  await client.request('GET', '/api/v1/nodes/node-a');
  const watch = await client.stream('/api/v1/services?watch=1');
  for await (const chunk of watch.stream) void chunk;

  assert.equal(seen.length, 3);
  const expected = `cosmolet/${buildInfo().version} (${process.platform}/${process.arch})`;
  assert.equal(userAgent(), expected);
  assert.deepEqual(seen, [expected, expected, expected]);
  // kube-apiserver's default field manager is the part before the first '/'.
  assert.equal(expected.split('/')[0], 'cosmolet');
});
