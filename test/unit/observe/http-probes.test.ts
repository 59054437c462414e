// Issue 21, item 9: 256 keep-alive sockets, each sending GET /version every 4 s, took every
// connection of the one listener, and the kubelet's probes were reset (6 in a row: a restart loop).
// Now one source address gets at most 32 connections of http.address, and the probes have their
// own listener (http.probeAddress) with its own connections.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test, type TestContext } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import { startHttpServer } from '../../../src/observe/http.js';
import { silentLogger } from '../../../src/observe/log.js';
import { startRig } from '../controller/daemon-rig.js';
import { get, pipeline, until, type RawClient } from './attack-helpers.js';

/** One GET with a fresh connection (as the kubelet probes), from `localAddress`. */
function probe(
  port: number,
  path: string,
  localAddress = '127.0.0.1',
): Promise<{ status: number; body: string } | Error> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path, localAddress, agent: false, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', resolve);
  });
}

/** 256 keep-alive connections from 127.0.0.1, each having asked for /version once. */
async function flood(t: TestContext, port: number): Promise<RawClient[]> {
  const sockets = Array.from({ length: 256 }, () => pipeline(port, [get('/version')]));
  t.after(() => sockets.forEach((c) => c.socket.destroy()));
  await until('every attacking socket answered or closed', () =>
    sockets.every((c) => c.isClosed() || c.statuses().length === 1),
  );
  return sockets;
}

const outcome = (r: { status: number } | Error): string =>
  r instanceof Error ? r.message : String(r.status);

void test('regression: 256 keep-alive sockets from one client took every connection and probes were reset; now 32 per source', async (t) => {
  const server = await startHttpServer(
    '127.0.0.1:0',
    {
      '/healthz': () => ({ status: 200, body: 'ok\n' }),
      '/version': () => ({ status: 200, body: { version: 'test' } }),
    },
    silentLogger(),
  );
  t.after(() => server.close());
  const sockets = await flood(t, server.port);
  const open = sockets.filter((c) => !c.isClosed()).length;
  const probes: string[] = [];
  for (let i = 0; i < 6; i++) probes.push(outcome(await probe(server.port, '/healthz', '127.0.0.2')));
  t.diagnostic(`attacker's connections kept: ${open}/256; probes from another address: ${probes.join(' ')}`);
  assert.equal(open, 32);
  assert.deepEqual(probes, Array(6).fill('200'));
});

void test('regression: the probes shared the attacked listener; now http.probeAddress serves them apart, with readiness messages on loopback', async (t) => {
  const rig = await startRig(t);
  const port = rig.daemon.probePort;
  assert.ok(port !== undefined, 'a probe listener is started');
  const main = rig.daemon.httpPort ?? 0;
  // Several attacking addresses: the per-source cap alone does not save the main listener.
  const sockets = [2, 3, 4, 5, 6, 7, 8, 9].flatMap((n) =>
    Array.from({ length: 32 }, () => pipeline(main, [get('/version')], `127.0.0.${n}`)),
  );
  t.after(() => sockets.forEach((c) => c.socket.destroy()));
  await until('every attacking socket answered or closed', () =>
    sockets.every((c) => c.isClosed() || c.statuses().length === 1),
  );
  const probes: string[] = [];
  for (let i = 0; i < 6; i++) {
    probes.push(outcome(await probe(port, '/healthz')));
    probes.push(outcome(await probe(port, '/readyz')));
  }
  const mainProbe = outcome(await probe(main, '/healthz'));
  t.diagnostic(
    `probe listener under 256 attacking connections: ${probes.join(' ')}; main listener: ${mainProbe}`,
  );
  assert.ok(
    probes.every((p) => p === '200' || p === '503'),
    probes.join(' '),
  );
  // Only the open paths; /readyz with its messages (loopback: no token asked for).
  const readyz = await probe(port, '/readyz');
  assert.ok(!(readyz instanceof Error));
  const body = JSON.parse(readyz.body) as { conditions: { message?: string }[] };
  assert.ok(body.conditions.every((c) => typeof c.message === 'string'));
  assert.equal(outcome(await probe(port, '/version')), '200');
  assert.equal(outcome(await probe(port, '/metrics')), '404');
  assert.equal(outcome(await probe(port, '/status')), '404');
});

void test('http.probeAddress: "" for none, HOST:PORT, anything else named in the error', () => {
  assert.equal(validateConfig({}).http.probeAddress, '127.0.0.1:8081');
  assert.equal(validateConfig({ http: { probeAddress: '' } }).http.probeAddress, '');
  assert.equal(validateConfig({ http: { probeAddress: '[::1]:9081' } }).http.probeAddress, '[::1]:9081');
  assert.throws(() => validateConfig({ http: { probeAddress: '8081' } }), /http\.probeAddress/);
});
