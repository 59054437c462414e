// Shared test helpers: wait for a condition with a deadline (never a fixed sleep), start the API
// double and a client for it, and build objects.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { loadKubeClient, type KubeClient } from '../../../src/kube/client.js';
import type { EndpointSlice, Service } from '../../../src/model/objects.js';
import { FakeApiServer, type ApiServerOptions } from '@cosmolet/kube-double/apiserver';

/** Polls `cond` every few ms until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-kube-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts the double (https + token by default) and a client loaded from the kubeconfig it writes. */
export async function startDouble(
  t: TestContext,
  options: ApiServerOptions = {},
): Promise<{ server: FakeApiServer; client: KubeClient; kubeconfig: string }> {
  const server = await FakeApiServer.start({ token: 'test-token', ...options });
  t.after(() => server.close());
  const kubeconfig = join(tempDir(t), 'kubeconfig');
  server.writeKubeconfig(kubeconfig);
  const client = await loadKubeClient({ kubeconfigPath: kubeconfig, env: {} });
  return { server, client, kubeconfig };
}

/**
 * A client as the DaemonSet's pod makes it: KUBERNETES_SERVICE_HOST/PORT and the service account's
 * token and CA files (and no @kubernetes/client-node, which a kubeconfig would load: seconds per process).
 */
export async function inClusterClient(api: FakeApiServer, dir: string): Promise<KubeClient> {
  const cluster = (parseYaml(api.kubeconfig()) as { clusters: { cluster: Record<string, string> }[] })
    .clusters[0]?.cluster;
  mkdirSync(dir);
  writeFileSync(join(dir, 'token'), api.token ?? '');
  writeFileSync(join(dir, 'ca.crt'), Buffer.from(cluster?.['certificate-authority-data'] ?? '', 'base64'));
  const { hostname, port } = new URL(api.url);
  return loadKubeClient({
    env: { KUBERNETES_SERVICE_HOST: hostname, KUBERNETES_SERVICE_PORT: port },
    serviceAccountDir: dir,
  });
}

export function svc(
  namespace: string,
  name: string,
  labels: Record<string, string> = {},
  ip = '10.96.0.10',
): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace, name, labels },
    spec: { type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip] },
  };
}

export function slice(namespace: string, name: string, service: string, addresses: string[]): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace, name, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true }, nodeName: 'node-a' })),
  };
}

/** Fast reflector timers for tests. */
export const FAST = {
  backoffInitialMs: 20,
  backoffMaxMs: 200,
  watchTimeoutMinSeconds: 300,
  watchTimeoutMaxSeconds: 600,
  watchdogGraceMs: 30_000,
  shortWatchMs: 0,
  listTimeoutMs: 5000,
  pageSize: 500,
  probeWatchSeconds: 1,
  probeGraceMs: 200,
};
