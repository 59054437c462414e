// The one HTTP client of the lab, its tests and the benchmark: a request over a unix socket (a
// node's forwarded http.sock, the cluster process's control socket, the API double's api.sock), plain
// or HTTPS verifying a CA and a server name, with a bearer token; the reply's status and body.
import http from 'node:http';
import https from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';

export interface HttpReply {
  status: number;
  body: string;
}

export interface HttpRequest {
  socketPath: string;
  path: string;
  /** Default GET. */
  method?: string;
  /** Sent as JSON (content-type application/json). */
  body?: string;
  /** Sent as `authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
  /** Default 3 s; the request fails with `<method> <path>: timeout` after it. */
  timeoutMs?: number;
  /** HTTPS: the CA to trust and the name the certificate must carry; omitted = plain HTTP. */
  tls?: { ca: string | Buffer; serverName: string };
  /** Reuse connections (HTTPS keep-alive to the API double); its options win over `tls`'s. */
  agent?: http.Agent;
}

/** Sends one request; resolves with status and body, rejects when nothing answers in time. */
export function httpRequest(r: HttpRequest): Promise<HttpReply> {
  const method = r.method ?? 'GET';
  const headers: Record<string, string | number> = { ...r.headers };
  if (r.token) headers.authorization = `Bearer ${r.token}`;
  if (r.body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(r.body);
  }
  const common = { socketPath: r.socketPath, path: r.path, method, headers, timeout: r.timeoutMs ?? 3000 };
  return new Promise((resolve, reject) => {
    const onReply = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    };
    const tls = r.tls;
    const req = tls
      ? https.request(
          {
            ...common,
            agent: r.agent ?? false,
            ca: tls.ca,
            servername: tls.serverName,
            checkServerIdentity: (_host: string, c: PeerCertificate) =>
              checkServerIdentity(tls.serverName, c),
          },
          onReply,
        )
      : http.request({ ...common, ...(r.agent ? { agent: r.agent } : {}) }, onReply);
    req.on('timeout', () => req.destroy(new Error(`${method} ${r.path}: timeout`)));
    req.on('error', reject);
    req.end(r.body);
  });
}
