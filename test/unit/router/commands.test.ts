import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrefix, requireCanonicalPrefix } from '../../../src/net/prefix.js';
import { diffPrefixes, batchTimeoutMs } from '../../../src/router/router.js';
import {
  isCurrentForm,
  isUp,
  kernelBatch,
  parseIpRoutes,
  validKernelProtocol,
} from '../../../src/router/kernel.js';
import { staticConfigDaemon, staticPlan, staticRouteLine } from '../../../src/router/static.js';
import { FrrRestartDetector, readFrrIdentity } from '../../../src/router/frr/restarts.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../../src/router/exec.js';
import { CommandError, ErrorCodes } from '../../../src/errors.js';

void test('prefix validation: canonical forms only reach command lines', () => {
  assert.equal(requireCanonicalPrefix('10.96.0.10/32').family, 'ipv4');
  assert.equal(requireCanonicalPrefix('fd00:10:96::a/128').family, 'ipv6');
  for (const bad of [
    '10.96.0.010/32',
    '10.96.0.10',
    'FD00::A/128',
    'fd00:0:0::a/128',
    '10.96.0.10/32; reboot',
    '10.96.0.10/32 proto 11',
    'fe80::1%eth0/128',
    '10.96.0.1/24',
    '10.96.0.256/32',
    '10.96.0.10/33',
    '',
    '-n/32',
  ]) {
    assert.throws(() => requireCanonicalPrefix(bad), { code: ErrorCodes.PREFIX_INVALID }, bad);
  }
  assert.equal(parsePrefix('FD00:0:0::A')?.prefix, 'fd00::a/128');
  assert.equal(parsePrefix('10.96.0.0/12')?.prefix, '10.96.0.0/12');
  assert.equal(parsePrefix('10.96.0.1/12'), undefined);
  assert.equal(parsePrefix('fd00:10:96::/108')?.length, 108);
  assert.equal(parsePrefix('fd00:10:96::1/108'), undefined);
});

void test('diffPrefixes: desired minus actual, sorted', () => {
  const d = diffPrefixes(
    new Set(['10.96.0.2/32', '10.96.0.1/32', 'fd00::1/128']),
    new Set(['10.96.0.1/32', '10.96.0.9/32']),
  );
  assert.deepEqual(d, { add: ['10.96.0.2/32', 'fd00::1/128'], remove: ['10.96.0.9/32'] });
  assert.deepEqual(diffPrefixes(new Set(), new Set()), { add: [], remove: [] });
});

void test('kernel batch: removals by protocol and device first, then adds through cosmolet0 (never replace)', () => {
  assert.deepEqual(kernelBatch({ add: ['10.96.0.1/32', 'fd00::a/128'], remove: ['10.96.0.9/32'] }, 73), [
    'route del 10.96.0.9/32 dev cosmolet0 proto 73',
    'route add 10.96.0.1/32 dev cosmolet0 proto 73',
    'route add fd00::a/128 dev cosmolet0 proto 73',
  ]);
  assert.throws(() => kernelBatch({ add: ['10.96.0.1/32\nroute flush table main'], remove: [] }, 73));
  assert.equal(validKernelProtocol(73), true);
  for (const p of [11, 42, 186, 192, 198, 4, 256, 7.5])
    assert.equal(validKernelProtocol(p), false, String(p));
  assert.equal(validKernelProtocol(199), true);
});

void test('static plan: adds skip owned and foreign prefixes, removes use FRR lines', () => {
  const current = [
    { prefix: '10.96.0.1/32', tag: 7300, line: 'ip route 10.96.0.1/32 blackhole tag 7300' },
    { prefix: '10.96.0.2/32', tag: 7300, line: 'ip route 10.96.0.2/32 blackhole tag 7300' },
    { prefix: '10.96.0.3/32', tag: undefined, line: 'ip route 10.96.0.3/32 blackhole' },
    { prefix: '10.96.0.4/32', tag: 9, line: 'ip route 10.96.0.4/32 blackhole tag 9' },
  ];
  const plan = staticPlan(
    {
      add: ['10.96.0.1/32', '10.96.0.3/32', '10.96.0.4/32', '10.96.0.5/32', 'fd00::5/128'],
      remove: ['10.96.0.2/32', '10.96.0.7/32'],
    },
    current,
    7300,
  );
  assert.deepEqual(plan.lines, [
    'no ip route 10.96.0.2/32 blackhole tag 7300',
    'ip route 10.96.0.5/32 blackhole tag 7300',
    'ipv6 route fd00::5/128 blackhole tag 7300',
  ]);
  assert.deepEqual(plan.conflicts, ['10.96.0.3/32', '10.96.0.4/32']);
  assert.deepEqual(plan.removed, ['10.96.0.2/32']);
  assert.equal(staticRouteLine('fd00:10:96::a/128', 1), 'ipv6 route fd00:10:96::a/128 blackhole tag 1');
  assert.throws(() => staticRouteLine('10.96.0.1/32 tag 1', 7300));
  assert.equal(batchTimeoutMs(10, 10_000), 40_000);
});

void test('runCommand: stdin, exit codes, hard timeout kills the whole process group', async () => {
  const r = await runCommand(['cat'], { input: 'hello', timeoutMs: 5000 });
  assert.equal(r.stdout, 'hello');
  await assert.rejects(
    runCommand(['sh', '-c', 'echo oops >&2; exit 3'], { timeoutMs: 5000 }),
    (e: unknown) => {
      assert.ok(e instanceof CommandError);
      assert.equal(e.code, ErrorCodes.COMMAND_FAILED);
      assert.equal(e.exitCode, 3);
      assert.match(e.message, /oops/);
      return true;
    },
  );
  assert.equal(
    (await runCommand(['sh', '-c', 'exit 13'], { timeoutMs: 5000, okCodes: [0, 13] })).exitCode,
    13,
  );
  // The grandchild holds stdout open: only a process-group kill ends it.
  const started = Date.now();
  await assert.rejects(runCommand(['sh', '-c', 'sleep 30 & sleep 30'], { timeoutMs: 300 }), {
    code: ErrorCodes.COMMAND_TIMEOUT,
  });
  assert.ok(Date.now() - started < 3000);
  await assert.rejects(runCommand(['/nonexistent/binary'], { timeoutMs: 1000 }), {
    code: ErrorCodes.COMMAND_FAILED,
  });
});

void test('static config daemon: staticd on FRR 8.x, mgmtd when its vty socket exists (9.x+)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-sock-'));
  try {
    assert.equal(staticConfigDaemon(dir), 'staticd');
    writeFileSync(join(dir, 'mgmtd.vty'), '');
    assert.equal(staticConfigDaemon(dir), 'mgmtd');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('FRR identity changes when a daemon restarts (pid file, socket mtime)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-sock-'));
  try {
    writeFileSync(join(dir, 'bgpd.pid'), `${process.pid}\n`);
    writeFileSync(join(dir, 'bgpd.vty'), '');
    const restarts = new FrrRestartDetector(dir);
    assert.equal(await restarts.changed(), false);
    assert.equal(await restarts.changed(), false);
    const id = await readFrrIdentity(dir, ['bgpd']);
    assert.equal(id.daemons[0]?.pid, process.pid);
    assert.ok(id.daemons[0]?.startTime);
    writeFileSync(join(dir, 'bgpd.pid'), '1\n');
    assert.equal(await restarts.changed(), true);
    assert.equal(await restarts.changed(), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('kernel routes of an older form (blackhole) are recognised for conversion', () => {
  const routes = parseIpRoutes(
    '[{"type":"blackhole","dst":"10.96.0.1","protocol":"73","flags":[]},' +
      '{"dst":"10.96.0.2","dev":"cosmolet0","protocol":"73","scope":"link","flags":[]},' +
      '{"dst":"10.96.0.3","dev":"eth0","protocol":"73","flags":[]}]',
  );
  assert.deepEqual(
    routes.map((r) => [r.prefix, isCurrentForm(r)]),
    [
      ['10.96.0.1/32', false],
      ['10.96.0.2/32', true],
      ['10.96.0.3/32', false],
    ],
  );
  assert.equal(isUp('[{"ifname":"cosmolet0","flags":["BROADCAST","NOARP","UP","LOWER_UP"]}]'), true);
  assert.equal(isUp('[{"ifname":"cosmolet0","flags":["BROADCAST","NOARP"]}]'), false);
  assert.equal(isUp('not json'), false);
});
