// /metrics and /status off loopback, checked by a real kube-apiserver: cosmolet serves on the node's
// address (as the chart's :8080 does under hostNetwork) and a scraper on the node network reaches it
// with curl. A `prometheus` ServiceAccount bound to the chart's reader ClusterRole, with a token
// bound to audience cosmolet, gets 200; an unbound ServiceAccount 403; no token 401; a token the API
// server accepts for itself (its own audience, cosmolet's own token) 401: cosmolet's TokenReview asks
// for audience cosmolet (http.tokenAudiences, issue 21 item 3). The reviews cosmolet makes are allowed by its
// system:auth-delegator binding, as the audit log shows.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@cosmolet/lab/wait';
import { AuditedClusterLab, describe, refused, serviceAccountUser } from './rbac-lab.js';

const lab = new AuditedClusterLab({ origination: 'kernel' });
let base = '';
const tokens = { prometheus: '', unbound: '', apiAudience: '', cosmolet: '' };

before(async () => {
  await lab.start();
  base = `http://${lab.fabric.node(0).routerId}:8080`;
  lab.ensureNamespace('monitoring');
  await lab.bindReader('monitoring', 'prometheus');
  tokens.prometheus = await lab.tokenFor('monitoring', 'prometheus', ['cosmolet']);
  tokens.unbound = await lab.tokenFor('monitoring', 'intruder', ['cosmolet']);
  tokens.apiAudience = await lab.tokenFor('monitoring', 'prometheus');
  tokens.cosmolet = await lab.refreshToken();
});
after(async () => {
  await lab.teardown();
});

test("off loopback, the chart's reader ClusterRole opens /metrics and /status; nothing else does", async (t) => {
  // The RBAC as the API server sees it (kubectl auth can-i asks the same authorizer).
  assert.equal(
    lab
      .kubectl(['auth', 'can-i', 'get', '/metrics', '--as=system:serviceaccount:monitoring:prometheus'])
      .trim(),
    'yes',
  );
  assert.equal(
    await lab.allowed(serviceAccountUser('monitoring', 'intruder'), { path: '/metrics', verb: 'get' }),
    false,
  );
  const mark = lab.auditMark();
  const c = lab.startCosmolet({ http: { address: `${lab.fabric.node(0).routerId}:8080` } });
  t.after(() => lab.stop(c));
  await waitFor(
    `cosmolet serving on ${base}`,
    async () => (await lab.curlNode(`${base}/healthz`)).status === 200,
    30_000,
    100,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\ncosmolet log:\n${c.log().slice(-4000)}`);
  });
  assert.match(c.log(), /"authentication":"TokenReview\+SubjectAccessReview"/);

  const rows: string[] = [];
  const check = async (who: string, path: string, token: string | undefined, want: number, body?: RegExp) => {
    const r = await lab.curlNode(`${base}${path}`, token);
    rows.push(
      `${who.padEnd(28)} ${path.padEnd(8)} ${r.status} ${r.body.split('\n')[0]?.slice(0, 120) ?? ''}`,
    );
    assert.equal(r.status, want, `${who} ${path}: ${r.body}`);
    if (body) assert.match(r.body, body);
  };
  await check('prometheus (reader)', '/metrics', tokens.prometheus, 200, /^cosmolet_/m);
  await check('prometheus (reader)', '/status', tokens.prometheus, 200, /"node":\s*"node-a"/);
  await check(
    'intruder (unbound)',
    '/metrics',
    tokens.unbound,
    403,
    /system:serviceaccount:monitoring:intruder may not get \/metrics/,
  );
  await check('intruder (unbound)', '/status', tokens.unbound, 403, /may not get \/status/);
  // cosmolet's own token is bound to the API server: refused before any RBAC question.
  await check('cosmolet itself', '/metrics', tokens.cosmolet, 401, /the token is not valid/);
  await check('no token', '/metrics', undefined, 401, /a bearer token is required/);
  await check('no token', '/status', undefined, 401);
  await check('forged token', '/metrics', 'not-a-token', 401, /the token is not valid/);
  // The same ServiceAccount's token for the API server: what a node must never be able to collect
  // and reuse, so cosmolet does not take it (TokenReview spec.audiences [cosmolet]).
  await check('prometheus, API audience', '/metrics', tokens.apiAudience, 401, /the token is not valid/);
  await check('prometheus, API audience', '/status', tokens.apiAudience, 401);

  // /readyz stays open and brief on the node's address, token or not: a token there is never
  // reviewed (issue 21). Its messages are on the probe listener, on the node's loopback only.
  for (const token of [undefined, tokens.prometheus, tokens.unbound]) {
    const brief = await lab.curlNode(`${base}/readyz`, token);
    assert.ok(
      (JSON.parse(brief.body) as { conditions: object[] }).conditions.every((x) => !('message' in x)),
      'no messages off loopback',
    );
  }
  const full = await lab.curlNode('http://127.0.0.1:8081/readyz');
  assert.ok(
    (JSON.parse(full.body) as { conditions: object[] }).conditions.every((x) => 'message' in x),
    'messages on the loopback probe listener',
  );
  for (const row of rows) t.diagnostic(row);

  // cosmolet's reviews: allowed by system:auth-delegator, one TokenReview and one
  // SubjectAccessReview per token and path (the cache answers repeats).
  await lab.stop(c);
  const audited = lab.auditEvents(mark).filter((e) => e.verb === 'create');
  assert.deepEqual(describe(refused(audited)), '');
  const reviews = audited.filter((e) => /review/.test(e.objectRef?.resource ?? ''));
  assert.ok(reviews.length > 0);
  for (const e of reviews) assert.equal(e.responseStatus?.code, 201, describe([e]));
  t.diagnostic(
    `reviews: ${reviews.filter((e) => e.objectRef?.resource === 'tokenreviews').length} TokenReview, ${
      reviews.filter((e) => e.objectRef?.resource === 'subjectaccessreviews').length
    } SubjectAccessReview`,
  );
});
