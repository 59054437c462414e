// cosmolet's serving certificate in the lab and in tests, made with the openssl CLI as the chart's
// default makes it: one CA, and one certificate for the whole DaemonSet whose DNS name is the metrics
// Service's (<fullname>-metrics.<namespace>.svc). Clients connect to a node's address and verify that name
// (TLS servername), as a ServiceMonitor's tlsConfig.serverName does.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeCa, signCertificate } from '../openssl-ca.js';

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

/** The CA in `dir` (made unless there) and a serving certificate `<name>.crt` signed by it. */
export function makeServingCert(
  dir: string,
  options: { serverName?: string; name?: string; days?: number } = {},
): ServingCert {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const serverName = options.serverName ?? LAB_SERVER_NAME;
  const name = options.name ?? 'tls';
  if (!existsSync(join(dir, 'ca.crt'))) makeCa(dir, '/CN=cosmolet-ca');
  signCertificate(
    dir,
    name,
    `/CN=${serverName}`,
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${serverName}\n`,
    options.days ?? 365,
  );
  return {
    caFile: join(dir, 'ca.crt'),
    caKeyFile: join(dir, 'ca.key'),
    certFile: join(dir, `${name}.crt`),
    keyFile: join(dir, `${name}.key`),
    serverName,
  };
}
