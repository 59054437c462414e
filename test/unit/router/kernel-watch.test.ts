// The kernel backend's route watch (`ip monitor route link`): with it the loop interval no longer
// reads 2 routes per Service back (issue 23). A deletion of a route of ours at the metric it was
// installed with is a loss; our protocol on another device, another protocol, another metric (a
// re-mark's old route) are not; an event of cosmolet's device (the kernel then drops its IPv4
// routes without a route event) is a loss the watch cannot name: the caller reads everything back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/observe/log.js';
import { isDeviceEvent, KernelRouter } from '../../../src/router/kernel.js';

const ROUTES = [1, 2, 3, 4].map((i) => ({
  dst: `10.96.0.${i}`,
  dev: 'cosmolet0',
  protocol: 73,
  scope: 'link',
}));

const MONITOR = [
  'Deleted 10.96.0.1 dev cosmolet0 proto 73 scope 253 ',
  // Installed at metric 0: this is another route of the prefix (a re-mark's old one), not ours now.
  'Deleted 10.96.0.2 dev cosmolet0 proto 73 scope 253 metric 5 ',
  'Deleted 10.96.0.3 dev eth0 proto 73 scope 253 ',
  'Deleted 10.96.0.4 dev cosmolet0 proto 4 scope 253 ',
  '10.96.0.4 dev cosmolet0 proto 73 scope 253 ',
];

/** A fake `ip`: the route table as JSON, and a monitor that prints `lines` once a file appears. */
function fakeIp(dir: string): { path: string; go: string } {
  const go = join(dir, 'go');
  const path = join(dir, 'ip');
  writeFileSync(
    path,
    `#!/bin/sh
case "$*" in
  *monitor*)
    while [ ! -e ${go} ]; do sleep 0.01; done
    cat ${go}
    exec sleep 60 ;;
  *-4*route\\ show*) echo '${JSON.stringify(ROUTES)}' ;;
  *route\\ show*) echo '[]' ;;
esac
`,
  );
  chmodSync(path, 0o755);
  return { path, go };
}

/** Waits (bounded) for the watch's 20 ms batch to be reported. */
async function reported(got: string[][], n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(got.length, n);
}

test('kernel watch: a deletion of our route at its metric is a loss; other devices, protocols and metrics are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmolet-kwatch-'));
  const ip = fakeIp(dir);
  const router = new KernelRouter({
    origination: 'kernel',
    socketDir: dir,
    kernelProtocol: 73,
    staticTag: 7300,
    commandTimeoutSeconds: 5,
    ipPath: ip.path,
    logger: createLogger('error', 'json', new Writable({ write: (_c, _e, done) => done() })),
  });
  assert.deepEqual(
    [...(await router.read()).keys()],
    ['10.96.0.1/32', '10.96.0.2/32', '10.96.0.3/32', '10.96.0.4/32'],
  );
  const got: string[][] = [];
  const watch = router.watch((lost) => got.push(lost));
  t.after(async () => {
    await watch.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(ip.go, MONITOR.join('\n') + '\n');
  await reported(got, 1);
  assert.deepEqual(got, [['10.96.0.1/32']]);
  assert.equal(watch.live(), true);
});

test('kernel watch: link lines of cosmolet0 are device events, of other links not', () => {
  assert.equal(isDeviceEvent('7: cosmolet0: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN'), true);
  assert.equal(isDeviceEvent('Deleted 7: cosmolet0: <BROADCAST,NOARP> mtu 1500'), true);
  assert.equal(isDeviceEvent('7: cosmolet0@NONE: <BROADCAST,NOARP,UP,LOWER_UP> mtu 1500'), true);
  assert.equal(isDeviceEvent('8: cosmolet01: <BROADCAST> mtu 1500'), false);
  assert.equal(isDeviceEvent('3: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500'), false);
  assert.equal(isDeviceEvent('    link/ether 3a:1b:00:00:00:01 brd ff:ff:ff:ff:ff:ff'), false);
});
