// `cosmolet status`: one view across the cluster. Finds cosmolet's pods through the API server
// (namespace and label selector), reads each node's /status directly at the pod's address (cosmolet
// runs with hostNetwork, so that is the node's address) with the operator's own bearer token from the
// kubeconfig, and merges them (src/observe/cluster-status.ts). Why not the API server's pods proxy:
// it does not pass the caller's token on to the pod, so cosmolet could not authorize the caller
// itself (TokenReview + SubjectAccessReview); see docs/operations.md.
import http from 'node:http';
import https from 'node:https';
import { errorMessage, UsageError } from '../errors.js';
import { kubeClientFromTransport, loadTransport } from '../kube/client.js';
import { clusterStatus, renderClusterStatus, type NodeStatusRead } from '../observe/cluster-status.js';
import type { StatusDocument } from '../observe/status.js';
import { helpText, parseFlags, type FlagSpecs } from './flags.js';
import type { CommandIO } from './render.js';

const STATUS_FLAGS: FlagSpecs = {
  kubeconfig: { type: 'string', arg: 'FILE', help: 'kubeconfig (default $KUBECONFIG, then in-cluster)' },
  namespace: { type: 'string', arg: 'NS', help: "where cosmolet's pods run (default cosmolet)" },
  selector: {
    type: 'string',
    arg: 'SELECTOR',
    help: "label selector of cosmolet's pods (default app.kubernetes.io/name=cosmolet)",
  },
  port: {
    type: 'string',
    arg: 'PORT',
    help: "cosmolet's HTTP port when the pod does not name one `http` (default 8080)",
  },
  https: { type: 'boolean', help: "read /status over https (cosmolet's certificate is not verified)" },
  json: { type: 'boolean', help: 'the view as JSON: nodes (reachable, error) and prefixes' },
  'timeout-seconds': { type: 'string', arg: 'S', help: 'per node (default 5)' },
  help: { type: 'boolean', help: 'show this help' },
};

const STATUS_HELP = helpText(
  'cosmolet status [flags]',
  "One view across the cluster: reads every cosmolet pod's /status (at the pod's address, with your\n" +
    'bearer token from the kubeconfig) and prints, per Service IP, its route class, the nodes that\n' +
    'advertise it, the nodes that installed it but whose bgpd does not hold it, the nodes that have not\n' +
    'installed it yet, and the nodes that skip it with their reason. Nodes that cannot be read are\n' +
    'listed; the exit status is then 1.',
  STATUS_FLAGS,
);

interface PodLite {
  metadata?: { name?: string };
  spec?: { nodeName?: string; containers?: { ports?: { name?: string; containerPort?: number }[] }[] };
  status?: { podIP?: string; hostIP?: string; phase?: string };
}

function get(
  url: URL,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { headers, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

async function readNode(
  pod: PodLite,
  port: number,
  scheme: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<NodeStatusRead> {
  const name = pod.metadata?.name ?? '';
  const node = pod.spec?.nodeName ?? `(pod ${name})`;
  const address = pod.status?.podIP ?? pod.status?.hostIP;
  const named = pod.spec?.containers?.flatMap((c) => c.ports ?? []).find((p) => p.name === 'http');
  const p = named?.containerPort ?? port;
  if (!address)
    return { node, pod: name, url: '', error: `pod has no address (phase ${pod.status?.phase ?? '?'})` };
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `${scheme}://${host}:${p}/status`;
  try {
    const r = await get(new URL(url), headers, timeoutMs);
    if (r.status !== 200)
      return { node, pod: name, url, error: `HTTP ${r.status}: ${r.body.slice(0, 200).trim()}` };
    return { node, pod: name, url, doc: JSON.parse(r.body) as StatusDocument };
  } catch (err) {
    return { node, pod: name, url, error: errorMessage(err) };
  }
}

export async function statusCommand(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseFlags(argv, STATUS_FLAGS, 'status');
  if (values.help) {
    io.stdout.write(STATUS_HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`cosmolet status: unexpected argument "${positionals[0]}"`);
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? values[k] : undefined);
  const namespace = str('namespace') ?? 'cosmolet';
  const selector = str('selector') ?? 'app.kubernetes.io/name=cosmolet';
  const port = Number(str('port') ?? '8080');
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`cosmolet status: --port must be 1 to 65535: ${str('port') ?? ''}`);
  const timeout = Number(str('timeout-seconds') ?? '5');
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 300)
    throw new UsageError(`cosmolet status: --timeout-seconds must be above 0 and at most 300`);

  const kubeconfig = str('kubeconfig');
  const transport = await loadTransport({
    ...(kubeconfig ? { kubeconfigPath: kubeconfig } : {}),
    env: io.env,
  });
  for (const warning of transport.warnings ?? []) io.stderr.write(`cosmolet status: warning: ${warning}\n`);
  const client = kubeClientFromTransport(transport);
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?labelSelector=${encodeURIComponent(selector)}`;
  const r = await client.request('GET', path);
  if (r.status !== 200) throw new Error(`listing cosmolet's pods: HTTP ${r.status}: ${r.body.slice(0, 200)}`);
  const pods = ((JSON.parse(r.body) as { items?: PodLite[] }).items ?? []).filter(
    (p) => p.status?.phase !== 'Succeeded',
  );
  if (pods.length === 0) {
    io.stderr.write(
      `cosmolet status: no pods match ${selector} in namespace ${namespace} (see --namespace, --selector)\n`,
    );
    return 1;
  }
  // The operator's own credential, as kubectl would send it (token, token file or exec plugin).
  const auth = (await transport.credentials.get()).authorization;
  const headers: Record<string, string> = {
    accept: 'application/json',
    ...(auth ? { authorization: auth } : {}),
  };
  const scheme = values.https ? 'https' : 'http';
  const reads = await Promise.all(pods.map((p) => readNode(p, port, scheme, headers, timeout * 1000)));
  const view = clusterStatus(reads);
  io.stdout.write(values.json ? JSON.stringify(view, null, 2) + '\n' : renderClusterStatus(view));
  return view.nodes.every((n) => n.reachable) ? 0 : 1;
}
