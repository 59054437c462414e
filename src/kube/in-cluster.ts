// The in-cluster transport, built from the pod's service account alone (no @kubernetes/client-node):
// KUBERNETES_SERVICE_HOST/PORT, the CA, and the bound token, which the kubelet rewrites before it
// expires (an hour by default): it is re-read every few seconds and at once after a 401.
import { existsSync, readFileSync } from 'node:fs';
import { errorMessage } from '../errors.js';
import { missing, type Transport } from './transport.js';
import { TokenFileCredentials } from './credentials.js';

export function inClusterTransport(env: NodeJS.ProcessEnv, dir: string, tokenReloadMs?: number): Transport {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  const tokenFile = `${dir}/token`;
  if (!existsSync(tokenFile)) {
    throw missing(`in-cluster: KUBERNETES_SERVICE_HOST is set but ${tokenFile} does not exist`);
  }
  if (!/^[0-9]{1,5}$/.test(port))
    throw missing(`in-cluster: KUBERNETES_SERVICE_PORT "${port}" is not a port`);
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const caFile = `${dir}/ca.crt`;
  let ca: Buffer | undefined;
  if (existsSync(caFile)) {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw missing(`in-cluster: ${caFile} cannot be read: ${errorMessage(err)}`);
    }
  }
  return {
    server,
    tls: { rejectUnauthorized: true, ...(ca ? { ca } : {}) },
    credentials: new TokenFileCredentials(tokenFile, tokenReloadMs),
  };
}
