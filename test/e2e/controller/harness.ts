// The controller e2e harness: a fabric lab (real FRR leaf, real GoBGP), the API server double in
// this process, and the built `cosmolet run` inside the node namespace. Namespaces do not share
// loopback, so the double and cosmolet's HTTP port are joined to this process by unix sockets.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { FakeApiServer } from '@cosmolet/kube-double/apiserver';
import { startFabric, type Fabric } from '@cosmolet/lab/fabric/fabric';
import { waitFor } from '@cosmolet/lab/wait';
import type { FabricOptions } from '@cosmolet/lab/fabric/options';
import { startForwarder, type Forwarder } from '@cosmolet/lab/forward/forward';
import { startNodeForwarder } from '@cosmolet/lab/cosmolet/forwarder';
import { startCosmolet, type CosmoletCredentials, type CosmoletHandle } from '@cosmolet/lab/cosmolet/start';
import { LAB_MAINS } from '@cosmolet/lab/paths';
import { httpRequest, type HttpReply } from '@cosmolet/lab/access/http-client';
import { cidrContains, parseCIDR, parseIP, type CIDR } from '../../../src/net/ip.js';
import { sampleLeafWhile as sampleWhile } from '../router/harness.js';

export const ROOT = new URL('../../../', import.meta.url).pathname;
export const CLI = join(ROOT, 'dist', 'cli.js');
const FORWARD = LAB_MAINS.forward;

/** Service ranges the fabric's node exports; only prefixes inside them are compared. */
export const SERVICE_RANGES = ['10.96.0.0/12', '192.0.2.0/24', 'fd00:10:96::/108', '2001:db8:96::/64'].map(
  (c) => parseCIDR(c) as CIDR,
);

export function inServiceRanges(prefix: string): boolean {
  const ip = parseIP(prefix.slice(0, prefix.lastIndexOf('/')));
  return ip !== undefined && SERVICE_RANGES.some((c) => cidrContains(c, ip));
}

export function ensureBuilt(): void {
  if (existsSync(CLI) && existsSync(FORWARD)) return;
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
}

/** A `cosmolet run` the harness started (the lab's handle). */
export type CosmoletProcess = CosmoletHandle;

export interface ControllerLabOptions {
  origination: 'kernel' | 'static';
  nodeName?: string;
  /** Options of the fabric (e.g. an IPv4-only node FRR). */
  fabric?: FabricOptions;
}

export class ControllerLab {
  fabric!: Fabric;
  api!: FakeApiServer;
  private apiBridge: Forwarder | undefined;
  readonly nodeName: string;
  protected runs = 0;

  constructor(readonly opts: ControllerLabOptions) {
    this.nodeName = opts.nodeName ?? 'node-a';
  }

  get dir(): string {
    return this.fabric.dir;
  }

  async start(): Promise<void> {
    ensureBuilt();
    this.fabric = await startFabric(this.opts.fabric ?? {});
    try {
      await this.startApi();
    } catch (err) {
      await this.teardown();
      throw err;
    }
  }

  /**
   * The API server cosmolet talks to, reached in the node namespace at 127.0.0.1:6443 (the
   * certificate names 127.0.0.1), and cosmolet's HTTP port bridged out: here the double.
   */
  protected async startApi(): Promise<void> {
    this.api = await FakeApiServer.start({ host: '127.0.0.1', port: 0, token: 'e2e-token' });
    await this.bridge(this.api.port);
    const kc = parseYaml(this.api.kubeconfig()) as { clusters: { cluster: { server: string } }[] };
    for (const c of kc.clusters) c.cluster.server = 'https://127.0.0.1:6443';
    writeFileSync(join(this.dir, 'kubeconfig'), stringifyYaml(kc), { mode: 0o600 });
  }

  /**
   * Joins the node namespace's 127.0.0.1:6443 to `apiPort` here, cosmolet's :8080 to http.sock and
   * its probe listener (http.probeAddress, 127.0.0.1:8081) to probe.sock.
   */
  protected async bridge(apiPort: number): Promise<void> {
    this.apiBridge = await startForwarder(
      { kind: 'unix', path: join(this.dir, 'api.sock') },
      { kind: 'tcp', host: '127.0.0.1', port: apiPort },
    );
    await startNodeForwarder(this.fabric, 'node', [
      ['tcp:127.0.0.1:6443', `unix:${join(this.dir, 'api.sock')}`],
      [`unix:${join(this.dir, 'http.sock')}`, 'tcp:127.0.0.1:8080'],
      [`unix:${join(this.dir, 'probe.sock')}`, 'tcp:127.0.0.1:8081'],
    ]);
  }

  /** The config every run here starts from (merged with `config`): the lab's node, debug logs. */
  config(config: Record<string, unknown> = {}): Record<string, unknown> {
    const base = {
      advertise: {
        loadBalancerIP: true,
        externalIPs: true,
        allowedCIDRs: ['192.0.2.0/24', '2001:db8:96::/64'],
      },
      loopIntervalSeconds: 5,
      frr: {
        origination: this.opts.origination,
        socketDir: this.fabric.socketDir('node'),
        commandTimeoutSeconds: 5,
      },
      http: { address: '127.0.0.1:8080' },
      logging: { level: 'debug', format: 'json' },
    };
    return deepMerge(base, config);
  }

  /** How cosmolet finds the API: here the double's kubeconfig. */
  protected credentials(): CosmoletCredentials {
    return { kubeconfig: join(this.dir, 'kubeconfig') };
  }

  /** Starts the built `cosmolet run` in the node namespace with `config` merged into the base. */
  startCosmolet(
    config: Record<string, unknown> = {},
    extraArgs: string[] = [],
    env: Record<string, string> = {},
  ): CosmoletProcess {
    const n = ++this.runs;
    return startCosmolet(this.fabric, {
      nodeKey: 'node',
      nodeName: this.nodeName,
      config: this.config(config),
      configFile: join(this.dir, `cosmolet-${n}.yaml`),
      logFile: join(this.dir, `cosmolet-${n}.log`),
      credentials: this.credentials(),
      extraArgs,
      env,
      httpSocket: join(this.dir, 'http.sock'),
    });
  }

  /** GET on cosmolet's HTTP port; `token` is sent as a bearer token (needed off loopback). */
  get(path: string, token?: string): Promise<HttpReply> {
    return this.request('http.sock', path, token);
  }

  /** GET on cosmolet's probe listener (loopback: /readyz with its messages, no token). */
  probe(path: string): Promise<HttpReply> {
    return this.request('probe.sock', path);
  }

  private request(socket: string, path: string, token?: string): Promise<HttpReply> {
    return httpRequest({
      socketPath: join(this.dir, socket),
      path,
      timeoutMs: 5000,
      ...(token ? { token } : {}),
    });
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      'cosmolet /readyz 200',
      async () => (await this.get('/readyz')).status === 200,
      timeoutMs,
      100,
    );
  }

  /** Service prefixes the leaf holds (valid paths), from its BGP table. */
  async leaf(): Promise<Set<string>> {
    return new Set([...(await this.fabric.leafRoutes())].filter(inServiceRanges));
  }

  async gobgp(): Promise<Set<string>> {
    return new Set([...(await this.fabric.gobgpRoutes())].filter(inServiceRanges));
  }

  /** Service prefixes installed in the leaf's kernel by its zebra: cheap enough to sample every 100 ms. */
  async leafFib(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const family of ['-4', '-6']) {
      const r = await this.fabric.exec('leaf', ['ip', family, '-json', 'route', 'show', 'proto', 'bgp'], {
        timeoutMs: 5000,
      });
      for (const route of JSON.parse(r.stdout || '[]') as { dst: string }[]) {
        const prefix = route.dst.includes('/') ? route.dst : `${route.dst}/${family === '-4' ? 32 : 128}`;
        if (inServiceRanges(prefix)) out.add(prefix);
      }
    }
    return out;
  }

  /** Waits until both the FRR leaf and GoBGP hold exactly `expected` (service ranges only). */
  /** The leaf's prefixes (in the service ranges) that carry each community: community -> prefixes. */
  async leafCommunities(communities: readonly string[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    const leaf = this.fabric.vtysh('leaf');
    for (const c of communities) {
      const held = new Set<string>();
      for (const family of ['ipv4', 'ipv6']) {
        const text = await leaf.show(`show bgp ${family} unicast community ${c} json`);
        const routes = (JSON.parse(text || '{}') as { routes?: Record<string, unknown> }).routes ?? {};
        for (const p of Object.keys(routes)) if (inServiceRanges(p)) held.add(p);
      }
      out.set(c, held);
    }
    return out;
  }

  async waitPeersHold(expected: Iterable<string>, timeoutMs = 15_000): Promise<void> {
    const want = [...expected].sort();
    let last = '';
    await waitFor(
      `leaf and GoBGP to hold exactly ${want.join(' ')}`,
      async () => {
        const [leaf, gobgp] = await Promise.all([this.leaf(), this.gobgp()]);
        last = `leaf=${[...leaf].sort().join(' ')} gobgp=${[...gobgp].sort().join(' ')}`;
        return sameSet(leaf, want) && sameSet(gobgp, want);
      },
      timeoutMs,
      100,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last seen ${last}`);
    });
  }

  async teardown(): Promise<void> {
    await this.apiBridge?.close();
    await this.stopApi();
    await this.fabric?.teardown();
  }

  protected async stopApi(): Promise<void> {
    await this.api?.close();
  }
}

export function sameSet(a: Set<string>, b: readonly string[]): boolean {
  return a.size === b.length && b.every((x) => a.has(x));
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      typeof v === 'object' && v !== null && !Array.isArray(v) && typeof cur === 'object' && cur !== null
        ? deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/**
 * Samples the leaf's FIB every ~100 ms while `during` runs and returns every prefix of `watch`
 * that was missing in at least one sample, with the number of samples taken.
 */
export function sampleLeafWhile(
  lab: ControllerLab,
  watch: readonly string[],
  during: () => Promise<void>,
): Promise<{ missing: Set<string>; samples: number }> {
  return sampleWhile(() => lab.leafFib(), watch, during);
}
