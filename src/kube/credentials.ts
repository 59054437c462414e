// Credentials for the Kubernetes API that keep working as they rotate: a token file is re-read
// (trimmed, as kubectl does) every few seconds, an exec plugin's credential is cached until it
// expires, and either is dropped at once when the API server answers 401 (client-go's behaviour).
// An exec plugin runs with a timeout, so a hanging plugin cannot hang cosmolet.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { CosmoletError, ErrorCodes, errorMessage } from '../errors.js';

/** What one request carries: a bearer token and/or a client certificate. */
export interface Auth {
  /** The full Authorization header value ("Bearer ...", "Basic ..."). */
  authorization?: string;
  cert?: Buffer | string;
  key?: Buffer | string;
}

export interface Credentials {
  /** The credential for the next request (cached; throws KUBE_AUTH when none can be had). */
  get(): Promise<Auth>;
  /** Forget the cached credential: the server refused it. The next get() fetches a fresh one. */
  invalidate(): void;
}

function authError(message: string, cause?: unknown): CosmoletError {
  return new CosmoletError(ErrorCodes.KUBE_AUTH, message, cause === undefined ? undefined : { cause });
}

/** A fixed credential (a token written in the kubeconfig, a client certificate, or nothing). */
export class StaticCredentials implements Credentials {
  constructor(private readonly auth: Auth) {}
  get(): Promise<Auth> {
    return Promise.resolve(this.auth);
  }
  invalidate(): void {}
}

/** The bearer token in a file (a projected service account token, a kubeconfig `token-file`). */
export class TokenFileCredentials implements Credentials {
  private cached: { auth: Auth; at: number } | undefined;

  /** `reloadMs`: how long a read token is used before the file is read again. */
  constructor(
    readonly path: string,
    private readonly reloadMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<Auth> {
    const c = this.cached;
    if (c && this.now() - c.at < this.reloadMs) return c.auth;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      // A token that could be read before keeps serving while the file is being replaced.
      if (c) return c.auth;
      throw authError(`token file ${this.path} cannot be read: ${errorMessage(err)}`, err);
    }
    const token = text.trim();
    if (token === '' || !/^[\x21-\x7e]+$/.test(token)) {
      if (c) return c.auth;
      throw authError(`token file ${this.path} holds no usable token`);
    }
    const auth = { authorization: `Bearer ${token}` };
    this.cached = { auth, at: this.now() };
    return auth;
  }

  invalidate(): void {
    this.cached = undefined;
  }
}

/** A kubeconfig `exec` entry (client.authentication.k8s.io), as written in the file. */
export interface ExecConfig {
  command: string;
  args?: string[];
  env?: { name: string; value: string }[];
  apiVersion?: string;
}

interface ExecCredentialStatus {
  token?: unknown;
  expirationTimestamp?: unknown;
  clientCertificateData?: unknown;
  clientKeyData?: unknown;
}

const EXEC_OUTPUT_LIMIT = 1 << 20;

/** An exec credential plugin: run with a timeout, cached until expiry or a 401. */
export class ExecCredentials implements Credentials {
  private cached: { auth: Auth; expiresAt: number } | undefined;
  private running: Promise<Auth> | undefined;

  constructor(
    private readonly exec: ExecConfig,
    private readonly timeoutMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<Auth> {
    const c = this.cached;
    if (c && this.now() < c.expiresAt) return Promise.resolve(c.auth);
    // Concurrent requests share one run of the plugin.
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  private async run(): Promise<Auth> {
    const { command, args = [], env = [] } = this.exec;
    const apiVersion = this.exec.apiVersion ?? 'client.authentication.k8s.io/v1';
    const childEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const e of env) childEnv[e.name] = e.value;
    childEnv.KUBERNETES_EXEC_INFO = JSON.stringify({
      apiVersion,
      kind: 'ExecCredential',
      spec: { interactive: false },
    });
    const stdout = await new Promise<string>((resolve, reject) => {
      // Its own process group, so a timeout kills the plugin's children too (a shell's `sleep`).
      const child = spawn(command, args, {
        env: childEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let out = '';
      let err = '';
      const timer = setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
        child.stdout.destroy();
        child.stderr.destroy();
        reject(authError(`exec plugin ${command} did not answer within ${this.timeoutMs / 1000} s`));
      }, this.timeoutMs);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        if (out.length < EXEC_OUTPUT_LIMIT) out += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        if (err.length < 4096) err += d;
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(authError(`exec plugin ${command} cannot run: ${e.message}`, e));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else
          reject(
            authError(
              `exec plugin ${command} failed (${signal ?? `exit ${code}`}): ${err.trim().slice(0, 300)}`,
            ),
          );
      });
    });
    let status: ExecCredentialStatus;
    try {
      const parsed = JSON.parse(stdout) as { kind?: unknown; status?: ExecCredentialStatus };
      if (parsed.kind !== 'ExecCredential' || !parsed.status || typeof parsed.status !== 'object') {
        throw authError('not an ExecCredential with a status');
      }
      status = parsed.status;
    } catch (e) {
      throw authError(`exec plugin ${command} printed no ExecCredential: ${errorMessage(e)}`, e);
    }
    const auth: Auth = {};
    if (typeof status.token === 'string' && status.token !== '')
      auth.authorization = `Bearer ${status.token}`;
    if (typeof status.clientCertificateData === 'string' && typeof status.clientKeyData === 'string') {
      auth.cert = status.clientCertificateData;
      auth.key = status.clientKeyData;
    }
    if (!auth.authorization && !auth.cert) throw authError(`exec plugin ${command} returned no credential`);
    // No expiry: use it until the server refuses it (client-go does the same).
    const exp =
      typeof status.expirationTimestamp === 'string' ? Date.parse(status.expirationTimestamp) : Infinity;
    this.cached = { auth, expiresAt: Number.isNaN(exp) ? Infinity : exp };
    return auth;
  }
}
