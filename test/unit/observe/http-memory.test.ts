// Issue 21, item 1, memory: four sockets pipelining 5,000 junk-token requests each while the API
// server was slow took the server from 85 MB to 878 MB RSS, over the chart's 256 Mi limit. The
// server runs in a child process so only its own memory is measured.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { get, pipeline, until } from './attack-helpers.js';

interface Stats {
  port: number;
  rss: number;
  peak: number;
  reviews: number;
}

const MiB = 1024 * 1024;
/** The chart's memory limit. */
const CHART_LIMIT = 256 * MiB;

void test('regression: 4 sockets x 5,000 pipelined junk-token requests against a slow API server took RSS to 878 MB; now below the chart limit', async (t) => {
  // The slow API server: every TokenReview is answered "not authenticated" after 5 s.
  const slow = http.createServer((req, res) => {
    req.resume();
    const timer = setTimeout(
      () =>
        res
          .writeHead(201, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: { authenticated: false } })),
      5000,
    );
    res.on('close', () => clearTimeout(timer));
  });
  slow.listen(0, '127.0.0.1');
  await once(slow, 'listening');
  t.after(() => {
    slow.closeAllConnections();
    slow.close();
  });
  const apiUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
  const child = fork(join(import.meta.dirname, 'attack-server.ts'), [apiUrl], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  t.after(() => child.kill('SIGKILL'));
  let last: Stats | undefined;
  child.on('message', (m) => (last = m as Stats));
  const ask = async (): Promise<Stats> => {
    last = undefined;
    child.send('stats');
    await until('the server answered', () => last !== undefined);
    return last as unknown as Stats;
  };
  const [first] = (await once(child, 'message')) as [Stats];
  const before = first.rss;
  const sockets = Array.from({ length: 4 }, (_, s) =>
    pipeline(
      first.port,
      Array.from({ length: 5000 }, (_, i) => get(i % 2 ? '/metrics' : '/healthz', `junk-${s}-${i}`)),
    ),
  );
  t.after(() => sockets.forEach((c) => c.socket.destroy()));
  // Done when every attacking connection is closed, or (before) when every request is being reviewed.
  const deadline = Date.now() + 120_000;
  let now = await ask();
  while (!sockets.every((c) => c.isClosed()) && now.reviews < 20_000) {
    if (Date.now() > deadline)
      throw new Error(`attack neither cut off nor all reviewed: ${now.reviews} reviews`);
    await new Promise((r) => setTimeout(r, 50));
    now = await ask();
  }
  const mb = (n: number) => `${Math.round(n / MiB)} MiB`;
  t.diagnostic(`RSS before ${mb(before)}, peak under attack ${mb(now.peak)}; reviews started ${now.reviews}`);
  assert.ok(now.peak < CHART_LIMIT, `peak RSS ${mb(now.peak)}`);
  assert.ok(now.peak - before < 64 * MiB, `grew by ${mb(now.peak - before)}`);
  child.send('stop');
});
