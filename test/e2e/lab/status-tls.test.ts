// `cosmolet status` against the lab (issue 21 item 3): it verifies the server's certificate and sends
// an audience-bound token. One node on the API double, as root with real FRR: cosmolet serves
// /status over HTTPS with the lab's certificate for cosmolet-metrics.cosmolet.svc; `cosmolet status`
// in the leaf reads the CA from the cosmolet-ca ConfigMap and a TokenRequest token of
// cosmolet-status bound to audience cosmolet. A CA that did not sign the certificate is refused; the
// token it sends works on cosmolet and not on the API server, and the operator's own API token does
// not work on cosmolet; nothing answers in cleartext.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { kubeClientFromTransport, loadTransport } from '../../../src/kube/client.js';
import { getTlsUnix, labServingCert, labStatusToken } from '@cosmolet/lab/access/status-access';
import { makeServingCert } from '@cosmolet/lab/access/serving-cert';
import { getUnix } from '@cosmolet/lab/access/unix';
import { NODE_HTTP_PORT } from '@cosmolet/lab/state/state';
import type { ClusterStatus } from '../../../src/observe/cluster-status.js';
import { CLI, newLab, skip, state, up, type Lab } from './helpers.js';

/** `cosmolet status --json` in the leaf, as an operator on the fabric runs it. */
function cosmoletStatus(
  lab: Lab,
  ...extra: string[]
): { code: number | null; view: ClusterStatus; stderr: string } {
  const kubeconfig = join(state(lab).dir, 'node-kubeconfig');
  const r = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      `${lab.prefix}-leaf`,
      process.execPath,
      CLI,
      'status',
      '--json',
      '--kubeconfig',
      kubeconfig,
      ...extra,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.ok(r.stdout, `cosmolet status printed nothing: ${r.stderr}`);
  return { code: r.status, view: JSON.parse(r.stdout) as ClusterStatus, stderr: r.stderr };
}

test(
  'cosmolet status against the lab verifies the server certificate and sends an audience-bound token',
  { skip },
  async (t) => {
    const lab = newLab(t);
    await up(lab, 1);
    const s = state(lab);
    const node = s.nodes[0];
    assert.ok(node);

    // By its defaults: the CA from the ConfigMap, the name of the metrics Service, a minted token.
    const ok = cosmoletStatus(lab);
    assert.equal(ok.code, 0, `${JSON.stringify(ok.view)}\n${ok.stderr}`);
    assert.deepEqual(
      ok.view.nodes.map((n) => [n.name, n.reachable, n.url]),
      [[node.name, true, `https://${node.v4}:${NODE_HTTP_PORT}/status`]],
    );
    assert.ok(ok.view.prefixes.length > 0, 'the node advertises the lab Services');

    // Verified: a CA that did not sign cosmolet's certificate is refused, and no token is sent.
    const other = makeServingCert(join(s.dir, 'other-ca'));
    const refused = cosmoletStatus(lab, '--ca-file', other.caFile);
    assert.equal(refused.code, 1);
    assert.match(refused.view.nodes[0]?.error ?? '', /self[- ]signed|unable to verify|local issuer/i);
    const renamed = cosmoletStatus(lab, '--server-name', 'elsewhere.cosmolet.svc');
    assert.match(renamed.view.nodes[0]?.error ?? '', /does not match certificate's altnames/);

    // The token cosmolet status sends: bound to audience cosmolet, so cosmolet takes it and the API
    // server does not; the operator's own API token is refused by cosmolet.
    const cert = labServingCert(s.dir);
    const sock = join(node.dir, 'http.sock');
    const token = await labStatusToken(s);
    assert.ok(token, 'a TokenRequest token for cosmolet-status');
    assert.equal((await getTlsUnix(sock, '/status', cert, token)).status, 200);
    const transport = await loadTransport({ kubeconfigPath: s.kubeconfig, env: {} });
    const asApi = kubeClientFromTransport({
      ...transport,
      credentials: { get: () => Promise.resolve({ authorization: `Bearer ${token}` }), invalidate: () => {} },
    });
    assert.equal((await asApi.request('GET', '/api/v1/namespaces')).status, 401, 'the API server refuses it');
    const operator = (
      parseYaml(readFileSync(join(s.dir, 'node-kubeconfig'), 'utf8')) as {
        users: { user: { token: string } }[];
      }
    ).users[0]?.user.token;
    assert.ok(operator);
    const withOperator = await getTlsUnix(sock, '/status', cert, operator);
    assert.equal(withOperator.status, 401, `the operator's API token is refused: ${withOperator.body}`);

    // Nothing in cleartext on the port.
    const plain = await getUnix(sock, '/status').then(
      (r) => r.status,
      (err: unknown) => String(err),
    );
    assert.notEqual(plain, 200);
  },
);
