// When the API server refuses cosmolet's own reviews (its ServiceAccount lacks the
// system:auth-delegator binding), the scraper's 503 says so: the server's message and the grant to
// add. On a real kube-apiserver this was "TokenReview answered 403" and nothing else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeClient, KubeResponse } from '../../../src/kube/client.js';
import { DelegatingAuthorizer } from '../../../src/observe/auth.js';

function forbidden(resource: string, group: string): KubeResponse {
  return {
    status: 403,
    headers: {},
    body: JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'Forbidden',
      code: 403,
      message: `${resource}.${group} is forbidden: User "system:serviceaccount:cosmolet:cosmolet" cannot create resource "${resource}" in API group "${group}" at the cluster scope`,
    }),
  };
}

/** A client whose answers come from `answer`, by path. */
function client(answer: (path: string) => KubeResponse): KubeClient {
  return {
    server: 'https://127.0.0.1:6443',
    request: (_method, path) => Promise.resolve(answer(path)),
    stream: () => Promise.reject(new Error('no streams here')),
  };
}

void test('regression: a TokenReview refused 403 names the server message and the system:auth-delegator binding', async () => {
  const auth = new DelegatingAuthorizer({
    client: client(() => forbidden('tokenreviews', 'authentication.k8s.io')),
  });
  const d = await auth.check('Bearer a-token', '/metrics');
  assert.equal(d.status, 503);
  assert.match(d.reason, /^cannot review the token: TokenReview answered 403 \(/);
  assert.match(d.reason, /cannot create resource "tokenreviews" in API group "authentication.k8s.io"/);
  assert.match(d.reason, /needs the system:auth-delegator ClusterRole/);
});

void test('a SubjectAccessReview refused 403 says the same; other failures carry only the server message', async () => {
  const reviewed: KubeResponse = {
    status: 201,
    headers: {},
    body: JSON.stringify({
      status: { authenticated: true, user: { username: 'system:serviceaccount:monitoring:prometheus' } },
    }),
  };
  const sar = new DelegatingAuthorizer({
    client: client((path) =>
      path.endsWith('/tokenreviews') ? reviewed : forbidden('subjectaccessreviews', 'authorization.k8s.io'),
    ),
  });
  const d = await sar.check('Bearer a-token', '/status');
  assert.equal(d.status, 503);
  assert.match(d.reason, /^cannot check access: SubjectAccessReview answered 403 \(/);
  assert.match(d.reason, /needs the system:auth-delegator ClusterRole/);

  const down = new DelegatingAuthorizer({
    client: client(() => ({ status: 500, headers: {}, body: 'etcd is away' })),
  });
  const e = await down.check('Bearer a-token', '/metrics');
  assert.equal(e.status, 503);
  assert.equal(e.reason, 'cannot review the token: TokenReview answered 500 (etcd is away)');
});
