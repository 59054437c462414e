// What `cosmolet lab up` finds in its state directory before it creates anything: a whole lab to
// reuse (with a note when it was asked for another one), a half-made one to clean up first, or
// namespaces and files of another lab, which it refuses to touch and says how to remove.
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { LabError, LabErrorCodes } from '../errors.js';
import { labDown } from './down.js';
import { labNamespaces } from '../state/prereq.js';
import { isAlive, kubeKind, readState, stateFile, type KubeKind, type LabState } from '../state/state.js';

/** What of `lab up`'s options the check uses. */
export interface ReuseOptions {
  prefix: string;
  nodes?: number;
  kube?: KubeKind;
  bfd?: boolean;
  progress: (line: string) => void;
  command: string;
  labFlags?: string;
}

/** True when every process of the lab runs (but those of stopped nodes) and its namespaces exist. */
export function labHealthy(state: LabState): { ok: boolean; problems: string[] } {
  const problems: string[] = [];
  if (state.status !== 'up') problems.push('its start did not finish');
  const stopped = state.nodes.filter((n) => (state.stopped ?? []).includes(n.name));
  const ofStopped = (name: string): boolean =>
    stopped.some((n) => name.startsWith(`${n.key}/`) || name === `${n.name}/cosmolet`);
  for (const p of state.processes)
    if (!ofStopped(p.name) && !isAlive(p)) problems.push(`${p.name} (pid ${p.pid}) is not running`);
  const ns = new Set(labNamespaces(state.prefix));
  for (const n of [...state.nodes.map((x) => x.ns), `${state.prefix}-leaf`, `${state.prefix}-ext`])
    if (!ns.has(n)) problems.push(`namespace ${n} is missing`);
  return { ok: problems.length === 0, problems };
}

/** A running lab to reuse, or nothing to reuse (after cleaning up a half-made one). */
export async function reuseOrClear(
  o: ReuseOptions,
  dir: string,
  manifests: string | undefined,
): Promise<LabState | undefined> {
  const existing = readState(dir);
  if (existing) {
    const h = labHealthy(existing);
    if (h.ok) {
      o.progress(
        `a lab is already running (prefix ${existing.prefix}, ${existing.nodes.length} nodes, started ${existing.startedAt}); reusing it`,
      );
      if (o.bfd)
        o.progress(
          `note: --bfd applies to a new lab only; for BFD: ${o.command} lab down${o.labFlags ?? ''}, then up --bfd`,
        );
      if (
        (manifests !== undefined && resolve(existing.manifests) !== manifests) ||
        (o.nodes ?? existing.nodes.length) !== existing.nodes.length
      )
        o.progress(
          `note: it has ${existing.nodes.length} nodes and follows ${existing.manifests}; to change that: ${o.command} lab down${o.labFlags ?? ''}, then up again`,
        );
      if (o.kube !== undefined && o.kube !== kubeKind(existing))
        o.progress(
          `note: it runs on the ${kubeKind(existing) === 'real' ? 'real control plane' : 'API double'}; for --kube ${o.kube}: ${o.command} lab down${o.labFlags ?? ''}, then up again`,
        );
      return existing;
    }
    o.progress(`cleaning up a lab that is not whole (${h.problems.slice(0, 3).join('; ')})`);
    await labDown({ stateDir: dir, prefix: o.prefix });
    return undefined;
  }
  if (existsSync(stateFile(dir)))
    throw new LabError(
      LabErrorCodes.LAB_FAILED,
      `${stateFile(dir)} is from another version of cosmolet lab; remove that lab first: ` +
        `${o.command} lab down${o.labFlags ?? ''} --prefix <its prefix> --force`,
    );
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new LabError(
      LabErrorCodes.LAB_FAILED,
      `${dir} is not empty and holds no lab state (${stateFile(dir)}); pick another --state-dir`,
    );
  const stale = labNamespaces(o.prefix);
  if (stale.length > 0)
    throw new LabError(
      LabErrorCodes.LAB_FAILED,
      `namespaces ${stale.join(', ')} exist but ${dir} has no lab state: they belong to a lab started with ` +
        `another --state-dir. Run ${o.command} lab down with that --state-dir, use another --prefix, or ` +
        `${o.command} lab down --prefix ${o.prefix} --force to delete them`,
    );
  return undefined;
}
