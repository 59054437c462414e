// Memory of the reflector stores for 10,000 dual-stack Services, each with an IPv4 and an IPv6
// EndpointSlice of 5 endpoints (100,000 endpoints), filled over real HTTPS from the API double
// running as a separate process, so that only the stores count in this process's heap. Measured
// twice: stores of the raw objects (what cosmolet kept before) and of the plan's projections (what
// `cosmolet run` keeps).
//
//   node --import tsx bench/kube-store-memory.ts [--services N] [--endpoints-per-slice N]
//
// Prints the figures and writes them to bench/results/kube-store-memory.json.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadKubeClient } from '../src/kube/client.js';
import { Reflector } from '../src/kube/reflector.js';
import type { KubeClient } from '../src/kube/client.js';
import type { EndpointSlice, Service } from '../src/model/objects.js';
import { projectService, projectSlice, sameService, sameSlice } from '../src/plan/input.js';
import { silentLogger } from '../src/observe/log.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

const SERVICES = arg('--services', 10_000);
const PER_SLICE = arg('--endpoints-per-slice', 5);

function service(i: number): Service {
  const ns = `team-${i % 50}`;
  const ip = `10.96.${(i >> 8) & 255}.${i & 255}`;
  const ip6 = `fd00:10:96::${i.toString(16)}`;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: `svc-${i}`,
      namespace: ns,
      labels: {
        app: `app-${i}`,
        'app.kubernetes.io/part-of': `product-${i % 20}`,
        tier: i % 2 ? 'web' : 'api',
      },
      annotations: { 'cosmolet.io/advertise': 'true' },
    },
    spec: {
      type: i % 10 === 0 ? 'LoadBalancer' : 'ClusterIP',
      clusterIP: ip,
      clusterIPs: [ip, ip6],
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
      internalTrafficPolicy: 'Cluster',
      selector: { app: `app-${i}` },
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
      sessionAffinity: 'None',
    },
    status:
      i % 10 === 0 ? { loadBalancer: { ingress: [{ ip: `192.0.2.${i % 250}` }] } } : { loadBalancer: {} },
  };
}

function endpointSlice(i: number, family: 'IPv4' | 'IPv6'): EndpointSlice & { ports: unknown[] } {
  const ns = `team-${i % 50}`;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `svc-${i}-${family === 'IPv4' ? 'abcde' : 'fghij'}`,
      namespace: ns,
      labels: {
        'kubernetes.io/service-name': `svc-${i}`,
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      },
    },
    addressType: family,
    endpoints: Array.from({ length: PER_SLICE }, (_, e) => ({
      addresses: [
        family === 'IPv4' ? `10.${(i >> 8) & 255}.${i & 255}.${e + 1}` : `fd00:1::${i.toString(16)}:${e + 1}`,
      ],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: `node-${(i + e) % 100}`,
      zone: `zone-${e % 3}`,
      targetRef: { kind: 'Pod', namespace: ns, name: `app-${i}-pod-${e}` },
    })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

function measureInChild(kubeconfig: string, mode: 'raw' | 'projected'): Measured {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--measure', mode, '--kubeconfig', kubeconfig],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (r.status !== 0) throw new Error(`measuring ${mode} stores failed (exit ${r.status})`);
  return JSON.parse(r.stdout) as Measured;
}

async function main(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const mode = process.argv[process.argv.indexOf('--measure') + 1];
  if (process.argv.includes('--measure') && (mode === 'raw' || mode === 'projected')) {
    const kc = process.argv[process.argv.indexOf('--kubeconfig') + 1] ?? '';
    const client = await loadKubeClient({ kubeconfigPath: kc });
    process.stdout.write(JSON.stringify(await measure(client, gc, mode === 'projected')));
    process.exit(0);
  }
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-bench-'));
  const objectsFile = join(dir, 'objects.json');
  const items = [
    ...Array.from({ length: SERVICES }, (_, i) => service(i)),
    ...Array.from({ length: SERVICES }, (_, i) => endpointSlice(i, 'IPv4')),
    ...Array.from({ length: SERVICES }, (_, i) => endpointSlice(i, 'IPv6')),
  ];
  writeFileSync(objectsFile, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  const objectsBytes = statSync(objectsFile).size;
  items.length = 0;
  const kubeconfig = join(dir, 'kubeconfig');
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      join(root, 'packages/kube-double/src/apiserver-main.ts'),
      '--listen',
      '127.0.0.1:0',
      '--token',
      'bench',
      '--kubeconfig',
      kubeconfig,
      '--objects',
      objectsFile,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], cwd: root },
  );
  try {
    await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`API double exited (${code})`)));
    });
    // Each store kind in a process of its own: garbage of one must not count for the other.
    const raw = measureInChild(kubeconfig, 'raw');
    const projected = measureInChild(kubeconfig, 'projected');
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      services: SERVICES,
      endpointSlices: 2 * SERVICES,
      endpoints: 2 * SERVICES * PER_SLICE,
      objectsJsonBytes: objectsBytes,
      raw,
      projected,
    };
    const line = (what: string, m: Measured): string =>
      `  ${what}: ${m.storeHeapMB} MB heap (${m.bytesPerService} bytes per Service with its two slices), listed in ${m.initialSyncMs} ms\n`;
    process.stdout.write(
      `kube store memory: ${result.services} dual-stack Services + ${result.endpointSlices} EndpointSlices (${result.endpoints} endpoints)\n` +
        line('raw objects (before)', raw) +
        line('projections (cosmolet run)', projected) +
        `  the same objects as list JSON: ${Math.round(objectsBytes / 1e5) / 10} MB\n`,
    );
    const out = join(root, 'bench/results/kube-store-memory.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(`  written to ${out}\n`);
  } finally {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Measured {
  storeHeapBytes: number;
  storeHeapMB: number;
  bytesPerService: number;
  initialSyncMs: number;
}

async function measure(client: KubeClient, gc: () => void, project: boolean): Promise<Measured> {
  gc();
  const before = process.memoryUsage();
  const started = Date.now();
  const services = project
    ? new Reflector({
        client,
        resource: 'services',
        logger: silentLogger(),
        project: (o) => projectService(o),
        same: sameService,
      })
    : new Reflector<Service>({ client, resource: 'services', logger: silentLogger() });
  const slices = project
    ? new Reflector({
        client,
        resource: 'endpointslices',
        logger: silentLogger(),
        project: (o) => projectSlice(o, 'node-1'),
        same: sameSlice,
      })
    : new Reflector<EndpointSlice>({ client, resource: 'endpointslices', logger: silentLogger() });
  services.start();
  slices.start();
  while (!(services.synced && slices.synced)) await new Promise((r) => setTimeout(r, 10));
  const initialSyncMs = Date.now() - started;
  gc();
  const storeHeapBytes = process.memoryUsage().heapUsed - before.heapUsed;
  const n = services.size;
  await services.stop();
  await slices.stop();
  return {
    storeHeapBytes,
    storeHeapMB: Math.round(storeHeapBytes / 1e5) / 10,
    bytesPerService: Math.round(storeHeapBytes / n),
    initialSyncMs,
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`kube-store-memory: ${String(err)}\n`);
  process.exit(1);
});
