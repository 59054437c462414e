// http.tokenAudiences (issue 21 item 3): cosmolet's TokenReview named no audience, so the token a
// client sent to a node was one the API server itself accepts, and any node (or anyone on the path)
// collected operators' API credentials. Now the review asks for audience `cosmolet` and refuses a
// token bound to the API server; a TokenRequest token for `cosmolet` is allowed (and is refused by
// the API server itself). Against the API double, which answers audiences as kube-apiserver does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kubeClientFromTransport, type KubeClient } from '../../../src/kube/client.js';
import { makeSelfSigned } from '@cosmolet/kube-double/certs';
import { DelegatingAuthorizer } from '../../../src/observe/auth.js';
import { startDouble } from '../kube/helpers.js';

void test('regression: a token the API server accepts was accepted by cosmolet; now only a token bound to audience cosmolet', async (t) => {
  const { server: api, client } = await startDouble(t);
  const user = 'system:serviceaccount:cosmolet:cosmolet-status';
  api.upsert('serviceaccounts', {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'cosmolet-status', namespace: 'cosmolet' },
  });
  api.allow(user, 'get', '/status');
  // The same user's token for the API server, as a kubeconfig or a default pod token carries it.
  api.addToken('api-token', { username: user, groups: ['system:authenticated'] });
  const minted = await client.request(
    'POST',
    '/api/v1/namespaces/cosmolet/serviceaccounts/cosmolet-status/token',
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: ['cosmolet'], expirationSeconds: 600 },
    },
  );
  assert.equal(minted.status, 201, minted.body);
  const bound = (JSON.parse(minted.body) as { status: { token: string } }).status.token;

  const authorizer = new DelegatingAuthorizer({ client, audiences: ['cosmolet'] });
  const api401 = await authorizer.check('Bearer api-token', '/status');
  assert.equal(api401.status, 401, 'a token for the API server is refused');
  const ok = await authorizer.check(`Bearer ${bound}`, '/status');
  assert.deepEqual([ok.status, ok.user], [200, user]);

  // The bound token is no API credential: the API server refuses it; its own token it accepts.
  const status = async (token: string): Promise<number> =>
    (await tokenClient(api.url, token).request('GET', '/api/v1/namespaces')).status;
  assert.equal(await status(bound), 401, 'the API server does not accept the bound token');
  assert.equal(await status('api-token'), 200);
});

/** A client of the double that sends `token`. */
function tokenClient(url: string, token: string): KubeClient {
  return kubeClientFromTransport({
    server: url,
    tls: { ca: makeSelfSigned(new URL(url).hostname).cert, rejectUnauthorized: true },
    credentials: { get: () => Promise.resolve({ authorization: `Bearer ${token}` }), invalidate: () => {} },
  });
}
