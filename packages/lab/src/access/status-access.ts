// How the lab's clients reach cosmolet's /status, as a cluster's do with the chart (issue 21 item 3):
// cosmolet serves HTTPS with a certificate for cosmolet-metrics.cosmolet.svc from the lab's own CA
// (<stateDir>/tls, made with openssl), the CA is in the ConfigMap cosmolet/cosmolet-ca, and a
// reader presents a TokenRequest token of the ServiceAccount cosmolet/cosmolet-status bound to
// audience cosmolet. `cosmolet status` in the leaf finds all of it by its defaults; the lab's view
// (lab status) and the tests read each node the same way through its forwarded http.sock.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadKubeClient } from 'cosmolet/kube/client';
import type { KubeObject } from 'cosmolet/model/objects';
import { COSMOLET_NAMESPACE, type LabState } from '../state/state.js';
import { httpRequest, type HttpReply } from './http-client.js';
import { LAB_SERVER_NAME, makeServingCert, type ServingCert } from './serving-cert.js';

export const STATUS_SERVICE_ACCOUNT = 'cosmolet-status';
export const STATUS_USER = `system:serviceaccount:${COSMOLET_NAMESPACE}:${STATUS_SERVICE_ACCOUNT}`;
export const TOKEN_AUDIENCE = 'cosmolet';

/** The lab's CA and cosmolet's serving certificate, made once per lab directory. */
export function labServingCert(stateDir: string): ServingCert {
  const dir = join(stateDir, 'tls');
  const made: ServingCert = {
    caFile: join(dir, 'ca.crt'),
    caKeyFile: join(dir, 'ca.key'),
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    serverName: LAB_SERVER_NAME,
  };
  return existsSync(made.certFile) ? made : makeServingCert(dir, { serverName: LAB_SERVER_NAME });
}

/** The chart's CA ConfigMap and `cosmolet status`'s ServiceAccount (the real lab gets its RBAC from the chart). */
export function statusAccessObjects(caPem: string): KubeObject[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cosmolet-ca', namespace: COSMOLET_NAMESPACE },
      data: { 'ca.crt': caPem },
    } as KubeObject,
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: STATUS_SERVICE_ACCOUNT, namespace: COSMOLET_NAMESPACE },
    },
  ];
}

/** A 10-minute token of cosmolet-status bound to audience cosmolet, minted with the lab's kubeconfig. */
export async function labStatusToken(state: LabState): Promise<string | undefined> {
  try {
    const client = await loadKubeClient({ kubeconfigPath: state.kubeconfig, env: {} });
    const r = await client.request(
      'POST',
      `/api/v1/namespaces/${COSMOLET_NAMESPACE}/serviceaccounts/${STATUS_SERVICE_ACCOUNT}/token`,
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: [TOKEN_AUDIENCE], expirationSeconds: 600 },
      },
    );
    if (r.status !== 201 && r.status !== 200) return undefined;
    return (JSON.parse(r.body) as { status?: { token?: string } }).status?.token;
  } catch {
    return undefined;
  }
}

/** GET over HTTPS through a unix socket (a node's forwarded http.sock), verifying the lab's certificate. */
export function getTlsUnix(
  socketPath: string,
  path: string,
  cert: ServingCert,
  token: string | undefined,
  timeoutMs = 3000,
): Promise<HttpReply> {
  return httpRequest({
    socketPath,
    path,
    timeoutMs,
    ...(token ? { token } : {}),
    tls: { ca: readFileSync(cert.caFile), serverName: cert.serverName },
  });
}
