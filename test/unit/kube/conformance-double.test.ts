// The shared conformance cases (test/conformance/kube-api.ts) against the API double: the same
// cases pass against a real kube-apiserver (test/e2e/kube/conformance-real.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadKubeClient } from '../../../src/kube/client.js';
import { FakeApiServer } from '@cosmolet/kube-double/apiserver';
import { defineConformance, tokenClient, type ConformanceServer } from '../../conformance/kube-api.js';

const FORBIDDEN_USER = 'system:serviceaccount:default:conformance-nobody';

async function startDouble(): Promise<ConformanceServer> {
  // Bookmarks every 2 s instead of kube-apiserver's 60 s: the cases' timing follows bookmarkIntervalMs.
  const api = await FakeApiServer.start({ token: 'conformance-token', bookmarkIntervalMs: 2000 });
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-conformance-'));
  api.writeKubeconfig(join(dir, 'kubeconfig'));
  const client = await loadKubeClient({ kubeconfigPath: join(dir, 'kubeconfig'), env: {} });
  const ca = Buffer.from(
    (parseYaml(api.kubeconfig()) as { clusters: { cluster: Record<string, string> }[] }).clusters[0]?.cluster[
      'certificate-authority-data'
    ] ?? '',
    'base64',
  );
  return {
    client: () => client,
    forbiddenUser: FORBIDDEN_USER,
    bookmarkIntervalMs: 2000,
    forbiddenClient: async () => {
      api.addToken('conformance-nobody-token', { username: FORBIDDEN_USER, resources: 'none' });
      return tokenClient(api.url, ca, 'conformance-nobody-token', dir);
    },
    unauthenticatedClient: () => tokenClient(api.url, ca, 'not-a-token', dir),
    expireHistory: () => {
      api.compact();
      api.dropWatches();
      return Promise.resolve();
    },
    close: async () => {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

defineConformance('double', startDouble);
