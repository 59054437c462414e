// The cluster process's control socket: its server, and the GET (over the one client,
// http-client.ts) with which the lab reads it and each node's cosmolet (whose HTTP port a forwarder
// brings out of the node's namespace).
import { rmSync } from 'node:fs';
import http from 'node:http';
import { httpRequest, type HttpReply } from './http-client.js';

/** GET over a unix socket; resolves with status and body, rejects when nothing answers. */
export function getUnix(
  socketPath: string,
  path: string,
  timeoutMs = 3000,
  headers: Record<string, string> = {},
): Promise<HttpReply> {
  return httpRequest({ socketPath, path, timeoutMs, headers });
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
