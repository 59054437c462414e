// Shared by the HTTP attack tests: an API client whose reviews the test answers (or leaves hanging),
// counting how many are in flight, and raw sockets that pipeline requests the way an attacker does.
import net from 'node:net';
import type { KubeClient, KubeResponse } from '../../../src/kube/client.js';

export interface ReviewClient extends KubeClient {
  /** Reviews started (TokenReviews and SubjectAccessReviews). */
  started: number;
  inFlight: number;
  peakInFlight: number;
  /** From now on reviews hang (a slow API server) until up() or down(). */
  hang(): void;
  /** Reviews answer, the hanging ones too. */
  up(): void;
  /** Reviews fail with `err` (an unreachable API server), the hanging ones too. */
  down(err?: Error): void;
}

/**
 * TokenReview: `allowed` tokens authenticate as user "prom", others are not valid;
 * SubjectAccessReview: "prom" may get anything. `hanging`: reviews hang from the start.
 */
export function reviewClient(allowed: readonly string[] = [], hanging = false): ReviewClient {
  let failure: Error | undefined;
  let gate: { promise: Promise<void>; open: () => void } | undefined;
  const hang = (): void => {
    let open!: () => void;
    const promise = new Promise<void>((r) => (open = r));
    gate = { promise, open };
  };
  if (hanging) hang();
  const answer = (path: string, body: unknown): KubeResponse => {
    if (path.endsWith('/subjectaccessreviews'))
      return { status: 201, headers: {}, body: JSON.stringify({ status: { allowed: true } }) };
    const token = (body as { spec?: { token?: string } }).spec?.token ?? '';
    const user = allowed.includes(token) ? { authenticated: true, user: { username: 'prom' } } : {};
    return { status: 201, headers: {}, body: JSON.stringify({ status: { authenticated: false, ...user } }) };
  };
  const open = (): void => {
    const g = gate;
    gate = undefined;
    g?.open();
  };
  const c: ReviewClient = {
    server: 'https://127.0.0.1:6443',
    started: 0,
    inFlight: 0,
    peakInFlight: 0,
    async request(_method, path, body) {
      c.started += 1;
      c.inFlight += 1;
      c.peakInFlight = Math.max(c.peakInFlight, c.inFlight);
      try {
        while (gate) await gate.promise;
        if (failure) throw failure;
        return answer(path, body);
      } finally {
        c.inFlight -= 1;
      }
    },
    stream: () => Promise.reject(new Error('no streams here')),
    hang,
    up() {
      failure = undefined;
      open();
    },
    down(err = new Error('connect ECONNREFUSED 127.0.0.1:6443')) {
      failure = err;
      open();
    },
  };
  return c;
}

/** Waits for `cond` (checked every 5 ms) or fails after `timeoutMs` naming `what`. */
export async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface RawClient {
  socket: net.Socket;
  /** The statuses of the responses seen so far. */
  statuses: () => number[];
  /** Everything received so far. */
  text: () => string;
  closed: Promise<void>;
  isClosed: () => boolean;
}

/** A socket that writes `requests` at once (pipelined) and counts the status lines coming back. */
export function pipeline(port: number, requests: string[], localAddress = '127.0.0.1'): RawClient {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  let text = '';
  let closed = false;
  socket.on('connect', () => socket.write(requests.join('')));
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  const statuses = (): number[] => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  socket.on('error', () => {});
  const done = new Promise<void>((resolve) =>
    socket.on('close', () => {
      closed = true;
      resolve();
    }),
  );
  return { socket, statuses, text: () => text, closed: done, isClosed: () => closed };
}

export function get(path: string, token?: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}\r\n`;
}
