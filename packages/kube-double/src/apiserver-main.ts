// Standalone API server double (see apiserver.ts), for `cosmolet lab` and manual use:
//
//   node --conditions=source --import tsx packages/kube-double/src/apiserver-main.ts [--listen HOST:PORT] [--token TOKEN]
//        [--kubeconfig PATH] [--objects FILE.yaml|json] [--plain-http] [--bookmark-interval-ms N]
//        [--history-limit N]
//   (or node packages/kube-double/dist/apiserver-main.js ... after the build)
//
// Prints one JSON line on stdout when it serves: {"ready":true,"url":...,"kubeconfig":...,"pid":...}.
// Exits 0 on SIGTERM/SIGINT, 2 on bad arguments. Faults and the request log are reachable over HTTP:
// POST /_lab/faults {"action":"dropWatches"|"stallWatches"|"failNext"|"compact"|"expireWatches"|
// "restart"|"clearFaults"|"unstallWatches", ...}, GET /_lab/requests, and POST /_lab/objects (bulk
// upsert, YAML or JSON), all with the token.
import { readFileSync } from 'node:fs';
import { errorMessage, EXIT_USAGE } from 'cosmolet/errors';
import type { KubeObject } from 'cosmolet/model/objects';
import { createLogger } from 'cosmolet/observe/log';
import { FakeApiServer, type ApiServerOptions } from './apiserver.js';
import { parseObjects } from './objects.js';

interface Args {
  host: string;
  port: number;
  token: string | undefined;
  kubeconfig: string | undefined;
  objects: string | undefined;
  tls: boolean;
  bookmarkIntervalMs: number | undefined;
  historyLimit: number | undefined;
}

function usage(message: string): never {
  process.stderr.write(`apiserver-main: ${message}\n`);
  process.exit(EXIT_USAGE);
}

export function parseArgs(argv: string[]): Args {
  const a: Args = {
    host: '127.0.0.1',
    port: 6443,
    token: undefined,
    kubeconfig: undefined,
    objects: undefined,
    tls: true,
    bookmarkIntervalMs: undefined,
    historyLimit: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? '';
    const [name, inline] = flag.includes('=')
      ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)]
      : [flag, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`${name} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) usage(`${name}: not a non-negative integer: ${v}`);
      return n;
    };
    switch (name) {
      case '--listen': {
        const v = value();
        const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(v);
        if (!m) usage(`--listen: expected HOST:PORT, [IPv6]:PORT or :PORT, got ${v}`);
        a.host = m[1] ?? (m[2] || '127.0.0.1');
        a.port = Number(m[3]);
        if (a.port > 65535) usage(`--listen: port out of range: ${v}`);
        break;
      }
      case '--port':
        a.port = int();
        break;
      case '--host':
        a.host = value();
        break;
      case '--token':
        a.token = value();
        break;
      case '--kubeconfig':
        a.kubeconfig = value();
        break;
      case '--objects':
        a.objects = value();
        break;
      case '--plain-http':
        // kubectl sends no bearer token over http: use without --token when kubectl must work.
        a.tls = false;
        break;
      case '--bookmark-interval-ms':
        a.bookmarkIntervalMs = int();
        break;
      case '--history-limit':
        a.historyLimit = int();
        break;
      case '--help':
        process.stdout.write(
          'usage: apiserver-main [--listen HOST:PORT] [--token T] [--kubeconfig PATH] [--objects FILE] [--plain-http]\n',
        );
        process.exit(0);
        break;
      default:
        usage(`unknown flag ${flag}`);
    }
  }
  return a;
}

/** Objects from a YAML/JSON file: one object, a List, or several YAML documents. */
export function readObjects(path: string): KubeObject[] {
  return parseObjects(readFileSync(path, 'utf8'), path);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const logger = createLogger('info', 'json');
  let objects: KubeObject[] = [];
  if (args.objects) {
    try {
      objects = readObjects(args.objects);
    } catch (err) {
      usage(`--objects: ${errorMessage(err)}`);
    }
  }
  const options: ApiServerOptions = { host: args.host, port: args.port, tls: args.tls, logger };
  if (args.token !== undefined) options.token = args.token;
  if (args.bookmarkIntervalMs !== undefined) options.bookmarkIntervalMs = args.bookmarkIntervalMs;
  if (args.historyLimit !== undefined) options.historyLimit = args.historyLimit;
  const server = await FakeApiServer.start(options);
  const { skipped } = server.load(objects, { owned: true });
  for (const o of skipped)
    logger.warn({ kind: o.kind, name: o.metadata?.name }, 'skipping object of an unsupported kind');
  if (args.kubeconfig) server.writeKubeconfig(args.kubeconfig);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(
    JSON.stringify({
      ready: true,
      url: server.url,
      kubeconfig: args.kubeconfig ?? null,
      objects: objects.length,
      pid: process.pid,
    }) + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`apiserver-main: ${errorMessage(err)}\n`);
  process.exit(1);
});
