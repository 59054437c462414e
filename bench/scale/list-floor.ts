// The list floor: how long a plain paginated LIST (500 a page, as cosmolet's reflectors ask) of every
// Service and of every EndpointSlice takes from the API server, with cosmolet's own client
// (src/kube/client.ts), its in-cluster credentials (the service account directory) and, by default,
// from the node namespace at 127.0.0.1:6443: the path cosmolet's cold start takes. It runs as its own
// process (list-floor-main.ts), a fresh Node.js as cosmolet's is, and each round lists Services,
// then EndpointSlices, one after the other, then both at once (as cosmolet's reflectors do: the floor
// its "lists complete" is held against); every page's JSON is parsed, as the reflector does.
import { runCommand } from '../../src/router/exec.js';
import type { Fabric } from '@cosmolet/lab/fabric/fabric';

const MAIN = new URL('./list-floor-main.ts', import.meta.url).pathname;

export interface ListTime {
  ms: number;
  items: number;
  pages: number;
}

export interface ListRound {
  services: ListTime;
  endpointSlices: ListTime;
  /** Both lists at once, until the later one is complete (absent in the first results). */
  concurrentMs?: number;
}

export interface ListFloor {
  /** Where the lists were sent from, e.g. "node namespace, 127.0.0.1:6443". */
  path: string;
  rounds: ListRound[];
  /** Medians over the rounds; totalMs is the median of each round's Services + EndpointSlices. */
  servicesMs: number;
  endpointSlicesMs: number;
  totalMs: number;
  /** The median of both lists at once: the list floor of a cold start. */
  concurrentMs?: number;
}

/** The list floor a cold start is held against: both lists at once, else (older results) their sum. */
export function listFloorMs(f: ListFloor): number {
  return f.concurrentMs ?? f.totalMs;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
}

export function summarize(path: string, rounds: ListRound[]): ListFloor {
  return {
    path,
    rounds,
    servicesMs: median(rounds.map((r) => r.services.ms)),
    endpointSlicesMs: median(rounds.map((r) => r.endpointSlices.ms)),
    totalMs: median(rounds.map((r) => r.services.ms + r.endpointSlices.ms)),
    ...(rounds.every((r) => r.concurrentMs !== undefined)
      ? { concurrentMs: median(rounds.map((r) => r.concurrentMs ?? NaN)) }
      : {}),
  };
}

/**
 * Runs list-floor-main.ts `rounds` times over in one process. With `fabric`, inside its node
 * namespace against 127.0.0.1:6443; without, in this namespace against `host`:`port`.
 */
export async function measureListFloor(opts: {
  serviceAccountDir: string;
  rounds: number;
  fabric?: Fabric;
  host?: string;
  port?: number;
}): Promise<ListFloor> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 6443;
  const argv = [
    process.execPath,
    '--import',
    import.meta.resolve('tsx'),
    MAIN,
    '--service-account',
    opts.serviceAccountDir,
    '--host',
    host,
    '--port',
    String(port),
    '--rounds',
    String(opts.rounds),
  ];
  const r = opts.fabric
    ? await opts.fabric.exec('node', argv, { timeoutMs: 900_000 })
    : await runCommand(argv, { timeoutMs: 900_000 });
  const rounds = JSON.parse(r.stdout) as ListRound[];
  const where = opts.fabric ? `node namespace, ${host}:${port}` : `host, ${host}:${port}`;
  return summarize(where, rounds);
}
