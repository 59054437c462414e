// The chart validated by a real kube-apiserver, not only by its own schema: `helm template` with the
// default values and with every values file in charts/cosmolet/ci/, then
// `kubectl apply --dry-run=server --validate=strict`: every object goes through the API server's
// decoding, strict field validation (an unknown or misplaced field fails), defaulting and admission,
// and nothing is stored. The ServiceMonitor and PrometheusRule need the Prometheus Operator's CRDs:
// they come from the operator's Go module pinned in tools/crds/ and are installed first; when they
// cannot be had, those objects are reported as not validated (a skipped test with the reason).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ControlPlane } from '@cosmolet/lab/control-plane/control-plane';
import { helmBinary } from '../../../scripts/render-deploy.js';
import { ROOT } from '../controller/harness.js';

const CHART = join(ROOT, 'charts', 'cosmolet');
const NAMESPACE = 'cosmolet';
/** Kinds whose API only exists with the Prometheus Operator's CRDs. */
const OPERATOR_KINDS = new Set(['ServiceMonitor', 'PrometheusRule']);

type Obj = { kind?: string; metadata?: { name?: string; namespace?: string } };

const VALUE_SETS: { name: string; file?: string }[] = [
  { name: 'default values' },
  ...readdirSync(join(CHART, 'ci'))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({ name: `ci/${f}`, file: join(CHART, 'ci', f) })),
];

let dir = '';
let cp: ControlPlane | undefined;
/** Why the operator's CRDs are not installed; undefined once they are. */
let crdsMissing: string | undefined = 'not tried yet';

function render(file?: string, namespace = NAMESPACE): Obj[] {
  const args = ['template', 'cosmolet', CHART, '--namespace', namespace, ...(file ? ['-f', file] : [])];
  const r = spawnSync(helmBinary(), args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`helm ${args.join(' ')}: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null && typeof o === 'object');
}

/** kubectl with the admin kubeconfig; returns its exit status, stdout and stderr. */
function kubectl(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  if (!cp) throw new Error('no control plane');
  const r = spawnSync(cp.bin('kubectl'), ['--kubeconfig', cp.adminKubeconfig, ...args], {
    encoding: 'utf8',
    input,
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function mustKubectl(args: string[], input?: string): string {
  const r = kubectl(args, input);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Installs the Prometheus Operator's CRDs from tools/crds/, or says why it cannot. */
function installOperatorCrds(): string | undefined {
  const r = spawnSync('bash', [join(ROOT, 'tools', 'crds', 'crds.sh')], { encoding: 'utf8' });
  if (r.status !== 0) return `tools/crds/crds.sh failed: ${(r.stderr || r.error?.message || '').trim()}`;
  const files = r.stdout.split('\n').filter((l) => l !== '');
  // Server-side apply: the CRDs are too large for client-side apply's last-applied annotation.
  mustKubectl(['apply', '--server-side', ...files.flatMap((f) => ['-f', f])]);
  for (const plural of ['servicemonitors', 'prometheusrules'])
    mustKubectl([
      'wait',
      '--for=condition=Established',
      `crd/${plural}.monitoring.coreos.com`,
      '--timeout=60s',
    ]);
  return undefined;
}

/**
 * kube-apiserver admits pods of the critical priority classes in any namespace unless its
 * ResourceQuota admission limits them (the Kubernetes docs' "Limit Priority Class consumption by
 * default", as managed clusters configure it): then only where a ResourceQuota scoped to the class
 * exists. The control plane here runs with that limit, so the chart is checked against the strict case.
 */
const CRITICAL_CLASSES_LIMITED = {
  apiVersion: 'apiserver.config.k8s.io/v1',
  kind: 'AdmissionConfiguration',
  plugins: [
    {
      name: 'ResourceQuota',
      configuration: {
        apiVersion: 'apiserver.config.k8s.io/v1',
        kind: 'ResourceQuotaConfiguration',
        limitedResources: [
          {
            resource: 'pods',
            matchScopes: [
              {
                scopeName: 'PriorityClass',
                operator: 'In',
                values: ['system-node-critical', 'system-cluster-critical'],
              },
            ],
          },
        ],
      },
    },
  ],
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cosmolet-chart-server-'));
  const admission = join(dir, 'admission.json');
  writeFileSync(admission, JSON.stringify(CRITICAL_CLASSES_LIMITED));
  cp = await ControlPlane.start({
    dir: join(dir, 'control-plane'),
    apiserverArgs: [`--admission-control-config-file=${admission}`],
  });
  crdsMissing = installOperatorCrds();
});
after(async () => {
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Creates every namespace the objects name (and the release's), as an install would need them. */
function ensureNamespaces(objects: Obj[]): void {
  const names = new Set([NAMESPACE, ...objects.map((o) => o.metadata?.namespace ?? NAMESPACE)]);
  for (const ns of names) {
    if (kubectl(['get', 'namespace', ns]).status !== 0) mustKubectl(['create', 'namespace', ns]);
  }
}

/** `kubectl apply --dry-run=server --validate=strict` of the objects; returns what kubectl printed. */
function dryRun(objects: Obj[]): { lines: string[]; warnings: string[] } {
  const r = kubectl(
    ['apply', '--dry-run=server', '--validate=strict', '-f', '-'],
    objects.map((o) => JSON.stringify(o)).join('\n---\n'),
  );
  assert.equal(r.status, 0, `the API server refused the chart:\n${r.stderr}`);
  return {
    lines: r.stdout.split('\n').filter((l) => l !== ''),
    warnings: r.stderr.split('\n').filter((l) => /^Warning:/.test(l)),
  };
}

for (const set of VALUE_SETS) {
  test(`helm template with ${set.name}: kubectl apply --dry-run=server --validate=strict accepts every object`, async (t) => {
    const objects = render(set.file);
    const core = objects.filter((o) => !OPERATOR_KINDS.has(o.kind ?? ''));
    const operator = objects.filter((o) => OPERATOR_KINDS.has(o.kind ?? ''));
    ensureNamespaces(objects);

    const { lines, warnings } = dryRun(core);
    assert.equal(lines.length, core.length, `one line per object:\n${lines.join('\n')}`);
    for (const l of lines) assert.match(l, /\(server dry run\)$/);
    assert.deepEqual(warnings, [], 'no deprecation or admission warnings');
    t.diagnostic(`${core.length} objects: ${core.map((o) => o.kind).join(', ')}`);

    await t.test(
      `the Prometheus Operator objects (${operator.map((o) => o.kind).join(', ') || 'none rendered'})`,
      operator.length > 0 && crdsMissing !== undefined ? { skip: `not validated: ${crdsMissing}` } : {},
      () => {
        if (operator.length === 0) return;
        const r = dryRun(operator);
        assert.equal(r.lines.length, operator.length, r.lines.join('\n'));
        assert.deepEqual(r.warnings, []);
      },
    );
    // Nothing was stored: a dry run creates nothing.
    const daemonsets = mustKubectl(['-n', NAMESPACE, 'get', 'daemonsets', '-o', 'name']);
    assert.equal(daemonsets.trim(), '');
  });
}

test('the check is not vacuous: strict validation refuses a misspelt field in the DaemonSet', () => {
  const ds = render().find((o) => o.kind === 'DaemonSet') as Record<string, unknown> | undefined;
  assert.ok(ds);
  const spec = ds.spec as Record<string, unknown>;
  const broken = { ...ds, spec: { ...spec, updateStrategyy: { type: 'RollingUpdate' } } };
  const r = kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], JSON.stringify(broken));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unknown field "spec.updateStrategyy"/);
});

test("the default priorityClassName system-node-critical: the DaemonSet's pod is admitted outside kube-system with the chart's ResourceQuota, refused without it", () => {
  const withQuota = 'cosmolet-critical';
  const without = 'cosmolet-no-quota';
  for (const ns of [withQuota, without]) mustKubectl(['create', 'namespace', ns]);
  const objects = render(undefined, withQuota);
  // The pod's ServiceAccount, in both namespaces (admission looks it up).
  for (const ns of [withQuota, without]) {
    for (const sa of render(undefined, ns).filter((o) => o.kind === 'ServiceAccount'))
      mustKubectl(['apply', '-f', '-'], JSON.stringify(sa));
  }
  const quota = objects.find((o) => o.kind === 'ResourceQuota');
  assert.ok(quota?.metadata?.name, 'the chart renders a ResourceQuota outside kube-system');
  mustKubectl(['apply', '-f', '-'], JSON.stringify(quota));
  // kube-controller-manager's resourcequota controller (not run by this control plane) writes the
  // quota's status before the quota admits anything; written here as it would.
  mustKubectl([
    '-n',
    withQuota,
    'patch',
    'resourcequota',
    quota.metadata.name,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status: { hard: { pods: '5000' }, used: { pods: '0' } } }),
  ]);
  // The pod the DaemonSet controller (not run either) would create from the template.
  const ds = objects.find((o) => o.kind === 'DaemonSet') as
    { spec: { template: { metadata: Record<string, unknown>; spec: Record<string, unknown> } } } | undefined;
  assert.ok(ds);
  assert.equal(ds.spec.template.spec.priorityClassName, 'system-node-critical');
  const pod = (ns: string) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...ds.spec.template.metadata, name: 'cosmolet-node-a', namespace: ns },
      spec: { ...ds.spec.template.spec, nodeName: 'node-a' },
    });
  const admitted = kubectl(['create', '--dry-run=server', '-f', '-'], pod(withQuota));
  assert.equal(admitted.status, 0, `refused with the chart's ResourceQuota:\n${admitted.stderr}`);
  const refused = kubectl(['create', '--dry-run=server', '-f', '-'], pod(without));
  assert.notEqual(refused.status, 0, 'admitted without a quota: the check above proves nothing');
  assert.match(refused.stderr, /insufficient quota to match these scopes/);
});
