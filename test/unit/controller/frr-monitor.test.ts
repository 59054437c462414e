// The FRR monitor: a scheduler of pure checks that reads the route ledger's published routes and
// never writes them; it reads bgpd's whole table only when something may have changed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrrMonitor } from '../../../src/controller/frr-monitor.js';
import { RouteLedger } from '../../../src/controller/route-ledger.js';
import { silentLogger } from '../../../src/observe/log.js';
import { Metrics } from '../../../src/observe/metrics.js';
import type { RunResult } from '../../../src/router/exec.js';
import { FULL_READ_MAX_AGE_MS } from '../../../src/router/frr/checks.js';
import { Vtysh } from '../../../src/router/frr/vtysh.js';
import { buildInfo } from '../../../src/version.js';
import { cidrContains, parseCIDR, parseIP } from '../../../src/net/ip.js';
import { ManualClock } from '../manual-clock.js';

const INTERVAL_MS = 15_000;

/** The bgp_held gauge for IPv4, as /metrics shows it. */
async function heldGauge(metrics: Metrics): Promise<number> {
  const text = await metrics.registry.metrics();
  const line = text.split('\n').find((l) => /^cosmolet_bgp_prefixes_valid_best\{family="ipv4"\}/.test(l));
  return Number(line?.split(' ').at(-1));
}

/** bgpd answered from memory: it holds `held`; its table version moves whenever `held` does. */
class BgpdDouble extends Vtysh {
  readonly held = new Set<string>();
  readonly asked: string[] = [];
  private version = 0;
  private lastHeld = '';

  constructor() {
    super({ vtyshPath: 'vtysh', socketDir: '/nonexistent', timeoutMs: 1000 });
  }

  /** vtysh calls that read ranges of the table. */
  readonly rangeCalls: string[][] = [];

  /** How many full reads of bgpd's table (in ranges) there were. */
  get tableReads(): number {
    return this.fullReads;
  }

  private fullReads = 0;
  private lastCallWasRange = false;

  /** Called before each vtysh call is answered. */
  onExec: ((commands: readonly string[]) => void) | undefined;

  override exec(commands: readonly string[]): Promise<RunResult> {
    this.onExec?.(commands);
    this.asked.push(...commands);
    const ranges = commands.every((c) => c.endsWith(' longer-prefixes json'));
    if (ranges) this.rangeCalls.push([...commands]);
    // A full read is a run of range calls; any other call ends it.
    if (ranges && !this.lastCallWasRange) this.fullReads++;
    this.lastCallWasRange = ranges;
    const stdout = commands.map((c) => this.answer(c)).join('\n');
    return Promise.resolve({ stdout, stderr: '', exitCode: 0, durationMs: 0 });
  }

  private answer(command: string): string {
    const held = [...this.held].sort().join(',');
    if (held !== this.lastHeld) {
      this.version++;
      this.lastHeld = held;
    }
    // As FRR prints it: a header, the configuration, and a bare `end` line last.
    if (command === 'show running-config')
      return 'Building configuration...\n\nCurrent configuration:\n!\nrouter bgp 65001\n address-family ipv4 unicast\n  redistribute kernel\n exit-address-family\nexit\n!\nend';
    if (command === 'show bgp summary json') {
      return JSON.stringify({
        ipv4Unicast: { tableVersion: this.version, ribCount: this.held.size, peers: {} },
      });
    }
    const range = /^show bgp ipv[46] unicast (\S+) longer-prefixes json$/.exec(command);
    if (range?.[1]) {
      const cidr = parseCIDR(range[1]);
      if (typeof cidr === 'string') throw new Error(cidr);
      const routes: Record<string, unknown> = {};
      for (const p of this.held) {
        const ip = parseIP(p.split('/')[0] ?? '');
        if (ip && cidrContains(cidr, ip)) routes[p] = [{ valid: true, bestpath: true }];
      }
      return JSON.stringify({ routes });
    }
    const one = /^show bgp ipv4 unicast (\S+) json$/.exec(command);
    if (one?.[1]) {
      return this.held.has(one[1])
        ? JSON.stringify({ prefix: one[1], paths: [{ valid: true, bestpath: true }] })
        : '{}';
    }
    throw new Error(`unexpected command ${command}`);
  }
}

function setup(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-frr-monitor-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bgpd.pid'), `${process.pid}\n`);
  const clock = new ManualClock();
  const metrics = new Metrics(buildInfo());
  const ledger = new RouteLedger(metrics);
  const bgpd = new BgpdDouble();
  const restarts: number[] = [];
  const monitor = new FrrMonitor({
    vtysh: bgpd,
    origination: 'kernel',
    socketDir: dir,
    asn: 65001,
    intervalSeconds: INTERVAL_MS / 1000,
    logger: silentLogger(),
    metrics,
    clock,
    installed: ledger,
    advertises: () => true,
    onRestart: () => restarts.push(clock.now()),
  });
  t.after(() => monitor.stop());
  /** The next interval's round, run to its end. */
  const round = async () => {
    await clock.advance(INTERVAL_MS);
    await monitor.check();
  };
  return { dir, clock, ledger, bgpd, monitor, restarts, round, metrics };
}

void test("regression: at idle each round read bgpd's whole table; now only the summary, and the whole table when something moved", async (t) => {
  const { ledger, bgpd, monitor, round } = setup(t);
  ledger.reset(new Map([['10.96.0.10/32', 0]]));
  bgpd.held.add('10.96.0.10/32');
  monitor.start();
  await monitor.check();
  assert.equal(bgpd.tableReads, 1, 'the first round reads the table');
  for (let i = 0; i < 10; i++) await round();
  assert.equal(bgpd.tableReads, 1, 'ten idle rounds: no table read');
  assert.equal(monitor.holdCheck()?.ok, true);
  const checked = monitor.bgp().checkedAt;
  assert.ok(checked !== undefined && checked > 0, 'an idle round still checked bgpd');

  bgpd.held.delete('10.96.0.10/32');
  await round();
  assert.equal(bgpd.tableReads, 2, "bgpd's table changed: read");
  assert.match(monitor.holdCheck()?.message ?? '', /1 installed prefixes not in bgpd yet/);
  await round();
  assert.equal(bgpd.tableReads, 3, 'a pending prefix: read again to judge it');
  bgpd.held.add('10.96.0.10/32');
  await round();
  await round();
  assert.equal(bgpd.tableReads, 4, 'held again: idle again');
  assert.equal(monitor.holdCheck()?.ok, true);
});

void test('regression: each idle round started two vtysh processes (running-config, then the summary); now one', async (t) => {
  const { ledger, bgpd, monitor, round } = setup(t);
  ledger.reset(new Map([['10.96.0.10/32', 0]]));
  bgpd.held.add('10.96.0.10/32');
  monitor.start();
  await monitor.check();
  const calls: (readonly string[])[] = [];
  bgpd.onExec = (commands) => calls.push(commands);
  for (let i = 0; i < 5; i++) await round();
  assert.deepEqual(
    calls,
    Array.from({ length: 5 }, () => ['show running-config', 'show bgp summary json']),
    'one call a round, the configuration first (its `end` line ends it), then the summary',
  );
  assert.equal(monitor.exportCheck(['ipv4'])?.ok, true, 'the export check read the configuration');
  assert.equal(monitor.asnCheck()?.ok, true, 'the ASN check too');
  assert.equal(monitor.holdCheck()?.ok, true, 'and the summary: no table read was needed');
});

void test("regression: every flip copied and recounted bgpd's view, and the next round read the whole table; now an apply is read prefix by prefix, with no full read after it", async (t) => {
  const { clock, ledger, bgpd, monitor, round, metrics } = setup(t);
  ledger.reset(new Map([['10.96.0.10/32', 0]]));
  bgpd.held.add('10.96.0.10/32');
  monitor.start();
  await monitor.check();
  const before = bgpd.tableReads;
  const view = monitor.bgp().view;
  bgpd.held.add('10.96.0.11/32');
  ledger.applied({ add: ['10.96.0.11/32'], remove: [] }, new Set());
  await clock.advance(500);
  await monitor.check();
  assert.ok(
    bgpd.asked.includes('show bgp ipv4 unicast 10.96.0.11/32 json'),
    'the applied prefix asked alone',
  );
  assert.equal(monitor.bgp().view?.get('10.96.0.11/32')?.valid, true);
  assert.equal(monitor.bgp().view, view, 'the view changed in place, not copied');
  assert.equal(await heldGauge(metrics), 2);
  for (let i = 0; i < 3; i++) await round();
  assert.equal(bgpd.tableReads, before, 'the refresh covered the apply: no full read');

  bgpd.held.delete('10.96.0.11/32');
  ledger.applied({ add: [], remove: ['10.96.0.11/32'] }, new Set());
  await clock.advance(500);
  await monitor.check();
  assert.equal(monitor.bgp().view?.has('10.96.0.11/32'), false);
  assert.equal(await heldGauge(metrics), 1);
  await round();
  assert.equal(bgpd.tableReads, before, 'a withdrawal too');

  bgpd.held.add('10.96.0.99/32');
  await round();
  assert.equal(bgpd.tableReads, before + 1, 'bgpd moved with no apply to explain it: read whole');
  ledger.reset(
    new Map([
      ['10.96.0.10/32', 0],
      ['10.96.0.99/32', 0],
    ]),
  );
  await round();
  assert.equal(bgpd.tableReads, before + 2, 'a read-back that changed the ledger: read whole');
  ledger.reset(
    new Map([
      ['10.96.0.10/32', 0],
      ['10.96.0.99/32', 0],
    ]),
  );
  await round();
  assert.equal(bgpd.tableReads, before + 2, 'a read-back that found the same routes is no change');
});

void test('regression: a prefix an apply installed that bgpd lacked at its refresh was never judged (/readyz said bgpd held everything after zebra restarted alone); now it is missing from that refresh on', async (t) => {
  const { clock, ledger, bgpd, monitor, round } = setup(t);
  ledger.reset(new Map([['10.96.0.10/32', 0]]));
  bgpd.held.add('10.96.0.10/32');
  monitor.start();
  await monitor.check();
  // bgpd does not take the new route (FRR 8.4's bgpd after a zebra-only restart).
  ledger.applied({ add: ['10.96.0.11/32'], remove: [] }, new Set());
  await clock.advance(500);
  await monitor.check();
  assert.ok(bgpd.asked.includes('show bgp ipv4 unicast 10.96.0.11/32 json'), 'the refresh asked it');
  assert.match(monitor.holdCheck()?.message ?? '', /1 installed prefixes not in bgpd yet/);
  const reads = bgpd.tableReads;
  await round();
  assert.equal(bgpd.tableReads, reads + 1, 'the next round reads bgpd to judge it');
  await round();
  await round();
  const check = monitor.holdCheck();
  assert.equal(check?.ok, false, 'late after the grace');
  assert.match(check?.message ?? '', /not held 1 installed prefixes .*\(10\.96\.0\.11\/32\)/);
  bgpd.held.add('10.96.0.11/32');
  await round();
  assert.equal(monitor.holdCheck()?.ok, true, 'held again once bgpd takes it');
});

void test('a change too large to refresh prefix by prefix is read whole at the next round', async (t) => {
  const { clock, ledger, bgpd, monitor, round } = setup(t);
  monitor.start();
  await monitor.check();
  const before = bgpd.tableReads;
  const add = Array.from({ length: 300 }, (_, i) => `10.96.${i >> 8}.${i & 255}/32`);
  for (const p of add) bgpd.held.add(p);
  ledger.applied({ add, remove: [] }, new Set());
  await clock.advance(500);
  await monitor.check();
  assert.ok(
    !bgpd.asked.some((c) => c.startsWith('show bgp ipv4 unicast 10.96.0.0/32')),
    'not asked one by one',
  );
  await round();
  assert.equal(bgpd.tableReads, before + 1);
  assert.equal(monitor.bgp().view?.size, 300);
});

void test('the periodic full read, and a restart read whole and signalled once', async (t) => {
  const { dir, clock, ledger, bgpd, monitor, restarts, round } = setup(t);
  ledger.reset(new Map([['10.96.0.10/32', 0]]));
  bgpd.held.add('10.96.0.10/32');
  monitor.start();
  await monitor.check();
  const reads = bgpd.tableReads;
  await clock.advance(FULL_READ_MAX_AGE_MS);
  await monitor.check();
  assert.equal(bgpd.tableReads, reads + 1, 'the table is read at least every FULL_READ_MAX_AGE_MS');
  writeFileSync(join(dir, 'bgpd.pid'), '1\n');
  await round();
  assert.equal(restarts.length, 1);
  assert.equal(bgpd.tableReads, reads + 2, 'after a restart the table is read whole');
  await round();
  assert.equal(restarts.length, 1, 'signalled once per restart');
});

void test("regression: a full read made bgpd serialize its whole table in one command (a flip waited about a second behind it at 100,000 Services); now ranges of at most 1,024 of cosmolet's routes, a few per vtysh call", async (t) => {
  const { ledger, bgpd, monitor } = setup(t);
  const installed = new Map<string, number>();
  for (let i = 1; i <= 5000; i++) {
    const v4 = `10.96.${i >> 8}.${i & 255}/32`;
    const v6 = `fd00:10:96::${i.toString(16)}/128`;
    installed.set(v4, 0).set(v6, 0);
    bgpd.held.add(v4);
  }
  bgpd.held.add('192.0.2.0/24');
  ledger.reset(installed);
  monitor.start();
  await monitor.check();
  assert.equal(bgpd.tableReads, 1);
  const commands = bgpd.rangeCalls.flat();
  assert.ok(bgpd.rangeCalls.length >= 2, `${bgpd.rangeCalls.length} vtysh calls`);
  assert.ok(commands.length >= 6, `${commands.length} ranges`);
  assert.ok(!bgpd.asked.includes('show bgp ipv4 unicast json'), 'never the whole table at once');
  const view = monitor.bgp().view;
  assert.equal(view?.size, 5000, 'every held route of cosmolet, and only those ranges');
  assert.match(
    monitor.holdCheck()?.message ?? '',
    /5000 installed prefixes not in bgpd yet/,
    'the IPv6 routes bgpd lacks are seen',
  );
});

void test('regression: a refresh queued behind a round ran after stop() and spawned vtysh during teardown', async (t) => {
  const { clock, ledger, bgpd, monitor } = setup(t);
  monitor.start();
  await monitor.check();
  ledger.applied({ add: ['10.96.0.12/32'], remove: [] }, new Set());
  const round = monitor.check();
  // The refresh's timer fires while the round runs: it waits for the round.
  await clock.advance(500);
  await monitor.stop();
  await round;
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.ok(!bgpd.asked.includes('show bgp ipv4 unicast 10.96.0.12/32 json'), 'no vtysh after stop');
});

void test('regression: stop() waited for the rest of a full read (paced, it lasts 6 s at 50,000 Services); now the read ends at its next pause', async (t) => {
  const { ledger, bgpd, monitor } = setup(t);
  const installed = new Map<string, number>();
  for (let i = 1; i <= 20_000; i++) installed.set(`10.96.${i >> 8}.${i & 255}/32`, 0);
  ledger.reset(installed);
  let stopping: Promise<void> | undefined;
  // stop() while the first range call is answered.
  bgpd.onExec = (commands) => {
    if (commands.some((c) => c.endsWith(' longer-prefixes json'))) stopping ??= monitor.stop();
  };
  monitor.start();
  await monitor.check();
  await stopping;
  assert.equal(bgpd.rangeCalls.length, 1, 'no range call after stop()');
  assert.match(monitor.bgp().error ?? '', /abort/i);
});
