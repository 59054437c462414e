// The image's cosmolet-join-vty-group (scripts/join-vty-group.sh), run here as root with util-linux
// setpriv as in the image: it joins the group of the vty sockets and leaves the command no more
// capability than the chart meant for cosmolet; where it cannot, it says which frrVtyGroupId to set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../controller/harness.js';

const SCRIPT = join(ROOT, 'scripts', 'join-vty-group.sh');
/** A group id no process here is in. */
const VTY_GID = 4242;
const SHOW = 'id -u; id -G; grep CapEff /proc/self/status';

let dir = '';
let server: Server | undefined;

before(async () => {
  assert.equal(process.getuid?.(), 0, 'these tests run the entrypoint as root, as the container does');
  dir = mkdtempSync(join(tmpdir(), 'cosmolet-entrypoint-'));
  const sock = join(dir, 'bgpd.vty');
  server = createServer();
  await new Promise<void>((resolve) => server?.listen(sock, resolve));
  chownSync(sock, 0, VTY_GID);
  chmodSync(sock, 0o770);
});
after(() => {
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the entrypoint with only `caps` (plus NET_ADMIN) in its bounding set, as the pod gives them. */
function run(socketDir: string, target: string, caps: string[]) {
  const keep = ['net_admin', ...caps];
  const r = spawnSync(
    'setpriv',
    [
      '--bounding-set',
      `-all,${keep.map((c) => `+${c}`).join(',')}`,
      '--',
      'sh',
      SCRIPT,
      socketDir,
      target,
      '--',
      'sh',
      '-c',
      SHOW,
    ],
    { encoding: 'utf8' },
  );
  const [uid, groups, capEff] = r.stdout.trim().split('\n');
  return {
    status: r.status,
    stderr: r.stderr,
    uid: Number(uid),
    groups: (groups ?? '').split(' ').map(Number),
    capEff: BigInt(`0x${/CapEff:\s*(\S+)/.exec(capEff ?? '')?.[1] ?? '0'}`),
  };
}

const NET_ADMIN = 1n << 12n;

test('as root (kernel origination): joins the sockets group, keeps NET_ADMIN alone', () => {
  const r = run(dir, 'root', ['setgid', 'setpcap']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.uid, 0);
  assert.ok(r.groups.includes(VTY_GID), r.groups.join(','));
  assert.equal(r.capEff, NET_ADMIN);
  assert.match(r.stderr, new RegExp(`joining group ${VTY_GID} of FRR's vty sockets in ${dir}`));
});

test('to UID 10001 (static origination): joins the group, no capability left', () => {
  const r = run(dir, '10001:10001', ['setgid', 'setuid']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.uid, 10001);
  assert.deepEqual(r.groups, [10001, VTY_GID]);
  assert.equal(r.capEff, 0n);
});

test('without the capabilities it needs: starts the command and names the frrVtyGroupId to set', () => {
  const r = run(dir, 'root', []);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!r.groups.includes(VTY_GID));
  assert.match(
    r.stderr,
    new RegExp(
      `the container lacks CAP_SETGID and CAP_SETPCAP: starting sh unchanged \\(set the chart's frrVtyGroupId: ${VTY_GID}\\)`,
    ),
  );
});

test('no vty socket (FRR not running): says so and starts without the group, capabilities dropped', () => {
  const r = run(join(dir, 'absent'), 'root', ['setgid', 'setpcap']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /no FRR vty socket \(\*\.vty\) in \S+absent: starting without FRR's vty group/);
  assert.equal(r.capEff, NET_ADMIN);
});
