// The Helm chart, checked with real helm binaries built from their Go modules (scripts/go-tools.sh,
// pinned in tools/helm3 and tools/helm4): lint and render with Helm 3 and Helm 4, and assert on the
// rendered objects (Helm 4's; Helm 3 must render the same). The rendered config file goes through the
// real config loader. When helm cannot be had, every test here fails with the reason (nothing is
// skipped).
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';
import { defaultConfig } from '../../../src/config/schema.js';
import { renderChartSchema, SCHEMA_PATH } from '../../../scripts/gen-chart-schema.js';
import { chartEnvValue, chartNodeOptions, MALLOC_ENV } from '../../../bench/scale/memory.js';
import { exportedMetricNames, promqlMetricNames } from './metric-names.js';
import {
  CHART_DIR,
  DEFAULT_HELM_MAJOR,
  DEPLOY_DIR,
  DEPLOY_NAMESPACE,
  HELM_MAJORS,
  REPO_ROOT,
  helmBinary,
  renderDeploy,
  runHelm,
  type HelmMajor,
} from '../../../scripts/render-deploy.js';

type Obj = Record<string, unknown>;

const PRODUCTION_VALUES = join(CHART_DIR, 'ci', 'production-values.yaml');
// The values file the project's description gives operators, kept byte for byte as published.
const PUBLISHED_VALUES = join(CHART_DIR, 'ci', 'published-values.yaml');
const DASHBOARD = join(CHART_DIR, 'dashboards', 'cosmolet.json');
const NAMESPACE = 'cosmolet';
/** Every series name cosmolet's /metrics exposes, read from the real registry. */
const EXPORTED = await exportedMetricNames();

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Follows a path of keys and indexes; fails the test with the path when something is missing. */
function at(v: unknown, ...path: (string | number)[]): unknown {
  let cur = v;
  for (const [i, k] of path.entries()) {
    if (typeof k === 'number' ? !Array.isArray(cur) : !isObj(cur)) {
      assert.fail(`no ${path.slice(0, i + 1).join('.')} in the rendered object`);
    }
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

function obj(v: unknown, ...path: (string | number)[]): Obj {
  const r = at(v, ...path);
  assert.ok(isObj(r), `${path.join('.')} is not a mapping`);
  return r;
}

function list(v: unknown, ...path: (string | number)[]): unknown[] {
  const r = at(v, ...path);
  assert.ok(Array.isArray(r), `${path.join('.')} is not a list`);
  return r;
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObj(base) || !isObj(over)) return over === undefined ? base : over;
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

function helm(args: string[], major: HelmMajor = DEFAULT_HELM_MAJOR): string {
  const r = runHelm(args, major);
  assert.equal(r.status, 0, `helm ${major}: helm ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** `helm template` with the default Helm. */
function template(...extra: string[]): Obj[] {
  return templateWith(DEFAULT_HELM_MAJOR, ...extra);
}

function templateWith(major: HelmMajor, ...extra: string[]): Obj[] {
  const out = helm(['template', 'cosmolet', CHART_DIR, '--namespace', NAMESPACE, ...extra], major);
  const docs = parseAllDocuments(out);
  const objects: Obj[] = [];
  for (const d of docs) {
    assert.deepEqual(d.errors, [], 'helm template printed invalid YAML');
    const v: unknown = d.toJS();
    if (v === null) continue;
    assert.ok(isObj(v), 'a rendered document is not a mapping');
    objects.push(withoutRandomTls(v));
  }
  return objects;
}

/** The chart's own CA and certificate differ on every render: compared by shape, not bytes. */
function withoutRandomTls(o: Obj): Obj {
  if (o.type === 'kubernetes.io/tls' && isObj(o.data))
    return { ...o, data: Object.fromEntries(Object.keys(o.data).map((k) => [k, '<generated>'])) };
  const name = isObj(o.metadata) ? String(o.metadata.name) : '';
  if (o.kind === 'ConfigMap' && name.endsWith('-ca') && isObj(o.data))
    return { ...o, data: { ...o.data, 'ca.crt': '<generated>' } };
  return o;
}

/** The chart's ServiceAccount (cosmolet's), not the status reader's. */
function agentServiceAccount(objects: Obj[]): Obj {
  return only(
    objects.filter((o) => !String(at(o, 'metadata', 'name')).endsWith('-status')),
    'ServiceAccount',
  );
}

function only(objects: Obj[], kind: string): Obj {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `expected one ${kind}, found ${found.length}`);
  return found[0] as Obj;
}

/** The ConfigMap holding cosmolet's config file (not the dashboard's). */
function configMap(objects: Obj[]): Obj {
  return only(
    objects.filter(
      (o) =>
        at(o, 'metadata', 'labels', 'grafana_dashboard') === undefined &&
        !String(at(o, 'metadata', 'name')).endsWith('-ca'),
    ),
    'ConfigMap',
  );
}

const MONITORING_KINDS = new Set(['ServiceMonitor', 'PrometheusRule']);

/** The monitoring objects rendered: ServiceMonitor, PrometheusRule and the dashboard ConfigMap. */
function monitoringKinds(objects: Obj[]): string[] {
  return objects
    .filter(
      (o) =>
        MONITORING_KINDS.has(String(o.kind)) ||
        (o.kind === 'ConfigMap' && at(o, 'metadata', 'labels', 'grafana_dashboard') !== undefined),
    )
    .map((o) => (o.kind === 'ConfigMap' ? 'dashboard' : String(o.kind)))
    .sort();
}

function container(objects: Obj[]): Obj {
  const ds = only(objects, 'DaemonSet');
  const containers = list(ds, 'spec', 'template', 'spec', 'containers');
  assert.equal(containers.length, 1);
  return obj(containers, 0);
}

const valuesYaml = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Obj;
const productionYaml = parse(readFileSync(PRODUCTION_VALUES, 'utf8')) as Obj;
/** With tls.enabled (the default) the chart adds http.tls to the config file: the mounted pair. */
const RENDERED_TLS = {
  http: { tls: { certFile: '/etc/cosmolet-tls/tls.crt', keyFile: '/etc/cosmolet-tls/tls.key' } },
};

let tmp = '';
let defaults: Obj[] = [];
let production: Obj[] = [];
let staticOrigination: Obj[] = [];

/** Feeds a rendered ConfigMap's config.yaml to the real loader, as `cosmolet run --config` would. */
function loadRenderedConfig(objects: Obj[], name: string): unknown {
  const cm = configMap(objects);
  const text = at(cm, 'data', 'config.yaml');
  assert.equal(typeof text, 'string');
  const file = join(tmp, `${name}.yaml`);
  writeFileSync(file, text as string);
  return loadConfig({ file, env: {} });
}

/** The pins of tools/versions.env, e.g. HELM3_VERSION → v3.22.1. */
function toolPins(): Map<string, string> {
  const text = readFileSync(join(REPO_ROOT, 'tools', 'versions.env'), 'utf8');
  return new Map([...text.matchAll(/^([A-Z0-9_]+)=(\S+)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

describe('helm chart', () => {
  before(() => {
    for (const major of HELM_MAJORS) {
      try {
        helmBinary(major);
      } catch (err) {
        throw new Error(
          `cannot run the chart tests: Helm ${major} is unavailable (${err instanceof Error ? err.message : String(err)})`,
        );
      }
    }
    tmp = mkdtempSync(join(tmpdir(), 'cosmolet-chart-'));
    defaults = template();
    production = template('-f', PRODUCTION_VALUES);
    staticOrigination = template('--set', 'config.frr.origination=static', '--set', 'frrVtyGroupId=112');
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('the default helm is Helm 4', () => {
    assert.match(helm(['version', '--short']), /^v4\.\d+\.\d+/);
  });

  for (const major of HELM_MAJORS) {
    test(`Helm ${major} is the version pinned in tools/versions.env`, () => {
      const pin = toolPins().get(`HELM${major}_VERSION`);
      assert.ok(pin, `tools/versions.env has no HELM${major}_VERSION`);
      // `v3.22.1`, or `v3.22.1+g<commit>` when built with a commit.
      assert.equal(helm(['version', '--short'], major).trim().split('+')[0], pin);
    });

    test(`Helm ${major}: helm lint --strict passes with default, production and published values`, () => {
      helm(['lint', '--strict', CHART_DIR], major);
      helm(['lint', '--strict', CHART_DIR, '-f', PRODUCTION_VALUES], major);
      helm(['lint', '--strict', CHART_DIR, '-f', PUBLISHED_VALUES], major);
    });

    test(`Helm ${major}: helm template renders what the default helm renders`, () => {
      // The objects every other test asserts on come from the default helm; this one holds the
      // chart to render the same with each Helm major an operator may run.
      assert.deepEqual(templateWith(major), defaults);
      assert.deepEqual(templateWith(major, '-f', PRODUCTION_VALUES), production);
      assert.deepEqual(
        templateWith(major, '--set', 'config.frr.origination=static', '--set', 'frrVtyGroupId=112'),
        staticOrigination,
      );
      assert.deepEqual(templateWith(major, '-f', PUBLISHED_VALUES), template('-f', PUBLISHED_VALUES));
    });
  }

  test('the chart appVersion is the package version (the image tag defaults to it)', () => {
    const chart = parse(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as Obj;
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as Obj;
    assert.equal(chart.appVersion, pkg.version);
    assert.equal(at(container(defaults), 'image'), `ghcr.io/cosmolet/cosmolet:${String(pkg.version)}`);
  });

  test('default values render exactly the agent objects, no monitoring objects', () => {
    assert.deepEqual(defaults.map((o) => o.kind).sort(), [
      'ClusterRole',
      'ClusterRole',
      'ClusterRoleBinding',
      'ClusterRoleBinding',
      'ClusterRoleBinding',
      'ConfigMap',
      'ConfigMap',
      'DaemonSet',
      'ResourceQuota',
      'Role',
      'Secret',
      'Service',
      'ServiceAccount',
      'ServiceAccount',
    ]);
    for (const o of defaults) {
      if (o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding') continue;
      assert.equal(at(o, 'metadata', 'namespace'), NAMESPACE, `${String(o.kind)} namespace`);
    }
  });

  test('the DaemonSet runs in the host network with the node name and the FRR sockets', () => {
    for (const [objects, port] of [
      [defaults, 8080],
      [production, 9473],
    ] as const) {
      const ds = only(objects, 'DaemonSet');
      const pod = obj(ds, 'spec', 'template', 'spec');
      assert.equal(pod.hostNetwork, true);
      assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
      const c = container(objects);
      assert.deepEqual(list(c, 'args').slice(0, 3), ['run', '--config', '/etc/cosmolet/config.yaml']);
      const env = list(c, 'env').filter((e) => isObj(e) && e.name === 'NODE_NAME');
      assert.deepEqual(env, [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }]);
      assert.deepEqual(list(c, 'ports'), [{ name: 'http', containerPort: port, protocol: 'TCP' }]);

      const volumes = list(pod, 'volumes') as Obj[];
      const mounts = list(c, 'volumeMounts') as Obj[];
      const frr = volumes.find((v) => v.name === 'frr-sockets');
      assert.deepEqual(frr, { name: 'frr-sockets', hostPath: { path: '/var/run/frr', type: 'Directory' } });
      assert.deepEqual(
        mounts.find((m) => m.name === 'frr-sockets'),
        { name: 'frr-sockets', mountPath: '/var/run/frr', readOnly: true },
      );
      const cm = volumes.find((v) => v.name === 'config');
      assert.equal(at(cm, 'configMap', 'name'), at(configMap(objects), 'metadata', 'name'));
      assert.deepEqual(
        mounts.find((m) => m.name === 'config'),
        { name: 'config', mountPath: '/etc/cosmolet', readOnly: true },
      );
      // A read-only root filesystem still needs a writable /tmp for `vtysh -f FILE`.
      assert.ok(
        isObj(
          at(
            volumes.find((v) => v.name === 'tmp'),
            'emptyDir',
          ),
        ),
      );
      assert.equal(
        at(
          mounts.find((m) => m.name === 'tmp'),
          'mountPath',
        ),
        '/tmp',
      );
      // Only the hostPath the design needs.
      assert.deepEqual(
        volumes.filter((v) => 'hostPath' in v).map((v) => v.name),
        ['frr-sockets'],
      );

      const svc = only(objects, 'Service');
      assert.equal(at(svc, 'spec', 'clusterIP'), 'None');
      assert.deepEqual(list(svc, 'spec', 'ports'), [
        { name: 'http', port, targetPort: 'http', protocol: 'TCP' },
      ]);
    }
  });

  test('the FRR socket directory follows config.frr.socketDir', () => {
    const objects = template('--set', 'config.frr.socketDir=/run/frr-custom');
    const pod = obj(only(objects, 'DaemonSet'), 'spec', 'template', 'spec');
    const frr = (list(pod, 'volumes') as Obj[]).find((v) => v.name === 'frr-sockets');
    assert.equal(at(frr, 'hostPath', 'path'), '/run/frr-custom');
    const mount = (list(container(objects), 'volumeMounts') as Obj[]).find((m) => m.name === 'frr-sockets');
    assert.equal(at(mount, 'mountPath'), '/run/frr-custom');
  });

  test('liveness probes /healthz and readiness /readyz on the probe listener, else the http port', () => {
    // The probe listener on the node's loopback (kubelet shares the host network namespace).
    const c = container(defaults);
    const probe = { port: 8081, host: '127.0.0.1' };
    assert.deepEqual(at(c, 'livenessProbe', 'httpGet'), { path: '/healthz', ...probe });
    assert.deepEqual(at(c, 'readinessProbe', 'httpGet'), { path: '/readyz', ...probe });
    const all = container(template('--set-string', 'config.http.probeAddress=:9081'));
    assert.deepEqual(at(all, 'livenessProbe', 'httpGet'), { path: '/healthz', port: 9081 });
    const none = (...args: string[]) =>
      container(template('--set-string', 'config.http.probeAddress=', ...args));
    // The http port serves HTTPS (tls.enabled): kubelet probes it so (without verifying).
    const https = { port: 'http', scheme: 'HTTPS' };
    assert.deepEqual(at(none(), 'livenessProbe', 'httpGet'), { path: '/healthz', ...https });
    assert.deepEqual(at(none(), 'readinessProbe', 'httpGet'), { path: '/readyz', ...https });
    assert.deepEqual(at(none('--set', 'tls.enabled=false'), 'livenessProbe', 'httpGet'), {
      path: '/healthz',
      port: 'http',
    });
    // A loopback-only listener is probed on loopback.
    const lo = none('--set', 'config.http.address=127.0.0.1:9000');
    assert.deepEqual(at(lo, 'livenessProbe', 'httpGet'), {
      path: '/healthz',
      ...https,
      host: '127.0.0.1',
    });
    assert.equal(at(lo, 'ports', 0, 'containerPort'), 9000);
    const v6 = none('--set-string', 'config.http.address=[::]:8443');
    assert.deepEqual(at(v6, 'readinessProbe', 'httpGet'), { path: '/readyz', ...https });
    assert.equal(at(v6, 'ports', 0, 'containerPort'), 8443);
  });

  test('kernel origination: root with NET_ADMIN only, nothing else', () => {
    for (const objects of [defaults, production]) {
      const sc = obj(container(objects), 'securityContext');
      // Without frrVtyGroupId (defaults) the entrypoint also holds SETGID and SETPCAP, and drops
      // both before cosmolet starts (test/e2e/image checks what cosmolet runs with).
      assert.deepEqual(sc, {
        privileged: false,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: {
          drop: ['ALL'],
          add: objects === defaults ? ['NET_ADMIN', 'SETGID', 'SETPCAP'] : ['NET_ADMIN'],
        },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      const psc = obj(only(objects, 'DaemonSet'), 'spec', 'template', 'spec', 'securityContext');
      assert.equal(psc.runAsUser, 0);
      assert.deepEqual(psc.seccompProfile, { type: 'RuntimeDefault' });
    }
    assert.equal(
      at(only(defaults, 'DaemonSet'), 'spec', 'template', 'spec', 'securityContext', 'supplementalGroups'),
      undefined,
    );
    assert.deepEqual(
      at(only(production, 'DaemonSet'), 'spec', 'template', 'spec', 'securityContext', 'supplementalGroups'),
      [112],
    );
  });

  test('static origination: non-root, no capability at all', () => {
    const sc = obj(container(staticOrigination), 'securityContext');
    assert.deepEqual(sc, {
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const psc = obj(only(staticOrigination, 'DaemonSet'), 'spec', 'template', 'spec', 'securityContext');
    assert.deepEqual(psc, {
      runAsUser: 10001,
      runAsGroup: 10001,
      runAsNonRoot: true,
      supplementalGroups: [112],
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  test('kernel origination with bgp.enabled false (plan only) needs no capability either', () => {
    const caps = (objects: Obj[]): unknown => at(container(objects), 'securityContext', 'capabilities');
    const user = (objects: Obj[]): unknown =>
      at(only(objects, 'DaemonSet'), 'spec', 'template', 'spec', 'securityContext', 'runAsUser');
    const planOnly = template('--set', 'config.bgp.enabled=false', '--set', 'frrVtyGroupId=112');
    assert.deepEqual(caps(planOnly), { drop: ['ALL'] });
    assert.equal(user(planOnly), 10001);
    // Withdrawing at exit changes routes, so it needs NET_ADMIN again (config key or flag).
    for (const extra of [
      ['--set', 'config.withdrawOnExit=true'],
      ['--set', 'extraArgs={--withdraw-on-exit}'],
    ]) {
      const withdraw = template('--set', 'config.bgp.enabled=false', '--set', 'frrVtyGroupId=112', ...extra);
      assert.deepEqual(caps(withdraw), { drop: ['ALL'], add: ['NET_ADMIN'] });
      assert.equal(user(withdraw), 0);
    }
  });

  test('apiServer.host points cosmolet at the API server instead of the kubernetes ClusterIP', () => {
    const envOf = (objects: Obj[]): unknown[] => list(container(objects), 'env');
    assert.ok(!JSON.stringify(envOf(defaults)).includes('KUBERNETES_SERVICE_HOST'));
    const direct = template('--set', 'apiServer.host=192.0.2.10', '--set', 'apiServer.port=443');
    const kubeEnv = (objects: Obj[]): unknown[] =>
      envOf(objects).filter((e) => isObj(e) && String(e.name).startsWith('KUBERNETES_'));
    assert.deepEqual(kubeEnv(direct), [
      { name: 'KUBERNETES_SERVICE_HOST', value: '192.0.2.10' },
      { name: 'KUBERNETES_SERVICE_PORT', value: '443' },
    ]);
    const r = runHelm(['template', 'x', CHART_DIR, '--set', 'apiServer.host=https://api:6443']);
    assert.notEqual(r.status, 0, 'a URL is not a host');
  });

  test("NODE_OPTIONS carries V8's heap settings, the ones the scale benchmark runs cosmolet with", () => {
    const env = list(container(defaults), 'env').filter((e) => isObj(e) && e.name === 'NODE_OPTIONS');
    assert.deepEqual(env, [
      { name: 'NODE_OPTIONS', value: chartNodeOptions(join(CHART_DIR, 'templates', 'daemonset.yaml')) },
    ]);
    assert.match(String((env[0] as Obj).value), /--max-semi-space-size=\d+ --max-old-space-size=\d+/);
  });

  test("glibc's mmap threshold is fixed, as the scale benchmark runs cosmolet", () => {
    const env = list(container(defaults), 'env').filter((e) => isObj(e) && e.name === MALLOC_ENV);
    const value = chartEnvValue(join(CHART_DIR, 'templates', 'daemonset.yaml'), MALLOC_ENV);
    assert.deepEqual(env, [{ name: MALLOC_ENV, value: '131072' }]);
    assert.equal(value, '131072', 'the benchmark reads the value the chart renders');
  });

  test('config.nodeName is refused: every pod must take its own node name', () => {
    const r = runHelm(['template', 'x', CHART_DIR, '--set', 'config.nodeName=node-a']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /config\.nodeName must stay empty/);
  });

  test('nothing anywhere is privileged, shares host PID/IPC, or adds a capability beyond NET_ADMIN', () => {
    // With frrVtyGroupId set; without it the entrypoint's own capabilities are checked below.
    for (const objects of [production, staticOrigination]) {
      const pod = obj(only(objects, 'DaemonSet'), 'spec', 'template', 'spec');
      assert.equal(pod.hostPID, undefined);
      assert.equal(pod.hostIPC, undefined);
      const text = JSON.stringify(objects);
      assert.doesNotMatch(text, /"privileged":true/);
      const adds = [...text.matchAll(/"add":(\[[^\]]*\])/g)].flatMap(
        (m) => JSON.parse(m[1] ?? '[]') as string[],
      );
      assert.ok(
        adds.every((a) => a === 'NET_ADMIN'),
        `capabilities added: ${adds.join(',')}`,
      );
    }
  });

  /**
   * What the chart's ServiceAccount may do, as "scope group/resource:verb" strings, following the
   * bindings to their roles (scope: "cluster" or the namespace of a Role).
   */
  function grants(objects: Obj[]): string[] {
    const sa = agentServiceAccount(objects);
    const subject = { kind: 'ServiceAccount', name: at(sa, 'metadata', 'name'), namespace: NAMESPACE };
    const out: string[] = [];
    // `cosmolet status`'s ServiceAccount and the Role for who runs it: checked in their own test.
    const forStatus = (o: Obj): boolean =>
      String(at(o, 'metadata', 'name')).match(/-status(-user)?$/) !== null;
    objects = objects.filter((o) => !forStatus(o));
    for (const b of objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
      assert.deepEqual(list(b, 'subjects'), [subject], 'bound to the chart ServiceAccount only');
      const ref = obj(b, 'roleRef');
      // The standard role for delegated authentication (TokenReview, SubjectAccessReview).
      if (ref.name === 'system:auth-delegator') {
        out.push('cluster system:auth-delegator');
        continue;
      }
      const namespace = b.kind === 'RoleBinding' ? String(at(b, 'metadata', 'namespace')) : undefined;
      assert.equal(ref.kind, namespace === undefined ? 'ClusterRole' : 'Role');
      const role = objects.find(
        (o) =>
          o.kind === ref.kind &&
          at(o, 'metadata', 'name') === ref.name &&
          (namespace === undefined || at(o, 'metadata', 'namespace') === namespace),
      );
      assert.ok(role, `the ${String(ref.kind)} ${String(ref.name)} is rendered`);
      for (const r of list(role, 'rules') as Obj[]) {
        assert.deepEqual(Object.keys(r).sort(), ['apiGroups', 'resources', 'verbs'], 'no resourceNames/URLs');
        for (const g of list(r, 'apiGroups'))
          for (const res of list(r, 'resources'))
            for (const v of list(r, 'verbs'))
              out.push(`${namespace ?? 'cluster'} ${String(g)}/${String(res)}:${String(v)}`);
      }
    }
    assert.ok(!out.some((g) => g.includes('*')), 'no wildcard');
    // The reader role is for the operator's scraper to be bound to: it grants cosmolet nothing.
    const reader = objects.filter(
      (o) => o.kind === 'ClusterRole' && String(at(o, 'metadata', 'name')).endsWith('-reader'),
    );
    assert.equal(reader.length, 1, 'the chart ships one reader ClusterRole');
    assert.deepEqual(list(reader[0] as Obj, 'rules'), [
      { nonResourceURLs: ['/metrics', '/status', '/readyz'], verbs: ['get'] },
    ]);
    const roles = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role').length - reader.length;
    const bindings = objects.filter(
      (o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding',
    ).length;
    assert.equal(roles, bindings - 1, 'every role is bound, once (and system:auth-delegator)');
    return out.sort();
  }

  // list and watch only: cosmolet never GETs one object (the real kube-apiserver's audit log shows it).
  const watchVerbs = (scope: string, resource: string): string[] =>
    ['list', 'watch'].map((v) => `${scope} ${resource}:${v}`);
  const namespaced = (scope: string): string[] => [
    `${scope} /events:create`,
    `${scope} /events:patch`,
    ...watchVerbs(scope, '/services'),
    ...watchVerbs(scope, 'discovery.k8s.io/endpointslices'),
  ];

  test('RBAC: list/watch services, endpointslices and nodes, create/patch events, auth-delegator; nothing else', () => {
    assert.deepEqual(
      grants(defaults),
      [...namespaced('cluster'), ...watchVerbs('cluster', '/nodes'), 'cluster system:auth-delegator'].sort(),
    );
    assert.equal(
      at(only(defaults, 'DaemonSet'), 'spec', 'template', 'spec', 'serviceAccountName'),
      at(agentServiceAccount(defaults), 'metadata', 'name'),
    );
  });

  test('RBAC: with config.services.namespaces, only the Node is cluster-wide', () => {
    const want = [
      ...watchVerbs('cluster', '/nodes'),
      'cluster system:auth-delegator',
      ...namespaced('ingress'),
      ...namespaced('payments'),
      ...namespaced('dns'),
    ].sort();
    assert.deepEqual(grants(production), want);
    const dup = template('--set', 'config.services.namespaces={a,b,a}');
    assert.equal(
      dup.filter((o) => o.kind === 'Role' && at(o, 'metadata', 'namespace') !== NAMESPACE).length,
      2,
      'a repeated namespace gets one Role',
    );
  });

  test('resources, update strategy and scheduling defaults', () => {
    const c = container(defaults);
    assert.deepEqual(at(c, 'resources'), {
      requests: { cpu: '50m', memory: '150Mi' },
      limits: { cpu: '200m', memory: '256Mi' },
    });
    const ds = only(defaults, 'DaemonSet');
    assert.deepEqual(at(ds, 'spec', 'updateStrategy'), {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
    });
    const pod = obj(ds, 'spec', 'template', 'spec');
    assert.equal(pod.priorityClassName, 'system-node-critical');
    assert.deepEqual(pod.nodeSelector, {
      'kubernetes.io/os': 'linux',
      'node-role.kubernetes.io/bgp': 'true',
    });
    assert.ok(
      typeof pod.terminationGracePeriodSeconds === 'number' && pod.terminationGracePeriodSeconds > 10,
    );
    const annotations = obj(ds, 'spec', 'template', 'metadata', 'annotations');
    assert.match(String(annotations['checksum/config']), /^[0-9a-f]{64}$/);

    const pds = only(production, 'DaemonSet');
    const ppod = obj(pds, 'spec', 'template', 'spec');
    assert.equal(ppod.priorityClassName, 'system-node-critical');
    assert.deepEqual(ppod.nodeSelector, { 'kubernetes.io/os': 'linux', 'cosmolet.io/frr': 'true' });
    assert.deepEqual(ppod.tolerations, [
      { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    assert.equal(at(pds, 'spec', 'template', 'metadata', 'annotations', 'example.com/owner'), 'network-team');
    assert.match(
      String(at(container(production), 'image')),
      /^ghcr\.io\/cosmolet\/cosmolet@sha256:[0-9a-f]{64}$/,
    );
    assert.deepEqual(at(container(production), 'resources'), {
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { cpu: '500m', memory: '256Mi' },
    });
  });

  test('a config change changes the pod template (rolls the pods)', () => {
    const a = at(
      only(defaults, 'DaemonSet'),
      'spec',
      'template',
      'metadata',
      'annotations',
      'checksum/config',
    );
    const changed = template('--set', 'config.logging.level=debug');
    const b = at(
      only(changed, 'DaemonSet'),
      'spec',
      'template',
      'metadata',
      'annotations',
      'checksum/config',
    );
    assert.notEqual(a, b);
  });

  test("the chart's default config is the program's default config", () => {
    assert.deepEqual(valuesYaml.config, defaultConfig());
  });

  test('the rendered config file is accepted by the real loader and equals the values', () => {
    const expectedDefault = deepMerge(valuesYaml.config, RENDERED_TLS);
    assert.deepEqual(loadRenderedConfig(defaults, 'default'), expectedDefault);
    const expectedProduction = deepMerge(deepMerge(valuesYaml.config, productionYaml.config), RENDERED_TLS);
    assert.deepEqual(loadRenderedConfig(production, 'production'), expectedProduction);
    const expectedStatic = deepMerge(valuesYaml.config, { frr: { origination: 'static' }, ...RENDERED_TLS });
    assert.deepEqual(loadRenderedConfig(staticOrigination, 'static'), expectedStatic);
  });

  test('monitoring: ServiceMonitor and PrometheusRule only when enabled, alerts on real metrics', () => {
    assert.equal(
      defaults.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PrometheusRule').length,
      0,
    );
    const sm = only(production, 'ServiceMonitor');
    assert.equal(at(sm, 'metadata', 'labels', 'release'), 'kube-prometheus-stack');
    assert.deepEqual(
      at(sm, 'spec', 'selector', 'matchLabels'),
      at(only(production, 'DaemonSet'), 'spec', 'selector', 'matchLabels'),
    );
    assert.equal(at(sm, 'spec', 'endpoints', 0, 'port'), 'http');
    assert.equal(at(sm, 'spec', 'endpoints', 0, 'path'), '/metrics');
    assert.equal(
      at(sm, 'spec', 'endpoints', 0, 'bearerTokenFile'),
      '/var/run/secrets/cosmolet/token',
      'Prometheus sends a token bound to audience cosmolet (its default one is refused)',
    );

    const rule = only(production, 'PrometheusRule');
    const rules = list(rule, 'spec', 'groups', 0, 'rules') as Obj[];
    const names = rules.map((r) => r.alert);
    for (const want of ['CosmoletNotReady', 'CosmoletNoBGPPeerEstablished', 'CosmoletReconcileErrors']) {
      assert.ok(names.includes(want), `alert ${want}`);
    }
    for (const r of rules) {
      const expr = String(r.expr);
      // `up` is Prometheus' own series about the scrape.
      for (const m of promqlMetricNames(expr))
        assert.ok(m === 'up' || EXPORTED.has(m), `alert ${String(r.alert)} queries ${m}, not exported`);
      assert.ok(isObj(r.labels) && typeof r.labels.severity === 'string');
      assert.match(
        String(at(r, 'annotations', 'summary')),
        /\{\{ \$labels\.[a-z]+ \}\}/,
        'Helm escaped $labels',
      );
    }

    const onlyRule = template(
      '--set',
      'monitoring.enabled=true',
      '--set',
      'monitoring.prometheusRule.enabled=true',
    );
    assert.equal(onlyRule.filter((o) => o.kind === 'PrometheusRule').length, 1);
    assert.equal(onlyRule.filter((o) => o.kind === 'ServiceMonitor').length, 0);
    const r = runHelm([
      'template',
      'x',
      CHART_DIR,
      '--set',
      'monitoring.enabled=true',
      '--set',
      'monitoring.serviceMonitor.enabled=true',
      '--set',
      'metricsService.enabled=false',
    ]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /metricsService\.enabled/);
  });

  test('every metric docs/operations.md names is one cosmolet exports', () => {
    const docs = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
    for (const m of docs.matchAll(/cosmolet_[a-z_]+/g)) {
      assert.ok(EXPORTED.has(m[0]), `docs/operations.md names ${m[0]}, which cosmolet does not export`);
    }
  });

  test('the published values file (as given to operators) lints and templates unchanged', () => {
    helm(['lint', '--strict', CHART_DIR, '-f', PUBLISHED_VALUES]);
    const objects = template('-f', PUBLISHED_VALUES);
    assert.deepEqual(objects.map((o) => o.kind).sort(), [
      'ClusterRole',
      'ClusterRole',
      'ClusterRoleBinding',
      'ClusterRoleBinding',
      'ClusterRoleBinding',
      'ConfigMap',
      'ConfigMap',
      'DaemonSet',
      'ResourceQuota',
      'Role',
      'Role',
      'Role',
      'RoleBinding',
      'RoleBinding',
      'Secret',
      'Service',
      'ServiceAccount',
      'ServiceAccount',
      'ServiceMonitor',
    ]);
    const published = parse(readFileSync(PUBLISHED_VALUES, 'utf8')) as Obj;
    assert.deepEqual(
      loadRenderedConfig(objects, 'published'),
      deepMerge(deepMerge(valuesYaml.config, published.config), RENDERED_TLS),
    );
    assert.deepEqual(at(container(objects), 'resources'), published.resources);
    const pod = obj(only(objects, 'DaemonSet'), 'spec', 'template', 'spec');
    assert.deepEqual(pod.nodeSelector, {
      'kubernetes.io/os': 'linux',
      'node-role.kubernetes.io/bgp': 'true',
    });
    assert.deepEqual(pod.tolerations, published.tolerations);
  });

  test('monitoring.enabled is the switch for all of monitoring, each part with its own enabled', () => {
    const parts = ['serviceMonitor', 'prometheusRule', 'grafanaDashboard'];
    const allParts = parts.flatMap((p) => ['--set', `monitoring.${p}.enabled=true`]);
    assert.deepEqual(monitoringKinds(template(...allParts)), [], 'monitoring.enabled defaults to false');
    assert.deepEqual(monitoringKinds(template('--set', 'monitoring.enabled=false', ...allParts)), []);
    assert.deepEqual(monitoringKinds(template('--set', 'monitoring.enabled=true')), [], 'no part enabled');
    assert.deepEqual(monitoringKinds(template('--set', 'monitoring.enabled=true', ...allParts)), [
      'PrometheusRule',
      'ServiceMonitor',
      'dashboard',
    ]);
    for (const [i, part] of parts.entries()) {
      const one = template('--set', 'monitoring.enabled=true', '--set', `monitoring.${part}.enabled=true`);
      assert.deepEqual(monitoringKinds(one), [['ServiceMonitor', 'PrometheusRule', 'dashboard'][i]], part);
    }
    // The switch off also lifts the ServiceMonitor's need for the metrics Service.
    const off = runHelm([
      'template',
      'x',
      CHART_DIR,
      '--set',
      'monitoring.serviceMonitor.enabled=true',
      '--set',
      'metricsService.enabled=false',
    ]);
    assert.equal(off.status, 0, off.stderr);
    const bad = runHelm(['template', 'x', CHART_DIR, '--set', 'monitoring.bogus=true']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /monitoring.*bogus/);
  });

  test('the Grafana dashboard: a ConfigMap labelled grafana_dashboard "1" holding dashboards/cosmolet.json', () => {
    const cm = only(
      production.filter((o) => at(o, 'metadata', 'labels', 'grafana_dashboard') !== undefined),
      'ConfigMap',
    );
    assert.equal(at(cm, 'metadata', 'labels', 'grafana_dashboard'), '1');
    assert.equal(at(cm, 'metadata', 'namespace'), NAMESPACE);
    assert.equal(at(cm, 'metadata', 'annotations', 'grafana_folder'), 'Networking');
    const text = at(cm, 'data', 'cosmolet.json');
    assert.equal(typeof text, 'string');
    assert.deepEqual(JSON.parse(text as string), JSON.parse(readFileSync(DASHBOARD, 'utf8')));
    const elsewhere = template(
      '--set',
      'monitoring.enabled=true',
      '--set',
      'monitoring.grafanaDashboard.enabled=true',
      '--set',
      'monitoring.grafanaDashboard.namespace=grafana',
      '--set',
      'monitoring.grafanaDashboard.labels.team=network',
    );
    const moved = only(
      elsewhere.filter((o) => at(o, 'metadata', 'labels', 'grafana_dashboard') !== undefined),
      'ConfigMap',
    );
    assert.equal(at(moved, 'metadata', 'namespace'), 'grafana');
    assert.equal(at(moved, 'metadata', 'labels', 'team'), 'network');
  });

  test('NOTES.txt shows the FRR export snippet for the chosen origination and says how frrvty is joined', () => {
    const kernel = helm(['install', 'cosmolet', CHART_DIR, '--dry-run=client', '--namespace', NAMESPACE]);
    assert.match(kernel, /redistribute kernel route-map COSMOLET-EXPORT/);
    assert.match(kernel, /frrVtyGroupId is not set: each pod joins the group of its node's FRR vty sockets/);
    const stat = helm([
      'install',
      'cosmolet',
      CHART_DIR,
      '--dry-run=client',
      '--namespace',
      NAMESPACE,
      '--set',
      'config.frr.origination=static',
      '--set',
      'frrVtyGroupId=112',
    ]);
    assert.match(stat, /match tag 7300/);
    assert.match(stat, /redistribute static route-map COSMOLET-EXPORT/);
    assert.doesNotMatch(stat, /WARNING/);
  });
});

describe('values.schema.json', () => {
  test('is generated from the config schema and not stale', () => {
    assert.equal(
      readFileSync(SCHEMA_PATH, 'utf8'),
      renderChartSchema(),
      'charts/cosmolet/values.schema.json is stale: run node --import tsx scripts/gen-chart-schema.ts',
    );
  });

  const bad: Array<{ set: string[]; path: RegExp; config?: Obj }> = [
    {
      set: ['config.logging.level=verbose'],
      path: /config\/logging\/level/,
      config: { logging: { level: 'verbose' } },
    },
    { set: ['config.bogus=1'], path: /config.*bogus/, config: { bogus: 1 } },
    { set: ['config.frr.nope=1'], path: /config\/frr.*nope/, config: { frr: { nope: 1 } } },
    {
      set: ['config.frr.origination=bgp'],
      path: /config\/frr\/origination/,
      config: { frr: { origination: 'bgp' } },
    },
    {
      set: ['config.loopIntervalSeconds=0'],
      path: /config\/loopIntervalSeconds/,
      config: { loopIntervalSeconds: 0 },
    },
    {
      set: ['config.frr.kernelProtocol=42'],
      path: /config\/frr\/kernelProtocol/,
      config: { frr: { kernelProtocol: 42 } },
    },
    { set: ['config.bgp.asn=-1'], path: /config\/bgp\/asn/, config: { bgp: { asn: -1 } } },
    {
      set: ['config.services.namespaces[0]=Kube_System'],
      path: /config\/services\/namespaces/,
      config: { services: { namespaces: ['Kube_System'] } },
    },
    {
      set: ['config.http.address=localhost'],
      path: /config\/http\/address/,
      config: { http: { address: 'localhost' } },
    },
    { set: ['unknownTopLevel=1'], path: /unknownTopLevel/ },
    { set: ['frrVtyGroupId=frrvty'], path: /frrVtyGroupId/ },
  ];
  for (const b of bad) {
    test(`refuses ${b.set.join(' ')} at helm template and helm lint (Helm 3 and 4), as cosmolet does`, () => {
      const setArgs = b.set.flatMap((s) => ['--set', s]);
      for (const major of HELM_MAJORS) {
        const t = runHelm(['template', 'x', CHART_DIR, ...setArgs], major);
        assert.notEqual(t.status, 0, `Helm ${major}: helm template accepted it`);
        assert.match(t.stderr, /values don't meet the specifications of the schema/, `Helm ${major}`);
        assert.match(t.stderr, b.path, `Helm ${major}`);
        const l = runHelm(['lint', CHART_DIR, ...setArgs], major);
        assert.notEqual(l.status, 0, `Helm ${major}: helm lint accepted it`);
      }
      if (b.config) {
        const dir = mkdtempSync(join(tmpdir(), 'cosmolet-bad-'));
        try {
          const file = join(dir, 'config.yaml');
          writeFileSync(file, JSON.stringify(b.config));
          assert.throws(() => loadConfig({ file, env: {} }), /config/);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    });
  }
});

describe('deploy/', () => {
  test('the plain manifests are in sync with the chart', () => {
    const rendered = renderDeploy();
    for (const [file, text] of rendered) {
      let current = '';
      try {
        current = readFileSync(join(DEPLOY_DIR, file), 'utf8');
      } catch {
        assert.fail(`deploy/${file} is missing: run node --import tsx scripts/render-deploy.ts`);
      }
      assert.ok(current === text, `deploy/${file} is stale: run node --import tsx scripts/render-deploy.ts`);
      const docs = parseAllDocuments(current)
        .map((d) => d.toJS() as unknown)
        .filter(isObj);
      assert.equal(docs[0]?.kind, 'Namespace');
      assert.equal(at(docs[0], 'metadata', 'name'), DEPLOY_NAMESPACE);
      assert.equal(docs.filter((d) => d.kind === 'DaemonSet').length, 1);
    }
    const stat = parseAllDocuments(rendered.get('cosmolet-static.yaml') ?? '')
      .map((d) => d.toJS() as unknown)
      .filter(isObj);
    // Only the entrypoint's, to join FRR's vty group: cosmolet then runs as UID 10001 with none.
    assert.deepEqual(at(container(stat), 'securityContext', 'capabilities'), {
      drop: ['ALL'],
      add: ['SETGID', 'SETUID'],
    });
    assert.deepEqual(at(container(stat), 'command'), [
      'cosmolet-join-vty-group',
      '/var/run/frr',
      '10001:10001',
      '--',
      'cosmolet',
    ]);
  });

  test('the Argo CD Application points at the chart with values the chart and cosmolet accept', () => {
    const app = parse(readFileSync(join(DEPLOY_DIR, 'argocd-application.yaml'), 'utf8')) as Obj;
    assert.equal(app.apiVersion, 'argoproj.io/v1alpha1');
    assert.equal(app.kind, 'Application');
    assert.equal(at(app, 'spec', 'source', 'path'), 'charts/cosmolet');
    assert.equal(at(app, 'spec', 'destination', 'namespace'), DEPLOY_NAMESPACE);
    const values = obj(app, 'spec', 'source', 'helm', 'valuesObject');
    const dir = mkdtempSync(join(tmpdir(), 'cosmolet-argo-'));
    try {
      const valuesFile = join(dir, 'values.json');
      writeFileSync(valuesFile, JSON.stringify(values));
      const objects = template('-f', valuesFile);
      const cfg = configMap(objects);
      const cfgFile = join(dir, 'config.yaml');
      writeFileSync(cfgFile, String(at(cfg, 'data', 'config.yaml')));
      assert.deepEqual(
        loadConfig({ file: cfgFile, env: {} }),
        deepMerge(deepMerge(valuesYaml.config, values.config), RENDERED_TLS),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
