// cosmolet on a real control plane, end to end: a Service and a Pod applied with kubectl, the pod
// bound by kube-scheduler and made Ready by the node agent, the EndpointSlice written by
// kube-controller-manager, and cosmolet (in-cluster, with the chart's RBAC and a bound token)
// advertising the real allocator's ClusterIPs to the leaf and GoBGP; NotReady withdraws them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@cosmolet/lab/wait';
import { RealClusterLab } from './real-cluster.js';
import { pod, service } from './objects.js';

const lab = new RealClusterLab({ origination: 'kernel' });

before(async () => {
  await lab.start();
});
after(async () => {
  await lab.teardown();
});

interface Svc {
  spec: { clusterIPs: string[] };
}

function hostPrefix(ip: string): string {
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}

test('real control plane: a Service with a Ready pod reaches the leaf at the allocated ClusterIPs; NotReady withdraws them', async (t) => {
  lab.apply([service('web'), pod('web-1', 'web', 'node-a')]);
  const svc = JSON.parse(lab.kubectl(['get', 'service', 'web', '-o', 'json'])) as Svc;
  assert.equal(svc.spec.clusterIPs.length, 2, 'dual-stack ClusterIPs from the real allocator');
  const web = svc.spec.clusterIPs.map(hostPrefix);
  const c = lab.startCosmolet();
  t.after(async () => {
    c.kill('SIGKILL');
    await c.exited;
  });
  await lab.waitPeersHold(web, 60_000).catch((err: unknown) => {
    throw new Error(
      `${(err as Error).message}\ncosmolet log:\n${c.log().slice(-4000)}\nagent: ${lab.agentErrors.join('\n')}`,
    );
  });
  await lab.waitReady();
  // The API server's own Service has no EndpointSlice here (no endpoint reconciler on loopback).
  const status = JSON.parse((await lab.get('/status')).body) as {
    skipped: { service: string; reason: string }[];
  };
  assert.ok(
    status.skipped.some((s) => s.service === 'default/kubernetes' && s.reason === 'no-ready-endpoints'),
  );

  await lab.agent.setReady('default', 'web-1', false);
  await lab.waitPeersHold([], 15_000);
  await lab.agent.setReady('default', 'web-1', true);
  await lab.waitPeersHold(web, 15_000);
  await waitFor('cosmolet still running', () => c.running, 1000);
});
