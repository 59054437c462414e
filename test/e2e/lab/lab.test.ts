// `cosmolet lab` end to end, as root with real FRR, GoBGP, nftables and the built CLI: up and down
// twice, recovery after a killed `up`, the manifest-directory watch, `status --json` against what
// the leaf holds, and curl from the leaf through the DNAT data path. Every test uses its own state
// directory, namespace prefix and copy of examples/lab, so a user's lab is never touched.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { namespacesWithPrefix, waitFor } from '../../../src/lab/fabric.js';
import { isAlive, readState, type LabState } from '../../../src/lab/lab-state.js';
import { fabricHandle, type LabView } from '../../../src/lab/lab-view.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const CLI = join(ROOT, 'dist', 'cli.js');
const EXAMPLES = join(ROOT, 'examples', 'lab');
const isRoot = process.getuid?.() === 0;
const hasFrr = existsSync('/usr/lib/frr/bgpd') && spawnSync('which', ['gobgpd', 'nft']).status === 0;
const skip = !isRoot ? 'needs root' : !hasFrr ? 'needs frr, gobgpd and nftables' : false;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Lab {
  stateDir: string;
  prefix: string;
  manifests: string;
  args: string[];
}

before(() => {
  if (skip) return;
  if (!existsSync(join(ROOT, 'dist', 'lab', 'lab-cluster-main.js'))) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
});

const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function cli(args: string[], timeoutMs = 120_000, env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cosmolet ${args.join(' ')}: no exit within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh lab identity: temp state dir, unique prefix, a copy of examples/lab; downed in t.after. */
function newLab(t: TestContext): Lab {
  const base = mkdtempSync(join(tmpdir(), 'cosmolet-lab-test-'));
  // FRR runs as user frr and must reach its sockets under the state directory.
  chmodSync(base, 0o755);
  const manifests = join(base, 'manifests');
  cpSync(EXAMPLES, manifests, { recursive: true });
  const stateDir = join(base, 'state');
  const prefix = `lt${randomBytes(3).toString('hex')}`;
  const lab = { stateDir, prefix, manifests, args: ['--state-dir', stateDir, '--prefix', prefix] };
  t.after(async () => {
    // By pid from the state file, and the lab's own namespaces; then the temp directory.
    await cli(['lab', 'down', ...lab.args, '--force'], 60_000).catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  });
  return lab;
}

async function up(lab: Lab): Promise<CliResult> {
  const r = await cli(['lab', 'up', '--detach', '--manifests', lab.manifests, ...lab.args]);
  assert.equal(r.code, 0, `lab up failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

async function status(lab: Lab): Promise<LabView> {
  const r = await cli(['lab', 'status', '--json', ...lab.args], 60_000);
  assert.equal(r.code, 0, `lab status failed:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as LabView;
}

function state(lab: Lab): LabState {
  const s = readState(lab.stateDir);
  assert.ok(s, `no lab state in ${lab.stateDir}`);
  return s;
}

async function leafRoutes(lab: Lab): Promise<Set<string>> {
  return fabricHandle(state(lab)).leafRoutes();
}

/** Prefixes inside the lab's service ranges. */
function service(prefix: string): boolean {
  return /^(10\.96\.|192\.0\.2\.|fd00:10:96:|2001:db8:96:)/.test(prefix);
}

async function down(lab: Lab): Promise<void> {
  const before = readState(lab.stateDir);
  const r = await cli(['lab', 'down', ...lab.args], 60_000);
  assert.equal(r.code, 0, `lab down failed:\n${r.stdout}\n${r.stderr}`);
  assert.deepEqual(namespacesWithPrefix(lab.prefix), [], 'namespaces left after lab down');
  for (const p of before?.processes ?? [])
    assert.ok(!isAlive(p), `${p.name} (pid ${p.pid}) survived lab down`);
  assert.equal(existsSync(lab.stateDir), false, 'state directory left after lab down');
  const leftovers = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes(lab.stateDir) || l.includes(`${lab.prefix}-`));
  assert.deepEqual(leftovers, [], 'processes of the lab left after lab down');
}

function curlFromLeaf(lab: Lab, url: string): { ok: boolean; body: string } {
  const r = spawnSync('ip', ['netns', 'exec', `${lab.prefix}-leaf`, 'curl', '-sg', '--max-time', '3', url], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  return { ok: r.status === 0, body: r.stdout };
}

function ipState(
  v: LabView,
  ip: string,
): { state: string; reason: string | null; leaf: boolean } | undefined {
  return v.services.flatMap((s) => s.ips).find((i) => i.ip === ip);
}

test('lab up, status --json agrees with the leaf, down; twice in a row', { skip }, async (t) => {
  const lab = newLab(t);
  for (let round = 1; round <= 2; round++) {
    const started = Date.now();
    const r = await up(lab);
    t.diagnostic(`round ${round}: lab up took ${Date.now() - started} ms`);
    assert.match(r.stdout, /kubectl --kubeconfig \S+ get svc -A/);
    assert.match(r.stdout, /vtysh --vty_socket \S+ -c 'show bgp ipv4 unicast'/);
    assert.match(r.stdout, /lab down/);
    for (const role of ['node', 'leaf', 'ext'])
      assert.ok(namespacesWithPrefix(lab.prefix).includes(`${lab.prefix}-${role}`));

    const v = await status(lab);
    assert.equal(v.running, true);
    assert.equal(v.cosmolet.ready, true);
    const ips = v.services.flatMap((s) => s.ips);
    // The examples: advertised dual-stack Services, the LB with its ingress IPs, one without ready
    // endpoints, one opted out.
    assert.equal(ipState(v, '10.96.0.10')?.state, 'advertised');
    assert.equal(ipState(v, 'fd00:10:96::a')?.state, 'advertised');
    assert.equal(ipState(v, '192.0.2.10')?.state, 'advertised');
    assert.equal(ipState(v, '2001:db8:96::10')?.state, 'advertised');
    assert.equal(ipState(v, '10.96.0.12')?.reason, 'no-ready-endpoints');
    assert.equal(ipState(v, '10.96.0.13')?.reason, 'opted-out');
    // The view's leaf column is what the leaf holds, and the leaf holds exactly what is advertised.
    const leaf = new Set([...(await leafRoutes(lab))].filter(service));
    const advertised = ips.filter((i) => i.state === 'advertised').map((i) => i.prefix);
    assert.deepEqual([...leaf].sort(), [...new Set(advertised)].sort());
    for (const i of ips) {
      assert.equal(i.leaf, leaf.has(i.prefix), `leaf flag of ${i.ip}`);
      assert.equal(i.installed, i.state === 'advertised', `installed flag of ${i.ip}`);
      assert.equal(i.gobgp, i.state === 'advertised', `gobgp flag of ${i.ip}`);
    }

    // A second `up` reuses the running lab.
    const again = await up(lab);
    assert.match(again.stdout, /already running/);
    await down(lab);
  }
  // down is idempotent.
  const r = await cli(['lab', 'down', ...lab.args]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /nothing to do/);
  const s = await cli(['lab', 'status', '--json', ...lab.args]);
  assert.equal(s.code, 3);
  assert.deepEqual(JSON.parse(s.stdout), { running: false });
});

test('a killed lab up is cleaned up by lab down, and a new up works', { skip }, async (t) => {
  const lab = newLab(t);
  // Kill once while the fabric starts, once while cosmolet starts.
  const killPoints: [string, () => boolean][] = [
    ['fabric', () => namespacesWithPrefix(lab.prefix).includes(`${lab.prefix}-ext`)],
    ['cosmolet', () => (readState(lab.stateDir)?.processes ?? []).some((p) => p.name === 'forward-api')],
  ];
  for (const [where, reached] of killPoints) {
    const child = spawn(
      process.execPath,
      [CLI, 'lab', 'up', '--detach', '--manifests', lab.manifests, ...lab.args],
      { stdio: 'ignore' },
    );
    children.add(child);
    const exited = new Promise((r) => child.once('exit', r));
    await waitFor(`lab up to reach the ${where} step`, reached, 60_000, 10);
    child.kill('SIGKILL');
    await exited;
    children.delete(child);
    assert.equal(readState(lab.stateDir)?.status, 'starting', `killed during ${where}: state says starting`);
    const st = await cli(['lab', 'status', ...lab.args]);
    assert.equal(st.code, 3, 'status of a half-made lab exits 3');
    assert.match(st.stdout, /not whole/);
    await down(lab);
  }
  // And after a killed up, `up` itself recovers.
  const child = spawn(
    process.execPath,
    [CLI, 'lab', 'up', '--detach', '--manifests', lab.manifests, ...lab.args],
    {
      stdio: 'ignore',
    },
  );
  children.add(child);
  const exited = new Promise((r) => child.once('exit', r));
  await waitFor('lab up to start the cluster', killPoints[1]?.[1] ?? (() => true), 60_000, 10);
  child.kill('SIGKILL');
  await exited;
  const r = await up(lab);
  assert.match(r.stdout, /cleaning up a lab that is not whole/);
  const v = await status(lab);
  assert.equal(ipState(v, '10.96.0.10')?.leaf, true);
  await down(lab);
});

test(
  'the manifest directory drives the cluster; curl from the leaf follows the routes',
  { skip },
  async (t) => {
    const lab = newLab(t);
    await up(lab);
    const leafHas = async (prefix: string, want: boolean): Promise<void> => {
      await waitFor(
        `the leaf to ${want ? 'hold' : 'withdraw'} ${prefix}`,
        async () => (await leafRoutes(lab)).has(prefix) === want,
        20_000,
        100,
      );
    };

    // The data path: IPv4 over the IPv6 unnumbered link, and IPv6; the LB ingress IP too.
    assert.match(curlFromLeaf(lab, 'http://10.96.0.10/').body, /pod default\/web-0 of default\/web/);
    assert.match(curlFromLeaf(lab, 'http://[fd00:10:96::a]/').body, /pod default\/web-0/);
    assert.match(curlFromLeaf(lab, 'http://192.0.2.10/').body, /pod shop\/storefront-0/);
    assert.equal(curlFromLeaf(lab, 'http://10.96.0.12:5432/').ok, false, 'db has no route at the leaf');

    // Edit a file: web's IPv4 endpoint becomes unready -> withdrawn at the leaf, curl fails; IPv6 stays.
    const web = join(lab.manifests, 'web.yaml');
    const original = readFileSync(web, 'utf8');
    const ipv4Part = original.indexOf('name: web-ipv4');
    const edited =
      original.slice(0, ipv4Part) + original.slice(ipv4Part).replace('ready: true', 'ready: false');
    assert.notEqual(edited, original);
    writeFileSync(web, edited);
    await leafHas('10.96.0.10/32', false);
    assert.equal(curlFromLeaf(lab, 'http://10.96.0.10/').ok, false, 'curl must fail once withdrawn');
    assert.ok(curlFromLeaf(lab, 'http://[fd00:10:96::a]/').ok, 'the IPv6 ClusterIP stays');
    const v = await status(lab);
    assert.equal(ipState(v, '10.96.0.10')?.reason, 'no-ready-endpoints');
    assert.equal(ipState(v, '10.96.0.10')?.leaf, false);

    // Back to ready -> advertised again and reachable.
    writeFileSync(web, original);
    await leafHas('10.96.0.10/32', true);
    await waitFor(
      'curl 10.96.0.10 from the leaf',
      () => curlFromLeaf(lab, 'http://10.96.0.10/').ok,
      10_000,
      100,
    );

    // Add a file: a new Service with a new pod -> advertised and served.
    const extra = join(lab.manifests, 'extra.yaml');
    const svc = [
      'apiVersion: v1',
      'kind: Service',
      'metadata: { name: extra, namespace: default }',
      'spec:',
      '  clusterIP: 10.96.0.30',
      '  clusterIPs: [10.96.0.30]',
      '  ports: [{ port: 80, targetPort: 9090 }]',
    ].join('\n');
    const slice = [
      'apiVersion: discovery.k8s.io/v1',
      'kind: EndpointSlice',
      'metadata: { name: extra-ipv4, namespace: default, labels: { kubernetes.io/service-name: extra } }',
      'addressType: IPv4',
      'ports: [{ port: 9090 }]',
      'endpoints:',
      '  - addresses: [10.244.1.30]',
      '    conditions: { ready: true }',
      '    targetRef: { kind: Pod, name: extra-0, namespace: default }',
    ].join('\n');
    writeFileSync(extra, `${svc}\n---\n${slice}\n`);
    await leafHas('10.96.0.30/32', true);
    await waitFor(
      'curl 10.96.0.30 from the leaf',
      () => /pod default\/extra-0/.test(curlFromLeaf(lab, 'http://10.96.0.30/').body),
      10_000,
      100,
    );

    // Remove an object from the file: the EndpointSlice is deleted -> no ready endpoints -> withdrawn.
    writeFileSync(extra, `${svc}\n`);
    await leafHas('10.96.0.30/32', false);
    // Remove the file: the Service is deleted too.
    rmSync(extra);
    await waitFor(
      'the extra Service to be gone from the view',
      async () => !(await status(lab)).services.some((s) => s.service === 'default/extra'),
      20_000,
      200,
    );
    await down(lab);
  },
);

test(
  'lab up as a non-root user says so and how to fix it',
  { skip: isRoot ? false : 'needs root to drop it' },
  () => {
    if (spawnSync('which', ['setpriv']).status !== 0) return;
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        CLI,
        'lab',
        'up',
        '--state-dir',
        '/nonexistent/x',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /needs root/);
    assert.match(r.stderr, /fix: sudo/);
  },
);
