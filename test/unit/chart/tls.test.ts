// The chart's HTTPS for /metrics and /status (issue 21 item 3: the ServiceMonitor scraped over
// plain http and the token crossed the node network in cleartext): the serving certificate from
// the chart's own CA, an existing Secret or cert-manager, mounted and named in http.tls; the CA
// published for clients; the ServiceMonitor verifying it; and the ServiceAccount `cosmolet status`
// mints its audience-bound token for, bound to the reader ClusterRole.
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { CHART_DIR, runHelm } from '../../../scripts/render-deploy.js';

type Obj = Record<string, unknown> & {
  kind?: string;
  metadata?: { name?: string };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
};

function render(...args: string[]): Obj[] {
  const r = runHelm(['template', 'rel', CHART_DIR, '--namespace', 'net', ...args]);
  assert.equal(r.status, 0, r.stderr);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

function find(objects: Obj[], kind: string, name: string): Obj {
  const o = objects.find((x) => x.kind === kind && x.metadata?.name === name);
  assert.ok(o, `${kind} ${name} is rendered`);
  return o;
}

const SERVER_NAME = 'rel-cosmolet-metrics.net.svc';

void test('regression: the ServiceMonitor scraped over plain http; now https verified against the CA for the Service name', () => {
  const objects = render(
    '--set',
    'monitoring.enabled=true',
    '--set',
    'monitoring.serviceMonitor.enabled=true',
  );
  const endpoint = (find(objects, 'ServiceMonitor', 'rel-cosmolet').spec?.endpoints as Obj[])[0] as Obj;
  assert.equal(endpoint.scheme, 'https');
  assert.deepEqual(endpoint.tlsConfig, {
    ca: { secret: { name: 'rel-cosmolet-tls', key: 'ca.crt' } },
    serverName: SERVER_NAME,
  });
  assert.equal(endpoint.bearerTokenFile, '/var/run/secrets/cosmolet/token');
});

void test("the chart's own CA signs a certificate for the Service name; the CA is published; cosmolet serves the mounted pair", () => {
  const objects = render();
  const secret = find(objects, 'Secret', 'rel-cosmolet-tls');
  assert.equal(secret.type, 'kubernetes.io/tls');
  const pem = (k: string): string => Buffer.from(secret.data?.[k] ?? '', 'base64').toString();
  const cert = new X509Certificate(pem('tls.crt'));
  const ca = new X509Certificate(pem('ca.crt'));
  assert.equal(cert.subjectAltName, `DNS:${SERVER_NAME}`);
  assert.ok(cert.verify(ca.publicKey), 'signed by the published CA');
  assert.ok(cert.checkIssued(ca));
  assert.equal(find(objects, 'ConfigMap', 'rel-cosmolet-ca').data?.['ca.crt']?.trim(), pem('ca.crt').trim());
  const config = parse(find(objects, 'ConfigMap', 'rel-cosmolet').data?.['config.yaml'] ?? '') as {
    http: { tls: unknown };
  };
  assert.deepEqual(config.http.tls, {
    certFile: '/etc/cosmolet-tls/tls.crt',
    keyFile: '/etc/cosmolet-tls/tls.key',
  });
  const pod = find(objects, 'DaemonSet', 'rel-cosmolet').spec?.template as { spec: { volumes: Obj[] } };
  assert.deepEqual(
    pod.spec.volumes.find((v) => (v as { name?: string }).name === 'tls'),
    {
      name: 'tls',
      secret: {
        secretName: 'rel-cosmolet-tls',
        items: [
          { key: 'tls.crt', path: 'tls.crt' },
          { key: 'tls.key', path: 'tls.key' },
        ],
      },
    },
  );
});

void test('tls.secretName mounts that Secret and makes none; certManager.issuerRef makes a Certificate; tls.enabled=false none of it', () => {
  const existing = render('--set', 'tls.secretName=mine');
  assert.equal(existing.filter((o) => o.kind === 'Secret').length, 0);
  const pod = find(existing, 'DaemonSet', 'rel-cosmolet').spec?.template as { spec: { volumes: Obj[] } };
  assert.ok(JSON.stringify(pod.spec.volumes).includes('"secretName":"mine"'));

  const cm = render(
    '--set',
    'tls.certManager.issuerRef.name=ca',
    '--set',
    'tls.certManager.issuerRef.kind=ClusterIssuer',
  );
  const c = find(cm, 'Certificate', 'rel-cosmolet');
  assert.equal(c.spec?.secretName, 'rel-cosmolet-tls');
  assert.deepEqual(c.spec?.dnsNames, [SERVER_NAME]);
  assert.deepEqual(c.spec?.issuerRef, { name: 'ca', kind: 'ClusterIssuer' });
  assert.equal(cm.filter((o) => o.kind === 'Secret').length, 0);

  const off = render('--set', 'tls.enabled=false');
  assert.equal(off.filter((o) => o.kind === 'Secret' || o.kind === 'Certificate').length, 0);
  const config = parse(find(off, 'ConfigMap', 'rel-cosmolet').data?.['config.yaml'] ?? '') as {
    http: { tls: unknown };
  };
  assert.deepEqual(config.http.tls, {});
});

void test('`cosmolet status` gets its own ServiceAccount bound to the reader ClusterRole, and a Role to mint its token', () => {
  const objects = render();
  assert.equal(find(objects, 'ServiceAccount', 'rel-cosmolet-status').kind, 'ServiceAccount');
  const binding = find(objects, 'ClusterRoleBinding', 'rel-cosmolet-status') as Obj & {
    roleRef: { name: string };
    subjects: unknown[];
  };
  assert.equal(binding.roleRef.name, 'rel-cosmolet-reader');
  assert.deepEqual(binding.subjects, [
    { kind: 'ServiceAccount', name: 'rel-cosmolet-status', namespace: 'net' },
  ]);
  const role = find(objects, 'Role', 'rel-cosmolet-status-user') as Obj & { rules: unknown[] };
  assert.deepEqual(role.rules, [
    {
      apiGroups: [''],
      resources: ['serviceaccounts/token'],
      resourceNames: ['rel-cosmolet-status'],
      verbs: ['create'],
    },
    { apiGroups: [''], resources: ['configmaps'], resourceNames: ['rel-cosmolet-ca'], verbs: ['get'] },
    { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
  ]);
});
