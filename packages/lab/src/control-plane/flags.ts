// The command line of each control-plane process: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler, as kubeadm would configure them for one loopback host, minus what a cluster whose
// nodes have no kubelet cannot use.
import { join } from 'node:path';
import type { Pki } from './pki.js';

export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export type Component = (typeof COMPONENTS)[number];

/** Controllers for a cluster whose nodes have no kubelet: no node lifecycle, no IPAM, no volumes. */
export const CONTROLLERS = [
  'endpointslice',
  'endpointslicemirroring',
  'serviceaccount',
  'serviceaccount-token',
  'namespace',
  'garbagecollector',
  'root-ca-cert-publisher',
  'deployment',
  'replicaset',
];

/** What `ControlPlane.attach` needs to find a running control plane again (the lab's state file). */
export interface ControlPlaneRecord {
  dir: string;
  binDir: string;
  version: string;
  apiserverPort: number;
  etcdPort: number;
  serviceCIDRs: string[];
  pids: Partial<Record<Component, number>>;
}

export function componentArgv(
  c: Component,
  r: ControlPlaneRecord,
  p: Pki,
  apiserverArgs: readonly string[],
): string[] {
  const bin = (name: string): string => join(r.binDir, name);
  const etcdUrl = `http://127.0.0.1:${r.etcdPort}`;
  switch (c) {
    case 'etcd':
      return [
        bin('etcd'),
        '--name=cosmolet-lab',
        `--data-dir=${join(r.dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        // The peer port is unused (one member) but etcd binds it: a port of its own, on loopback.
        `--listen-peer-urls=http://127.0.0.1:${r.etcdPort + 1}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${r.etcdPort + 1}`,
        `--initial-cluster=cosmolet-lab=http://127.0.0.1:${r.etcdPort + 1}`,
        // A throwaway store on one machine: durability per write buys nothing and costs seconds.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ];
    case 'kube-apiserver':
      return [
        bin('kube-apiserver'),
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        // The endpoint reconciler refuses a loopback address; default/kubernetes then has no
        // EndpointSlice (cosmolet skips it: no-ready-endpoints) instead of a made-up endpoint.
        '--endpoint-reconciler-type=none',
        `--secure-port=${r.apiserverPort}`,
        `--tls-cert-file=${p.serverCert}`,
        `--tls-private-key-file=${p.serverKey}`,
        `--client-ca-file=${p.caCert}`,
        '--authorization-mode=Node,RBAC',
        '--enable-admission-plugins=NodeRestriction',
        `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
        `--service-account-key-file=${p.saPub}`,
        `--service-account-signing-key-file=${p.saKey}`,
        `--service-cluster-ip-range=${r.serviceCIDRs.join(',')}`,
        '--allow-privileged=true',
        '--profiling=false',
        '--v=1',
        ...apiserverArgs,
      ];
    case 'kube-controller-manager':
      return [
        bin('kube-controller-manager'),
        `--kubeconfig=${join(r.dir, 'controller-manager.kubeconfig')}`,
        `--authentication-kubeconfig=${join(r.dir, 'controller-manager.kubeconfig')}`,
        `--authorization-kubeconfig=${join(r.dir, 'controller-manager.kubeconfig')}`,
        `--controllers=${CONTROLLERS.join(',')}`,
        `--service-account-private-key-file=${p.saKey}`,
        `--root-ca-file=${p.caCert}`,
        '--use-service-account-credentials=true',
        `--service-cluster-ip-range=${r.serviceCIDRs.join(',')}`,
        '--bind-address=127.0.0.1',
        '--secure-port=0',
        '--leader-elect=false',
        '--v=1',
      ];
    case 'kube-scheduler':
      return [
        bin('kube-scheduler'),
        `--kubeconfig=${join(r.dir, 'scheduler.kubeconfig')}`,
        `--authentication-kubeconfig=${join(r.dir, 'scheduler.kubeconfig')}`,
        `--authorization-kubeconfig=${join(r.dir, 'scheduler.kubeconfig')}`,
        '--bind-address=127.0.0.1',
        '--secure-port=0',
        '--leader-elect=false',
        '--v=1',
      ];
  }
}
