// A list+watch cache of one resource of the real API server, for the lab's cluster process on a real
// control plane (its data path follows Pods, EndpointSlices, Services and Nodes). Small on purpose:
// LIST, then WATCH from the list's resourceVersion; on any end or error of the watch it lists again
// after a short pause (a lab holds tens of objects). `version` grows with every change, so a loop
// can tell cheaply whether anything changed since it last looked. cosmolet's own reflector
// (src/kube/reflector.ts) is the robust one; this one only has to follow a healthy local server.
import type { KubeClient } from 'cosmolet/kube/client';
import type { KubeObject } from 'cosmolet/model/objects';

export class WatchCache<T extends KubeObject = KubeObject> {
  private readonly objects = new Map<string, T>();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  /** Grows with every change seen (and every relist). */
  version = 0;
  synced = false;
  lastError: string | undefined;

  constructor(
    private readonly client: KubeClient,
    /** The collection path, e.g. `/api/v1/pods` or `/apis/discovery.k8s.io/v1/endpointslices`. */
    readonly path: string,
  ) {}

  /** Starts the loop; resolves once the first list is in (or at the deadline, not synced). */
  async start(timeoutMs = 30_000): Promise<void> {
    this.loop = this.run();
    const deadline = Date.now() + timeoutMs;
    while (!this.synced && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  list(): T[] {
    return [...this.objects.values()];
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(`${namespace ?? ''}/${name}`);
  }

  private static key(o: KubeObject): string {
    return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        const r = await this.client.request('GET', this.path, undefined, { timeoutMs: 30_000, signal });
        if (r.status !== 200) throw new Error(`GET ${this.path}: HTTP ${r.status}`);
        const list = JSON.parse(r.body) as { items: T[]; metadata: { resourceVersion: string } };
        this.objects.clear();
        for (const o of list.items) this.objects.set(WatchCache.key(o), o);
        this.version++;
        this.synced = true;
        const sep = this.path.includes('?') ? '&' : '?';
        const w = await this.client.stream(
          `${this.path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${list.metadata.resourceVersion}`,
          { signal },
        );
        if (w.status !== 200) throw new Error(`watch ${this.path}: HTTP ${w.status}`);
        w.stream.setEncoding('utf8');
        let buf = '';
        for await (const chunk of w.stream) {
          buf += String(chunk);
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim()) this.event(JSON.parse(line) as { type: string; object: T });
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        this.lastError = err instanceof Error ? err.message : String(err);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  private event(ev: { type: string; object: T }): void {
    if (ev.type === 'ERROR')
      throw new Error(`watch ${this.path}: ${JSON.stringify(ev.object).slice(0, 200)}`);
    if (ev.type === 'BOOKMARK') return;
    const key = WatchCache.key(ev.object);
    if (ev.type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, ev.object);
    this.version++;
  }
}
