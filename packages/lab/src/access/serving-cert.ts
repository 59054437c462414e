// cosmolet's serving certificate in the lab and in tests, made with the openssl CLI as the chart's
// default makes it: one CA, and one certificate for the whole DaemonSet whose DNS name is the metrics
// Service's (<fullname>-metrics.<namespace>.svc). Clients connect to a node's address and verify that name
// (TLS servername), as a ServiceMonitor's tlsConfig.serverName does.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError, LabErrorCodes } from '../errors.js';

export interface ServingCert {
  /** The CA clients trust (ca.crt). */
  caFile: string;
  caKeyFile: string;
  certFile: string;
  keyFile: string;
  /** The name clients verify. */
  serverName: string;
}

/** The chart's metrics Service for release `cosmolet` in namespace `cosmolet`: the lab's name. */
export const LAB_SERVER_NAME = 'cosmolet-metrics.cosmolet.svc';

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
  } catch (err) {
    throw new LabError(
      LabErrorCodes.LAB_PREREQUISITE,
      `openssl ${args[0] ?? ''} failed (is openssl installed?): ${(err as Error).message}`,
    );
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** The CA in `dir` (made unless there) and a serving certificate `<name>.crt` signed by it. */
export function makeServingCert(
  dir: string,
  options: { serverName?: string; name?: string; days?: number } = {},
): ServingCert {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const serverName = options.serverName ?? LAB_SERVER_NAME;
  const name = options.name ?? 'tls';
  if (!existsSync(join(dir, 'ca.crt')))
    openssl(
      [
        'req',
        '-x509',
        ...EC,
        '-days',
        '3650',
        '-subj',
        '/CN=cosmolet-ca',
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
      ],
      dir,
    );
  openssl(['req', ...EC, '-subj', `/CN=${serverName}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
  writeFileSync(
    join(dir, `${name}.ext`),
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${serverName}\n`,
  );
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
      String(options.days ?? 365),
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
  return {
    caFile: join(dir, 'ca.crt'),
    caKeyFile: join(dir, 'ca.key'),
    certFile: join(dir, `${name}.crt`),
    keyFile: join(dir, `${name}.key`),
    serverName,
  };
}
