// The FRR monitor's checks are pure: each takes what was read from FRR and its own previous result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  BGP_HOLD_GRACE_MS,
  fullReadDue,
  FULL_READ_MAX_AGE_MS,
  HeldPrefixes,
  holdCheck,
  noteRefreshed,
  peersCheck,
  restartCheck,
  trackMissing,
  type TableStamp,
} from '../../../src/router/frr/checks.js';
import { parseBgpTableStamp, type BgpView, type BgpPeer } from '../../../src/router/frr/parse.js';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

void test("bgpd's table stamp from show bgp summary json (FRR 8.4.4); none without versions", () => {
  const summary = JSON.parse(readFileSync(fixture('frr84-node-bgp-summary.json'), 'utf8')) as unknown;
  assert.equal(parseBgpTableStamp(summary), 'ipv4:2/3,ipv6:2/3');
  assert.equal(parseBgpTableStamp({}), undefined, 'no BGP instance: unknown, not unchanged');
  assert.equal(parseBgpTableStamp({ ipv4Unicast: { peers: {} } }), undefined);
  assert.equal(parseBgpTableStamp(undefined), undefined);
});

void test('restart: only a token that moved is a restart; an unreadable identity keeps the last one', () => {
  const first = restartCheck('bgpd:1', undefined);
  assert.deepEqual(first, { token: 'bgpd:1', restarted: false });
  assert.equal(restartCheck('bgpd:1', first).restarted, false);
  const unreadable = restartCheck(undefined, first);
  assert.deepEqual(unreadable, { token: 'bgpd:1', restarted: false });
  assert.equal(restartCheck('bgpd:2', unreadable).restarted, true);
});

void test('regression: bgpd serialized its whole table every interval at idle; now only when something moved', () => {
  const stamp: TableStamp = { bgpd: 'ipv4:7/10', installed: 3 };
  const last = { stamp, at: 1_000 };
  const due = (over: Partial<Parameters<typeof fullReadDue>[0]>) =>
    fullReadDue({
      stamp,
      now: 16_000,
      last,
      restarted: false,
      lacking: 0,
      uncovered: false,
      refreshPending: false,
      ...over,
    });
  assert.equal(due({}), false, 'idle: nothing moved');
  assert.equal(due({ last: undefined }), true, 'never read');
  assert.equal(due({ stamp: { ...stamp, bgpd: 'ipv4:8/10' } }), true, "bgpd's table changed");
  assert.equal(due({ stamp: { ...stamp, installed: 4 } }), true, 'cosmolet installed or withdrew routes');
  assert.equal(due({ stamp: { ...stamp, bgpd: undefined } }), true, 'the summary said nothing');
  assert.equal(due({ restarted: true }), true);
  assert.equal(due({ lacking: 1 }), true, 'a pending prefix is judged by the next read');
  assert.equal(due({ now: 1_000 + FULL_READ_MAX_AGE_MS }), true, 'the periodic read');
  assert.equal(due({ uncovered: true }), true, 'a change too large to refresh, or a failed refresh');
});

void test("regression: every flip made the next round read bgpd's whole table (2 s of CPU at 50,000 Services); a pending refresh accounts for its move", () => {
  const stamp: TableStamp = { bgpd: 'ipv4:7/10', installed: 3 };
  const last = { stamp, at: 1_000 };
  const moved: TableStamp = { bgpd: 'ipv4:9/11', installed: 4 };
  const due = (over: Partial<Parameters<typeof fullReadDue>[0]>) =>
    fullReadDue({
      stamp: moved,
      now: 16_000,
      last,
      restarted: false,
      lacking: 0,
      uncovered: false,
      refreshPending: true,
      ...over,
    });
  assert.equal(due({}), false, 'an apply whose prefixes wait for their refresh: no full read');
  assert.equal(due({ refreshPending: false }), true, 'a move no refresh will explain');
  assert.equal(due({ uncovered: true }), true);
  assert.equal(due({ restarted: true }), true);
  assert.equal(due({ lacking: 1 }), true);
  assert.equal(due({ now: 1_000 + FULL_READ_MAX_AGE_MS }), true, 'the periodic read still happens');
});

void test('hold: missing since the first read that lacked it, late after the grace, cleared by a refresh', () => {
  const view: BgpView = new Map([['10.96.0.10/32', { valid: true, best: true }]]);
  const installed = ['10.96.0.10/32', '10.96.0.11/32', '10.96.0.12/32'];
  const advertises = (p: string) => p !== '10.96.0.12/32';
  const first = trackMissing(view, installed, advertises, 0, undefined);
  assert.deepEqual([...first.missingSince], [['10.96.0.11/32', 0]], 'not advertised: not counted');
  assert.match(holdCheck(first)?.message ?? '', /1 installed prefixes not in bgpd yet/);
  const later = trackMissing(view, installed, advertises, BGP_HOLD_GRACE_MS, first);
  assert.equal(holdCheck(later)?.ok, false);
  assert.match(holdCheck(later)?.message ?? '', /not held 1 installed prefixes .*10\.96\.0\.11\/32/);
  const ledger = new Set(installed);
  const refreshed = noteRefreshed(
    later,
    new Map([['10.96.0.11/32', { valid: true, best: true }]]),
    ledger,
    advertises,
    BGP_HOLD_GRACE_MS + 1,
  );
  assert.equal(refreshed?.missingSince.size, 0);
  assert.equal(holdCheck(refreshed)?.ok, true);
  assert.equal(later.missingSince.size, 1, 'the previous result is not changed');
  const absent = { valid: false, best: false };
  const lacking = noteRefreshed(
    refreshed,
    new Map([
      ['10.96.0.11/32', absent],
      ['10.96.0.12/32', absent],
      ['10.96.0.13/32', absent],
    ]),
    ledger,
    advertises,
    BGP_HOLD_GRACE_MS + 2,
  );
  assert.deepEqual(
    [...(lacking?.missingSince ?? [])],
    [['10.96.0.11/32', BGP_HOLD_GRACE_MS + 2]],
    'a refresh that finds an installed, advertised prefix absent marks it missing from then; not one not advertised (.12) or not installed (.13)',
  );
  assert.equal(
    noteRefreshed(
      lacking,
      new Map([['10.96.0.11/32', absent]]),
      ledger,
      advertises,
      BGP_HOLD_GRACE_MS * 9,
    )?.missingSince.get('10.96.0.11/32'),
    BGP_HOLD_GRACE_MS + 2,
    'missing since the first read that lacked it',
  );
  assert.equal(holdCheck(undefined), undefined, 'before the first read');
});

void test('held count: valid best paths of advertised prefixes, per family, kept prefix by prefix', async () => {
  const view: BgpView = new Map([
    ['10.96.0.10/32', { valid: true, best: true }],
    ['10.96.0.11/32', { valid: true, best: false }],
    ['fd00:10:96::a/128', { valid: true, best: true }],
    ['10.0.0.0/24', { valid: true, best: true }],
  ]);
  let pauses = 0;
  const held = await HeldPrefixes.counted(
    view,
    (p) => p !== '10.0.0.0/24',
    () => {
      pauses++;
      return Promise.resolve();
    },
    2,
  );
  assert.equal(pauses, 2, 'a pause every two prefixes');
  assert.deepEqual([held.count.ipv4, held.count.ipv6], [1, 1]);
  held.note('10.96.0.10/32', { valid: true, best: true }, true);
  assert.deepEqual([held.count.ipv4, held.count.ipv6], [1, 1], 'noted twice counts once');
  held.note('10.96.0.10/32', undefined, false);
  held.note('10.96.0.11/32', { valid: true, best: true }, true);
  held.note('fd00:10:96::a/128', { valid: true, best: true }, false);
  assert.deepEqual([held.count.ipv4, held.count.ipv6], [1, 0], 'withdrawn, now best, no longer advertised');
  const none = await HeldPrefixes.counted(
    new Map(),
    () => true,
    () => Promise.resolve(),
  );
  assert.deepEqual([none.count.ipv4, none.count.ipv6], [0, 0]);
});

void test('peers: established if any family is; a peer that went away is reported once as gone', () => {
  const peer = (name: string, established: boolean, family: 'ipv4' | 'ipv6' = 'ipv4'): BgpPeer => ({
    name,
    family,
    state: established ? 'Established' : 'Active',
    established,
    prefixesReceived: 0,
    prefixesSent: 0,
    uptimeMs: 0,
  });
  const first = peersCheck([peer('a', false), peer('a', true, 'ipv6'), peer('b', true)], undefined);
  assert.deepEqual(
    [...first.established],
    [
      ['a', true],
      ['b', true],
    ],
  );
  const second = peersCheck([peer('a', true)], first);
  assert.deepEqual(second.gone, ['b']);
  assert.deepEqual([...second.known].sort(), ['a', 'b']);
});
