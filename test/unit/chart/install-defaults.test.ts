// What the chart installs by default and what its NOTES tell the operator (issue 22): the FRR vty
// group joined at start when frrVtyGroupId is null, pods only on nodes labelled for BGP, the
// system-node-critical class with the ResourceQuota that admits it outside kube-system, and an FRR
// export snippet that cosmolet's own readiness check accepts, route classes included.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { evaluateExport } from '../../../src/router/frr/checks.js';
import { CHART_DIR, runHelm, type HelmMajor } from '../../../scripts/render-deploy.js';

type Obj = Record<string, unknown>;

function render(args: string[], major: HelmMajor = 4, namespace = 'cosmolet'): Obj[] {
  const r = runHelm(['template', 'cosmolet', CHART_DIR, '--namespace', namespace, ...args], major);
  assert.equal(r.status, 0, r.stderr);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

function notes(args: string[], major: HelmMajor = 4): string {
  const r = runHelm(
    ['install', 'cosmolet', CHART_DIR, '--dry-run=client', '--namespace', 'cosmolet', ...args],
    major,
  );
  assert.equal(r.status, 0, r.stderr);
  const at = r.stdout.indexOf('NOTES:');
  assert.ok(at >= 0, 'helm printed NOTES');
  return r.stdout.slice(at);
}

interface PodParts {
  pod: Obj;
  container: Obj;
}

function podParts(objects: Obj[]): PodParts {
  const ds = objects.find((o) => o.kind === 'DaemonSet') as
    { spec: { template: { spec: Obj & { containers: Obj[] } } } } | undefined;
  assert.ok(ds, 'a DaemonSet is rendered');
  const container = ds.spec.template.spec.containers[0];
  assert.ok(container);
  return { pod: ds.spec.template.spec, container };
}

function caps(c: Obj): unknown {
  return (c.securityContext as { capabilities?: { add?: string[] } }).capabilities?.add;
}

/** The FRR config block NOTES prints (its indented lines), with the placeholders filled in. */
function exportSnippet(text: string): string {
  const start = text.indexOf('cosmolet never edits your FRR configuration');
  assert.ok(start >= 0);
  const lines = text.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('  '));
  const block: string[] = [];
  for (const l of lines.slice(first)) {
    if (!l.startsWith('  ')) break;
    block.push(l.slice(2));
  }
  return block
    .join('\n')
    .replace('<your-asn>', '65001')
    .replace(/<the community of route class (\S+)>/g, '65001:1');
}

describe('chart defaults and NOTES (issue 22)', () => {
  test('frrVtyGroupId null: the entrypoint joins the vty group, with only the capabilities that takes', () => {
    const kernel = podParts(render([]));
    assert.deepEqual(kernel.container.command, [
      'cosmolet-join-vty-group',
      '/var/run/frr',
      'root',
      '--',
      'cosmolet',
    ]);
    assert.deepEqual(caps(kernel.container), ['NET_ADMIN', 'SETGID', 'SETPCAP']);
    assert.equal((kernel.pod.securityContext as Obj).supplementalGroups, undefined);

    const stat = podParts(
      render(['--set', 'config.frr.origination=static', '--set', 'config.frr.socketDir=/run/frr']),
    );
    assert.deepEqual(stat.container.command, [
      'cosmolet-join-vty-group',
      '/run/frr',
      '10001:10001',
      '--',
      'cosmolet',
    ]);
    assert.deepEqual(caps(stat.container), ['SETGID', 'SETUID']);
    assert.equal(
      (stat.pod.securityContext as Obj).runAsUser,
      0,
      'the entrypoint starts as root, cosmolet runs as 10001',
    );

    // With the gid known: the image's entrypoint, the group from the pod, no extra capability.
    for (const origination of ['kernel', 'static']) {
      const fixed = podParts(
        render(['--set', `config.frr.origination=${origination}`, '--set', 'frrVtyGroupId=105']),
      );
      assert.equal(fixed.container.command, undefined);
      assert.deepEqual(caps(fixed.container), origination === 'kernel' ? ['NET_ADMIN'] : undefined);
      assert.deepEqual((fixed.pod.securityContext as Obj).supplementalGroups, [105]);
    }
  });

  test('pods go only to nodes labelled node-role.kubernetes.io/bgp=true (a node without FRR gets none)', () => {
    assert.deepEqual(podParts(render([])).pod.nodeSelector, {
      'kubernetes.io/os': 'linux',
      'node-role.kubernetes.io/bgp': 'true',
    });
    // The documented way to run on every Linux node instead.
    const everywhere = podParts(render(['--set', 'nodeSelector.node-role\\.kubernetes\\.io/bgp=null']));
    assert.deepEqual(everywhere.pod.nodeSelector, { 'kubernetes.io/os': 'linux' });
    assert.match(notes([]), /kubectl label node <node> node-role\.kubernetes\.io\/bgp=true/);
  });

  test('system-node-critical by default, with a ResourceQuota for it outside kube-system only', () => {
    const objects = render([]);
    assert.equal(podParts(objects).pod.priorityClassName, 'system-node-critical');
    const quota = objects.find((o) => o.kind === 'ResourceQuota') as { spec: Obj; metadata: Obj } | undefined;
    assert.ok(quota, 'a ResourceQuota in the release namespace');
    assert.equal(quota.metadata.namespace, 'cosmolet');
    assert.deepEqual(quota.spec.scopeSelector, {
      matchExpressions: [{ operator: 'In', scopeName: 'PriorityClass', values: ['system-node-critical'] }],
    });
    assert.ok(!render([], 4, 'kube-system').some((o) => o.kind === 'ResourceQuota'), 'none in kube-system');
    assert.ok(!render(['--set', 'priorityClassName=']).some((o) => o.kind === 'ResourceQuota'));
    assert.ok(!render(['--set', 'priorityClassName=my-class']).some((o) => o.kind === 'ResourceQuota'));
  });

  // Helm 4 only: Helm 3's `install --dry-run=client`, which prints NOTES, wants a cluster.
  {
    const major: HelmMajor = 4;
    test(`Helm ${major}: NOTES under static origination with routeClasses match every class's tag, and cosmolet's check accepts the snippet`, () => {
      const text = notes(
        [
          '--set',
          'config.frr.origination=static',
          '--set',
          'config.routeClasses.gold.mark=1001',
          '--set',
          'config.routeClasses.silver.mark=4000000000',
        ],
        major,
      );
      const snippet = exportSnippet(text);
      for (const tag of [7300, 1001, 4000000000])
        assert.match(snippet, new RegExp(`^ match tag ${tag}$`, 'm'));
      assert.doesNotMatch(text, /prefix-list/, 'the static snippet has no prefix-lists to adjust');
      const check = evaluateExport(
        snippet,
        'static',
        ['ipv4', 'ipv6'],
        [
          { name: 'gold', mark: 1001 },
          { name: 'silver', mark: 4000000000 },
        ],
      );
      assert.ok(check.ok, `${check.message}\n${snippet}`);
    });

    test(`Helm ${major}: the kernel snippet with routeClasses matches every class's metric, and cosmolet's check accepts it`, () => {
      const snippet = exportSnippet(notes(['--set', 'config.routeClasses.gold.mark=1001'], major));
      assert.match(snippet, /^ match metric 1001$/m);
      const check = evaluateExport(snippet, 'kernel', ['ipv4', 'ipv6'], [{ name: 'gold', mark: 1001 }]);
      assert.ok(check.ok, `${check.message}\n${snippet}`);
      const plain = exportSnippet(notes([], major));
      assert.ok(evaluateExport(plain, 'kernel', ['ipv4', 'ipv6']).ok, plain);
    });
  }

  test('NOTES warn about values that install but do nothing', () => {
    assert.match(
      notes(['--set', 'config.advertise.loadBalancerIP=true']),
      /WARNING: advertise\.loadBalancerIP is true but advertise\.allowedCIDRs is empty/,
    );
    assert.match(
      notes(['--set', 'config.advertise.externalIPs=true']),
      /WARNING: advertise\.externalIPs is true but advertise\.allowedCIDRs is empty/,
    );
    const monitored = ['--set', 'monitoring.enabled=true', '--set', 'monitoring.serviceMonitor.enabled=true'];
    assert.match(
      notes([...monitored, '--set', 'config.http.address=127.0.0.1:8080']),
      /WARNING: a ServiceMonitor is rendered but config\.http\.address \(127\.0\.0\.1:8080\) listens on loopback/,
    );
    const quiet = notes([
      ...monitored,
      '--set',
      'config.advertise.loadBalancerIP=true',
      '--set',
      'config.advertise.allowedCIDRs={192.0.2.0/24}',
    ]);
    assert.doesNotMatch(quiet, /WARNING/);
  });
});
