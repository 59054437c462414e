// Certificates made with the openssl CLI (no npm dependency makes X.509 certificates): a CA in a
// directory and certificates it signs. The control plane's PKI (control-plane/pki.ts) and cosmolet's
// serving certificate (access/serving-cert.ts) are both made here.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError, LabErrorCodes } from './errors.js';

/** Runs openssl in `cwd`; a failure is a missing prerequisite (openssl not installed). */
export function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
  } catch (err) {
    throw new LabError(
      LabErrorCodes.LAB_PREREQUISITE,
      `openssl ${args[0] ?? ''} failed (is openssl installed?): ${(err as Error).message}`,
    );
  }
}

/** A new P-256 key, unencrypted. */
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA in `dir`: ca.key and ca.crt, valid ten years. */
export function makeCa(dir: string, subject: string): void {
  openssl(
    ['req', '-x509', ...EC_KEY, '-days', '3650', '-subj', subject, '-keyout', 'ca.key', '-out', 'ca.crt'],
    dir,
  );
}

/**
 * `<name>.key` and `<name>.crt` in `dir`, signed by the CA there, with the X.509 v3 extensions
 * `extensions` (openssl extfile lines: key usage, subjectAltName, ...).
 */
export function signCertificate(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
  days: number,
): void {
  openssl(['req', ...EC_KEY, '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      String(days),
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}
