// Memory of the reflector stores for 10,000 Services and 50,000 endpoints (10,000 EndpointSlices of
// 5 endpoints), filled over real HTTPS from the API double running as a separate process, so that
// only the stores count in this process's heap.
//
//   node --import tsx bench/kube-store-memory.ts [--services N] [--endpoints-per-slice N]
//
// Prints the figures and writes them to bench/results/kube-store-memory.json.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadKubeClient } from '../src/kube/client.js';
import { Reflector } from '../src/kube/reflector.js';
import type { EndpointSlice, Service } from '../src/kube/types.js';
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
      clusterIPs: [ip],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
      selector: { app: `app-${i}` },
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
      sessionAffinity: 'None',
    },
    status:
      i % 10 === 0 ? { loadBalancer: { ingress: [{ ip: `192.0.2.${i % 250}` }] } } : { loadBalancer: {} },
  };
}

function endpointSlice(i: number): EndpointSlice & { ports: unknown[] } {
  const ns = `team-${i % 50}`;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `svc-${i}-abcde`,
      namespace: ns,
      labels: {
        'kubernetes.io/service-name': `svc-${i}`,
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      },
    },
    addressType: 'IPv4',
    endpoints: Array.from({ length: PER_SLICE }, (_, e) => ({
      addresses: [`10.${(i >> 8) & 255}.${i & 255}.${e + 1}`],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: `node-${(i + e) % 100}`,
      zone: `zone-${e % 3}`,
      targetRef: { kind: 'Pod', namespace: ns, name: `app-${i}-pod-${e}` },
    })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

async function main(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-bench-'));
  const objectsFile = join(dir, 'objects.json');
  const items = [
    ...Array.from({ length: SERVICES }, (_, i) => service(i)),
    ...Array.from({ length: SERVICES }, (_, i) => endpointSlice(i)),
  ];
  writeFileSync(objectsFile, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  const objectsBytes = statSync(objectsFile).size;
  items.length = 0;
  const kubeconfig = join(dir, 'kubeconfig');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'src/lab/apiserver-main.ts'),
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
    const client = await loadKubeClient({ kubeconfigPath: kubeconfig });
    gc();
    const before = process.memoryUsage();
    const started = Date.now();
    const services = new Reflector<Service>({ client, resource: 'services', logger: silentLogger() });
    const slices = new Reflector<EndpointSlice>({
      client,
      resource: 'endpointslices',
      logger: silentLogger(),
    });
    services.start();
    slices.start();
    while (!(services.synced && slices.synced)) await new Promise((r) => setTimeout(r, 10));
    const syncMs = Date.now() - started;
    gc();
    const after = process.memoryUsage();
    const endpoints = slices.items().reduce((n, s) => n + (s.endpoints?.length ?? 0), 0);
    const storeBytes = after.heapUsed - before.heapUsed;
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      services: services.size,
      endpointSlices: slices.size,
      endpoints,
      objectsJsonBytes: objectsBytes,
      storeHeapBytes: storeBytes,
      storeHeapMB: Math.round(storeBytes / 1e5) / 10,
      bytesPerService: Math.round(storeBytes / services.size),
      initialSyncMs: syncMs,
    };
    await services.stop();
    await slices.stop();
    process.stdout.write(
      `kube store memory: ${result.services} Services + ${result.endpointSlices} EndpointSlices (${result.endpoints} endpoints)\n` +
        `  heap used by the stores: ${result.storeHeapMB} MB (${result.bytesPerService} bytes per Service incl. its slice)\n` +
        `  the same objects as list JSON: ${Math.round(objectsBytes / 1e5) / 10} MB\n` +
        `  initial list over HTTPS (pages of 500): ${syncMs} ms\n`,
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

main().catch((err: unknown) => {
  process.stderr.write(`kube-store-memory: ${String(err)}\n`);
  process.exit(1);
});
