// The controller e2e harness on a real Kubernetes control plane: the fabric lab (real FRR leaf, real
// GoBGP), etcd + kube-apiserver + kube-controller-manager + kube-scheduler built from Kubernetes' Go
// modules (packages/lab/src/control-plane), a node agent playing the kubelet for `node-a` (the fabric's node)
// and `node-b` (a node with no fabric), and the built `cosmolet run` in the node namespace exactly as
// in a cluster: the chart's RBAC applied with kubectl, a bound ServiceAccount token from TokenRequest
// mounted at /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST/PORT, no kubeconfig.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { ControlPlane } from '@cosmolet/lab/control-plane/control-plane';
import { NodeAgent, type AgentNode } from '@cosmolet/lab/control-plane/node-agent';
import { loadKubeClient, type KubeClient } from '../../../src/kube/client.js';
import { helmBinary } from '../../../scripts/render-deploy.js';
import type { CosmoletCredentials } from '@cosmolet/lab/cosmolet/start';
import { ControllerLab, ROOT, type ControllerLabOptions } from '../controller/harness.js';

export const NAMESPACE = 'cosmolet';
export const SERVICE_ACCOUNT = 'cosmolet';

export interface RealClusterOptions extends ControllerLabOptions {
  /** Chart values for the RBAC rendered and applied (e.g. config.services.namespaces). */
  chartValues?: Record<string, unknown>;
  /** Extra kube-apiserver flags. */
  apiserverArgs?: string[];
}

/** Renders the chart's ServiceAccount and RBAC as `helm template` does for a release `cosmolet`. */
export function renderRbac(values: Record<string, unknown> = {}): string {
  const args = ['template', 'cosmolet', join(ROOT, 'charts', 'cosmolet'), '--namespace', NAMESPACE];
  for (const t of ['serviceaccount.yaml', 'rbac.yaml']) args.push('--show-only', `templates/${t}`);
  const r = spawnSync(helmBinary(), [...args, '--values', '-'], {
    input: stringifyYaml(values),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`helm template: ${r.stderr}`);
  return r.stdout;
}

export class RealClusterLab extends ControllerLab {
  cp!: ControlPlane;
  agent!: NodeAgent;
  /** cosmolet's KubeClient with the admin kubeconfig: how the tests change the cluster. */
  admin!: KubeClient;
  /** The ServiceAccount token directory cosmolet gets mounted (token, ca.crt, namespace). */
  saDir = '';
  readonly agentErrors: string[] = [];

  constructor(readonly realOpts: RealClusterOptions) {
    super(realOpts);
  }

  /** The fabric's node and a node without a fabric, as the kubelet would register them. */
  agentNodes(): AgentNode[] {
    const a = this.fabric.node(0);
    return [
      {
        name: this.nodeName,
        addresses: [a.routerId, a.loopbackV6],
        podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'],
      },
      {
        name: 'node-b',
        addresses: ['10.255.9.2', 'fd00:255:9::2'],
        podCIDRs: ['10.244.2.0/24', 'fd00:10:244:2::/64'],
      },
    ];
  }

  protected override async startApi(): Promise<void> {
    this.cp = await ControlPlane.start({
      dir: join(this.dir, 'control-plane'),
      ...(this.realOpts.apiserverArgs ? { apiserverArgs: this.realOpts.apiserverArgs } : {}),
    });
    await this.bridge(this.cp.record.apiserverPort);
    this.admin = await loadKubeClient({ kubeconfigPath: this.cp.adminKubeconfig });
    this.agent = new NodeAgent({
      client: this.admin,
      nodes: this.agentNodes(),
      onError: (what, err) => this.agentErrors.push(`${what}: ${(err as Error).message}`),
    });
    await this.agent.start();
    await this.installRbac(this.realOpts.chartValues ?? {});
    await this.refreshToken();
  }

  protected override async stopApi(): Promise<void> {
    await this.agent?.stop();
    await this.cp?.stop();
  }

  /** `kubectl apply` of the chart's ServiceAccount and RBAC into namespace cosmolet. */
  async installRbac(values: Record<string, unknown>): Promise<void> {
    const r = await this.admin.request('GET', `/api/v1/namespaces/${NAMESPACE}`);
    if (r.status === 404) this.cp.kubectl(['create', 'namespace', NAMESPACE]);
    this.cp.kubectl(['apply', '-f', '-'], renderRbac(values));
  }

  /** A bound token for cosmolet's ServiceAccount (TokenRequest), written where the kubelet puts it. */
  async refreshToken(expirationSeconds = 3600): Promise<string> {
    const r = await this.admin.request(
      'POST',
      `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${SERVICE_ACCOUNT}/token`,
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } },
    );
    if (r.status !== 201) throw new Error(`TokenRequest: HTTP ${r.status} ${r.body}`);
    const token = (JSON.parse(r.body) as { status: { token: string } }).status.token;
    this.saDir = join(this.dir, 'serviceaccount');
    mkdirSync(this.saDir, { recursive: true });
    writeFileSync(join(this.saDir, 'token'), token, { mode: 0o600 });
    writeFileSync(join(this.saDir, 'ca.crt'), readFileSync(this.cp.pki.caCert));
    writeFileSync(join(this.saDir, 'namespace'), NAMESPACE);
    return token;
  }

  /** A token for another ServiceAccount (created if missing), e.g. a Prometheus that scrapes. */
  async tokenFor(namespace: string, name: string, audiences?: string[]): Promise<string> {
    const sa = await this.admin.request('GET', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}`);
    if (sa.status === 404) this.cp.kubectl(['-n', namespace, 'create', 'serviceaccount', name]);
    const r = await this.admin.request(
      'POST',
      `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600, ...(audiences ? { audiences } : {}) },
      },
    );
    if (r.status !== 201)
      throw new Error(`TokenRequest for ${namespace}/${name}: HTTP ${r.status} ${r.body}`);
    return (JSON.parse(r.body) as { status: { token: string } }).status.token;
  }

  /**
   * cosmolet as the DaemonSet's pod runs it: the token directory mounted at the service-account
   * path, KUBERNETES_SERVICE_HOST/PORT to the node's 127.0.0.1:6443, no kubeconfig.
   */
  protected override credentials(): CosmoletCredentials {
    return { serviceAccountDir: this.saDir, apiPort: 6443 };
  }

  /** kubectl with the admin kubeconfig. */
  kubectl(args: string[], input?: string): string {
    return this.cp.kubectl(args, input);
  }

  /** Applies YAML or JSON documents with `kubectl apply` (server-side field ownership as kubectl's). */
  apply(docs: unknown[]): void {
    this.cp.kubectl(['apply', '-f', '-'], docs.map((d) => JSON.stringify(d)).join('\n---\n'));
  }
}
