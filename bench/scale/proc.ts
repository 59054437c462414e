// A process's CPU time and resident memory, from /proc (Linux).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces), numbered from 3 (state).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicks();
}

/**
 * CPU seconds of the process's children that it has waited for (cutime + cstime): the vtysh and
 * `ip` it ran, which in a pod count against cosmolet's container.
 */
export function childCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / clockTicks();
}

/**
 * VmRSS and VmHWM (peak) in MB; RssAnon (heap, malloc) and RssFile (the node binary's pages read
 * in, shared with any other node process) split it.
 */
export function memoryMB(pid: number): { rss: number; peak: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return {
    rss: kb('VmRSS') / 1024,
    peak: kb('VmHWM') / 1024,
    anon: kb('RssAnon') / 1024,
    file: kb('RssFile') / 1024,
  };
}

/**
 * The file name of a process's executable (to check a pid is what we think it is). Not
 * /proc/<pid>/comm: Node.js 24, the image's, names its main thread `MainThread`.
 */
export function commandName(pid: number): string {
  return basename(readlinkSync(`/proc/${pid}/exe`));
}

/**
 * CPU seconds so far per thread name (/proc/<pid>/task/<tid>/comm): the main thread, V8's
 * workers (GC, compilation), libuv's pool. A thread that ended since is missing; compare two reads
 * by name.
 */
export function cpuSecondsByThread(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const s = (Number(fields[11]) + Number(fields[12])) / clockTicks();
      byName.set(name, (byName.get(name) ?? 0) + s);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return byName;
}
