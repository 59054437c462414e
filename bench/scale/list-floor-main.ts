// One list-floor measurement (list-floor.ts): `rounds` times, a paginated LIST of every Service and
// then of every EndpointSlice (limit 500, following `continue`, each page parsed) with cosmolet's
// in-cluster client, then both lists at once; prints the rounds as JSON on stdout.
//
//   node --import tsx bench/scale/list-floor-main.ts --service-account DIR --host H --port P --rounds N
import { parseArgs } from 'node:util';
import { loadKubeClient, statusMessage, type KubeClient } from '../../src/kube/client.js';
import type { ListRound, ListTime } from './list-floor.js';

const { values } = parseArgs({
  options: {
    'service-account': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '6443' },
    rounds: { type: 'string', default: '3' },
  },
  strict: true,
});

async function list(client: KubeClient, path: string): Promise<ListTime> {
  const started = performance.now();
  let cont = '';
  let items = 0;
  let pages = 0;
  do {
    const r = await client.request(
      'GET',
      `${path}?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`,
    );
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${statusMessage(r.body)}`);
    const page = JSON.parse(r.body) as { items?: unknown[]; metadata?: { continue?: string } };
    items += page.items?.length ?? 0;
    pages++;
    cont = page.metadata?.continue ?? '';
  } while (cont);
  return { ms: performance.now() - started, items, pages };
}

const client = await loadKubeClient({
  env: { KUBERNETES_SERVICE_HOST: values.host, KUBERNETES_SERVICE_PORT: values.port },
  serviceAccountDir: values['service-account'] ?? '',
});
const rounds: ListRound[] = [];
for (let i = 0; i < Number(values.rounds); i++) {
  const services = await list(client, '/api/v1/services');
  const endpointSlices = await list(client, '/apis/discovery.k8s.io/v1/endpointslices');
  // Both at once, as cosmolet's reflectors list them.
  const started = performance.now();
  await Promise.all([
    list(client, '/api/v1/services'),
    list(client, '/apis/discovery.k8s.io/v1/endpointslices'),
  ]);
  rounds.push({ services, endpointSlices, concurrentMs: performance.now() - started });
}
process.stdout.write(JSON.stringify(rounds) + '\n');
process.exit(0);
