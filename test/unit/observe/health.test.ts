import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/observe/log.js';
import { liveness, readiness, type ReadinessInput } from '../../../src/observe/health.js';

const ready: ReadinessInput = {
  reflectorsSynced: { services: true, endpointslices: true, nodes: true },
  kubernetesProblem: undefined,
  nodeName: 'n1',
  nodeFound: true,
  reconcileOk: true,
  reconcileError: undefined,
  applyEnabled: true,
  exportCheck: { ok: true, message: 'exports' },
  asnCheck: undefined,
  asnConfigured: false,
};

function failing(input: ReadinessInput): string[] {
  return readiness(input)
    .conditions.filter((c) => !c.ok)
    .map((c) => c.name);
}

test('ready when every condition holds', () => {
  assert.equal(readiness(ready).ready, true);
  assert.deepEqual(failing(ready), []);
});

test('each condition fails by name with an actionable message', () => {
  const cases: [Partial<ReadinessInput>, string, RegExp][] = [
    [{ reflectorsSynced: { services: true, nodes: false } }, 'kubernetes-synced', /nodes/],
    [{ kubernetesProblem: 'kubernetes-unreachable: x' }, 'kubernetes-reachable', /unreachable/],
    [{ kubernetesAuthProblem: 'kubernetes-unauthorized: 401' }, 'kubernetes-authorized', /unauthorized/],
    [{ nodeFound: false }, 'node-found', /advertising nothing/],
    [{ reconcileOk: undefined }, 'router-programmed', /no reconcile/],
    [{ reconcileOk: false, reconcileError: 'ip: exit 2' }, 'router-programmed', /ip: exit 2/],
    [
      { exportCheck: { ok: false, message: 'no redistribute kernel', snippet: 'router bgp 1' } },
      'frr-exports-routes',
      /redistribute/,
    ],
    [{ exportCheck: undefined }, 'frr-exports-routes', /not been checked/],
    [
      { holdCheck: { ok: false, message: 'bgpd has not held 1 installed prefixes for 30 s (10.96.0.1/32)' } },
      'bgp-holds-routes',
      /10\.96\.0\.1\/32/,
    ],
    [
      { asnConfigured: true, asnCheck: { ok: false, message: 'bgp.asn is 1 but FRR runs "router bgp 2"' } },
      'asn-matches',
      /router bgp 2/,
    ],
  ];
  for (const [patch, name, message] of cases) {
    const r = readiness({ ...ready, ...patch });
    assert.equal(r.ready, false, name);
    const c = r.conditions.find((x) => x.name === name);
    assert.ok(c && !c.ok, name);
    assert.match(c.message, message);
  }
});

test('with bgp.enabled false, FRR export and bgpd holding the routes are not conditions', () => {
  const r = readiness({
    ...ready,
    applyEnabled: false,
    exportCheck: undefined,
    holdCheck: { ok: false, message: 'x' },
  });
  assert.equal(r.ready, true);
  for (const name of ['frr-exports-routes', 'bgp-holds-routes'])
    assert.equal(
      r.conditions.find((c) => c.name === name),
      undefined,
      name,
    );
});

test("bgpd's table not read yet is no reason to wait", () => {
  const r = readiness({ ...ready, holdCheck: undefined });
  assert.equal(r.ready, true);
  assert.match(r.conditions.find((c) => c.name === 'bgp-holds-routes')?.message ?? '', /not been read yet/);
});

test('liveness: a stuck reconcile, a dead loop and a stuck reflector are each reported', () => {
  const now = 1_000_000;
  const ok = {
    now,
    reconcileRunningSince: undefined,
    reconcileLastRunAt: now - 1000,
    reconcileStuckAfterMs: 60_000,
    reconcileIdleLimitMs: 120_000,
    reflectorProgress: { services: now - 5 },
    reflectorStuckAfterMs: 700_000,
  };
  assert.equal(liveness(ok).alive, true);
  assert.match(liveness({ ...ok, reconcileRunningSince: now - 61_000 }).problems.join(), /running for 61 s/);
  assert.match(
    liveness({ ...ok, reconcileLastRunAt: now - 121_000 }).problems.join(),
    /no reconcile for 121 s/,
  );
  assert.match(
    liveness({ ...ok, reflectorProgress: { services: now - 800_000 } }).problems.join(),
    /reflector services made no progress/,
  );
});

test('regression: in text logs a value with a newline forged a second line', () => {
  const chunks: string[] = [];
  const out = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c.toString());
      cb();
    },
  });
  const log = createLogger('info', 'text', out);
  log.info({ ip: '10.0.0.1\n12:00:00.000 INFO  forged line' }, 'skipped 10.0.0.1\nfake');
  log.flush();
  const text = chunks.join('');
  assert.equal(text.split('\n').filter((l) => l !== '').length, 1, text);
  assert.match(text, /ip="10\.0\.0\.1\\n12:00:00\.000 INFO {2}forged line"/);
  assert.match(text, /skipped 10\.0\.0\.1\\nfake/);
});
