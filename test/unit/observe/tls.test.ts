// http.tls: the HTTP endpoints over HTTPS with a certificate a client verifies against the CA and
// the metrics Service's name (issue 21 item 3: /metrics and /status were plain http, so the bearer
// token crossed the network in cleartext), the pair re-read when it is rotated in place, and the
// config keys that come in pairs.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls';
import { validateConfig } from '../../../src/config/load.js';
import { makeServingCert } from '@cosmolet/lab/access/serving-cert';
import { startHttpServer } from '../../../src/observe/http.js';
import { silentLogger } from '../../../src/observe/log.js';
import { RELOAD_CHECK_MS, watchServingPair } from '../../../src/observe/tls.js';
import { waitFor } from '@cosmolet/lab/wait';

const NAME = 'cosmolet.cosmolet.svc';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** GET over HTTPS to 127.0.0.1, verifying the certificate against `ca` for the name NAME. */
function get(port: number, ca: Buffer): Promise<{ status: number; body: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path: '/metrics',
        ca,
        servername: NAME,
        agent: false,
        checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(NAME, cert),
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            serial: (res.socket as TLSSocket).getPeerCertificate().serialNumber,
          }),
        );
      },
    );
    req.on('error', reject);
  });
}

void test('regression: /metrics was served in cleartext; with http.tls it is HTTPS a client verifies against the CA and the Service name', async (t) => {
  const dir = tempDir(t);
  const c = makeServingCert(dir, { serverName: NAME });
  const server = await startHttpServer(
    '127.0.0.1:0',
    { '/metrics': () => ({ status: 200, body: 'cosmolet_up 1\n' }) },
    silentLogger(),
    { tls: { certFile: c.certFile, keyFile: c.keyFile } },
  );
  t.after(() => server.close());
  const ca = readFileSync(c.caFile);
  const r = await get(server.port, ca);
  assert.equal(r.status, 200);
  assert.equal(r.body, 'cosmolet_up 1\n');
  // Another CA is refused, and so is plain http on the same port.
  const other = makeServingCert(join(dir, 'other'), { serverName: NAME });
  await assert.rejects(
    get(server.port, readFileSync(other.caFile)),
    /self[- ]signed|unable to verify|certificate/i,
  );
  const plain = await fetch(`http://127.0.0.1:${server.port}/metrics`).then(
    (res) => res.status,
    () => 'refused',
  );
  assert.notEqual(plain, 200, 'no cleartext answer');
});

void test('a serving certificate rotated in place is served after the next check; a pair that does not load keeps the previous one', async (t) => {
  const dir = tempDir(t);
  const first = makeServingCert(dir, { serverName: NAME, name: 'a' });
  const second = makeServingCert(dir, { serverName: NAME, name: 'b' });
  const live = { certFile: join(dir, 'live.crt'), keyFile: join(dir, 'live.key') };
  copyFileSync(first.certFile, live.certFile);
  copyFileSync(first.keyFile, live.keyFile);
  const ca = readFileSync(first.caFile);
  const server = await startHttpServer(
    '127.0.0.1:0',
    { '/metrics': () => ({ status: 200, body: 'ok\n' }) },
    silentLogger(),
    { tls: live },
  );
  t.after(() => server.close());
  const serialOf = (file: string): string =>
    new X509Certificate(readFileSync(file)).serialNumber.toUpperCase();
  assert.equal((await get(server.port, ca)).serial.toUpperCase(), serialOf(first.certFile));

  // The watcher alone, on a manual clock, against its own server.
  let now = 0;
  const swapped: unknown[] = [];
  const fake = { setSecureContext: (ctx: unknown) => swapped.push(ctx) } as unknown as https.Server;
  const w = watchServingPair(fake, live, silentLogger(), { intervalMs: 5000, now: () => now });
  // Half a rotation: the new certificate next to the old key does not load; nothing is swapped.
  copyFileSync(second.certFile, live.certFile);
  utimesSync(live.certFile, new Date(), new Date(Date.now() + 10_000));
  now = 5000;
  w.check();
  assert.equal(swapped.length, 0, 'a mismatched pair is not taken');
  copyFileSync(second.keyFile, live.keyFile);
  utimesSync(live.keyFile, new Date(), new Date(Date.now() + 20_000));
  now = 7000;
  w.check();
  assert.equal(swapped.length, 0, 'not checked again within the interval');
  now = 10_000;
  w.check();
  assert.equal(swapped.length, 1, 'the complete new pair is taken');

  // The real server: its own watcher checks on a new connection once RELOAD_CHECK_MS has passed.
  await waitFor(
    'the rotated certificate is served',
    async () => (await get(server.port, ca)).serial.toUpperCase() === serialOf(second.certFile),
    RELOAD_CHECK_MS + 10_000,
    200,
  );
});

void test('http.tls.certFile and keyFile come in pairs; each error names the missing key', () => {
  assert.throws(() => validateConfig({ http: { tls: { certFile: '/c' } } }), /http\.tls\.keyFile/);
  assert.throws(() => validateConfig({ http: { tls: { keyFile: '/k' } } }), /http\.tls\.certFile/);
  assert.doesNotThrow(() => validateConfig({ http: { tls: { certFile: '/c', keyFile: '/k' } } }));
  assert.throws(() => validateConfig({ http: { tokenAudiences: [] } }), /http\.tokenAudiences/);
});
