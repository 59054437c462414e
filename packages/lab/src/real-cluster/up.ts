// The steps `cosmolet lab up --kube real` adds to command/up.ts: the real control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler; built from Kubernetes' Go modules) started
// detached in `<stateDir>/control-plane` and recorded in lab.json, cosmolet's RBAC from the chart and
// the operator's ServiceAccount applied with kubectl, and the wait for the cluster to catch up with
// its manifests (pods scheduled, addressed and made namespaces; EndpointSlices written).
import { copyFileSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { LabError, LabErrorCodes } from '../errors.js';
import { COMPONENTS } from '../control-plane/flags.js';
import { ControlPlane } from '../control-plane/control-plane.js';
import { operatorObjects, renderRbac, type Settled } from './kube.js';
import { labServingCert, statusAccessObjects } from '../access/status-access.js';
import { COSMOLET_NAMESPACE, labProcess, writeState, type LabState } from '../state/state.js';
import { getUnix } from '../access/unix.js';
import { waitFor } from '../wait.js';

function timed(started: number): string {
  return `${((Date.now() - started) / 1000).toFixed(1)} s`;
}

/**
 * The control plane, detached (it outlives `lab up`), recorded in lab.json as `control-plane/<name>`
 * (pids for `lab down`, the record for the cluster process); its admin kubeconfig copied to
 * `<stateDir>/kubeconfig` and kubectl linked as `<stateDir>/kubectl`; then the chart's ServiceAccount
 * and RBAC (helm template) and the operator's ServiceAccount applied with kubectl.
 */
export async function startControlPlaneStep(
  progress: (line: string) => void,
  state: LabState,
  binDir: string,
  helm: string,
): Promise<void> {
  const t = Date.now();
  const cp = await ControlPlane.start({ dir: join(state.dir, 'control-plane'), binDir, persistent: true });
  for (const c of COMPONENTS) {
    const pid = cp.record.pids[c];
    if (pid !== undefined) state.processes.push(labProcess(`control-plane/${c}`, pid));
  }
  state.kube = { kind: 'real', version: cp.version, controlPlane: cp.record, kubectl: cp.bin('kubectl') };
  writeState(state);
  copyFileSync(cp.adminKubeconfig, state.kubeconfig);
  symlinkSync(cp.bin('kubectl'), join(state.dir, 'kubectl'));
  progress(
    `  kube-apiserver ${cp.version} (https://127.0.0.1:${cp.record.apiserverPort}), etcd, kube-controller-manager and kube-scheduler in ${timed(t)}`,
  );
  const t2 = Date.now();
  cp.kubectl(['create', 'namespace', COSMOLET_NAMESPACE]);
  cp.kubectl(['apply', '-f', '-'], renderRbac(helm));
  // With the chart's CA ConfigMap for `cosmolet status` (the lab's own CA: access/status-access.ts).
  const ca = readFileSync(labServingCert(state.dir).caFile, 'utf8');
  cp.kubectl(
    ['apply', '-f', '-'],
    [...operatorObjects(), ...statusAccessObjects(ca)].map((o) => stringifyYaml(o)).join('---\n'),
  );
  progress(
    `  cosmolet's ServiceAccount and RBAC from the chart (helm template) applied with kubectl in ${timed(t2)}`,
  );
}

interface RealClusterState {
  settled?: Settled;
  pods: unknown[];
  services: unknown[];
  errors?: string[];
}

/** Waits until the cluster has caught up with its manifests; returns its state for the progress line. */
export async function waitSettledStep(state: LabState, timeoutMs = 90_000): Promise<RealClusterState> {
  let last: RealClusterState | undefined;
  return waitFor(
    'the real cluster to catch up with its manifests',
    async () => {
      const r = await getUnix(join(state.dir, 'ctl.sock'), '/state');
      if (r.status !== 200) return undefined;
      last = JSON.parse(r.body) as RealClusterState;
      return last.settled?.settled === true ? last : undefined;
    },
    timeoutMs,
    100,
  ).catch((err: unknown) => {
    throw new LabError(
      LabErrorCodes.LAB_FAILED,
      `${err instanceof Error ? err.message : String(err)}; still waiting for: ${(last?.settled?.waitingFor ?? []).join('; ')}` +
        `${last?.errors?.length ? `\nerrors: ${last.errors.join('\n')}` : ''}\n(see ${join(state.dir, 'cluster.log')})`,
    );
  });
}
