// A child process for the memory test: cosmolet's HTTP server with the delegating authorizer and
// the real API client, reviewing tokens at the slow API server whose URL is argv[2]; it reports
// its own peak RSS over IPC. Apart from the test process, so the attacker's memory is not counted.
import { kubeClientFromTransport, type KubeClient } from '../../../src/kube/client.js';
import { DelegatingAuthorizer } from '../../../src/observe/auth.js';
import { startHttpServer } from '../../../src/observe/http.js';
import { silentLogger } from '../../../src/observe/log.js';

let reviews = 0;
const api = kubeClientFromTransport({
  server: process.argv[2] ?? '',
  tls: { rejectUnauthorized: true },
  credentials: { get: () => Promise.resolve({}), invalidate: () => {} },
});
const client: KubeClient = {
  server: api.server,
  request: (...args) => {
    reviews += 1;
    return api.request(...args);
  },
  stream: (...args) => api.stream(...args),
};

let peak = process.memoryUsage().rss;
const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
const server = await startHttpServer(
  '127.0.0.1:0',
  {
    '/healthz': () => ({ status: 200, body: 'ok\n' }),
    '/metrics': { protected: true, heavy: true, handler: () => ({ status: 200, body: 'up 1\n' }) },
  },
  silentLogger(),
  { authorizer: new DelegatingAuthorizer({ client }) },
);
const stats = () => ({ port: server.port, rss: process.memoryUsage().rss, peak, reviews });
process.on('message', (m) => {
  if (m === 'stats') process.send?.(stats());
  if (m === 'stop') {
    clearInterval(sample);
    void server.close().then(() => process.exit(0));
  }
});
process.send?.(stats());
