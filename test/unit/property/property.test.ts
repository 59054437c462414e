// Property-based tests (fast-check): random and malformed input never throws where it must not,
// every considered IP is accounted for, results are deterministic, and the fast kubectl-YAML reader
// agrees with the full YAML parser. Seeds are printed on failure; runs are bounded for CI.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml, stringify } from 'yaml';
import { parseKubectlYaml, Unsupported } from '../../../src/cli/kubectl-yaml.js';
import { parseSnapshot } from '../../../src/cli/snapshot.js';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError, SnapshotError } from '../../../src/errors.js';
import type { EndpointSlice, Node, Service } from '../../../src/model/objects.js';
import { computePlan } from '../../../src/plan/plan.js';
import { parseServiceIP } from '../../../src/net/ip.js';
import { ALL, NODE } from '../plan/helpers.js';

const RUNS = { numRuns: 300 };

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const ipv6 = fc
  .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
  .map((g) => g.map((x) => x.toString(16)).join(':'));
/** Mostly plain addresses from a small pool (so Services share IPs), some hostile strings. */
const ipString = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('10.96.0.1', '10.96.0.2', 'fd00::1', 'fd00::2', '192.0.2.7') },
  { weight: 2, arbitrary: ipv4 },
  { weight: 2, arbitrary: ipv6 },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '010.0.0.1',
      '::ffff:10.0.0.1',
      'fe80::1%eth0',
      '10.0.0.1/32',
      '127.0.0.1',
      '',
      ' ',
      '1.2.3.4\nrouter bgp 1',
      '٣.٣.٣.٣',
    ),
  },
  { weight: 1, arbitrary: fc.string() },
);
const name = fc.constantFrom('a', 'b', 'c', 'd');
const ns = fc.constantFrom('default', 'kube-system');
const bool = fc.oneof(
  fc.boolean(),
  fc.constant(undefined),
  fc.constantFrom('true', 'false', 1, null) as fc.Arbitrary<never>,
);

const service: fc.Arbitrary<Service> = fc
  .record({
    ns,
    name,
    type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName', undefined),
    clusterIPs: fc.array(ipString, { maxLength: 3 }),
    externalIPs: fc.array(ipString, { maxLength: 2 }),
    ingress: fc.array(ipString, { maxLength: 2 }),
    itp: fc.constantFrom('Local', 'Cluster', undefined),
    etp: fc.constantFrom('Local', 'Cluster', undefined),
    optOut: fc.boolean(),
  })
  .map((o) => {
    const spec: Record<string, unknown> = { clusterIPs: o.clusterIPs, externalIPs: o.externalIPs };
    if (o.type) spec.type = o.type;
    if (o.clusterIPs[0] !== undefined) spec.clusterIP = o.clusterIPs[0];
    if (o.itp) spec.internalTrafficPolicy = o.itp;
    if (o.etp) spec.externalTrafficPolicy = o.etp;
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        namespace: o.ns,
        name: o.name,
        ...(o.optOut ? { annotations: { 'cosmolet.io/advertise': 'false' } } : {}),
      },
      spec,
      status: { loadBalancer: { ingress: o.ingress.map((ip) => ({ ip })) } },
    };
  });

const slice: fc.Arbitrary<EndpointSlice> = fc
  .record({
    ns,
    svc: name,
    family: fc.constantFrom('IPv4', 'IPv6', 'FQDN', undefined),
    endpoints: fc.array(
      fc.record({
        ready: bool,
        serving: bool,
        terminating: bool,
        node: fc.constantFrom(NODE, 'other', undefined),
      }),
      { maxLength: 3 },
    ),
  })
  .map((o) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: o.ns, name: `${o.svc}-x`, labels: { 'kubernetes.io/service-name': o.svc } },
    addressType: o.family,
    endpoints: o.endpoints.map((e) => ({
      addresses: ['10.244.0.1'],
      conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating },
      ...(e.node ? { nodeName: e.node } : {}),
    })),
  }));

const node: fc.Arbitrary<Node | undefined> = fc.option(
  fc.record({ unschedulable: bool, excluded: fc.boolean() }).map((o) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: NODE,
      ...(o.excluded ? { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': '' } } : {}),
    },
    spec: { unschedulable: o.unschedulable },
  })),
  { nil: undefined },
);

/** Garbage that may sit in any list (a real API server would not send it; cosmolet must not care). */
const garbage = fc.anything({ maxDepth: 3 });

function plan(services: unknown[], slices: unknown[], n: Node | undefined) {
  return computePlan({
    services: services as Service[],
    endpointSlices: slices as EndpointSlice[],
    node: n,
    nodeName: NODE,
    settings: { ...ALL, allowedCIDRs: ['10.0.0.0/8', 'fd00::/8'] },
    missingNode: 'assume-schedulable',
  });
}

void test('plan: random and malformed objects never throw; every IP of a considered Service is accounted for', () => {
  fc.assert(
    fc.property(
      fc.array(service, { maxLength: 8 }),
      fc.array(slice, { maxLength: 8 }),
      node,
      fc.array(garbage, { maxLength: 3 }),
      (services, slices, n, junk) => {
        const p = plan([...services, ...junk], [...slices, ...junk], n);
        const prefixes = new Set(p.routes.map((r) => r.prefix));
        const skipped = new Set(p.skipped.map((s) => `${s.service} ${s.ip}`));
        for (const s of services) {
          const spec = s.spec ?? {};
          const type = spec.type ?? 'ClusterIP';
          if (type === 'ExternalName') continue;
          const key = `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`;
          // Duplicated keys: the last object of a key wins in the plan; check only unique ones.
          if (
            services.filter((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}` === key)
              .length > 1
          )
            continue;
          if (spec.clusterIP === 'None') continue;
          for (const raw of spec.clusterIPs ?? []) {
            if (raw === '' || raw === 'None') continue;
            const ip = parseServiceIP(raw);
            const prefix = ip ? `${ip.text}/${ip.family === 'ipv4' ? 32 : 128}` : undefined;
            const accounted =
              skipped.has(`${key} ${raw}`) ||
              (ip !== undefined && (skipped.has(`${key} ${ip.text}`) || prefixes.has(prefix ?? '')));
            assert.ok(accounted, `${key} ${JSON.stringify(raw)} is neither routed nor skipped`);
          }
        }
      },
    ),
    RUNS,
  );
});

// A Service listed twice (same namespace/name) counts once, by its first copy: order matters then.
const uniqueServices = fc.uniqueArray(service, {
  maxLength: 8,
  selector: (s) => `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`,
});

void test('plan: deterministic, whatever the order of the input', () => {
  fc.assert(
    fc.property(uniqueServices, fc.array(slice, { maxLength: 8 }), node, (services, slices, n) => {
      const a = JSON.stringify(plan(services, slices, n));
      const b = JSON.stringify(plan([...services].reverse(), [...slices].reverse(), n));
      assert.equal(a, b);
    }),
    RUNS,
  );
});

void test('plan: a huge list of garbage never throws', () => {
  const junk = Array.from({ length: 20_000 }, (_, i) =>
    i % 3 === 0 ? null : i % 3 === 1 ? { spec: 5 } : 'x',
  );
  assert.deepEqual(plan(junk, junk, undefined), { node: NODE, routes: [], skipped: [] });
});

const dir = mkdtempSync(join(tmpdir(), 'cosmolet-property-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Random YAML: arbitrary text, YAML made from arbitrary values, and near-config documents. */
const yamlText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.anything({ maxDepth: 3 }).map((v) => {
    try {
      return stringify(v) ?? '';
    } catch {
      return '';
    }
  }),
  fc
    .dictionary(
      fc.constantFrom(
        'nodeName',
        'loopIntervalSeconds',
        'bgp',
        'frr',
        'http',
        'advertise',
        'routeClasses',
        '__proto__',
        'x',
      ),
      fc.anything({ maxDepth: 2 }),
    )
    .map((d) => stringify(d)),
);

void test('config loader: random YAML loads or is one ConfigError, a line per problem (at most 21); never another exception', () => {
  const file = join(dir, 'config.yaml');
  fc.assert(
    fc.property(yamlText, (text) => {
      writeFileSync(file, text);
      try {
        loadConfig({ file, env: {} });
      } catch (err) {
        assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
        const lines = err.message.split('\n');
        assert.ok(lines.length <= 21, `${lines.length} lines`);
        for (const line of lines) {
          assert.match(line, /^(--)?config:/, err.message);
          assert.ok(line.length < 1000, `${line.length} characters`);
        }
      }
    }),
    RUNS,
  );
});

void test('snapshot reader: random text parses or is a SnapshotError; never another exception', () => {
  fc.assert(
    fc.property(yamlText, (text) => {
      try {
        parseSnapshot(text, 'snap.yaml');
      } catch (err) {
        assert.ok(err instanceof SnapshotError, `not a SnapshotError: ${String(err)}`);
      }
    }),
    RUNS,
  );
});

/** Values shaped like Kubernetes objects: string keys, nested mappings and lists, plain scalars. */
const kubeish: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string(),
    fc.constantFrom(
      'true',
      '80',
      'null',
      'yes',
      '10.96.0.1',
      'a: b',
      '- x',
      '#c',
      'multi\nline\n',
      ' lead',
      'trail ',
      '{}',
      '"q"',
      "'s'",
    ),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

void test('the fast kubectl-YAML reader agrees with the full YAML parser, or declines', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), kubeish, { maxKeys: 5 }), (obj) => {
      const text = stringify(obj, { indentSeq: false, lineWidth: 0 });
      let fast: unknown;
      try {
        fast = parseKubectlYaml(text);
      } catch (err) {
        assert.ok(err instanceof Unsupported, `not Unsupported: ${String(err)}`);
        return;
      }
      assert.deepEqual(fast, parseYaml(text) as unknown);
    }),
    { numRuns: 1000 },
  );
});
