// The transport from a kubeconfig file (--kubeconfig, $KUBECONFIG): the only module that loads
// @kubernetes/client-node, and only when a kubeconfig is used. client-node parses and merges the
// files; credentials that rotate (token-file, exec plugins) are handled by src/kube/credentials.ts,
// because client-node reads a token file once, untrimmed, and runs exec plugins without a timeout
// and never again after a 401 while the cached credential has not expired.
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { CosmoletError, ErrorCodes, errorMessage } from '../errors.js';
import { missing, type LoadKubeClientOptions, type Transport } from './transport.js';
import {
  ExecCredentials,
  StaticCredentials,
  TokenFileCredentials,
  type Auth,
  type Credentials,
  type ExecConfig,
} from './credentials.js';

/**
 * Loads `kubeconfigPath`, else every file of $KUBECONFIG merged like kubectl does (the first
 * file's names win). Returns the config and the files read, in order.
 */
export function loadKubeConfig(
  options: LoadKubeClientOptions,
  env: NodeJS.ProcessEnv,
): { kc: KubeConfig; files: string[] } {
  const kc = new KubeConfig();
  const files: string[] = [];
  if (options.kubeconfigPath) {
    loadFile(kc, options.kubeconfigPath, '--kubeconfig');
    files.push(options.kubeconfigPath);
  } else {
    const list = (env.KUBECONFIG ?? '').split(delimiter).filter((f) => f !== '');
    const first = list[0];
    if (first === undefined) throw missing('$KUBECONFIG is set but names no file');
    loadFile(kc, first, '$KUBECONFIG');
    files.push(first);
    for (const f of list.slice(1)) {
      if (!existsSync(f)) continue;
      const more = new KubeConfig();
      loadFile(more, f, '$KUBECONFIG');
      files.push(f);
      for (const c of more.clusters) if (!kc.getCluster(c.name)) kc.addCluster(c);
      for (const u of more.users) if (!kc.getUser(u.name)) kc.addUser(u);
      for (const c of more.contexts) if (!kc.getContextObject(c.name)) kc.addContext(c);
      if (!kc.currentContext) kc.setCurrentContext(more.currentContext);
    }
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw missing(`kubeconfig: current context "${kc.currentContext}" names no cluster`);
  if (!/^https?:\/\//.test(cluster.server)) {
    throw missing(
      `kubeconfig: cluster "${cluster.name}" has no http(s) server URL (got "${cluster.server}")`,
    );
  }
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    // client-go refuses a bearer token over plain http too; say so up front.
    throw missing(
      `kubeconfig: cluster "${cluster.name}" uses plain http (${cluster.server}); ` +
        'set insecure-skip-tls-verify: true for it or use https',
    );
  }
  if (cluster.proxyUrl) {
    throw missing(`kubeconfig: cluster "${cluster.name}" sets proxy-url, which cosmolet does not support`);
  }
  return { kc, files };
}

function loadFile(kc: KubeConfig, path: string, from: string): void {
  if (!existsSync(path)) throw missing(`kubeconfig ${path} (from ${from}) does not exist`);
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw new CosmoletError(
      ErrorCodes.KUBECONFIG_MISSING,
      `kubeconfig ${path} (from ${from}) cannot be read: ${errorMessage(err)}`,
      { cause: err },
    );
  }
}

/** The current user's entry as written (client-node drops `token-file` after reading it once). */
function rawUser(files: string[], name: string): { user: Record<string, unknown>; dir: string } | undefined {
  for (const file of files) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(file, 'utf8'));
    } catch {
      continue; // client-node has read it already; a file it accepted and yaml refuses is not ours to judge
    }
    const users = (doc as { users?: unknown } | null)?.users;
    if (!Array.isArray(users)) continue;
    for (const u of users as { name?: unknown; user?: unknown }[]) {
      if (u?.name === name && u.user && typeof u.user === 'object') {
        return { user: u.user as Record<string, unknown>, dir: dirname(file) };
      }
    }
  }
  return undefined;
}

function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (file) return readFileSync(file);
  return undefined;
}

/** Adds a fixed client certificate to whatever bearer credential the user has. */
class WithClientCert implements Credentials {
  constructor(
    private readonly inner: Credentials,
    private readonly cert: Auth,
  ) {}
  async get(): Promise<Auth> {
    return { ...this.cert, ...(await this.inner.get()) };
  }
  invalidate(): void {
    this.inner.invalidate();
  }
}

/** Auth providers (oidc and the like) stay client-node's: applied afresh per request. */
class ClientNodeCredentials implements Credentials {
  constructor(private readonly kc: KubeConfig) {}
  async get(): Promise<Auth> {
    const opts: { headers: Record<string, string> } = { headers: {} };
    await this.kc.applyToHTTPSOptions(opts);
    const authorization = opts.headers.Authorization ?? opts.headers.authorization;
    return authorization ? { authorization } : {};
  }
  invalidate(): void {}
}

export function kubeconfigTransport(options: LoadKubeClientOptions, env: NodeJS.ProcessEnv): Transport {
  const { kc, files } = loadKubeConfig(options, env);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw missing(`kubeconfig: current context "${kc.currentContext}" names no cluster`);
  const user = kc.getCurrentUser();
  const raw = user ? rawUser(files, user.name) : undefined;
  let tls: Transport['tls'];
  let cert: Auth = {};
  try {
    const ca = fileOrData(cluster.caFile, cluster.caData);
    tls = {
      rejectUnauthorized: !cluster.skipTLSVerify,
      ...(ca ? { ca } : {}),
      ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
    };
    const c = fileOrData(user?.certFile, user?.certData);
    const k = fileOrData(user?.keyFile, user?.keyData);
    if (c && k) cert = { cert: c, key: k };
  } catch (err) {
    throw missing(`kubeconfig: cannot read a certificate or key: ${errorMessage(err)}`);
  }
  const resolve = (p: string): string => (raw && !isAbsolute(p) ? join(raw.dir, p) : p);
  let credentials: Credentials;
  const tokenFile = raw?.user['token-file'];
  const exec = user?.exec as ExecConfig | undefined;
  if (typeof tokenFile === 'string' && tokenFile !== '') {
    credentials = new TokenFileCredentials(resolve(tokenFile), options.tokenReloadMs);
  } else if (exec && typeof exec.command === 'string') {
    // Like kubectl: a relative command with a path separator is relative to the kubeconfig file.
    const command = exec.command.includes('/') ? resolve(exec.command) : exec.command;
    credentials = new ExecCredentials({ ...exec, command }, options.execTimeoutMs);
  } else if (user?.token) {
    credentials = new StaticCredentials({ authorization: `Bearer ${user.token.trim()}` });
  } else if (user?.username) {
    const basic = Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64');
    credentials = new StaticCredentials({ authorization: `Basic ${basic}` });
  } else if (user?.authProvider) {
    credentials = new ClientNodeCredentials(kc);
  } else {
    credentials = new StaticCredentials({});
  }
  if (cert.cert) credentials = new WithClientCert(credentials, cert);
  const warnings: string[] = [];
  if (cluster.server.startsWith('http://'))
    warnings.push(
      `kubeconfig: the API server ${cluster.server} is plain http: nothing is encrypted, and no bearer token or password is sent over it`,
    );
  else if (cluster.skipTLSVerify)
    warnings.push(
      `kubeconfig: insecure-skip-tls-verify is set for ${cluster.server}: the API server's certificate is not verified, so anyone on the path can read the credential`,
    );
  return { server: cluster.server, tls, credentials, ...(warnings.length ? { warnings } : {}) };
}
