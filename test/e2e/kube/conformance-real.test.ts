// The shared conformance cases (test/conformance/kube-api.ts) against a real kube-apiserver: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler from Kubernetes' Go modules
// (packages/lab/src/control-plane), on loopback, in their default configuration (the watch cache on). The
// same cases pass against the API double (test/unit/kube/conformance-double.test.ts).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeClient, type KubeClient } from '../../../src/kube/client.js';
import { ControlPlane } from '@cosmolet/lab/control-plane/control-plane';
import { defineConformance, tokenClient, type ConformanceServer } from '../../conformance/kube-api.js';

const SA_NAMESPACE = 'default';
const SA_NAME = 'conformance-nobody';

async function startReal(): Promise<ConformanceServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-conformance-real-'));
  let cp: ControlPlane;
  try {
    cp = await ControlPlane.start({ dir: join(dir, 'control-plane') });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const admin = (): Promise<KubeClient> => loadKubeClient({ kubeconfigPath: cp.adminKubeconfig, env: {} });
  let client = await admin();
  const ca = readFileSync(cp.pki.caCert);
  return {
    client: () => client,
    forbiddenUser: `system:serviceaccount:${SA_NAMESPACE}:${SA_NAME}`,
    // kube-apiserver's watch cache: bookmarkFrequency (k8s.io/apiserver/pkg/storage/cacher).
    bookmarkIntervalMs: 60_000,
    // A ServiceAccount that no RBAC rule names, with a bound token from TokenRequest.
    forbiddenClient: async () => {
      const base = `/api/v1/namespaces/${SA_NAMESPACE}/serviceaccounts`;
      const sa = await client.request('POST', base, {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: SA_NAME },
      });
      if (sa.status !== 201 && sa.status !== 409) throw new Error(`ServiceAccount: ${sa.status} ${sa.body}`);
      const r = await client.request('POST', `${base}/${SA_NAME}/token`, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600 },
      });
      if (r.status !== 201) throw new Error(`TokenRequest: ${r.status} ${r.body}`);
      return tokenClient(
        cp.server,
        ca,
        (JSON.parse(r.body) as { status: { token: string } }).status.token,
        dir,
      );
    },
    unauthenticatedClient: () => tokenClient(cp.server, ca, 'not-a-token', dir),
    expireHistory: async () => {
      await cp.compactEtcd();
      await cp.kill('kube-apiserver');
      await cp.startComponent('kube-apiserver');
      client = await admin();
    },
    close: async () => {
      await cp.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

defineConformance('real kube-apiserver', startReal);
