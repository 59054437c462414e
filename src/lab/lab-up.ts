// `cosmolet lab up|down`: the lab's life cycle. Everything `up` starts is detached (own session, so a
// Ctrl-C at the terminal does not reach it) and recorded in `<stateDir>/lab.json` before or right
// after it is created; `down` kills the recorded processes (pid + start time), every process inside
// the lab's namespaces (`<prefix>-*`) and deletes those namespaces, and nothing else.
//
// Processes of a running lab:
//   host namespace: lab-cluster-main (API double, manifest watch, pods and kube-proxy rules)
//   <prefix>-node:  zebra, staticd, bgpd, cosmolet run, two forwarders (API in, HTTP out)
//   <prefix>-leaf:  zebra, staticd, bgpd          <prefix>-ext: gobgpd
//   <prefix>-pod-*: one tiny HTTP server per pod
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { ErrorCodes } from '../errors.js';
import { runCommand } from '../router/exec.js';
import { checkPrerequisites, cleanupStale, DEFAULT_ADDRESSING, Fabric, LabError, waitFor } from './fabric.js';
import {
  isAlive,
  killRecorded,
  LAB_NODE_NAME,
  labProcess,
  NODE_API_PORT,
  readState,
  stateFile,
  writeState,
  type LabState,
} from './lab-state.js';
import { gatherView, getUnix } from './lab-view.js';

export const ROOT = new URL('../../', import.meta.url).pathname;
const DIST = join(ROOT, 'dist');
export const DEFAULT_MANIFESTS = join(ROOT, 'examples', 'lab');

/** The leaf's loopback addresses: curl from the leaf uses them as source, the node routes back. */
export const LEAF_LOOPBACK_V4 = DEFAULT_ADDRESSING.leafRouterId;
export const LEAF_LOOPBACK_V6 = 'fd00:255::2';

export interface LabOptions {
  stateDir: string;
  prefix: string;
  manifests: string;
  /** Progress lines go here. */
  progress: (line: string) => void;
  /** How the user runs cosmolet (`cosmolet` or `node dist/cli.js`), for the printed commands. */
  command: string;
  /** Flags the printed `lab` commands need (a non-default --state-dir), with a leading space. */
  labFlags?: string;
  /** BFD on the node-leaf session (bfdd on node and leaf). */
  bfd?: boolean;
}

function prereq(message: string): LabError {
  return new LabError(ErrorCodes.LAB_PREREQUISITE, message);
}

function which(bin: string): boolean {
  return ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'].some((d) =>
    existsSync(join(d, bin)),
  );
}

/** Everything the lab needs, checked before anything is created; each error says the exact fix. */
export function checkLabPrerequisites(command: string): void {
  if (process.getuid?.() !== 0)
    throw prereq(
      'cosmolet lab needs root: it creates network namespaces and starts FRR.\n' +
        `  fix: sudo ${command} lab up    (or: sudo bash scripts/lab.sh)`,
    );
  if (!existsSync('/proc/self/ns/net'))
    throw prereq(
      'this kernel has no network namespaces (CONFIG_NET_NS), which the lab is made of.\n' +
        '  fix: use a machine or VM with a stock Debian or Ubuntu kernel',
    );
  try {
    checkPrerequisites();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw prereq(
      `${msg}\n  fix: bash scripts/setup.sh    (or: apt-get install frr gobgpd iproute2 nftables)`,
    );
  }
  if (!which('nft'))
    throw prereq("missing: nft (the lab's kube-proxy rules)\n  fix: apt-get install nftables");
  for (const f of ['lab/lab-cluster-main.js', 'lab/forward-main.js', 'lab/pod-main.js', 'cli.js'])
    if (!existsSync(join(DIST, f)))
      throw prereq(`cosmolet is not built (${join(DIST, f)} is missing)\n  fix: npm ci && npm run build`);
}

/** Namespaces of this prefix that exist now. */
export function labNamespaces(prefix: string): string[] {
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns').filter((n) => n.startsWith(`${prefix}-`));
}

function probeNetns(prefix: string): void {
  const ns = `${prefix}-probe`;
  const r = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (r.status !== 0)
    throw prereq(
      `cannot create a network namespace (ip netns add: ${(r.stderr || '').trim()}).\n` +
        '  fix: run on a machine or VM as root; in a container, it needs --privileged (CAP_SYS_ADMIN)',
    );
  spawnSync('ip', ['netns', 'del', ns]);
}

/** True when every process of the lab runs and its three fabric namespaces exist. */
export function labHealthy(state: LabState): { ok: boolean; problems: string[] } {
  const problems: string[] = [];
  if (state.status !== 'up') problems.push('its start did not finish');
  for (const p of state.processes) if (!isAlive(p)) problems.push(`${p.name} (pid ${p.pid}) is not running`);
  const ns = new Set(labNamespaces(state.prefix));
  for (const role of ['node', 'leaf', 'ext']) {
    const n = `${state.prefix}-${role}`;
    if (!ns.has(n)) problems.push(`namespace ${n} is missing`);
  }
  return { ok: problems.length === 0, problems };
}

/** FRR drops to the frr user: every directory above its sockets and logs must let others in. */
function checkTraversable(dir: string): void {
  chmodSync(dir, 0o755);
  for (let d = dirname(dir); d !== dirname(d); d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0)
      throw new LabError(
        ErrorCodes.LAB_FAILED,
        `${d} is not searchable by other users, so FRR (running as user frr) cannot reach ${dir}.\n` +
          `  fix: chmod o+x ${d}, or pick another --state-dir`,
      );
  }
}

function timed(started: number): string {
  return `${((Date.now() - started) / 1000).toFixed(1)} s`;
}

function tail(file: string, n = 15): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

export type UpResult = { state: LabState; reused: boolean; seconds: number };

export async function labUp(o: LabOptions): Promise<UpResult> {
  const t0 = Date.now();
  const dir = resolve(o.stateDir);
  const manifests = resolve(o.manifests);
  o.progress('checking prerequisites (root, network namespaces, FRR, GoBGP, nftables)');
  checkLabPrerequisites(o.command);

  const existing = readState(dir);
  if (existing) {
    const h = labHealthy(existing);
    if (h.ok) {
      o.progress(
        `a lab is already running (prefix ${existing.prefix}, started ${existing.startedAt}); reusing it`,
      );
      if (o.bfd)
        o.progress(
          `note: --bfd applies to a new lab only; for BFD: ${o.command} lab down${o.labFlags ?? ''}, then up --bfd`,
        );
      if (resolve(existing.manifests) !== manifests)
        o.progress(
          `note: it follows ${existing.manifests}, not ${manifests}; to switch: ${o.command} lab down${o.labFlags ?? ''}, then up again`,
        );
      return { state: existing, reused: true, seconds: (Date.now() - t0) / 1000 };
    }
    o.progress(`cleaning up a lab that is not whole (${h.problems.slice(0, 3).join('; ')})`);
    await labDown({ ...o, stateDir: dir });
  } else if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new LabError(
      ErrorCodes.LAB_FAILED,
      `${dir} is not empty and holds no lab state (${stateFile(dir)}); pick another --state-dir`,
    );
  } else {
    const stale = labNamespaces(o.prefix);
    if (stale.length > 0)
      throw new LabError(
        ErrorCodes.LAB_FAILED,
        `namespaces ${stale.join(', ')} exist but ${dir} has no lab state: they belong to a lab started with ` +
          `another --state-dir. Run ${o.command} lab down with that --state-dir, use another --prefix, or ` +
          `${o.command} lab down --prefix ${o.prefix} --force to delete them`,
      );
  }
  if (!existsSync(manifests))
    throw new LabError(ErrorCodes.LAB_FAILED, `the manifest directory ${manifests} does not exist`);
  probeNetns(o.prefix);

  mkdirSync(dir, { recursive: true, mode: 0o755 });
  checkTraversable(dir);
  const state: LabState = {
    version: 1,
    prefix: o.prefix,
    dir,
    manifests,
    status: 'starting',
    startedAt: new Date().toISOString(),
    upPid: process.pid,
    processes: [],
    kubeconfig: join(dir, 'kubeconfig'),
    nodeName: LAB_NODE_NAME,
  };
  writeState(state);
  const record = (name: string, pid: number | undefined): void => {
    if (pid === undefined) return;
    state.processes.push(labProcess(name, pid));
    writeState(state);
  };

  try {
    // 1. The fabric.
    let t = Date.now();
    o.progress(
      `starting the fabric: namespaces ${o.prefix}-node, ${o.prefix}-leaf, ${o.prefix}-ext; FRR and GoBGP`,
    );
    const fabricDir = join(dir, 'fabric');
    mkdirSync(fabricDir, { recursive: true });
    const fabric = new Fabric({ prefix: o.prefix, dir: fabricDir, persistent: true, bfd: o.bfd === true });
    await fabric.start();
    const daemons = ['zebra', 'staticd', 'bgpd', ...(o.bfd ? ['bfdd'] : [])];
    for (const role of ['node', 'leaf'] as const)
      for (const d of daemons) record(`${role}/${d}`, fabric.pid(role, d));
    record('ext/gobgpd', fabric.pid('ext', 'gobgpd'));
    // The leaf's loopback, announced to the node: the source of a curl from the leaf and the way back.
    await runCommand(['ip', '-n', fabric.ns.leaf, '-batch', '-'], {
      timeoutMs: 10_000,
      input: `addr add ${LEAF_LOOPBACK_V4}/32 dev lo\naddr add ${LEAF_LOOPBACK_V6}/128 dev lo\n`,
    });
    await runCommand(
      [
        'vtysh',
        '--vty_socket',
        fabric.socketDir('leaf'),
        '-c',
        'configure terminal',
        '-c',
        `router bgp ${fabric.addressing.leafAsn}`,
        '-c',
        'address-family ipv4 unicast',
        '-c',
        `network ${LEAF_LOOPBACK_V4}/32`,
        '-c',
        'exit-address-family',
        '-c',
        'address-family ipv6 unicast',
        '-c',
        `network ${LEAF_LOOPBACK_V6}/128`,
      ],
      { timeoutMs: 20_000 },
    );
    o.progress(`  BGP sessions up (node-leaf IPv6 unnumbered, node-GoBGP v4 and v6) in ${timed(t)}`);

    // 2. The simulated cluster.
    t = Date.now();
    o.progress(`starting the simulated cluster from ${manifests}`);
    const token = randomBytes(16).toString('hex');
    const clusterLog = join(dir, 'cluster.log');
    const fd = openSync(clusterLog, 'a');
    const cluster = spawn(
      process.execPath,
      [
        join(DIST, 'lab', 'lab-cluster-main.js'),
        '--dir',
        dir,
        '--prefix',
        o.prefix,
        '--manifests',
        manifests,
        '--node-ns',
        fabric.ns.node,
        '--token',
        token,
      ],
      { detached: true, stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    cluster.unref();
    record('cluster', cluster.pid);
    const clusterState = await waitFor(
      'the simulated cluster',
      async () => {
        if (cluster.exitCode !== null)
          throw new LabError(ErrorCodes.LAB_FAILED, `the simulated cluster exited:\n${tail(clusterLog)}`);
        const r = await getUnix(join(dir, 'ctl.sock'), '/state');
        return r.status === 200
          ? (JSON.parse(r.body) as {
              services: unknown[];
              pods: unknown[];
              manifests: { errors: { file: string; message: string }[] };
            })
          : undefined;
      },
      30_000,
      100,
    );
    o.progress(
      `  ${clusterState.services.length} Services, ${clusterState.pods.length} pods with kube-proxy rules, in ${timed(t)}`,
    );
    for (const e of clusterState.manifests.errors) o.progress(`  manifest ${e.file}: ${e.message}`);

    // 3. cosmolet in the node namespace, with the API and its HTTP port bridged over unix sockets.
    t = Date.now();
    o.progress(`starting cosmolet run in ${fabric.ns.node} (node ${LAB_NODE_NAME})`);
    const forward = join(DIST, 'lab', 'forward-main.js');
    record(
      'forward-api',
      fabric.spawn('node', [
        process.execPath,
        forward,
        '--listen',
        `tcp:127.0.0.1:${NODE_API_PORT}`,
        '--connect',
        `unix:${join(dir, 'api.sock')}`,
      ]).pid,
    );
    record(
      'forward-http',
      fabric.spawn('node', [
        process.execPath,
        forward,
        '--listen',
        `unix:${join(dir, 'http.sock')}`,
        '--connect',
        'tcp:127.0.0.1:8080',
      ]).pid,
    );
    const config = {
      advertise: {
        clusterIP: true,
        loadBalancerIP: true,
        externalIPs: true,
        allowedCIDRs: ['192.0.2.0/24', '2001:db8:96::/64'],
        withdrawOnCordon: true,
      },
      loopIntervalSeconds: 10,
      frr: { origination: 'kernel', socketDir: fabric.socketDir('node'), commandTimeoutSeconds: 10 },
      http: { address: '127.0.0.1:8080' },
      logging: { level: 'info', format: 'json' },
    };
    writeFileSync(join(dir, 'cosmolet.yaml'), stringifyYaml(config));
    const cosmoletLog = join(dir, 'cosmolet.log');
    record(
      'cosmolet',
      fabric.spawn(
        'node',
        [
          process.execPath,
          join(DIST, 'cli.js'),
          'run',
          '--config',
          join(dir, 'cosmolet.yaml'),
          '--kubeconfig',
          join(dir, 'node-kubeconfig'),
          '--node-name',
          LAB_NODE_NAME,
        ],
        { logFile: cosmoletLog },
      ).pid,
    );
    await waitFor(
      'cosmolet /readyz',
      async () => (await getUnix(join(dir, 'http.sock'), '/readyz')).status === 200,
      60_000,
      200,
    ).catch((err: unknown) => {
      throw new LabError(
        ErrorCodes.LAB_FAILED,
        `${err instanceof Error ? err.message : String(err)}\ncosmolet log (${cosmoletLog}):\n${tail(cosmoletLog)}`,
      );
    });
    o.progress(`  cosmolet ready in ${timed(t)}`);

    // 4. The routes at the leaf.
    t = Date.now();
    o.progress('waiting for the leaf and GoBGP to hold every advertised route');
    await waitFor(
      'the leaf and GoBGP to hold the advertised routes',
      async () => {
        const v = await gatherView(state, fabric);
        const advertised = v.services.flatMap((s) => s.ips).filter((i) => i.state === 'advertised');
        return advertised.every((i) => i.leaf && i.gobgp) ? advertised.length : undefined;
      },
      30_000,
      250,
    ).then((n) => o.progress(`  ${n} routes at the leaf and GoBGP in ${timed(t)}`));
    state.status = 'up';
    writeState(state);
    return { state, reused: false, seconds: (Date.now() - t0) / 1000 };
  } catch (err) {
    o.progress('start failed; removing what was created');
    await labDown({ ...o, stateDir: dir }).catch(() => undefined);
    throw err;
  }
}

/** Processes in the host namespace that belong to this lab although unrecorded (a killed `up`). */
function unrecordedClusterPids(dir: string): number[] {
  const out: number[] = [];
  const main = join(DIST, 'lab', 'lab-cluster-main.js');
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const i = args.indexOf('--dir');
      if (args[1] === main && i > 0 && args[i + 1] === dir) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

export interface DownResult {
  found: boolean;
  killed: number;
  namespaces: string[];
}

export async function labDown(o: LabOptions & { force?: boolean }): Promise<DownResult> {
  const dir = resolve(o.stateDir);
  const state = readState(dir);
  const prefix = state?.prefix ?? o.prefix;
  if (!state) {
    const ns = labNamespaces(prefix);
    if (ns.length > 0 && !o.force)
      throw new LabError(
        ErrorCodes.LAB_FAILED,
        `no lab state in ${dir}, but namespaces ${ns.join(', ')} exist (a lab with another --state-dir?). ` +
          `Add --force to delete them and what runs in them.`,
      );
    if (ns.length === 0 && unrecordedClusterPids(dir).length === 0)
      return { found: false, killed: 0, namespaces: [] };
  }
  let killed = 0;
  // The cluster process first, so that it does not create pods while the rest goes away.
  const procs = [...(state?.processes ?? [])].sort((a, b) =>
    a.name === 'cluster' ? -1 : b.name === 'cluster' ? 1 : 0,
  );
  for (const p of procs) if (killRecorded(p)) killed++;
  for (const pid of unrecordedClusterPids(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // gone
    }
  }
  const namespaces = cleanupStale(prefix);
  await waitFor(
    'the lab processes to exit',
    () => (state?.processes ?? []).every((p) => !isAlive(p)),
    10_000,
    50,
  ).catch(() => undefined);
  if (state || existsSync(stateFile(dir))) rmSync(dir, { recursive: true, force: true });
  return { found: true, killed, namespaces };
}

/** The commands printed after `up` and by `status`. */
export function labHints(state: LabState, command: string, labFlags = ''): string {
  const leafNs = `${state.prefix}-leaf`;
  const vty = join(state.dir, 'fabric', 'leaf', 'run');
  return [
    `kubectl:  kubectl --kubeconfig ${state.kubeconfig} get svc -A`,
    `leaf:     vtysh --vty_socket ${vty} -c 'show bgp ipv4 unicast'     (and ipv6 unicast)`,
    `curl:     ip netns exec ${leafNs} curl -s http://10.96.0.10/     ip netns exec ${leafNs} curl -sg 'http://[fd00:10:96::a]/'`,
    `cosmolet: ip netns exec ${state.prefix}-node curl -s 127.0.0.1:8080/status     (also /metrics, /readyz)`,
    `play:     edit the files in ${state.manifests} (applied when saved)`,
    `logs:     ${state.dir}/cosmolet.log, cluster.log, fabric/`,
    `status:   ${command} lab status${labFlags}     (--json for scripts)`,
    `stop:     ${command} lab down${labFlags}`,
  ].join('\n');
}
