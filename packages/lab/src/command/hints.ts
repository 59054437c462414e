// The commands printed after `lab up` and by `lab status`, ready to paste.
import { join } from 'node:path';
import { kubeKind, type LabState } from '../state/state.js';

export function labHints(state: LabState, command: string, labFlags = ''): string {
  const leafNs = `${state.prefix}-leaf`;
  const vty = join(state.dir, 'fabric', 'leaf', 'run');
  const first = state.nodes[0];
  const last = state.nodes[state.nodes.length - 1];
  const real = kubeKind(state) === 'real';
  const kubectl = real ? join(state.dir, 'kubectl') : 'kubectl';
  return [
    `kubectl:  ${kubectl} --kubeconfig ${state.kubeconfig} get nodes,svc${real ? ',pods' : ''} -A`,
    `leaf:     ip netns exec ${leafNs} ip route show proto bgp     (or: vtysh --vty_socket ${vty} -c 'show bgp ipv4 unicast')`,
    `curl:     ip netns exec ${leafNs} curl -s http://10.96.0.10/     ip netns exec ${leafNs} curl -sg 'http://[fd00:10:96::a]/'`,
    `status:   ip netns exec ${leafNs} ${command} status --kubeconfig ${join(state.dir, 'node-kubeconfig')}     (every node's /status)`,
    ...(first
      ? [
          `cosmolet: ip netns exec ${first.ns} curl -s 127.0.0.1:8081/readyz     (the probe listener; /metrics and /status: HTTPS on :8080, CA in tls/ca.crt, docs/lab.md)`,
        ]
      : []),
    ...(last && state.nodes.length > 1
      ? [`fail:     ${command} lab node stop ${last.name}${labFlags}     (and: lab node start ${last.name})`]
      : []),
    `play:     edit the files in ${state.manifests} (applied when saved)`,
    `logs:     ${state.dir}/nodes/<node>/cosmolet.log, cluster.log, fabric/${real ? ', control-plane/logs/' : ''}`,
    `view:     ${command} lab status${labFlags}     (--json for scripts)`,
    `stop:     ${command} lab down${labFlags}`,
    real
      ? `api:      a real kube-apiserver ${state.kube?.version ?? ''}; the embedded API double: ${command} lab down${labFlags}, then lab up --kube double`
      : `api:      the embedded API double; a real kube-apiserver, etcd, controller-manager and scheduler: ${command} lab down${labFlags}, then lab up --kube real (built the first time: minutes)`,
  ].join('\n');
}
