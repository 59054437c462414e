import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHttpServer } from '../../../src/observe/http.js';
import { silentLogger } from '../../../src/observe/log.js';
import { statusDocument } from '../../../src/observe/status.js';

test('serves the table of paths over real HTTP; unknown paths 404, other methods 405, throwing handler 500', async (t) => {
  const server = await startHttpServer(
    '127.0.0.1:0',
    {
      '/readyz': () => ({ status: 503, body: { ready: false } }),
      '/healthz': () => ({ status: 200, body: 'ok\n' }),
      '/boom': () => {
        throw new Error('handler broke');
      },
    },
    silentLogger(),
  );
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.port}`;
  const r = await fetch(`${base}/readyz`);
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.deepEqual(await r.json(), { ready: false });
  assert.equal(await (await fetch(`${base}/healthz?verbose=1`)).text(), 'ok\n');
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  assert.equal((await fetch(`${base}/healthz`, { method: 'POST' })).status, 405);
  const boom = await fetch(`${base}/boom`);
  assert.equal(boom.status, 500);
  assert.match(await boom.text(), /handler broke/);
});

test('a bad address is a config error naming http.address', async () => {
  await assert.rejects(startHttpServer('nonsense', {}, silentLogger()), /http\.address/);
});

test('status joins the plan with what is installed and what bgpd holds', () => {
  const doc = statusDocument({
    nodeName: 'n1',
    plan: {
      node: 'n1',
      routes: [
        {
          prefix: '10.96.0.10/32',
          family: 'ipv4',
          services: ['default/a'],
          kinds: ['clusterIP'],
          class: null,
        },
        { prefix: 'fd00::a/128', family: 'ipv6', services: ['default/a'], kinds: ['clusterIP'], class: null },
      ],
      skipped: [],
    },
    installed: new Set(['10.96.0.10/32', '10.96.0.99/32']),
    bgp: new Map([['10.96.0.10/32', { valid: true, best: true }]]),
    bgpCheckedAt: 0,
    bgpError: undefined,
    reconciledAt: 0,
    lastError: undefined,
  });
  assert.deepEqual(
    doc.routes.map((r) => [r.prefix, r.installed, r.bgp.valid, r.bgp.best]),
    [
      ['10.96.0.10/32', true, true, true],
      ['fd00::a/128', false, false, false],
    ],
  );
  assert.deepEqual(doc.stale, ['10.96.0.99/32']);
});
