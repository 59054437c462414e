// The HTTP surface off loopback: /metrics and /status need a bearer token that the API server
// vouches for (TokenReview) and authorizes (SubjectAccessReview, nonResourceURL + get); /healthz and
// /readyz stay open but brief; /status is serialized once per change; heavy routes are bounded;
// probes answer while heavy requests run. Against the API double over real HTTPS.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { DelegatingAuthorizer, isLoopbackOnly } from '../../../src/observe/auth.js';
import { startHttpServer, type HttpRoutes, type HttpServerOptions } from '../../../src/observe/http.js';
import { silentLogger } from '../../../src/observe/log.js';
import { startDouble } from '../kube/helpers.js';

async function serve(t: TestContext, routes: HttpRoutes, options: HttpServerOptions = {}): Promise<string> {
  const server = await startHttpServer('127.0.0.1:0', routes, silentLogger(), options);
  t.after(() => server.close());
  return `http://127.0.0.1:${server.port}`;
}

function routes(counter = { status: 0 }): HttpRoutes {
  return {
    '/healthz': () => ({ status: 200, body: 'ok\n' }),
    '/readyz': ({ authorized }) => ({
      status: 503,
      body: authorized ? { ready: false, message: 'Node n1: FRR snippet' } : { ready: false },
    }),
    '/metrics': { protected: true, heavy: true, handler: () => ({ status: 200, body: 'cosmolet_up 1\n' }) },
    '/status': {
      protected: true,
      heavy: true,
      cacheKey: () => ['v1'],
      handler: () => {
        counter.status += 1;
        return { status: 200, body: { routes: [] } };
      },
    },
  };
}

void test('which binds need a token: anything but loopback', () => {
  for (const a of ['127.0.0.1:8080', '127.1.2.3:1', '[::1]:8080', 'localhost:8080'])
    assert.equal(isLoopbackOnly(a), true, a);
  for (const a of [':8080', '0.0.0.0:8080', '[::]:8080', '10.0.0.1:8080', '[fd00::1]:80'])
    assert.equal(isLoopbackOnly(a), false, a);
});

void test('regression: /metrics and /status were open to anyone; now TokenReview + SubjectAccessReview, cached', async (t) => {
  const { server: api, client } = await startDouble(t);
  api.addToken('prom-token', {
    username: 'system:serviceaccount:monitoring:prometheus',
    groups: ['system:serviceaccounts'],
  });
  api.addToken('nobody-token', { username: 'nobody' });
  api.allow('system:serviceaccount:monitoring:prometheus', 'get', '/metrics');
  api.addToken('ops-token', { username: 'alice', groups: ['ops'] });
  api.allow('ops', 'get', '/status');
  const base = await serve(t, routes(), { authorizer: new DelegatingAuthorizer({ client }) });
  const get = (path: string, token?: string) =>
    fetch(base + path, token ? { headers: { authorization: `Bearer ${token}` } } : {});

  const none = await get('/metrics');
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer');
  assert.equal((await get('/status', 'forged')).status, 401);
  const denied = await get('/metrics', 'nobody-token');
  assert.equal(denied.status, 403);
  assert.match(await denied.text(), /nobody may not get \/metrics.*nonResourceURLs/);
  assert.equal((await get('/metrics', 'prom-token')).status, 200);
  assert.equal((await get('/status', 'prom-token')).status, 403, 'a grant is per path');
  assert.equal((await get('/status', 'ops-token')).status, 200);
  // Cached: the same token and path do not ask the API server again.
  const reviews = { ...api.reviews };
  for (let i = 0; i < 5; i++) assert.equal((await get('/metrics', 'prom-token')).status, 200);
  assert.deepEqual(api.reviews, reviews);
  // Probes stay open and say nothing about the cluster off loopback; a token there is never
  // reviewed (the messages are on the loopback probe listener).
  const before = { ...api.reviews };
  assert.equal((await get('/healthz', 'junk')).status, 200);
  assert.deepEqual(await (await get('/readyz')).json(), { ready: false });
  assert.deepEqual(await (await get('/readyz', 'nobody-token')).json(), { ready: false });
  assert.deepEqual(await (await get('/readyz', 'ops-token')).json(), { ready: false });
  assert.deepEqual(api.reviews, before);
});

void test('while the API server is away, a recently allowed caller is still served; a new one gets 503', async (t) => {
  const { server: api, client } = await startDouble(t);
  api.addToken('prom-token', { username: 'prom' });
  api.allow('prom', 'get', '/metrics');
  api.addToken('other', { username: 'prom' });
  const base = await serve(t, routes(), { authorizer: new DelegatingAuthorizer({ client, allowTtlMs: 0 }) });
  const get = (token: string) => fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal((await get('prom-token')).status, 200);
  await api.close();
  assert.equal((await get('prom-token')).status, 200);
  const r = await get('other');
  assert.equal(r.status, 503);
  assert.match(await r.text(), /cannot check the token/);
});

void test('a cached route is serialized once per change and gzipped when asked', async (t) => {
  const counter = { status: 0 };
  let version = 'v1';
  const big = {
    routes: Array.from({ length: 5000 }, (_, i) => ({
      prefix: `10.96.${i >> 8}.${i & 255}/32`,
      services: ['default/web'],
    })),
  };
  const base = await serve(
    t,
    {
      '/status': {
        heavy: true,
        cacheKey: () => [version],
        handler: () => {
          counter.status += 1;
          return { status: 200, body: big };
        },
      },
    },
    { heavyConcurrency: 32 },
  );
  const bodies = await Promise.all(
    Array.from({ length: 20 }, () => fetch(`${base}/status`).then((r) => r.text())),
  );
  assert.equal(counter.status, 1);
  assert.ok(bodies.every((b) => b === bodies[0]));
  assert.deepEqual(JSON.parse(bodies[0] ?? ''), big);
  version = 'v2';
  await fetch(`${base}/status`);
  assert.equal(counter.status, 2);
  // node's fetch decompresses by itself: ask with a raw socket-level request instead.
  const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
    const req = net.connect(Number(new URL(base).port), '127.0.0.1', () => {
      req.write('GET /status HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n');
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, split).toString();
      resolve({ encoding: /content-encoding: (\S+)/i.exec(head)?.[1], body: all.subarray(split + 4) });
    });
  });
  assert.equal(raw.encoding, 'gzip');
  assert.deepEqual(JSON.parse(gunzipSync(raw.body).toString()), big);
  assert.equal(counter.status, 2);
});

void test('heavy routes have a concurrency limit, and /healthz answers while they run', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const base = await serve(
    t,
    {
      '/healthz': () => ({ status: 200, body: 'ok\n' }),
      '/status': { heavy: true, handler: async () => (await gate, { status: 200, body: {} }) },
    },
    { heavyConcurrency: 2 },
  );
  const slow = [fetch(`${base}/status`), fetch(`${base}/status`)];
  // Wait until both are in flight: a third is refused at once.
  let third: Response;
  for (;;) {
    third = await fetch(`${base}/status`);
    if (third.status === 503) break;
  }
  assert.equal(third.headers.get('retry-after'), '1');
  const started = Date.now();
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  assert.ok(Date.now() - started < 1000);
  release();
  assert.deepEqual((await Promise.all(slow)).map((r) => r.status).filter((s) => s === 200).length >= 1, true);
});

void test('a client that never finishes its headers is cut off by the headers timeout', async (t) => {
  const base = await serve(t, routes(), { headersTimeoutMs: 300, requestTimeoutMs: 300 });
  const started = Date.now();
  const closed = await new Promise<number>((resolve) => {
    const s = net.connect(Number(new URL(base).port), '127.0.0.1', () =>
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'),
    );
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => resolve(Date.now() - started));
  });
  assert.ok(closed < 5000, `closed after ${closed} ms`);
});
