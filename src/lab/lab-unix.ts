// HTTP GET over a unix socket: how the lab reads its cluster's control socket and each node's
// cosmolet (whose HTTP port a forwarder brings out of the node's namespace).
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
