// Standalone forwarder (see forward.ts), started by the lab and the e2e tests inside a namespace:
//   node packages/lab/dist/forward/main.js --listen tcp:127.0.0.1:6443 --connect unix:/path/api.sock [--listen ... --connect ...]
// Several pairs (by position) share one process. Prints "ready" on stdout once every pair listens;
// exits 0 on SIGTERM/SIGINT, 2 on bad arguments.
import { parseArgs } from 'node:util';
import { EXIT_USAGE, errorMessage } from 'cosmolet/errors';
import { parseEndpoint, startForwarder, type Endpoint } from './forward.js';

async function main(): Promise<void> {
  let values: { listen?: string[]; connect?: string[] };
  try {
    ({ values } = parseArgs({
      options: { listen: { type: 'string', multiple: true }, connect: { type: 'string', multiple: true } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`forward: ${errorMessage(err)}\n`);
    process.exit(EXIT_USAGE);
  }
  const listens = (values.listen ?? []).map(parseEndpoint);
  const connects = (values.connect ?? []).map(parseEndpoint);
  const pairs: [Endpoint, Endpoint][] = [];
  listens.forEach((l, i) => {
    const c = connects[i];
    if (l && c) pairs.push([l, c]);
  });
  if (pairs.length === 0 || pairs.length !== listens.length || listens.length !== connects.length) {
    process.stderr.write('forward: pairs of --listen and --connect, each tcp:HOST:PORT or unix:/path\n');
    process.exit(EXIT_USAGE);
  }
  const fwds = await Promise.all(pairs.map(([l, c]) => startForwarder(l, c)));
  process.stdout.write('ready\n');
  const stop = (): void => {
    void Promise.all(fwds.map((f) => f.close())).then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`forward: ${errorMessage(err)}\n`);
  process.exit(1);
});
