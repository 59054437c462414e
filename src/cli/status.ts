// `cosmolet status`: one view across the cluster. Finds cosmolet's pods through the API server
// (namespace and label selector), reads each node's /status directly at the pod's address (cosmolet
// runs with hostNetwork, so that is the node's address) and merges them (src/observe/cluster-status.ts).
// Why not the API server's pods proxy: it does not pass the caller's token on to the pod, so cosmolet
// could not authorize the caller itself (TokenReview + SubjectAccessReview); see docs/operations.md.
//
// What crosses the node network (issue 21 item 3): HTTPS only, verified against the chart's CA (the
// `<release>-ca` ConfigMap, or --ca-file) for the one name every pod's certificate carries, the
// metrics Service's `<release>-metrics.<namespace>.svc`; and never the operator's own credential, but a
// 10-minute token bound to audience `cosmolet` for the chart's `<release>-status` ServiceAccount
// (TokenRequest), which the API server itself refuses. Every answer is read up to a cap.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { errorMessage, KubeApiError, UsageError } from '../errors.js';
import { kubeClientFromTransport, loadTransport, statusMessage, type KubeClient } from '../kube/client.js';
import { clusterStatus, renderClusterStatus, type NodeStatusRead } from '../observe/cluster-status.js';
import type { StatusDocument } from '../observe/status.js';
import { helpText, parseFlags, type CommandIO, type FlagSpecs } from '../command-line.js';

/** A node's /status is a few MB at 10,000 Services; an answer past this is not one, and not held. */
export const MAX_STATUS_BYTES = 16 * 1024 * 1024;
/** kube-apiserver's minimum for a TokenRequest; the token outlives one run and nothing else. */
const TOKEN_SECONDS = 600;
const DEFAULT_AUDIENCE = 'cosmolet';

const STATUS_FLAGS: FlagSpecs = {
  kubeconfig: { type: 'string', arg: 'FILE', help: 'kubeconfig (default $KUBECONFIG, then in-cluster)' },
  namespace: { type: 'string', arg: 'NS', help: "where cosmolet's pods run (default cosmolet)" },
  release: {
    type: 'string',
    arg: 'NAME',
    help: "the chart's full name (default cosmolet): names the <NAME>-ca ConfigMap, the <NAME>-status ServiceAccount and the certificate's name",
  },
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
  'ca-file': {
    type: 'string',
    arg: 'FILE',
    help: "the CA that signed cosmolet's serving certificate (default: ca.crt of the <release>-ca ConfigMap)",
  },
  'server-name': {
    type: 'string',
    arg: 'NAME',
    help: "the name the certificate must carry (default <release>-metrics.<namespace>.svc, the chart's metrics Service)",
  },
  'token-file': {
    type: 'string',
    arg: 'FILE',
    help: 'a token bound to audience cosmolet (default: a TokenRequest for <release>-status)',
  },
  audience: {
    type: 'string',
    arg: 'AUD',
    help: "the token's audience (cosmolet's http.tokenAudiences; default cosmolet)",
  },
  'insecure-http': {
    type: 'boolean',
    help: 'plain http, for cosmolet without http.tls; then no token is sent (loopback-only binds need none)',
  },
  json: { type: 'boolean', help: 'the view as JSON: nodes (reachable, error) and prefixes' },
  'timeout-seconds': { type: 'string', arg: 'S', help: 'per node (default 5)' },
  help: { type: 'boolean', help: 'show this help' },
};

const STATUS_HELP = helpText(
  'cosmolet status [flags]',
  "One view across the cluster: reads every cosmolet pod's /status (at the pod's address, over HTTPS\n" +
    "verified against the chart's CA, with a short-lived token bound to audience cosmolet; your own\n" +
    'credential is used only with the API server) and prints, per Service IP, its route class, the\n' +
    'nodes that advertise it, the nodes that installed it but whose bgpd does not hold it, the nodes\n' +
    'that have not installed it yet, and the nodes that skip it with their reason. Nodes that cannot\n' +
    'be read are listed; the exit status is then 1.',
  STATUS_FLAGS,
);

interface PodLite {
  metadata?: { name?: string };
  spec?: { nodeName?: string; containers?: { ports?: { name?: string; containerPort?: number }[] }[] };
  status?: { podIP?: string; hostIP?: string; phase?: string };
}

/** How a node is read: over HTTPS verifying `serverName` against `ca`, or plain http. */
export type NodeTransport =
  { scheme: 'https'; ca: string | Buffer; serverName: string; token: string } | { scheme: 'http' };

/** GET `url`, reading at most `maxBytes` of the answer (a larger one is an error, and not kept). */
export function boundedGet(
  url: URL,
  transport: NodeTransport,
  timeoutMs: number,
  maxBytes = MAX_STATUS_BYTES,
): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  let options: https.RequestOptions = { headers, timeout: timeoutMs, agent: false };
  if (transport.scheme === 'https') {
    headers.authorization = `Bearer ${transport.token}`;
    const name = transport.serverName;
    options = {
      ...options,
      ca: transport.ca,
      rejectUnauthorized: true,
      servername: name,
      // Every pod serves the one certificate: check the Service name, not the node address dialled.
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
    };
  }
  const mod = transport.scheme === 'https' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          req.destroy(new Error(`the answer is larger than ${maxBytes} bytes; not read further`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

async function readNode(
  pod: PodLite,
  port: number,
  transport: NodeTransport,
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
  const url = `${transport.scheme}://${host}:${p}/status`;
  try {
    const r = await boundedGet(new URL(url), transport, timeoutMs);
    if (r.status !== 200)
      return { node, pod: name, url, error: `HTTP ${r.status}: ${r.body.slice(0, 200).trim()}` };
    return { node, pod: name, url, doc: JSON.parse(r.body) as StatusDocument };
  } catch (err) {
    return { node, pod: name, url, error: errorMessage(err) };
  }
}

function readFlagFile(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cosmolet status: --${flag}: cannot read ${file}: ${errorMessage(err)}`);
  }
}

/** ca.crt of the chart's `<release>-ca` ConfigMap, read with the operator's kubeconfig. */
async function chartCa(client: KubeClient, namespace: string, release: string): Promise<string> {
  const name = `${release}-ca`;
  const r = await client.request(
    'GET',
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`,
  );
  if (r.status !== 200)
    throw new KubeApiError(
      r.status,
      `cosmolet status: reading the CA from ConfigMap ${namespace}/${name}: HTTP ${r.status} ${statusMessage(r.body)} (chart value tls.enabled, or pass --ca-file)`,
    );
  const ca = (JSON.parse(r.body) as { data?: Record<string, unknown> }).data?.['ca.crt'];
  if (typeof ca !== 'string' || !ca.includes('BEGIN CERTIFICATE'))
    throw new KubeApiError(
      500,
      `cosmolet status: ConfigMap ${namespace}/${name} has no ca.crt (pass --ca-file)`,
    );
  return ca;
}

/** A token for the chart's `<release>-status` ServiceAccount, bound to `audience`, for 10 minutes. */
async function statusToken(
  client: KubeClient,
  namespace: string,
  serviceAccount: string,
  audience: string,
): Promise<string> {
  const r = await client.request(
    'POST',
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(serviceAccount)}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: [audience], expirationSeconds: TOKEN_SECONDS },
    },
  );
  const token =
    r.status === 201 || r.status === 200
      ? (JSON.parse(r.body) as { status?: { token?: unknown } }).status?.token
      : undefined;
  if (typeof token !== 'string' || token === '')
    throw new KubeApiError(
      r.status,
      `cosmolet status: a token for ServiceAccount ${namespace}/${serviceAccount} (TokenRequest, audience ${audience}): HTTP ${r.status} ${statusMessage(r.body)} (you need create on serviceaccounts/token there, or pass --token-file)`,
    );
  return token;
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
  const release = str('release') ?? 'cosmolet';
  const selector = str('selector') ?? 'app.kubernetes.io/name=cosmolet';
  const port = Number(str('port') ?? '8080');
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`cosmolet status: --port must be 1 to 65535: ${str('port') ?? ''}`);
  const timeout = Number(str('timeout-seconds') ?? '5');
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 300)
    throw new UsageError(`cosmolet status: --timeout-seconds must be above 0 and at most 300`);
  const insecure = values['insecure-http'] === true;
  if (insecure)
    for (const f of ['ca-file', 'server-name', 'token-file', 'audience'])
      if (str(f) !== undefined)
        throw new UsageError(`cosmolet status: --${f} has no use with --insecure-http`);
  // Read before anything goes on the network: a bad path is the operator's to fix.
  const caFile = str('ca-file');
  const ca = caFile === undefined ? undefined : readFlagFile('ca-file', caFile);
  const tokenFile = str('token-file');
  const fileToken = tokenFile === undefined ? undefined : readFlagFile('token-file', tokenFile).trim();
  if (fileToken === '') throw new UsageError(`cosmolet status: --token-file: ${tokenFile ?? ''} is empty`);

  const kubeconfig = str('kubeconfig');
  const kube = await loadTransport({
    ...(kubeconfig ? { kubeconfigPath: kubeconfig } : {}),
    env: io.env,
  });
  for (const warning of kube.warnings ?? []) io.stderr.write(`cosmolet status: warning: ${warning}\n`);
  const client = kubeClientFromTransport(kube);
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?labelSelector=${encodeURIComponent(selector)}`;
  const r = await client.request('GET', path);
  if (r.status !== 200)
    throw new KubeApiError(r.status, `listing cosmolet's pods: HTTP ${r.status}: ${r.body.slice(0, 200)}`);
  const pods = ((JSON.parse(r.body) as { items?: PodLite[] }).items ?? []).filter(
    (p) => p.status?.phase !== 'Succeeded',
  );
  if (pods.length === 0) {
    io.stderr.write(
      `cosmolet status: no pods match ${selector} in namespace ${namespace} (see --namespace, --selector)\n`,
    );
    return 1;
  }
  const transport: NodeTransport = insecure
    ? { scheme: 'http' }
    : {
        scheme: 'https',
        ca: ca ?? (await chartCa(client, namespace, release)),
        serverName: str('server-name') ?? `${release}-metrics.${namespace}.svc`,
        token:
          fileToken ??
          (await statusToken(client, namespace, `${release}-status`, str('audience') ?? DEFAULT_AUDIENCE)),
      };
  const reads = await Promise.all(pods.map((p) => readNode(p, port, transport, timeout * 1000)));
  const view = clusterStatus(reads);
  io.stdout.write(values.json ? JSON.stringify(view, null, 2) + '\n' : renderClusterStatus(view));
  return view.nodes.every((n) => n.reachable) ? 0 : 1;
}
