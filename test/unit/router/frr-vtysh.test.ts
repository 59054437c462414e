// The vtysh runner against a stand-in script: argv shape, one call at a time, hard timeouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vtysh } from '../../../src/router/frr/vtysh.js';
import { ErrorCodes } from '../../../src/errors.js';

function fakeVtysh(dir: string): string {
  const path = join(dir, 'vtysh');
  // Logs its argv (and the -f file), answers JSON, hangs on "hang", overlaps are detected by a lock.
  writeFileSync(
    path,
    `#!/bin/sh
if [ -e "${dir}/busy" ]; then echo overlap >> "${dir}/log"; fi
touch "${dir}/busy"
echo "$*" >> "${dir}/log"
for a in "$@"; do
  case "$a" in
    hang) sleep 30 ;;
    *.conf) cat "$a" >> "${dir}/log" ;;
  esac
done
sleep 0.05
rm -f "${dir}/busy"
case "$*" in
  *json*) echo '{"routes":{"10.96.0.1/32":[{"valid":true,"bestpath":true}]}}' ;;
esac
exit 0
`,
  );
  chmodSync(path, 0o755);
  return path;
}

void test('Vtysh: --vty_socket and -d, calls serialised, -f file content, timeout kills', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-vtysh-test-'));
  try {
    const v = new Vtysh({ vtyshPath: fakeVtysh(dir), socketDir: '/some/dir', timeoutMs: 2000 });
    const results = await Promise.all([
      v.showJson('show bgp ipv4 unicast json', 'bgpd'),
      v.show('show running-config', 'staticd'),
      v.applyConfig(['ip route 10.96.0.1/32 blackhole tag 7300'], 2000, 'staticd'),
    ]);
    assert.ok(typeof results[0] === 'object');
    const log = readFileSync(join(dir, 'log'), 'utf8');
    assert.doesNotMatch(log, /overlap/);
    assert.match(log, /--vty_socket \/some\/dir -d bgpd -c show bgp ipv4 unicast json/);
    assert.match(log, /--vty_socket \/some\/dir -d staticd -c show running-config/);
    assert.match(log, /-d staticd -f \S+apply\.conf\nip route 10\.96\.0\.1\/32 blackhole tag 7300/);
    const started = Date.now();
    await assert.rejects(v.show('hang'), { code: ErrorCodes.COMMAND_TIMEOUT });
    assert.ok(Date.now() - started < 4000);
    // The queue goes on after a timeout.
    assert.ok(await v.showJson('x json'));
    await assert.rejects(v.showJson('show nothing'), { code: ErrorCodes.ROUTER_PARSE });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('Vtysh: an empty answer names vtysh stderr (a PAM refusal in the image read as "is the daemon running?")', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-vtysh-test-'));
  try {
    const path = join(dir, 'vtysh');
    writeFileSync(
      path,
      '#!/bin/sh\necho "vtysh_pam: Failed in account validation: Authentication failure(7)" >&2\nexit 0\n',
    );
    chmodSync(path, 0o755);
    const v = new Vtysh({ vtyshPath: path, socketDir: dir, timeoutMs: 2000 });
    await assert.rejects(v.showJson('show bgp summary json'), {
      code: ErrorCodes.ROUTER_PARSE,
      message: /printed nothing: vtysh_pam: Failed in account validation/,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
