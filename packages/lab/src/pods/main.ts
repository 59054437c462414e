// A lab "pod": a tiny HTTP server that the lab starts inside the pod's own network namespace,
//   node packages/lab/dist/pods/main.js --name default/web-0 --service default/web --node lab-node-1 --port 8080 [--port ...]
// It listens on every address of the namespace (IPv4 and IPv6) and answers every request with one
// line naming itself, its node and the client, so a curl from the leaf shows which pod answered and from where.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { EXIT_USAGE, errorMessage } from 'cosmolet/errors';

function main(): void {
  let values: { name?: string; service?: string; node?: string; port?: string[] };
  try {
    ({ values } = parseArgs({
      options: {
        name: { type: 'string' },
        service: { type: 'string' },
        node: { type: 'string' },
        port: { type: 'string', multiple: true },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`pod: ${errorMessage(err)}\n`);
    process.exit(EXIT_USAGE);
  }
  const ports = (values.port ?? []).map(Number);
  if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    process.stderr.write('pod: --port 1-65535 is required\n');
    process.exit(EXIT_USAGE);
  }
  const name = values.name ?? 'pod';
  const service = values.service ?? '';
  const node = values.node ? ` on ${values.node}` : '';
  for (const port of ports) {
    const server = http.createServer((req, res) => {
      const from = (req.socket.remoteAddress ?? '?').replace(/^::ffff:/, '');
      const addr = (req.socket.localAddress ?? '?').replace(/^::ffff:/, '');
      const local = addr.includes(':') ? `[${addr}]` : addr;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(
        `pod ${name}${service ? ` of ${service}` : ''}${node} (${local}:${port}) answered ${req.method ?? 'GET'} ${req.url ?? '/'} from ${from}\n`,
      );
    });
    server.on('error', (err) => {
      process.stderr.write(`pod ${name}: port ${port}: ${err.message}\n`);
      process.exit(1);
    });
    // `::` with ipv6Only false takes IPv4 too.
    server.listen({ port, host: '::', ipv6Only: false }, () => {
      process.stdout.write(`pod ${name} listening on ${port}\n`);
    });
  }
  const stop = (): void => process.exit(0);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main();
