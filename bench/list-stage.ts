// The list stage of a cold start, in one process against the API double (its own process): 10,000
// dual-stack Services and 20,000 EndpointSlices (100,000 endpoints) of the scale bench's shape,
// listed both at once (as cosmolet's reflectors do) three ways: the floor (a plain paginated LIST,
// each page JSON.parse'd, as bench/scale/list-floor-main.ts), the pager without projection, and
// the pager with the plan's projections (what `cosmolet run` lists). Medians of --rounds.
//
//   node --import tsx --conditions=source bench/list-stage.ts [--services N] [--rounds N] [--only pager|floor]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { planProjections } from '../src/controller/projections.js';
import { loadKubeClient, type KubeClient } from '../src/kube/client.js';
import { ListPager } from '../src/kube/pager.js';
import { silentLogger } from '../src/observe/log.js';
import type { KubeObject } from '../src/model/objects.js';
import { benchService, benchSlice, NODE_NAME } from './scale/workload.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const SERVICES = Number(arg('--services', '10000'));
const ROUNDS = Number(arg('--rounds', '5'));
const ONLY = arg('--only', '');
const PAGE = Number(arg('--limit', '500'));
const SVC = '/api/v1/services';
const EPS = '/apis/discovery.k8s.io/v1/endpointslices';

async function floor(client: KubeClient, path: string): Promise<number> {
  let cont = '';
  let n = 0;
  do {
    const r = await client.request(
      'GET',
      `${path}?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`,
    );
    const page = JSON.parse(r.body) as { items?: unknown[]; metadata?: { continue?: string } };
    n += page.items?.length ?? 0;
    cont = page.metadata?.continue ?? '';
  } while (cont);
  return n;
}

async function paged(
  client: KubeClient,
  path: string,
  project: (raw: KubeObject) => unknown,
): Promise<number> {
  const pager = new ListPager<unknown>({
    client,
    resource: path,
    path: (q) => `${path}?${new URLSearchParams(q).toString()}`,
    project,
    release: () => {},
    limits: {
      pageSize: PAGE,
      listTimeoutMs: 60_000,
      maxPageBytes: 64 << 20,
      maxListObjects: 1e7,
      maxListPages: 1e5,
    },
    signal: new AbortController().signal,
    stopping: () => false,
    progress: () => {},
    log: silentLogger(),
  });
  return (await pager.list()).objects.size;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function measure(kubeconfig: string): Promise<void> {
  const client = await loadKubeClient({ kubeconfigPath: kubeconfig });
  const ways: Record<string, () => Promise<unknown>> = {
    floor: () => Promise.all([floor(client, SVC), floor(client, EPS)]),
    'pager, no projection': () => Promise.all([paged(client, SVC, (o) => o), paged(client, EPS, (o) => o)]),
    'pager, plan projections': () => {
      const p = planProjections(NODE_NAME);
      return Promise.all([
        paged(client, SVC, p.services.project),
        paged(client, EPS, p.endpointSlices.project),
      ]);
    },
  };
  for (const [name, run] of Object.entries(ways)) {
    if (ONLY && !name.includes(ONLY)) continue;
    const ms: number[] = [];
    // CPU time of this process (the lister): steadier than wall time on a shared machine.
    const cpu: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t = performance.now();
      const c = process.cpuUsage();
      await run();
      const d = process.cpuUsage(c);
      ms.push(performance.now() - t);
      cpu.push((d.user + d.system) / 1000);
    }
    process.stdout.write(
      `${name}: median ${Math.round(median(ms))} ms wall, ${Math.round(median(cpu))} ms CPU (${ms.map(Math.round).join(', ')})\n`,
    );
  }
}

const dir = mkdtempSync(join(tmpdir(), 'cosmolet-list-stage-'));
try {
  const objectsFile = join(dir, 'objects.json');
  const items = [
    ...Array.from({ length: SERVICES }, (_, i) => benchService(i)),
    ...Array.from({ length: SERVICES }, (_, i) => benchSlice(i, 'IPv4')),
    ...Array.from({ length: SERVICES }, (_, i) => benchSlice(i, 'IPv6')),
  ];
  writeFileSync(objectsFile, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
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
    await measure(kubeconfig);
  } finally {
    child.kill('SIGTERM');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
