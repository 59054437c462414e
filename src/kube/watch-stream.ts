// Reading one watch response: its bytes framed into lines and handed over one by one until the
// watch ends (cleanly, by error, by an oversized line, or by the caller). And the probe: a short
// second watch whose outcome says whether a silent watch is stalled or only has nothing to say.
import type { Clock } from '../clock.js';
import { CosmoletError, ErrorCodes, KubeApiError, OversizeError } from '../errors.js';
import { retryAfterSeconds, statusMessage, type KubeClient, type KubeStream } from './client.js';
import { LineSplitter } from './line-splitter.js';
import type { ProbeVerdict } from './watchdog.js';

/** Why a watch ended without an error: the server closed it, or the caller's watchdog did. */
export type WatchEnd = 'closed' | 'watchdog';

/** A watch answered other than 200: its status, with the server's message and Retry-After. */
export async function throwUnlessOpened(stream: KubeStream, what: string): Promise<void> {
  if (stream.status === 200) return;
  const body = await readAll(stream);
  throw new KubeApiError(
    stream.status,
    `${what}: ${stream.status} ${statusMessage(body)}`,
    retryAfterSeconds(stream.headers),
  );
}

async function readAll(s: KubeStream): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of s.stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  } catch {
    // a broken error body: the status is enough
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface WatchReaderOptions {
  /** Named in errors. */
  resource: string;
  maxLineBytes: number;
  /** Bytes arrived (any, even part of a line). */
  data(): void;
  /** One complete line; throwing ends the watch with that error. */
  line(line: string): void;
  /** Called once, as the watch ends, before `done` settles: stop its timers here. */
  ended(): void;
  /** Whether the caller is shutting down: a closed connection then is an end, not a failure. */
  stopping(): boolean;
}

export class WatchReader {
  /** Why the watch ended; rejects on a connection error, an oversized line or a throwing `line`. */
  readonly done: Promise<WatchEnd>;
  private settled = false;
  private resolve!: (end: WatchEnd) => void;
  private reject!: (err: Error) => void;

  constructor(
    private readonly stream: KubeStream,
    private readonly options: WatchReaderOptions,
  ) {
    this.done = new Promise<WatchEnd>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    const splitter = new LineSplitter(options.maxLineBytes);
    const events = stream.stream;
    events.on('data', (chunk: Buffer | string) => {
      if (this.settled) return;
      options.data();
      const { lines, tooLong } = splitter.push(chunk);
      for (const line of lines) {
        if (this.settled) return;
        try {
          options.line(line);
        } catch (err) {
          this.fail(err instanceof Error ? err : new Error(String(err)));
        }
      }
      if (tooLong) {
        this.fail(
          new OversizeError(
            `watch ${options.resource}: a line longer than ${options.maxLineBytes} bytes; relisting`,
          ),
        );
      }
    });
    events.on('end', () => this.end('closed'));
    events.on('error', (err) =>
      this.fail(new CosmoletError(ErrorCodes.KUBE_UNREACHABLE, `watch ${options.resource}: ${err.message}`)),
    );
    events.on('close', () => {
      if (options.stopping()) this.end('closed');
      else
        this.fail(
          new CosmoletError(ErrorCodes.KUBE_UNREACHABLE, `watch ${options.resource}: connection closed`),
        );
    });
  }

  /** Ends the watch now (a no-op once it has ended). */
  end(why: WatchEnd): void {
    if (this.settle()) this.resolve(why);
  }

  private fail(err: Error): void {
    if (this.settle()) this.reject(err);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.options.ended();
    this.stream.close();
    return true;
  }
}

export interface ProbeOptions {
  client: KubeClient;
  /** The watch path: the silent watch's version, a short timeoutSeconds, no bookmarks. */
  path: string;
  timeoutSeconds: number;
  /** A probe not ended this long after its timeoutSeconds: the server is stalled. */
  graceMs: number;
  clock: Clock;
  signal: AbortSignal;
}

/**
 * Whether a silent watch is stalled or only has nothing to deliver: a second watch from the same
 * version with a short timeoutSeconds. A live server ends it cleanly at its timeout; anything in it
 * is an event the silent watch should have delivered; an error, or no end by the deadline, is a
 * server that does not answer.
 */
export async function probeWatch(o: ProbeOptions): Promise<ProbeVerdict> {
  let probe: KubeStream;
  try {
    probe = await o.client.stream(o.path, { signal: o.signal });
  } catch {
    return 'stalled';
  }
  if (probe.status !== 200) {
    probe.close();
    return 'stalled';
  }
  return new Promise((resolve) => {
    let sawLine = false;
    let done = false;
    const end = (verdict: ProbeVerdict): void => {
      if (done) return;
      done = true;
      deadline.cancel();
      o.signal.removeEventListener('abort', aborted);
      probe.close();
      resolve(verdict);
    };
    const aborted = (): void => end('stalled');
    const deadline = o.clock.setTimeout(aborted, o.timeoutSeconds * 1000 + o.graceMs);
    o.signal.addEventListener('abort', aborted, { once: true });
    if (o.signal.aborted) aborted();
    probe.stream.on('data', (chunk: Buffer | string) => {
      if (String(chunk).trim() !== '') sawLine = true;
    });
    probe.stream.on('end', () => end(sawLine ? 'stalled' : 'quiet'));
    probe.stream.on('error', aborted);
    probe.stream.on('close', aborted);
  });
}
