// Issue 21, items 1 and 8: what an unauthenticated client could do to the HTTP surface with junk
// bearer tokens. Every review went to the API server under cosmolet's own identity, on any path,
// as many at once as Node parsed requests; junk refusals evicted allowed callers; junk requests
// waiting for their review held the heavy slots Prometheus needs.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { DelegatingAuthorizer } from '../../../src/observe/auth.js';
import { startHttpServer, type HttpRoutes, type HttpServerOptions } from '../../../src/observe/http.js';
import { silentLogger } from '../../../src/observe/log.js';
import { get, pipeline, reviewClient, until } from './attack-helpers.js';

const routes: HttpRoutes = {
  '/healthz': () => ({ status: 200, body: 'ok\n' }),
  '/version': () => ({ status: 200, body: { version: 'test' } }),
  '/metrics': { protected: true, heavy: true, handler: () => ({ status: 200, body: 'cosmolet_up 1\n' }) },
};

async function serve(t: TestContext, options: HttpServerOptions): Promise<number> {
  const server = await startHttpServer('127.0.0.1:0', routes, silentLogger(), options);
  t.after(() => server.close());
  return server.port;
}

void test('regression: a junk token on /healthz started a TokenReview (2,000 pipelined: 2,000 at once); now none', async (t) => {
  const client = reviewClient([], true);
  t.after(() => client.up());
  const port = await serve(t, { authorizer: new DelegatingAuthorizer({ client }) });
  // One token per request, as an attacker would, so no two could share a review.
  const c = pipeline(
    port,
    Array.from({ length: 2000 }, (_, i) => get('/healthz', `junk-${i}`)),
  );
  t.after(() => c.socket.destroy());
  // Closed for pipelining too deep; before, every request waited for its own review instead.
  await until('the connection closed or 2,000 reviews started', () => c.isClosed() || client.started >= 2000);
  t.diagnostic(
    `2,000 pipelined junk-token /healthz on one socket: ${client.peakInFlight} review(s) in flight`,
  );
  assert.equal(client.started, 0, 'no review for an open path');
  assert.ok(c.statuses().every((s) => s === 200));
});

void test('regression: pipelined junk-token /metrics requests all started their review at once; now one per connection', async (t) => {
  const client = reviewClient([], true);
  t.after(() => client.up());
  const port = await serve(t, { authorizer: new DelegatingAuthorizer({ client }) });
  const c = pipeline(
    port,
    Array.from({ length: 2000 }, (_, i) => get('/metrics', `junk-${i}`)),
  );
  t.after(() => c.socket.destroy());
  // More waiting than MAX_PIPELINED behind the first: the connection is closed.
  await c.closed;
  t.diagnostic(
    `2,000 pipelined junk-token /metrics on one socket: ${client.peakInFlight} review(s) in flight`,
  );
  assert.equal(client.peakInFlight, 1);
});

void test('regression: nothing capped reviews in flight; beyond the cap a new token is answered 429 with Retry-After', async (t) => {
  const client = reviewClient([], true);
  t.after(() => client.up());
  const port = await serve(t, {
    authorizer: new DelegatingAuthorizer({ client, maxReviewsInFlight: 16 }),
  });
  const clients = Array.from({ length: 17 }, (_, i) => pipeline(port, [get('/metrics', `junk-${i}`)]));
  t.after(() => clients.forEach((c) => c.socket.destroy()));
  await until('one answered', () => clients.some((c) => c.statuses().length > 0));
  await until('16 reviews started', () => client.inFlight === 16);
  assert.equal(client.started, 16);
  const refused = clients.filter((c) => c.statuses().length > 0);
  assert.equal(refused.length, 1);
  assert.deepEqual(refused[0]?.statuses(), [429]);
  assert.match(refused[0]?.text() ?? '', /retry-after: 1\r\n/i);
  // The reviews answer: every other request gets its 401.
  client.up();
  await until('all answered', () => clients.every((c) => c.statuses().length === 1));
  assert.equal(clients.filter((c) => c.statuses()[0] === 401).length, 16);
});

void test('regression: 1,000 junk tokens emptied the authorization cache, allowed callers included', async () => {
  let now = 0;
  const client = reviewClient(['prom-token']);
  const auth = new DelegatingAuthorizer({ client, now: () => now });
  assert.equal((await auth.check('Bearer prom-token', '/metrics')).status, 200);
  for (let i = 0; i < 5000; i++) assert.equal((await auth.check(`Bearer junk-${i}`, '/metrics')).status, 401);
  // The API server goes away; Prometheus's allow is still cached (within its 60 s).
  client.down();
  now += 30_000;
  const started = client.started;
  assert.equal((await auth.check('Bearer prom-token', '/metrics')).status, 200);
  assert.equal(client.started, started, 'answered from the cache');
});

void test('during an outage, an allow past its TTL is answered at once while its re-check waits', async () => {
  let now = 0;
  const client = reviewClient(['prom-token']);
  const auth = new DelegatingAuthorizer({ client, now: () => now });
  assert.equal((await auth.check('Bearer prom-token', '/metrics')).status, 200);
  // The API server fails: one review says so.
  client.down();
  assert.equal((await auth.check('Bearer junk', '/metrics')).status, 503);
  // Now it hangs; Prometheus's allow is 2 minutes old.
  client.hang();
  now += 120_000;
  assert.equal((await auth.check('Bearer prom-token', '/metrics')).status, 200);
  assert.equal(client.inFlight, 1, 'the re-check is running behind the answer');
  // 15 minutes after the allow, it is no longer honoured.
  now += 15 * 60_000;
  const late = auth.check('Bearer prom-token', '/metrics');
  client.down();
  assert.equal((await late).status, 503);
});

void test('regression: during an API outage four junk-token /metrics requests held every heavy slot, cutting Prometheus off', async (t) => {
  let now = 0;
  const client = reviewClient(['prom-token']);
  t.after(() => client.up());
  const auth = new DelegatingAuthorizer({ client, now: () => now });
  const port = await serve(t, { authorizer: auth, heavyConcurrency: 4 });
  const scrape = async (): Promise<number> =>
    (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: 'Bearer prom-token' } }))
      .status;
  assert.equal(await scrape(), 200);
  // 1,000 junk tokens answered 401 while the API server is up ...
  for (let i = 0; i < 1000; i++) await auth.check(`Bearer junk-${i}`, '/metrics');
  // ... then it hangs: four junk-token requests wait for their reviews.
  client.hang();
  now += 30_000;
  const junk = Array.from({ length: 4 }, (_, i) => pipeline(port, [get('/metrics', `outage-junk-${i}`)]));
  t.after(() => junk.forEach((c) => c.socket.destroy()));
  await until('4 reviews hanging', () => client.inFlight === 4);
  const served: number[] = [];
  for (let i = 0; i < 10; i++) served.push(await scrape());
  t.diagnostic(
    `Prometheus scrapes during the outage attack: ${served.filter((s) => s === 200).length}/10 served`,
  );
  assert.deepEqual(served, Array(10).fill(200));
});

void test('a request body is refused (413) and its connection closed, never buffered', async (t) => {
  const port = await serve(t, {});
  const big = 'x'.repeat(1 << 20);
  for (const head of [
    `POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n`,
    'GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
  ]) {
    const c = pipeline(port, [head, big]);
    t.after(() => c.socket.destroy());
    await c.closed;
    assert.deepEqual(c.statuses(), [413]);
  }
});
