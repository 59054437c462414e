// HTTP GET over a unix socket: how the lab reads its cluster's control socket and each node's
// cosmolet (whose HTTP port a forwarder brings out of the node's namespace); and the cluster
// process's side of that control socket.
import { rmSync } from 'node:fs';
import http from 'node:http';

/** GET over a unix socket; resolves with status and body, rejects when nothing answers. */
export function getUnix(
  socketPath: string,
  path: string,
  timeoutMs = 3000,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, timeout: timeoutMs, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timeout`)));
    req.on('error', reject);
  });
}

/** The cluster process's control socket (plain HTTP): GET /state answers with `state()` as JSON. */
export async function serveControl(socketPath: string, state: () => unknown): Promise<void> {
  const ctl = http.createServer((req, res) => {
    if (req.url !== '/state') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(state()));
  });
  rmSync(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    ctl.once('error', reject);
    ctl.listen(socketPath, () => resolve());
  });
}
