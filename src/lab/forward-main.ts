// Standalone forwarder (see forward.ts), started by the lab and the e2e tests inside a namespace:
//   node dist/lab/forward-main.js --listen tcp:127.0.0.1:6443 --connect unix:/path/api.sock
// Prints "ready" on stdout once it listens; exits 0 on SIGTERM/SIGINT, 2 on bad arguments.
import { parseArgs } from 'node:util';
import { EXIT_USAGE, errorMessage } from '../errors.js';
import { parseEndpoint, startForwarder } from './forward.js';

async function main(): Promise<void> {
  let values: { listen?: string; connect?: string };
  try {
    ({ values } = parseArgs({
      options: { listen: { type: 'string' }, connect: { type: 'string' } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`forward: ${errorMessage(err)}\n`);
    process.exit(EXIT_USAGE);
  }
  const listen = parseEndpoint(values.listen ?? '');
  const connect = parseEndpoint(values.connect ?? '');
  if (!listen || !connect) {
    process.stderr.write('forward: --listen and --connect take tcp:HOST:PORT or unix:/path\n');
    process.exit(EXIT_USAGE);
  }
  const fwd = await startForwarder(listen, connect);
  process.stdout.write('ready\n');
  const stop = (): void => {
    void fwd.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`forward: ${errorMessage(err)}\n`);
  process.exit(1);
});
