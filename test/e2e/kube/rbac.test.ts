// Least privilege, proven against a real kube-apiserver rather than asserted: its audit log records
// every request of cosmolet's ServiceAccount. With exactly the chart's RBAC, cosmolet becomes ready,
// none of its requests is refused, and the verbs it uses are exactly the verbs the chart grants.
// Then each grant is taken away in turn (every verb of every resource of the ClusterRole, and the
// system:auth-delegator binding) and the test shows what breaks for the user: /readyz 503 naming
// the missing permission, an Event not posted or not updated, /metrics refused for a scraper that
// is allowed to read it. Last, the per-namespace Roles of config.services.namespaces suffice alone.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@cosmolet/lab/wait';
import type { CosmoletProcess } from '../controller/harness.js';
import { pod, service } from './objects.js';
import {
  AuditedClusterLab,
  COSMOLET,
  describe,
  grantName,
  grants,
  rbacObjects,
  refused,
  usedGrants,
  withoutGrant,
  type AccessAttributes,
  type Grant,
  type Obj,
  type Readyz,
} from './rbac-lab.js';

const lab = new AuditedClusterLab({ origination: 'kernel' });
/** A scraper bound to the chart's reader ClusterRole (what a user does for their Prometheus). */
let scraperToken = '';
/** What each removal broke, printed at the end (and in the reply of the change that added this). */
const table: { removed: string; breaks: string }[] = [];

/**
 * cosmolet posts Events only for what is specific to its node: a Local-policy IP it advertises or
 * withdraws. The Services here are internalTrafficPolicy: Local, with their pod on node-a.
 */
const LOCAL = { internalTrafficPolicy: 'Local' } as const;

const TOKEN_REVIEWS: AccessAttributes = {
  verb: 'create',
  group: 'authentication.k8s.io',
  resource: 'tokenreviews',
};

before(async () => {
  await lab.start();
  lab.apply([service('web', LOCAL), pod('web-1', 'web', 'node-a')]);
  lab.ensureNamespace('monitoring');
  await lab.bindReader('monitoring', 'prometheus');
  // Bound to audience cosmolet, as the chart's Prometheus token is (cosmolet refuses the API server's).
  scraperToken = await lab.tokenFor('monitoring', 'prometheus', ['cosmolet']);
});
after(async () => {
  for (const row of table) console.log(`${row.removed.padEnd(40)} ${row.breaks}`);
  await lab.teardown();
});

function hostPrefix(ip: string): string {
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}

function prefixes(name: string, namespace = 'default'): string[] {
  const svc = JSON.parse(lab.kubectl(['-n', namespace, 'get', 'service', name, '-o', 'json'])) as {
    spec: { clusterIPs: string[] };
  };
  return svc.spec.clusterIPs.map(hostPrefix);
}

interface KubeEvent {
  reason: string;
  count: number;
  message: string;
  source?: { component?: string };
}

/** cosmolet's Events about a Service. */
function events(namespace: string, name: string, reason?: string): KubeEvent[] {
  const list = JSON.parse(
    lab.kubectl([
      '-n',
      namespace,
      'get',
      'events',
      '--field-selector',
      `involvedObject.kind=Service,involvedObject.name=${name}`,
      '-o',
      'json',
    ]),
  ) as { items: KubeEvent[] };
  return list.items.filter(
    (e) => e.source?.component === 'cosmolet' && (reason === undefined || e.reason === reason),
  );
}

/** The chart's RBAC applied as rendered, and the API server's authorizer caught up with it. */
async function restore(values: Record<string, unknown> = {}): Promise<Obj[]> {
  const objects = rbacObjects(values);
  lab.applyObjects(objects);
  await lab.waitAccess(COSMOLET, [
    ...grants(objects).map((g) => ({
      attributes: {
        verb: g.verb,
        group: g.group,
        resource: g.resource,
        ...(g.scope === 'cluster' ? {} : { namespace: g.scope }),
      },
      allowed: true,
    })),
    { attributes: TOKEN_REVIEWS, allowed: true },
  ]);
  return objects;
}

function start(t: TestContext, config: Record<string, unknown> = {}): CosmoletProcess {
  const c = lab.startCosmolet(config);
  t.after(() => lab.stop(c));
  return c;
}

function withLog<T>(c: CosmoletProcess, p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\ncosmolet log:\n${c.log().slice(-4000)}`);
  });
}

/** Waits for /readyz (with messages: from the probe listener) to satisfy `ok`, and returns it. */
async function readyzUntil(c: CosmoletProcess, what: string, ok: (r: Readyz) => boolean): Promise<Readyz> {
  let last: Readyz | undefined;
  return withLog(
    c,
    waitFor(
      what,
      async () => {
        last = await lab.readyz();
        return ok(last) ? last : undefined;
      },
      45_000,
      200,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last /readyz: ${JSON.stringify(last)}`);
    }),
  );
}

function condition(r: Readyz, name: string): { ok: boolean; message?: string } {
  const c = r.conditions.find((x) => x.name === name);
  assert.ok(c, `/readyz has no condition ${name}: ${JSON.stringify(r)}`);
  return c;
}

const DROPPED = 'cosmolet_kube_events_dropped_total{reason="api-error"}';

test("with exactly the chart's RBAC, cosmolet is ready, the API server refuses none of its requests, and it uses every verb granted", async (t) => {
  const objects = await restore();
  const web = prefixes('web');
  const mark = lab.auditMark();
  // Off loopback, so that a scrape goes through TokenReview and SubjectAccessReview too.
  const c = start(t, { http: { address: ':8080' } });
  await withLog(c, lab.waitPeersHold(web, 60_000));
  const ready = await readyzUntil(c, '/readyz 200', (r) => r.status === 200);
  assert.ok(
    ready.conditions.every((x) => x.message !== undefined),
    'the probe listener shows /readyz messages',
  );
  // An Advertised Event per IP (create), then the same again after a withdrawal (patch: count 2).
  await withLog(
    c,
    waitFor(
      'an Advertised Event per ClusterIP',
      () => events('default', 'web', 'Advertised').length === 2,
      30_000,
    ),
  );
  await lab.agent.setReady('default', 'web-1', false);
  await withLog(c, lab.waitPeersHold([], 15_000));
  await lab.agent.setReady('default', 'web-1', true);
  await withLog(c, lab.waitPeersHold(web, 15_000));
  await withLog(
    c,
    waitFor(
      'the repeated Advertised Events to be counted (PATCH)',
      () => events('default', 'web', 'Advertised').every((e) => e.count === 2),
      30_000,
    ),
  );
  assert.equal((await lab.get('/metrics', scraperToken)).status, 200);
  assert.equal((await lab.get('/status', scraperToken)).status, 200);
  await lab.stop(c);

  const audited = lab.auditEvents(mark);
  assert.ok(audited.length > 0, 'the audit log has cosmolet’s requests');
  assert.deepEqual(describe(refused(audited)), '', 'no request of cosmolet was refused');
  const used = usedGrants(audited);
  t.diagnostic(
    `cosmolet's requests (${audited.length} audit events): ${used
      .map((g) => `${g.scope} ${grantName(g)}`)
      .sort()
      .join(', ')}`,
  );
  // Least privilege: what the ClusterRole grants is what cosmolet used, verb for verb; the two
  // reviews are what system:auth-delegator is bound for.
  const granted = grants(objects).map(grantName).sort();
  assert.deepEqual(
    [...new Set(used.map(grantName))].sort(),
    [
      ...granted,
      'authentication.k8s.io/tokenreviews:create',
      'authorization.k8s.io/subjectaccessreviews:create',
    ].sort(),
  );
  // The Node is read by name only (a field selector), never the whole list.
  const nodeRequests = audited.filter((e) => e.objectRef?.resource === 'nodes');
  assert.ok(nodeRequests.length > 0);
  for (const e of nodeRequests) assert.match(e.requestURI, /fieldSelector=metadata.name%3Dnode-a/);
});

test('each grant taken away breaks something a user sees', async (t) => {
  const full = await restore();
  const cases = grants(full);
  assert.ok(cases.length > 0);
  for (const g of cases) {
    await t.test(`without ${grantName(g)}`, async (tt) => {
      lab.applyObjects(withoutGrant(full, g));
      await lab.waitAccess(COSMOLET, [
        { attributes: { verb: g.verb, group: g.group, resource: g.resource }, allowed: false },
      ]);
      tt.after(() => restore());
      const breaks = await removed(tt, g);
      table.push({ removed: grantName(g), breaks });
      tt.diagnostic(breaks);
    });
  }
  await t.test('without the system:auth-delegator binding', async (tt) => {
    lab.kubectl(['delete', 'clusterrolebinding', 'cosmolet-auth-delegator']);
    await lab.waitAccess(COSMOLET, [{ attributes: TOKEN_REVIEWS, allowed: false }]);
    tt.after(() => restore());
    const c = start(tt, { http: { address: ':8080' } });
    // The probes need no token: the DaemonSet stays ready.
    await readyzUntil(c, '/readyz 200', (r) => r.status === 200);
    const metrics = await lab.get('/metrics', scraperToken);
    assert.equal(metrics.status, 503, 'a scraper the reader role allows is refused');
    assert.match(metrics.body, /TokenReview answered 403/);
    assert.match(metrics.body, /system:auth-delegator/);
    const status = await lab.get('/status', scraperToken);
    assert.equal(status.status, 503);
    // /readyz keeps answering, without messages (a token there is never reviewed).
    const r = await lab.readyz(scraperToken);
    assert.equal(r.status, 200);
    assert.ok(r.conditions.every((x) => x.message === undefined));
    const breaks = `/metrics and /status 503 for an authorized scraper: "${metrics.body.trim()}"`;
    table.push({ removed: 'system:auth-delegator binding', breaks });
    tt.diagnostic(breaks);
  });
});

/** Runs cosmolet without grant `g` and returns what broke, asserting that something did. */
async function removed(t: TestContext, g: Grant): Promise<string> {
  if (g.resource === 'events') return withoutEvents(t, g.verb);
  const c = start(t);
  const r = await readyzUntil(
    c,
    `/readyz 503 naming the refused ${g.verb} of ${g.resource}`,
    (x) =>
      x.status === 503 &&
      !condition(x, 'kubernetes-authorized').ok &&
      (g.verb !== 'list' || !condition(x, 'kubernetes-synced').ok),
  );
  const authorized = condition(r, 'kubernetes-authorized').message ?? '';
  // The message names the verb, the resource and its API group (what an RBAC rule needs).
  assert.match(authorized, new RegExp(`cannot ${g.verb} resource "${g.resource}" in API group "${g.group}"`));
  assert.match(authorized, /403 Forbidden/);
  const failing = r.conditions.filter((x) => !x.ok).map((x) => x.name);
  if (g.verb === 'list') {
    assert.match(condition(r, 'kubernetes-synced').message ?? '', new RegExp(g.resource));
  }
  return `/readyz 503 [${failing.join(', ')}] kubernetes-authorized: "${authorized}"`;
}

/** Events cannot be created or updated: readiness is unaffected, the user misses the Event. */
async function withoutEvents(t: TestContext, verb: string): Promise<string> {
  // A Service of its own, so that no Event from an earlier run can be mistaken for this one's.
  const name = `web-no-${verb}`;
  lab.apply([service(name, { ...LOCAL, selector: 'web' })]);
  t.after(() => lab.kubectl(['delete', 'service', name, '--ignore-not-found']));
  const own = prefixes(name);
  const web = prefixes('web');
  const c = start(t);
  await withLog(c, lab.waitPeersHold([...web, ...own], 60_000));
  await readyzUntil(c, '/readyz 200', (r) => r.status === 200);
  if (verb === 'create') {
    await withLog(
      c,
      waitFor('an Event refused by the API server', async () => (await lab.metric(DROPPED)) >= 1, 30_000),
    );
    assert.deepEqual(events('default', name), [], `no Event about ${name} was posted`);
    assert.match(c.log(), /cannot create resource \\"events\\"/);
    return `no Event posted (Advertised for ${name}: none); ${DROPPED} ${await lab.metric(DROPPED)}; log: event dropped (403 cannot create resource "events"); /readyz 200`;
  }
  assert.equal(verb, 'patch', `no expectation for events ${verb}`);
  await withLog(
    c,
    waitFor(
      'an Advertised Event per ClusterIP',
      () => events('default', name, 'Advertised').length === 2,
      30_000,
    ),
  );
  await lab.agent.setReady('default', 'web-1', false);
  await withLog(c, lab.waitPeersHold([], 15_000));
  await lab.agent.setReady('default', 'web-1', true);
  await withLog(c, lab.waitPeersHold([...web, ...own], 15_000));
  await withLog(
    c,
    waitFor(
      'the repeated Events refused by the API server',
      async () => (await lab.metric(DROPPED)) >= 2,
      30_000,
    ),
  );
  const advertised = events('default', name, 'Advertised');
  assert.deepEqual(
    advertised.map((e) => e.count),
    [1, 1],
    'the second advertisement is not counted on the Event',
  );
  assert.match(c.log(), /cannot patch resource \\"events\\"/);
  return `a repeated Event is not updated (Advertised for ${name} stays count 1 after advertising twice); ${DROPPED} ${await lab.metric(DROPPED)}; log: event dropped (403 cannot patch resource "events"); /readyz 200`;
}

test('config.services.namespaces [a, b]: the per-namespace Roles and the Node alone suffice', async (t) => {
  const values = { config: { services: { namespaces: ['a', 'b'] } } };
  for (const ns of ['a', 'b']) lab.ensureNamespace(ns);
  lab.apply([
    service('web', LOCAL, 'a'),
    pod('web-a', 'web', 'node-a', 'a'),
    service('web', LOCAL, 'b'),
    pod('web-b', 'web', 'node-a', 'b'),
  ]);
  const objects = await restore(values);
  t.after(async () => {
    for (const ns of ['a', 'b'])
      lab.kubectl(['-n', ns, 'delete', 'role,rolebinding', 'cosmolet', '--ignore-not-found']);
    await restore();
  });
  // The ClusterRole is down to the Node: nothing namespaced is granted cluster-wide.
  await lab.waitAccess(COSMOLET, [
    { attributes: { verb: 'list', resource: 'services' }, allowed: false },
    { attributes: { verb: 'list', resource: 'services', namespace: 'default' }, allowed: false },
  ]);
  const want = [...prefixes('web', 'a'), ...prefixes('web', 'b')];
  const mark = lab.auditMark();
  const c = start(t, { services: { namespaces: ['a', 'b'] } });
  await withLog(c, lab.waitPeersHold(want, 60_000));
  await readyzUntil(c, '/readyz 200', (r) => r.status === 200);
  for (const ns of ['a', 'b'])
    await withLog(
      c,
      waitFor(
        `an Advertised Event per ClusterIP in ${ns}`,
        () => events(ns, 'web', 'Advertised').length === 2,
        30_000,
      ),
    );
  await lab.stop(c);
  const audited = lab.auditEvents(mark);
  assert.deepEqual(describe(refused(audited)), '', 'no request of cosmolet was refused');
  const used = usedGrants(audited)
    .map((g) => `${g.scope} ${grantName(g)}`)
    .sort();
  t.diagnostic(`cosmolet's requests: ${used.join(', ')}`);
  const granted = new Set(grants(objects).map((g) => `${g.scope} ${grantName(g)}`));
  assert.deepEqual(
    used.filter((u) => !granted.has(u)),
    [],
    'every request is covered by a Role in its namespace or, for the Node, the ClusterRole',
  );
  // No Event was repeated in this run, so events:patch is granted but not used here.
  assert.deepEqual([...granted].filter((g) => !used.includes(g)).sort(), [
    'a events:patch',
    'b events:patch',
  ]);

  // A namespace added to the config without its Role (no `helm upgrade`): /readyz must say which.
  lab.kubectl(['-n', 'b', 'delete', 'role', 'cosmolet']);
  await lab.waitAccess(COSMOLET, [
    { attributes: { verb: 'list', resource: 'services', namespace: 'b' }, allowed: false },
  ]);
  const c2 = start(t, { services: { namespaces: ['a', 'b'] } });
  const namesB = (r: Readyz): boolean =>
    r.status === 503 &&
    /requests for .*(services|endpointslices) in namespace b.* are refused: 403 Forbidden.*in the namespace \\?"b\\?"/.test(
      condition(r, 'kubernetes-authorized').message ?? '',
    );
  const first = await readyzUntil(c2, '/readyz 503 naming namespace b', namesB);
  // And it keeps saying so: namespace a's answers do not clear b's refusal (they did, keyed by
  // resource alone). 25 samples 200 ms apart, every one of them.
  let held = 0;
  let broke: Readyz | undefined;
  await readyzUntil(c2, 'namespace b named in 25 samples in a row', (r) => {
    if (!namesB(r)) broke = r;
    return broke !== undefined || ++held >= 25;
  });
  assert.equal(
    broke,
    undefined,
    `kubernetes-authorized stopped naming namespace b: ${JSON.stringify(broke)}`,
  );
  const message = condition(first, 'kubernetes-authorized').message ?? '';
  table.push({
    removed: 'Role cosmolet in namespace b',
    breaks: `/readyz 503 kubernetes-authorized: "${message}"`,
  });
});
