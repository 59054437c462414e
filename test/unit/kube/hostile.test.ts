// A broken or hostile API server must not exhaust cosmolet's memory or CPU: a newline-free watch
// line, a list that never stops paging, an oversized page. A raw node:http server plays the API.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { loadKubeClient, type KubeClient } from '../../../src/kube/client.js';
import { Reflector, type ReflectorTimers } from '../../../src/kube/reflector.js';
import type { Service } from '../../../src/model/objects.js';
import { silentLogger } from '../../../src/observe/log.js';
import { FAST, svc, tempDir, waitFor } from './helpers.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;

async function hostile(t: TestContext, handler: Handler): Promise<KubeClient> {
  const server = http.createServer((req, res) => handler(req, res, new URL(req.url ?? '/', 'http://x')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    const closed = new Promise((r) => server.close(r));
    server.closeAllConnections();
    await closed;
  });
  const port = (server.address() as AddressInfo).port;
  const kc = join(tempDir(t), 'kc');
  writeFileSync(
    kc,
    `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n`,
  );
  return loadKubeClient({ kubeconfigPath: kc, env: {} });
}

function list(items: unknown[], cont = '', rv = '10'): string {
  return JSON.stringify({ kind: 'ServiceList', metadata: { resourceVersion: rv, continue: cont }, items });
}

function withRv(s: Service, rv: string): Service {
  return { ...s, metadata: { ...s.metadata, resourceVersion: rv } };
}

interface Seen {
  failures: string[];
  relists: number;
  opened: number;
}

function reflect(t: TestContext, client: KubeClient, timers: Partial<ReflectorTimers>) {
  const seen: Seen = { failures: [], relists: 0, opened: 0 };
  const r = new Reflector<Service>({
    client,
    resource: 'services',
    logger: silentLogger(),
    timers: { ...FAST, ...timers },
    hooks: {
      failed: (_res, err) => seen.failures.push(err instanceof Error ? err.message : String(err)),
      relist: () => seen.relists++,
      watchOpened: () => seen.opened++,
    },
  });
  t.after(() => r.stop());
  r.start();
  return { r, seen };
}

/** Writes `bytes` of 'x' in 64 KiB chunks, respecting backpressure; resolves when written. */
async function writeGarbage(res: http.ServerResponse, bytes: number): Promise<void> {
  const chunk = 'x'.repeat(64 << 10);
  for (let sent = 0; sent < bytes && !res.destroyed; sent += chunk.length) {
    if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
  }
}

void test('regression: a newline-free watch line is capped (ends the watch, relists), scanned linearly', async (t) => {
  let watches = 0;
  const client = await hostile(t, (_req, res, url) => {
    res.setHeader('Content-Type', 'application/json');
    if (url.searchParams.get('watch') !== '1') return res.end(list([withRv(svc('default', 'web'), '5')]));
    watches += 1;
    res.writeHead(200);
    if (watches === 1) {
      // 20 MB without a newline: more than the 16 MiB cap.
      void writeGarbage(res, 20 << 20);
      return;
    }
    res.write('');
  });
  const { r, seen } = reflect(t, client, {});
  await waitFor('the oversized line fails the watch', () => seen.failures.length > 0, 30_000);
  assert.match(seen.failures[0] ?? '', /a line longer than 16777216 bytes; relisting/);
  await waitFor('relisted after the oversized line', () => seen.relists >= 2 && r.synced, 10_000);
  assert.equal(r.size, 1);
});

void test('a 40 MB line under the cap is scanned linearly (regression: 10/20/40 MB took 0.9/5.5/16.9 s)', async (t) => {
  let watches = 0;
  const client = await hostile(t, (_req, res, url) => {
    res.setHeader('Content-Type', 'application/json');
    if (url.searchParams.get('watch') !== '1') return res.end(list([]));
    watches += 1;
    res.writeHead(200);
    if (watches > 1) return void res.write('');
    void (async () => {
      await writeGarbage(res, 40 << 20);
      res.write(
        '\n' + JSON.stringify({ type: 'ADDED', object: withRv(svc('default', 'after'), '11') }) + '\n',
      );
    })();
  });
  const started = Date.now();
  const { r } = reflect(t, client, { maxLineBytes: 64 << 20 });
  await waitFor('the event after the long (malformed) line arrives', () => r.size === 1, 30_000);
  const seconds = (Date.now() - started) / 1000;
  assert.ok(seconds < 8, `40 MB took ${seconds} s`);
});

void test('regression: endless continue tokens are a failed list; the previous state is kept', async (t) => {
  let mode: 'good' | 'endless' | 'repeat' = 'good';
  let n = 0;
  const watches = new Set<http.ServerResponse>();
  const expireWatches = (): void => {
    for (const w of watches)
      w.end(
        JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old' } }) + '\n',
      );
    watches.clear();
  };
  const client = await hostile(t, (_req, res, url) => {
    res.setHeader('Content-Type', 'application/json');
    if (url.searchParams.get('watch') === '1') {
      res.writeHead(200);
      res.write('');
      watches.add(res);
      return;
    }
    if (mode === 'good') return res.end(list([withRv(svc('default', 'kept'), '5')]));
    n += 1;
    const token = mode === 'repeat' ? 'same' : `page-${n}`;
    res.end(list([withRv(svc('default', `s${n}`), String(n))], token));
  });
  const { r, seen } = reflect(t, client, { maxListPages: 50 });
  await waitFor('first list and a watch', () => r.synced && watches.size > 0);
  mode = 'endless';
  // The open watch ends with 410: the reflector relists into the runaway server.
  expireWatches();
  await waitFor(
    'runaway list refused',
    () => seen.failures.some((f) => /runaway list \(50 pages/.test(f)),
    20_000,
  );
  assert.deepEqual(
    r.items().map((s) => s.metadata?.name),
    ['kept'],
  );
  mode = 'repeat';
  await waitFor(
    'repeated token refused',
    () => seen.failures.some((f) => /continue token repeated/.test(f)),
    20_000,
  );
  assert.deepEqual(
    r.items().map((s) => s.metadata?.name),
    ['kept'],
  );
});

void test('an object larger than the page cap fails the list (pages halved down to 1) without reading it all', async (t) => {
  const limits: string[] = [];
  const client = await hostile(t, (_req, res, url) => {
    limits.push(url.searchParams.get('limit') ?? '');
    res.setHeader('Content-Type', 'application/json');
    res.writeHead(200);
    res.write(
      '{"kind":"ServiceList","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"a","annotations":{"x":"',
    );
    void writeGarbage(res, 8 << 20).then(() => res.end());
  });
  const { r, seen } = reflect(t, client, { maxPageBytes: 1 << 20 });
  await waitFor('oversized page refused', () => seen.failures.length > 0, 20_000);
  assert.match(seen.failures[0] ?? '', /larger than 1048576 bytes/);
  assert.deepEqual(limits.slice(0, 10), ['500', '250', '125', '62', '31', '15', '7', '3', '1']);
  assert.equal(r.synced, false);
});

/** A list server over `items`, paged by the request's limit (the continue token is the offset). */
function pagedList(items: unknown[], url: URL): string {
  const limit = Number(url.searchParams.get('limit') ?? items.length);
  const from = Number(url.searchParams.get('continue') || 0);
  const to = Math.min(items.length, from + limit);
  return list(items.slice(from, to), to < items.length ? String(to) : '');
}

void test('regression: Services with large annotations never synced (every 500-object page was over the cap): pages shrink until they fit', async (t) => {
  // 40 Services with 100 KB annotations: 4 MB in a page of 500, the cap is 1 MiB here (64 MiB by
  // default, which 280 Services of 250 KB exceeded).
  const big = 'a'.repeat(100_000);
  const items = Array.from({ length: 40 }, (_, i) => {
    const s = withRv(svc('default', `s${i}`), String(i + 1));
    const annotations: Record<string, string> = { big, 'cosmolet.io/route-class': 'gold' };
    return { ...s, metadata: { ...s.metadata, annotations } };
  });
  const limits: string[] = [];
  const watches: http.ServerResponse[] = [];
  const client = await hostile(t, (_req, res, url) => {
    res.setHeader('Content-Type', 'application/json');
    if (url.searchParams.get('watch') === '1') {
      res.writeHead(200);
      res.write('');
      return void watches.push(res);
    }
    limits.push(url.searchParams.get('limit') ?? '');
    res.end(pagedList(items, url));
  });
  const { r, seen } = reflect(t, client, { maxPageBytes: 1 << 20 });
  await waitFor('synced', () => r.synced, 20_000);
  assert.equal(r.size, 40);
  assert.equal(r.items()[0]?.metadata?.annotations?.['cosmolet.io/route-class'], 'gold');
  assert.deepEqual(seen.failures, []);
  // 500 down to 7 (700 KB), then the rest of the list in pages of 7.
  assert.deepEqual(limits.slice(0, 8), ['500', '250', '125', '62', '31', '15', '7', '7']);

  // The annotations go; the next list grows its pages back (full pages under a quarter of the cap).
  for (const s of items) s.metadata.annotations = { 'cosmolet.io/route-class': 'gold' };
  await waitFor('watching', () => watches.length === 1);
  limits.length = 0;
  watches[0]?.end(
    JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old' } }) + '\n',
  );
  await waitFor('relisted', () => watches.length === 2);
  assert.deepEqual(limits, ['7', '14', '28']);
});

void test('regression: a list answered 200 with a body that is not a list withdrew every object', async (t) => {
  let body = list([withRv(svc('default', 'kept'), '5')]);
  let expire = false;
  const client = await hostile(t, (_req, res, url) => {
    res.setHeader('Content-Type', 'application/json');
    if (url.searchParams.get('watch') === '1') {
      // The watch fails too: every watch asks for a relist.
      if (expire) {
        res.writeHead(410);
        return void res.end(JSON.stringify({ kind: 'Status', code: 410, message: 'too old' }));
      }
      res.writeHead(200);
      res.write('');
      return void open.push(res);
    }
    res.end(body);
  });
  const open: http.ServerResponse[] = [];
  const { r, seen } = reflect(t, client, {});
  await waitFor('first list', () => r.synced && r.size === 1 && open.length === 1);
  expire = true;
  open[0]?.end(
    JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old' } }) + '\n',
  );
  const cases: [string, RegExp][] = [
    ['{}', /kind is missing, not a list/],
    [
      JSON.stringify({ kind: 'Status', code: 500, message: 'etcd down' }),
      /kind is "Status", not a list \(etcd down\)/,
    ],
    [
      JSON.stringify({ kind: 'ServiceList', metadata: { resourceVersion: '9' }, items: null }),
      /items is null, not an array/,
    ],
    ['[]', /the body is not a JSON object/],
    [JSON.stringify({ kind: 'ServiceList', metadata: {}, items: [] }), /metadata.resourceVersion is missing/],
    ['{"kind":"ServiceList","items":[{"metadata":', /ends before the JSON object does/],
  ];
  for (const [bad, why] of cases) {
    body = bad;
    const before = seen.failures.length;
    await waitFor(
      `a failed list for ${bad}`,
      () => seen.failures.slice(before).some((f) => why.test(f)),
      10_000,
    );
    assert.deepEqual(
      r.items().map((s) => s.metadata?.name),
      ['kept'],
      `after ${bad}`,
    );
  }
});

void test('regression: watches that open with 200 and die at once are failures, never "the API answers"', async (t) => {
  const client = await hostile(t, (_req, res, url) => {
    res.setHeader('Content-Type', 'application/json');
    if (url.searchParams.get('watch') !== '1') return res.end(list([]));
    res.writeHead(200);
    res.end();
  });
  const { seen } = reflect(t, client, { shortWatchMs: 1000 });
  await waitFor('several immediate closes', () => seen.failures.length >= 3, 10_000);
  assert.match(seen.failures[0] ?? '', /closed immediately/);
  assert.equal(seen.opened, 0);
});
