// The pure parts of `lab up --kube real`: which API a lab runs, the data path from real Pod objects
// (their status addresses) and the real EndpointSlices, when the cluster has caught up with its
// manifests, the manifest directory examples/lab-real (parsed, Namespaces first, the LoadBalancer
// intent), the load-balancer status patch, the readiness annotation, tokens renewed at 80 %,
// cosmolet's in-cluster command line, and the view's header and hints naming the API server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterDataPath, type ClusterPod } from '@cosmolet/lab/pods/datapath';
import { labHints } from '@cosmolet/lab/command/hints';
import {
  agentNodes,
  chooseKube,
  clusterSettled,
  cosmoletPod,
  parseKubeFlag,
  podReadiness,
  READY_ANNOTATION,
  tokenRefreshAt,
} from '@cosmolet/lab/real-cluster/kube';
import { inClusterCommand } from '@cosmolet/lab/cosmolet/start';
import {
  ingressPatch,
  loadBalancerIntent,
  parseManifestText,
  readManifestDir,
} from '@cosmolet/lab/real-cluster/manifests';
import { labNodes, type LabState } from '@cosmolet/lab/state/state';
import { renderView, type LabView } from '@cosmolet/lab/command/view';
import type { EndpointSlice, Service } from '../../../src/model/objects.js';

const REAL_EXAMPLES = new URL('../../../examples/lab-real/', import.meta.url).pathname;
const NODES = labNodes('t', '/tmp/x', 3);

test('the lab runs the real control plane when asked, or by default once it is built; else the double', () => {
  assert.equal(chooseKube(undefined, undefined), 'double');
  assert.equal(chooseKube(undefined, '/cache/kube/bin'), 'real');
  assert.equal(chooseKube('double', '/cache/kube/bin'), 'double');
  assert.equal(chooseKube('real', undefined), 'real', 'asked for and not built: lab up builds it');
  assert.equal(parseKubeFlag('real'), 'real');
  assert.equal(parseKubeFlag('double'), 'double');
  assert.equal(parseKubeFlag('kind'), undefined);
});

function pod(
  name: string,
  node: string | undefined,
  ips: string[],
  extra: {
    ns?: string;
    ports?: number[];
    hostNetwork?: boolean;
    deleting?: boolean;
    labels?: Record<string, string>;
    ready?: boolean;
  } = {},
): ClusterPod & { status: Record<string, unknown> } {
  return {
    metadata: {
      name,
      namespace: extra.ns ?? 'default',
      labels: extra.labels ?? { app: name.replace(/-.*/, '') },
      ...(extra.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: {
      ...(node ? { nodeName: node } : {}),
      ...(extra.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ ports: (extra.ports ?? [8080]).map((containerPort) => ({ containerPort })) }],
    },
    status: {
      podIPs: ips.map((ip) => ({ ip })),
      conditions: [{ type: 'Ready', status: extra.ready === false ? 'False' : 'True' }],
    },
  };
}

function svc(name: string, spec: Record<string, unknown>, ns = 'default'): Service {
  return { metadata: { name, namespace: ns }, spec: { type: 'ClusterIP', ...spec } };
}

function slice(
  service: string,
  family: 'IPv4' | 'IPv6',
  eps: [string, string, string, boolean][],
  port = 8080,
  ns = 'default',
): EndpointSlice {
  return {
    metadata: {
      name: `${service}-${family}`,
      namespace: ns,
      labels: { 'kubernetes.io/service-name': service },
    },
    addressType: family,
    ports: [{ name: 'http', port, protocol: 'TCP' }],
    endpoints: eps.map(([addr, podName, node, ready]) => ({
      addresses: [addr],
      conditions: { ready },
      nodeName: node,
      targetRef: { kind: 'Pod', name: podName, namespace: ns },
    })),
  } as EndpointSlice;
}

test('real data path: a pod per Pod bound to a lab node, with its status addresses; the slices name its Services and ports', () => {
  const pods = [
    pod('web-a', 'lab-node-1', ['10.244.1.11', 'fd00:10:244:1::b']),
    pod('web-b', 'lab-node-2', ['10.244.2.11', 'fd00:10:244:2::b']),
    pod('lonely', 'lab-node-3', ['10.244.3.11'], { ports: [9090] }),
    pod('cosmolet-lab-node-1', 'lab-node-1', ['10.255.1.1'], { hostNetwork: true }),
    pod('going', 'lab-node-1', ['10.244.1.12'], { deleting: true }),
    pod('pending', undefined, []),
    pod('elsewhere', 'other-node', ['10.244.9.11']),
    pod('starting', 'lab-node-2', []),
  ];
  const services = [
    svc('web', {
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10', 'fd00:10:96::a'],
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    }),
  ];
  const slices = [
    slice('web', 'IPv4', [
      ['10.244.1.11', 'web-a', 'lab-node-1', true],
      ['10.244.2.11', 'web-b', 'lab-node-2', false],
    ]),
    slice('web', 'IPv6', [
      ['fd00:10:244:1::b', 'web-a', 'lab-node-1', true],
      ['fd00:10:244:2::b', 'web-b', 'lab-node-2', false],
    ]),
  ];
  const dp = clusterDataPath(services, slices, pods, NODES);
  assert.deepEqual(
    dp.pods.map((p) => [p.key, p.node, p.v4, p.v6, p.ports, p.services]),
    [
      ['default/lonely', 'lab-node-3', ['10.244.3.11'], [], [9090], []],
      ['default/web-a', 'lab-node-1', ['10.244.1.11'], ['fd00:10:244:1::b'], [8080], ['default/web']],
      ['default/web-b', 'lab-node-2', ['10.244.2.11'], ['fd00:10:244:2::b'], [8080], ['default/web']],
    ],
  );
  assert.deepEqual(dp.warnings, []);
  // kube-proxy: the ready endpoint only (web-b is not ready), on every node.
  for (const n of NODES) {
    assert.match(
      dp.nft.get(n.name) ?? '',
      /ip daddr 10\.96\.0\.10 tcp dport 80 dnat ip to 10\.244\.1\.11:8080/,
    );
    assert.match(
      dp.nft.get(n.name) ?? '',
      /ip6 daddr fd00:10:96::a tcp dport 80 dnat ip6 to \[fd00:10:244:1::b\]:8080/,
    );
  }
});

test('real data path: an address claimed twice goes to the first pod only, with a warning', () => {
  const dp = clusterDataPath(
    [],
    [],
    [pod('a', 'lab-node-1', ['10.244.1.11']), pod('b', 'lab-node-1', ['10.244.1.11', '127.0.0.1'])],
    NODES,
  );
  assert.deepEqual(
    dp.pods.map((p) => p.key),
    ['default/a'],
  );
  assert.ok(dp.warnings.some((w) => /10\.244\.1\.11 is claimed by default\/a and default\/b/.test(w)));
  assert.ok(dp.warnings.some((w) => /default\/b: address 127\.0\.0\.1 is not usable/.test(w)));
});

test('the cluster has caught up once pods are rolled out, addressed, realised and in their Services slices', () => {
  const services = [svc('web', { selector: { app: 'web' } })];
  const deployments = [
    {
      metadata: { name: 'web', namespace: 'default', generation: 2 },
      spec: { replicas: 2 },
      status: { observedGeneration: 2, updatedReplicas: 2 },
    },
  ];
  const pods = [
    pod('web-a', 'lab-node-1', ['10.244.1.11']),
    pod('web-b', 'lab-node-2', ['10.244.2.11']),
    pod('db-a', 'lab-node-1', ['10.244.1.12'], { ready: false, labels: { app: 'web' } }),
  ];
  const pending = {
    ...pod('far', undefined, []),
    status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] },
  };
  const slices = [
    slice('web', 'IPv4', [
      ['10.244.1.11', 'web-a', 'lab-node-1', true],
      ['10.244.2.11', 'web-b', 'lab-node-2', true],
    ]),
  ];
  const input = {
    pods: [...pods, pending],
    services,
    slices,
    deployments,
    nodes: NODES.map((n) => n.name),
    realised: new Set(['default/web-a', 'default/web-b', 'default/db-a']),
    dataPathSynced: true,
  };
  assert.deepEqual(clusterSettled(input), { settled: true, waitingFor: [], unschedulable: ['default/far'] });
  // Each missing piece is named.
  const d0 = deployments[0];
  assert.ok(d0);
  assert.deepEqual(
    clusterSettled({
      ...input,
      deployments: [{ ...d0, status: { observedGeneration: 1, updatedReplicas: 2 } }],
    }).waitingFor,
    ['deployment default/web to create its pods'],
  );
  assert.deepEqual(
    clusterSettled({ ...input, realised: new Set(['default/web-a', 'default/db-a']) }).waitingFor,
    ['pod default/web-b to get its network namespace'],
  );
  assert.deepEqual(
    clusterSettled({
      ...input,
      slices: [slice('web', 'IPv4', [['10.244.1.11', 'web-a', 'lab-node-1', true]])],
    }).waitingFor,
    ['the EndpointSlices of default/web to have default/web-b'],
  );
  assert.deepEqual(clusterSettled({ ...input, pods: [...pods, pod('new', undefined, [])] }).waitingFor, [
    'pod default/new to be scheduled',
  ]);
  assert.deepEqual(clusterSettled({ ...input, pods: [pod('web-c', 'lab-node-3', [])] }).waitingFor, [
    'pod default/web-c to get addresses',
  ]);
  assert.equal(clusterSettled({ ...input, dataPathSynced: false }).settled, false);
});

test('examples/lab-real: the same six Services with Deployments and selectors, the shop Namespace first, no EndpointSlices', () => {
  const dir = readManifestDir(REAL_EXAMPLES);
  assert.deepEqual(dir.errors, []);
  const objects = [...dir.objects.values()];
  const kinds = (k: string): string[] =>
    objects
      .filter((o) => o.kind === k)
      .map((o) => `${o.namespace ?? ''}/${o.name}`)
      .sort();
  assert.deepEqual(kinds('Namespace'), ['/shop']);
  const six = ['default/db', 'default/legacy', 'default/web', 'shop/api', 'shop/checkout', 'shop/storefront'];
  assert.deepEqual(kinds('Service'), six);
  assert.deepEqual(kinds('Deployment'), six);
  assert.deepEqual(kinds('EndpointSlice'), []);
  // The ClusterIPs the double's examples use, asked for by value.
  const ips = objects
    .filter((o) => o.kind === 'Service')
    .map((o) => (JSON.parse(o.text) as Service).spec?.clusterIPs?.[0])
    .sort();
  assert.deepEqual(ips, ['10.96.0.10', '10.96.0.11', '10.96.0.12', '10.96.0.13', '10.96.0.20', '10.96.0.30']);
  // The load balancer's intent: storefront's ingress IPs.
  assert.deepEqual(
    [...loadBalancerIntent(objects)],
    [['shop/storefront', ['192.0.2.10', '2001:db8:96::10']]],
  );
  // db's pods are not ready (the annotation on its template).
  const db = objects.find((o) => o.kind === 'Deployment' && o.name === 'db');
  const template = (
    JSON.parse(db?.text ?? '{}') as {
      spec: { template: { metadata: { annotations?: Record<string, string> } } };
    }
  ).spec.template;
  assert.equal(podReadiness(template), false);
});

test('manifest files: documents and Lists are objects, a file that does not parse or an object without a name is reported', () => {
  assert.deepEqual(
    parseManifestText(
      'kind: List\napiVersion: v1\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n---\n',
      'f.yaml',
    ).map((o) => o.metadata?.name),
    ['a'],
  );
  assert.throws(() => parseManifestText('a: [', 'bad.yaml'), /bad\.yaml/);
  const tmp = mkdtempSync(join(tmpdir(), 'lab-real-manifests-'));
  try {
    writeFileSync(join(tmp, 'bad.yaml'), 'a: [');
    writeFileSync(join(tmp, 'noname.yaml'), 'apiVersion: v1\nkind: Pod\n');
    writeFileSync(
      join(tmp, 'twice.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\n',
    );
    writeFileSync(join(tmp, 'notes.txt'), 'not a manifest');
    const dir = readManifestDir(tmp);
    assert.deepEqual(dir.files, ['bad.yaml', 'noname.yaml', 'twice.yaml']);
    assert.deepEqual([...dir.failedFiles], ['bad.yaml']);
    assert.deepEqual(
      dir.errors.map((e) => e.file),
      ['bad.yaml', 'noname.yaml', 'twice.yaml'],
    );
    assert.equal(dir.objects.size, 1);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  assert.deepEqual(readManifestDir('/nonexistent/lab-real').errors, [
    { file: '/nonexistent/lab-real', message: 'directory does not exist' },
  ]);
});

test('the load-balancer stand-in patches the status only when the ingress IPs differ (the server adds ipMode)', () => {
  const lb = (ingress?: { ip: string; ipMode?: string }[]): Service => ({
    metadata: { name: 's', namespace: 'shop' },
    spec: { type: 'LoadBalancer' },
    ...(ingress ? { status: { loadBalancer: { ingress } } } : {}),
  });
  const want = ['192.0.2.10', '2001:db8:96::10'];
  assert.deepEqual(ingressPatch(lb(), want), {
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }, { ip: '2001:db8:96::10' }] } },
  });
  assert.equal(
    ingressPatch(
      lb([
        { ip: '2001:db8:96::10', ipMode: 'VIP' },
        { ip: '192.0.2.10', ipMode: 'VIP' },
      ]),
      want,
    ),
    undefined,
  );
  assert.deepEqual(ingressPatch(lb([{ ip: '192.0.2.10' }]), []), {
    status: { loadBalancer: { ingress: null } },
  });
  assert.equal(
    ingressPatch(svc('c', {}), want),
    undefined,
    'not a LoadBalancer (changed with kubectl): left alone',
  );
});

test('readiness annotation, node agent nodes, cosmolet Pods, tokens renewed at 80 %, the in-cluster command', () => {
  assert.equal(podReadiness({ metadata: { annotations: { [READY_ANNOTATION]: 'false' } } }), false);
  assert.equal(podReadiness({ metadata: { annotations: { [READY_ANNOTATION]: 'true' } } }), true);
  assert.equal(podReadiness({ metadata: {} }), undefined);
  assert.deepEqual(agentNodes(NODES)[1], {
    name: 'lab-node-2',
    addresses: [NODES[1]?.v4, NODES[1]?.v6],
    podCIDRs: ['10.244.2.0/24', 'fd00:10:244:2::/64'],
  });
  const p = cosmoletPod(NODES[0] ?? assert.fail()) as {
    metadata: { name: string; namespace: string; labels: Record<string, string> };
    spec: Record<string, unknown>;
  };
  assert.equal(p.metadata.name, 'cosmolet-lab-node-1');
  assert.equal(p.metadata.namespace, 'cosmolet');
  assert.equal(p.metadata.labels['app.kubernetes.io/name'], 'cosmolet', 'what cosmolet status selects');
  assert.equal(p.spec['nodeName'], 'lab-node-1');
  assert.equal(p.spec['hostNetwork'], true);
  assert.equal(p.spec['serviceAccountName'], 'cosmolet');
  assert.equal(tokenRefreshAt(1_000_000, 3600), 1_000_000 + 2_880_000);
  const cmd = inClusterCommand(['node', "/it's/cli.js", 'run'], '/lab/nodes/lab-node-1/serviceaccount', 6443);
  assert.equal(
    cmd,
    "mkdir -p /var/run/secrets/kubernetes.io/serviceaccount && mount --bind '/lab/nodes/lab-node-1/serviceaccount' " +
      '/var/run/secrets/kubernetes.io/serviceaccount && exec env -u KUBECONFIG KUBERNETES_SERVICE_HOST=127.0.0.1 ' +
      "KUBERNETES_SERVICE_PORT=6443 'node' '/it'\\''s/cli.js' 'run'",
  );
});

function emptyView(kind: 'double' | 'kube-apiserver', version: string): LabView {
  return {
    running: true,
    prefix: 'cosmolab',
    manifests: '/m',
    apiServer: { kind, version },
    kubeconfig: '/run/cosmolet-lab/kubeconfig',
    kubectl: kind === 'double' ? 'kubectl' : '/run/cosmolet-lab/kubectl',
    nodes: [],
    cluster: { reachable: true, manifestErrors: [], dataPathError: null, warnings: [] },
    services: [],
    prefixes: [],
    extraAtLeaf: [],
    extraAtGobgp: [],
  };
}

test('the view header and the hints name the API server and how to switch', () => {
  assert.match(
    renderView(emptyView('kube-apiserver', 'v1.37.2')).split('\n')[0] ?? '',
    /^api: kube-apiserver v1\.37\.2 \(real control plane\) {3}\/run\/cosmolet-lab\/kubectl --kubeconfig \/run\/cosmolet-lab\/kubeconfig$/,
  );
  assert.match(
    renderView(emptyView('double', 'v1.32.0-cosmolet-double')).split('\n')[0] ?? '',
    /^api: API double v1\.32/,
  );
  const state = (kind: 'double' | 'real'): LabState => ({
    version: 2,
    prefix: 'cosmolab',
    dir: '/run/cosmolet-lab',
    manifests: '/m',
    status: 'up',
    startedAt: '',
    upPid: 1,
    processes: [],
    kubeconfig: '/run/cosmolet-lab/kubeconfig',
    nodes: NODES,
    kube: kind === 'real' ? { kind, version: 'v1.37.2' } : { kind },
  });
  assert.match(
    labHints(state('double'), 'cosmolet'),
    /then lab up --kube real \(built the first time: minutes\)/,
  );
  assert.match(labHints(state('real'), 'cosmolet'), /then lab up --kube double/);
  assert.match(
    labHints(state('real'), 'cosmolet'),
    /\/run\/cosmolet-lab\/kubectl --kubeconfig \/run\/cosmolet-lab\/kubeconfig get nodes,svc,pods -A/,
  );
});
