// Starting the built `cosmolet run` in a node's network namespace, as its DaemonSet pod runs it: the
// one implementation behind `lab up`/`lab node`, the scale benchmark and the controller e2e
// harnesses. What differs between them is an option: the config, the credentials (a kubeconfig, or
// a service-account directory mounted in-cluster style), where the log goes, extra flags.
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { stringify as stringifyYaml } from 'yaml';
import { SERVICE_ACCOUNT_DIR } from 'cosmolet/kube/client';
import type { Fabric } from '../fabric/fabric.js';
import { httpRequest, type HttpReply } from '../access/http-client.js';
import { COSMOLET_CLI } from '../paths.js';
import { LabError, LabErrorCodes } from '../errors.js';
import { waitFor } from '../wait.js';

/** How cosmolet finds the API: a kubeconfig, or in-cluster (token directory, 127.0.0.1:apiPort). */
export type CosmoletCredentials = { kubeconfig: string } | { serviceAccountDir: string; apiPort: number };

export interface StartCosmoletOptions {
  /** The fabric namespace key it runs in (`node`, `node2`...). */
  nodeKey: string;
  /** `--node-name`. */
  nodeName: string;
  /** Written whole to `configFile` as YAML. */
  config: Record<string, unknown>;
  configFile: string;
  logFile: string;
  credentials: CosmoletCredentials;
  /** The built cosmolet (default this checkout's dist/cli.js), e.g. another commit's build. */
  cli?: string;
  /** The Node.js that runs it (default this process's), e.g. the container image's. */
  node?: string;
  extraArgs?: string[];
  /** Set in its environment inside the namespace (e.g. a PATH without `ip`). */
  env?: Record<string, string>;
  /** The unix socket a forwarder bridges to cosmolet's HTTP port (for get()). */
  httpSocket?: string;
  /** The socket /readyz is asked on (default httpSocket): the probe listener's where it has one. */
  readySocket?: string;
}

export interface CosmoletHandle {
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  readonly logFile: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly running: boolean;
  log(): string;
  /** GET on cosmolet's HTTP port; `token` is sent as a bearer token (needed off loopback). */
  get(path: string, token?: string): Promise<HttpReply>;
  waitReady(timeoutMs?: number): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * The shell line that runs `argv` in-cluster style: `tokenDir` bind-mounted at the service-account
 * path, KUBERNETES_SERVICE_HOST/PORT, no kubeconfig; it execs, so its pid is cosmolet's. Only the bind
 * mount, no tmpfs over /run: `ip netns exec` already gives the process a private mount namespace, and
 * a tmpfs over /run would hide what lives there, such as the lab's default state directory
 * (/run/cosmolet-lab: config, FRR sockets, the token directory itself).
 */
export function inClusterCommand(argv: string[], tokenDir: string, apiPort: number): string {
  const q = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  const sa = SERVICE_ACCOUNT_DIR;
  return (
    `mkdir -p ${sa} && mount --bind ${q(tokenDir)} ${sa} && ` +
    `exec env -u KUBECONFIG KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=${apiPort} ${argv.map(q).join(' ')}`
  );
}

export function tail(file: string, n = 15): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/** Waits for /readyz 200 on `socket`; on timeout the error carries the log's last lines. */
export async function waitCosmoletReady(
  what: string,
  socket: string,
  logFile: string,
  timeoutMs = 60_000,
): Promise<void> {
  const ready = (): Promise<boolean> =>
    httpRequest({ socketPath: socket, path: '/readyz', timeoutMs: 5000 }).then(
      (r) => r.status === 200,
      () => false,
    );
  await waitFor(`cosmolet /readyz on ${what}`, ready, timeoutMs, 100).catch((err: unknown) => {
    throw new LabError(
      LabErrorCodes.LAB_FAILED,
      `${err instanceof Error ? err.message : String(err)}\ncosmolet log (${logFile}):\n${tail(logFile)}`,
    );
  });
}

export function startCosmolet(fabric: Fabric, o: StartCosmoletOptions): CosmoletHandle {
  const cli = o.cli ?? COSMOLET_CLI;
  if (!existsSync(cli)) throw new LabError(LabErrorCodes.LAB_FAILED, `${cli} is missing: run npm run build`);
  writeFileSync(o.configFile, stringifyYaml(o.config));
  const argv = [o.node ?? process.execPath, cli, 'run', '--config', o.configFile, '--node-name', o.nodeName];
  argv.push(...(o.extraArgs ?? []));
  const c = o.credentials;
  const command =
    'kubeconfig' in c
      ? [...argv, '--kubeconfig', c.kubeconfig]
      : ['sh', '-c', inClusterCommand(argv, c.serviceAccountDir, c.apiPort)];
  const env = Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const child = fabric.spawn(o.nodeKey, env.length > 0 ? ['env', ...env, ...command] : command, {
    logFile: o.logFile,
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const socket = (s: string | undefined): string => {
    if (s === undefined) throw new LabError(LabErrorCodes.LAB_FAILED, 'no HTTP socket for this cosmolet');
    return s;
  };
  return {
    child,
    pid: child.pid,
    logFile: o.logFile,
    exited,
    get running() {
      return running();
    },
    log: () => (existsSync(o.logFile) ? readFileSync(o.logFile, 'utf8') : ''),
    get: (path, token) =>
      httpRequest({ socketPath: socket(o.httpSocket), path, timeoutMs: 30_000, ...(token ? { token } : {}) }),
    waitReady: (timeoutMs) =>
      waitCosmoletReady(o.nodeName, socket(o.readySocket ?? o.httpSocket), o.logFile, timeoutMs),
    kill: (signal) => {
      if (running()) child.kill(signal);
    },
    stop: async (graceMs = 10_000) => {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
