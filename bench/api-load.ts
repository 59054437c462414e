// What one node's cosmolet asks of the API server, measured in the fabric lab (root, FRR, GoBGP):
// the built `cosmolet run` against the API double, which logs every request. From these per-node
// figures docs/operations.md derives the load of a 5,000-node cluster with 10,000 Services.
// - requests and watch streams at start (pages of 500);
// - Events written per Service change, by kind of change: a Cluster-policy endpoint flip (decided
//   alike on every node), a Local-policy flip (this node's own), a Service created with an invalid IP;
// - bytes of one EndpointSlice watch event (what every node receives for every slice update).
// Run: node --import tsx bench/api-load.ts [services]. Writes bench/results/api-load.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { waitFor } from '@cosmolet/lab/wait';
import { isReporter } from '../src/controller/reporter-nodes.js';
import { NODE, OTHER, node, service, slice } from '../test/e2e/controller/cluster.js';
import { inControllerLab } from './controller-lab.js';

const SERVICES = Number(process.argv[2] ?? 1000);
const FLIPS = 50;

function ipv4(i: number): string {
  return `10.96.${(i >> 8) & 255}.${i & 255}`;
}

async function main(): Promise<void> {
  await inControllerLab(async (lab, startCosmolet) => {
    lab.api.create('nodes', node());
    for (let i = 0; i < SERVICES; i++) {
      const local = i % 10 === 0;
      lab.api.create(
        'services',
        service(`s${i}`, {
          type: local ? 'LoadBalancer' : 'ClusterIP',
          clusterIPs: [ipv4(i)],
          ...(local ? { ingress: [`192.0.2.${(i / 10) % 250}`], etp: 'Local' as const } : {}),
        }),
      );
      lab.api.create(
        'endpointslices',
        slice(`s${i}`, 'IPv4', [
          { ip: `10.1.${(i >> 8) & 255}.${i & 255}`, node: local ? NODE : OTHER },
          { ip: `10.2.${(i >> 8) & 255}.${i & 255}`, node: OTHER },
        ]),
      );
    }
    const startAt = lab.api.requests.length;
    startCosmolet({ logging: { level: 'warn' }, advertise: { loadBalancerIP: true } });
    await lab.waitReady(120_000);
    const startup = lab.api.requests.slice(startAt);
    const lists = startup.filter((r) => r.method === 'GET' && !r.watch).length;
    const watches = lab.api.activeWatches;

    const eventWrites = (): number =>
      lab.api.requests.filter(
        (r) => r.path.includes('/events') && (r.method === 'POST' || r.method === 'PATCH'),
      ).length;
    const settle = async (): Promise<void> => {
      // Events are sent by a background queue: wait until the count is stable for 1 s.
      let last = -1;
      await waitFor(
        'Event writes to settle',
        async () => {
          const n = eventWrites();
          const stable = n === last;
          last = n;
          if (!stable) await new Promise((r) => setTimeout(r, 1000));
          return stable;
        },
        30_000,
        0,
      );
    };
    await settle();
    const afterStart = eventWrites();

    const flip = async (i: number, ready: boolean): Promise<void> => {
      const local = i % 10 === 0;
      lab.api.upsert(
        'endpointslices',
        slice(`s${i}`, 'IPv4', [
          { ip: `10.1.${(i >> 8) & 255}.${i & 255}`, node: local ? NODE : OTHER, ready },
          { ip: `10.2.${(i >> 8) & 255}.${i & 255}`, node: OTHER, ready: local ? true : ready },
        ]),
      );
      const prefix = local ? `192.0.2.${(i / 10) % 250}/32` : `${ipv4(i)}/32`;
      await waitFor(
        `${prefix} ${ready ? 'at' : 'gone from'} the leaf`,
        async () => (await lab.leafFib()).has(prefix) === ready,
        5000,
        20,
      );
    };

    // Cluster policy: every node decides alike; before this change each node wrote an Event.
    let base = eventWrites();
    for (let k = 0; k < FLIPS; k++) {
      const i = k * 10 + 1; // never a Local one (those are i % 10 === 0)
      await flip(i, false);
      await flip(i, true);
    }
    await settle();
    const clusterFlipEvents = (eventWrites() - base) / (2 * FLIPS);

    // Local policy: only nodes with a local endpoint advertise; their Events are their own.
    base = eventWrites();
    const localFlips = Math.min(FLIPS, Math.floor(SERVICES / 10));
    for (let k = 0; k < localFlips; k++) {
      await flip(k * 10, false);
      await flip(k * 10, true);
    }
    await settle();
    const localFlipEvents = (eventWrites() - base) / (2 * localFlips);

    // A Service created with an invalid IP: refused alike everywhere, reported by few nodes.
    base = eventWrites();
    for (let k = 0; k < FLIPS; k++)
      lab.api.create('services', service(`bad${k}`, { clusterIPs: [`010.0.0.${k}`] }));
    await settle();
    const refusalEventsThisNode = (eventWrites() - base) / FLIPS;
    const nodes5000 = Array.from({ length: 5000 }, (_, i) => `node-${i}`);
    const reportersAt5000 = nodes5000.filter((n) => isReporter('default/bad0', n, nodes5000)).length;

    const sliceEventBytes = Buffer.byteLength(
      JSON.stringify({ type: 'MODIFIED', object: lab.api.list('endpointslices')[0] }) + '\n',
    );
    const result = {
      date: new Date().toISOString(),
      services: SERVICES,
      startup: { listRequests: lists, watchStreams: watches },
      eventWritesAtStart: afterStart,
      eventWritesPerChange: {
        clusterPolicyFlip: clusterFlipEvents,
        localPolicyFlip: localFlipEvents,
        invalidIPOnThisNode: refusalEventsThisNode,
        invalidIPReportersIn5000Nodes: reportersAt5000,
      },
      sliceWatchEventBytes: sliceEventBytes,
    };
    process.stdout.write(
      `api load of one node (${SERVICES} Services):\n` +
        `  start: ${lists} list requests, ${watches} watch streams, ${afterStart} Event writes\n` +
        `  Event writes per change: Cluster-policy flip ${clusterFlipEvents}, Local-policy flip ${localFlipEvents}, ` +
        `invalid IP ${refusalEventsThisNode} here (${reportersAt5000} reporter nodes of 5,000)\n` +
        `  one EndpointSlice watch event: ${sliceEventBytes} bytes\n`,
    );
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/api-load.json', JSON.stringify(result, null, 2) + '\n');
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`api-load: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
