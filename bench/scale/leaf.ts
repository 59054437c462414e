// What the leaf's kernel FIB holds, read two ways that stay cheap at 100,000 routes:
// - counts, from the leaf namespace's /proc/net files read through a process living in it
//   (/proc/<pid>/net is that process's namespace): fib_triestat's prefix count for IPv4 and
//   rt6_stats's route count for IPv6. No process is spawned, so it can be polled every few ms;
// - changes of single prefixes, from `ip monitor route` in the leaf namespace: each add or delete
//   line is timestamped as it arrives, so latency is measured without polling.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface FibCount {
  ipv4: number;
  ipv6: number;
}

/** Counts of the FIB of the namespace `pid` lives in. */
export function fibCount(pid: number): FibCount {
  const trie = readFileSync(`/proc/${pid}/net/fib_triestat`, 'utf8');
  // "Main:" comes first; with no policy rules the kernel merges local into main anyway.
  const m = /Main:[\s\S]*?Prefixes:\s*(\d+)/.exec(trie);
  if (!m?.[1]) throw new Error(`fib_triestat: no Main prefix count in ${trie.slice(0, 200)}`);
  // rt6_stats: fib nodes, route nodes, route allocs, route entries, cache, discarded (hex).
  const fields = readFileSync(`/proc/${pid}/net/rt6_stats`, 'utf8').trim().split(/\s+/);
  const entries = fields[3];
  if (entries === undefined) throw new Error(`rt6_stats: unexpected ${fields.join(' ')}`);
  return { ipv4: Number(m[1]), ipv6: parseInt(entries, 16) };
}

export type RouteChange = 'add' | 'del';

interface Waiter {
  prefix: string;
  change: RouteChange;
  resolve: (at: number) => void;
}

/** `ip monitor route` in the leaf namespace; resolves waits for a prefix's add or delete. */
export class LeafMonitor {
  private readonly child: ChildProcess;
  private readonly waiters = new Set<Waiter>();
  private ready: Promise<void>;

  constructor(namespace: string) {
    this.child = spawn('ip', ['-n', namespace, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.ready = new Promise((resolve, reject) => {
      this.child.once('spawn', () => resolve());
      this.child.once('error', reject);
    });
    const lines = createInterface({ input: this.child.stdout! });
    lines.on('line', (line) => this.onLine(line, performance.now()));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async started(): Promise<void> {
    await this.ready;
  }

  private onLine(line: string, at: number): void {
    if (!line.includes(' proto bgp')) return;
    const deleted = line.startsWith('Deleted ');
    const prefix = (deleted ? line.slice(8) : line).split(' ', 1)[0] ?? '';
    const change: RouteChange = deleted ? 'del' : 'add';
    for (const w of this.waiters) {
      if (w.prefix === prefix && w.change === change) {
        this.waiters.delete(w);
        w.resolve(at);
      }
    }
  }

  /**
   * Arms a wait for the next `change` of `prefix` (host address as `ip` prints it). Arm it before
   * the write that causes the change; the promise resolves with the performance.now() of the line.
   */
  expect(prefix: string, change: RouteChange, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        prefix,
        change,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`the leaf did not ${change} ${prefix} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
