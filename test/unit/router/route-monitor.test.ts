// The route monitor behind the static backend's watch(): `ip -N monitor route` lines (captured on
// this machine, iproute2 6.1, while FRR 8.4's zebra added and deleted cosmolet's static routes and
// cosmolet0 routes came and went), and the child process discipline: events parsed as they come,
// a monitor that exits or cannot start is restarted with a backoff and logged with its fallback,
// a gap is reported once it runs again, and stop() kills its whole process group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/observe/log.js';
import { parseMonitorLine, RouteMonitor, type RouteEvent } from '../../../src/router/route-monitor.js';
import { waitFor } from '@cosmolet/lab/wait';

function capture(): { log: ReturnType<typeof createLogger>; lines: () => { level: string; msg: string }[] } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return {
    log: createLogger('debug', 'json', out),
    lines: () =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { level: string; msg: string }),
  };
}

test('ip -N monitor route lines: deletions of zebra static blackholes, cosmolet0 routes, other tables', () => {
  const captured = [
    '6 fd00:10:96::a dev lo proto 196 metric 20 pref medium',
    '6 10.96.0.10 proto 196 metric 20 ',
    'Deleted 6 10.96.0.10 proto 196 metric 20 ',
    'Deleted 6 fd00:10:96::a dev lo proto 196 metric 20 pref medium',
    '5 ff00::/8 dev cosmolet0 table 255 proto 2 metric 256 pref medium',
    'fe80::/64 dev cosmolet0 proto 2 metric 256 pref medium',
    '10.96.0.11 dev cosmolet0 proto 73 scope 253 ',
    'Deleted 10.96.0.11 dev cosmolet0 proto 73 scope 253 ',
    // Without -N: the type and protocol as names.
    'Deleted blackhole 10.96.0.10 proto static metric 20 ',
  ];
  assert.deepEqual(captured.map(parseMonitorLine), [
    {
      deleted: false,
      prefix: 'fd00:10:96::a/128',
      protocol: '196',
      mainTable: true,
      device: 'lo',
      metric: 20,
    },
    { deleted: false, prefix: '10.96.0.10/32', protocol: '196', mainTable: true, device: '', metric: 20 },
    { deleted: true, prefix: '10.96.0.10/32', protocol: '196', mainTable: true, device: '', metric: 20 },
    {
      deleted: true,
      prefix: 'fd00:10:96::a/128',
      protocol: '196',
      mainTable: true,
      device: 'lo',
      metric: 20,
    },
    { deleted: false, prefix: 'ff00::/8', protocol: '2', mainTable: false, device: 'cosmolet0', metric: 256 },
    { deleted: false, prefix: 'fe80::/64', protocol: '2', mainTable: true, device: 'cosmolet0', metric: 256 },
    // An IPv4 route of metric 0: `ip` prints no metric.
    { deleted: false, prefix: '10.96.0.11/32', protocol: '73', mainTable: true, device: 'cosmolet0' },
    { deleted: true, prefix: '10.96.0.11/32', protocol: '73', mainTable: true, device: 'cosmolet0' },
    { deleted: true, prefix: '10.96.0.10/32', protocol: 'static', mainTable: true, device: '', metric: 20 },
  ]);
  for (const junk of [
    '',
    'Deleted',
    'nexthop via 10.0.0.1 dev eth0 weight 1',
    'default via 10.0.0.1 dev eth0',
  ])
    assert.equal(parseMonitorLine(junk), undefined, junk);
});

test('route monitor: events as they come; exits are restarted with a backoff, logged with the fallback, and a gap is reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-monitor-'));
  const count = join(dir, 'count');
  // Prints a deletion; exits at once on its first two runs, then stays up.
  const script = `n=$(cat ${count} 2>/dev/null || echo 0); echo $((n+1)) > ${count}; echo "Deleted 6 10.96.0.$n proto 196 metric 20 "; [ "$n" -ge 2 ] && exec sleep 60; exit 3`;
  const events: RouteEvent[] = [];
  let gaps = 0;
  const { log, lines } = capture();
  const monitor = new RouteMonitor({
    argv: ['sh', '-c', script],
    onEvent: (e) => events.push(e),
    onGap: () => gaps++,
    logger: log,
    fallback: 'the periodic resync',
    restartMinMs: 50,
    restartMaxMs: 200,
  });
  t.after(async () => {
    await monitor.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  monitor.start();
  await waitFor('three runs and a gap reported', () => gaps === 1 && events.length === 3, 10_000, 20);
  assert.deepEqual(
    events.map((e) => e.prefix),
    ['10.96.0.0/32', '10.96.0.1/32', '10.96.0.2/32'],
  );
  assert.equal(monitor.running, true);
  const failures = lines().filter((l) => /route monitor exited \(status 3\)/.test(l.msg));
  assert.equal(failures.length, 2);
  // The first failure of a streak is a warning naming the fallback, the next ones are quiet.
  assert.deepEqual(
    failures.map((l) => l.level),
    ['warn', 'debug'],
  );
  assert.match(failures[0]?.msg ?? '', /until it runs again the periodic resync/);
  assert.ok(lines().some((l) => l.level === 'info' && /running again/.test(l.msg)));
});

test('route monitor: a missing `ip` is retried and logged, never thrown; stop() ends it', async () => {
  const { log, lines } = capture();
  const monitor = new RouteMonitor({
    argv: ['/nonexistent/ip', '-N', 'monitor', 'route'],
    onEvent: () => undefined,
    onGap: () => undefined,
    logger: log,
    fallback: 'the periodic resync',
    restartMinMs: 20,
    restartMaxMs: 40,
  });
  monitor.start();
  await waitFor('two attempts', () => lines().length >= 2, 5000, 10);
  assert.match(
    lines()[0]?.msg ?? '',
    /route monitor exited .*ENOENT.*until it runs again the periodic resync/,
  );
  assert.equal(lines()[0]?.level, 'warn');
  await monitor.stop();
  const after = lines().length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(lines().length, after, 'no attempt after stop()');
  assert.equal(monitor.running, false);
});

test('route monitor: stop() kills the whole process group (a grandchild too)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-monitor-'));
  const pidFile = join(dir, 'grandchild');
  try {
    const monitor = new RouteMonitor({
      argv: ['sh', '-c', `sleep 60 & echo $! > ${pidFile}; wait`],
      onEvent: () => undefined,
      onGap: () => undefined,
      logger: capture().log,
      fallback: 'the periodic resync',
    });
    monitor.start();
    await waitFor(
      'the grandchild',
      () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
      5000,
      10,
    );
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    await monitor.stop();
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor('the grandchild to die', () => !alive(), 5000, 10);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
