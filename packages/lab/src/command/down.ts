// `cosmolet lab down`: kills the recorded processes (pid + start time; with --kube real the control
// plane's too), every process inside the lab's namespaces (`<prefix>-*`) and deletes those
// namespaces, and nothing else.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { LabError, LabErrorCodes } from '../errors.js';
import { COMPONENTS, type Component } from '../control-plane/flags.js';
import { cleanupStale } from '../fabric/topology.js';
import { labNamespaces } from '../state/prereq.js';
import { LAB_MAINS } from '../paths.js';
import { isAlive, killRecorded, labProcess, readState, stateFile, type LabProcess } from '../state/state.js';
import { waitFor } from '../wait.js';

/**
 * Processes in the host namespace that belong to this lab although unrecorded (a killed `up`): its
 * cluster process (either kind), and control-plane processes (etcd, kube-apiserver, ...) whose flags
 * name files under `<dir>/control-plane/` (an `up` killed while the control plane started).
 */
function unrecordedClusterPids(dir: string): number[] {
  const out: number[] = [];
  const mains: string[] = [LAB_MAINS.cluster, LAB_MAINS.realCluster];
  const cpDir = `${join(dir, 'control-plane')}/`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const i = args.indexOf('--dir');
      if (mains.includes(args[1] ?? '') && i > 0 && args[i + 1] === dir) out.push(Number(entry));
      else if (
        COMPONENTS.includes(basename(args[0] ?? '') as Component) &&
        args.some((a) => a.includes(cpDir))
      )
        out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

export interface DownResult {
  found: boolean;
  killed: number;
  namespaces: string[];
}

export async function labDown(o: { stateDir: string; prefix: string; force?: boolean }): Promise<DownResult> {
  const dir = resolve(o.stateDir);
  const state = readState(dir);
  const prefix = state?.prefix ?? o.prefix;
  if (!state) {
    const ns = labNamespaces(prefix);
    if (ns.length > 0 && !o.force)
      throw new LabError(
        LabErrorCodes.LAB_FAILED,
        `no lab state in ${dir}, but namespaces ${ns.join(', ')} exist (a lab with another --state-dir?). ` +
          `Add --force to delete them and what runs in them.`,
      );
    if (ns.length === 0 && unrecordedClusterPids(dir).length === 0)
      return { found: false, killed: 0, namespaces: [] };
  }
  let killed = 0;
  // The cluster process first, so that it does not create pods while the rest goes away.
  const procs = [...(state?.processes ?? [])].sort((a, b) =>
    a.name === 'cluster' ? -1 : b.name === 'cluster' ? 1 : 0,
  );
  for (const p of procs) if (killRecorded(p)) killed++;
  // Unrecorded ones are waited for too: a SIGKILLed kube-apiserver takes a moment to go, and `down`
  // returning while it still runs left it to whoever looked next.
  const unrecorded: LabProcess[] = [];
  for (const pid of unrecordedClusterPids(dir)) {
    const p = labProcess('unrecorded', pid);
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
      unrecorded.push(p);
    } catch {
      // gone
    }
  }
  const namespaces = cleanupStale(prefix);
  await waitFor(
    'the lab processes to exit',
    () => [...(state?.processes ?? []), ...unrecorded].every((p) => !isAlive(p)),
    10_000,
    50,
  ).catch(() => undefined);
  // An `ip netns add` the killed cluster process had in flight (pods are made in parallel) can
  // still create a pod namespace after the first sweep: sweep until none is left for 500 ms.
  let quietSince = Date.now();
  await waitFor(
    'no namespace of the lab to be left',
    () => {
      for (const ns of cleanupStale(prefix)) {
        if (!namespaces.includes(ns)) namespaces.push(ns);
        quietSince = Date.now();
      }
      return Date.now() - quietSince >= 500;
    },
    10_000,
    100,
  ).catch(() => undefined);
  if (state || existsSync(stateFile(dir))) rmSync(dir, { recursive: true, force: true });
  return { found: true, killed, namespaces };
}
