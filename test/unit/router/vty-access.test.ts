// Why vtysh cannot reach FRR, told from the socket directory (issue 22): no FRR on the node, or vty
// sockets the process may not open, with the chart value that fixes it naming the sockets' gid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bgpdConfigAndSummary, bgpTableInRanges } from '../../../src/router/frr/bgpd.js';
import { Vtysh } from '../../../src/router/frr/vtysh.js';
import { currentIdentity, vtyAccessProblem } from '../../../src/router/frr/vty-access.js';

async function listen(path: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

void test('a vty socket the process may not open names its gid and frrVtyGroupId', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-vty-'));
  const server = await listen(join(dir, 'bgpd.vty'));
  try {
    chmodSync(join(dir, 'bgpd.vty'), 0o770);
    const { uid, gid } = statSync(join(dir, 'bgpd.vty'));
    const stranger = { uid: uid + 1000, gids: [gid + 1000], dacOverride: false };
    assert.equal(
      vtyAccessProblem(dir, stranger),
      `cosmolet (uid ${uid + 1000}, groups ${gid + 1000}) may not open ${join(dir, 'bgpd.vty')} ` +
        `(owner ${uid}, group ${gid}, mode 770): it must run in group ${gid}. ` +
        `Set the chart's frrVtyGroupId: ${gid} (or leave it null so the entrypoint joins it at start)`,
    );
    // In the group, the owner, or with CAP_DAC_OVERRIDE: nothing in the way.
    assert.equal(vtyAccessProblem(dir, { ...stranger, gids: [gid] }), undefined);
    assert.equal(vtyAccessProblem(dir, { ...stranger, uid }), undefined);
    assert.equal(vtyAccessProblem(dir, { ...stranger, dacOverride: true }), undefined);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('no FRR on the node: an empty or missing socket directory says so', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-vty-'));
  try {
    assert.match(
      vtyAccessProblem(dir) ?? '',
      /^no FRR vty socket \(\*\.vty\) in \S+: is FRR installed and running/,
    );
    assert.match(
      vtyAccessProblem(join(dir, 'absent')) ?? '',
      /^cannot read \S+ \(ENOENT\): is FRR installed/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('the identity read from the process is its own', () => {
  const id = currentIdentity();
  assert.equal(id.uid, process.getuid?.());
  assert.ok(id.gids.includes(process.getgid?.() ?? -1));
});

void test('Vtysh: a call that printed nothing carries the reason read from the socket directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-vty-'));
  try {
    // `true` prints nothing, as vtysh does when it cannot connect.
    const v = new Vtysh({ vtyshPath: 'true', socketDir: dir, timeoutMs: 2000 });
    await assert.rejects(v.showJson('show running-config json'), (err: Error) => {
      assert.match(err.message, /printed nothing .*; no FRR vty socket \(\*\.vty\) in /);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const noWait = (): Promise<void> => Promise.resolve();

void test("bgpd's running-config that printed nothing is an error with the reason, not an FRR without router bgp", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-vty-'));
  try {
    const v = new Vtysh({ vtyshPath: 'true', socketDir: dir, timeoutMs: 2000 });
    await assert.rejects(
      bgpdConfigAndSummary(v),
      /"show running-config" printed nothing .*; no FRR vty socket/,
    );
    await assert.rejects(
      bgpTableInRanges(v, ['10.96.0.0/16'], { perCall: 8, pause: noWait, rest: noWait }),
      /"show bgp ipv4 unicast 10\.96\.0\.0\/16 longer-prefixes json" printed nothing .*; no FRR vty socket/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('Vtysh: "failed to connect to any daemons" (exit 1) carries the reason read from the socket directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-vty-'));
  try {
    // What vtysh does when it cannot open any vty socket.
    const fake = join(dir, 'vtysh');
    writeFileSync(fake, '#!/bin/sh\necho "Exiting: failed to connect to any daemons." >&2\nexit 1\n', {
      mode: 0o755,
    });
    const v = new Vtysh({ vtyshPath: fake, socketDir: dir, timeoutMs: 2000 });
    await assert.rejects(bgpdConfigAndSummary(v), (err: Error) => {
      assert.match(err.message, /failed to connect to any daemons.*; no FRR vty socket \(\*\.vty\) in /);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
