// What the kubelet and the DaemonSet controller do for cosmolet on a real control plane, played by the
// lab's cluster process (`lab up --kube real`): a cosmolet Pod on every lab node (made again if it is
// deleted), and for each a TokenRequest token of the chart's ServiceAccount bound to that Pod, written
// with the CA and the namespace into `<node dir>/serviceaccount/`, which cosmolet gets bind-mounted
// at /var/run/secrets/kubernetes.io/serviceaccount. A token is renewed at 80 % of its life (as the
// kubelet does) and at once when its Pod is replaced; the file is replaced atomically and cosmolet
// re-reads it. The operator's token (node-kubeconfig: `cosmolet status`, the lab's view) likewise.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import type { KubeClient } from 'cosmolet/kube/client';
import type { KubeObject } from 'cosmolet/model/objects';
import {
  COSMOLET_SERVICE_ACCOUNT,
  cosmoletPod,
  cosmoletPodName,
  OPERATOR,
  OPERATOR_TOKEN_SECONDS,
  TOKEN_SECONDS,
  tokenRefreshAt,
} from './kube.js';
import { COSMOLET_NAMESPACE, NODE_API_PORT, type LabNode } from '../state/state.js';

interface Issued {
  /** The Pod the token is bound to ('' for the operator's). */
  uid: string;
  refreshAt: number;
}

function writeAtomic(file: string, text: string | Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

/** The directory a node's cosmolet gets mounted at the service-account path. */
export function tokenDir(node: LabNode): string {
  return join(node.dir, 'serviceaccount');
}

export class TokenKeeper {
  private readonly issued = new Map<string, Issued>();

  constructor(
    private readonly client: KubeClient,
    private readonly opts: {
      nodes: LabNode[];
      caCert: string;
      /** Where the operator's kubeconfig goes (API at 127.0.0.1:NODE_API_PORT, for every namespace). */
      operatorKubeconfig: string;
      tokenSeconds?: number;
    },
  ) {}

  private async call(method: string, path: string, body?: unknown): Promise<string> {
    const r = await this.client.request(method, path, body, { timeoutMs: 30_000 });
    if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
    return r.body;
  }

  private async token(namespace: string, sa: string, seconds: number, pod?: KubeObject): Promise<string> {
    const body = await this.call('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${sa}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        expirationSeconds: seconds,
        ...(pod
          ? {
              boundObjectRef: {
                apiVersion: 'v1',
                kind: 'Pod',
                name: pod.metadata?.name,
                uid: pod.metadata?.uid,
              },
            }
          : {}),
      },
    });
    return (JSON.parse(body) as { status: { token: string } }).status.token;
  }

  /** The node's cosmolet Pod, created when missing (as the DaemonSet controller would). */
  private async pod(node: LabNode): Promise<KubeObject> {
    const path = `/api/v1/namespaces/${COSMOLET_NAMESPACE}/pods/${cosmoletPodName(node)}`;
    const r = await this.client.request('GET', path);
    if (r.status === 200) {
      const p = JSON.parse(r.body) as KubeObject;
      if (!p.metadata?.deletionTimestamp) return p;
      throw new Error(`${cosmoletPodName(node)} is being deleted`);
    }
    if (r.status !== 404) throw new Error(`GET ${path}: HTTP ${r.status}`);
    return JSON.parse(
      await this.call('POST', `/api/v1/namespaces/${COSMOLET_NAMESPACE}/pods`, cosmoletPod(node)),
    ) as KubeObject;
  }

  /** Pods and tokens as they should be; renews what is due. Returns what it renewed. */
  async ensure(now = Date.now()): Promise<string[]> {
    const renewed: string[] = [];
    const seconds = this.opts.tokenSeconds ?? TOKEN_SECONDS;
    const ca = readFileSync(this.opts.caCert);
    for (const node of this.opts.nodes) {
      const pod = await this.pod(node);
      const uid = pod.metadata?.uid ?? '';
      const had = this.issued.get(node.name);
      if (had && had.uid === uid && now < had.refreshAt) continue;
      const token = await this.token(COSMOLET_NAMESPACE, COSMOLET_SERVICE_ACCOUNT, seconds, pod);
      const dir = tokenDir(node);
      mkdirSync(node.dir, { recursive: true });
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeAtomic(join(dir, 'ca.crt'), ca);
      writeAtomic(join(dir, 'namespace'), COSMOLET_NAMESPACE);
      writeAtomic(join(dir, 'token'), token);
      this.issued.set(node.name, { uid, refreshAt: tokenRefreshAt(now, seconds) });
      renewed.push(node.name);
    }
    const op = this.issued.get('operator');
    if (!op || now >= op.refreshAt) {
      const opSeconds = Math.max(seconds, OPERATOR_TOKEN_SECONDS);
      const token = await this.token(OPERATOR.namespace, OPERATOR.name, opSeconds);
      writeAtomic(
        this.opts.operatorKubeconfig,
        stringifyYaml({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            {
              name: 'cosmolet-lab',
              cluster: {
                server: `https://127.0.0.1:${NODE_API_PORT}`,
                'certificate-authority-data': ca.toString('base64'),
              },
            },
          ],
          users: [{ name: OPERATOR.name, user: { token } }],
          contexts: [{ name: 'cosmolet-lab', context: { cluster: 'cosmolet-lab', user: OPERATOR.name } }],
          'current-context': 'cosmolet-lab',
        }),
      );
      this.issued.set('operator', { uid: '', refreshAt: tokenRefreshAt(now, opSeconds) });
      renewed.push('operator');
    }
    return renewed;
  }
}
