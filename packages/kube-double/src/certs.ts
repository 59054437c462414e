// The API double's throwaway TLS certificate, made by the openssl CLI (no npm dependency can make
// one), once per host and process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TlsMaterial {
  key: string;
  cert: string;
}

const certCache = new Map<string, TlsMaterial>();

export function makeSelfSigned(host: string): TlsMaterial {
  const cached = certCache.get(host);
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-apiserver-tls-'));
  try {
    const san = /^[\d.]+$|:/.test(host) ? `IP:${host},DNS:localhost` : `DNS:${host},IP:127.0.0.1`;
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=cosmolet-apiserver-double',
        '-addext',
        `subjectAltName=${san}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore', timeout: 20_000 },
    );
    const made = {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
    certCache.set(host, made);
    return made;
  } catch (err) {
    // A test double's setup failure: a plain Error (the double has no error catalogue of its own).
    throw new Error('cannot make a TLS certificate (is openssl installed?)', { cause: err });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
