// `ip` missing (kernel origination) and `vtysh` failing (a vtysh that exits non-zero), each under a
// cosmolet started on a node whose routes are installed: /readyz names the failure, /healthz stays
// 200, cosmolet keeps running and retrying (no crash loop), the leaf (sampled every 100 ms) loses
// nothing, and when the tool works again the cluster's changes meanwhile are applied exactly.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@cosmolet/lab/wait';
import { ControllerLab, sampleLeafWhile, type CosmoletProcess } from '../controller/harness.js';
import { OTHER, expectedRoutes, slice } from '../controller/cluster.js';
import { resetCluster, startCosmolet } from './common.js';

const VTYSH = '/usr/bin/vtysh';
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];

/** Converges a first cosmolet, then kills it: the node holds the routes a restart finds. */
async function installedByEarlierRun(t: TestContext, lab: ControllerLab): Promise<void> {
  resetCluster(lab);
  const first = startCosmolet(t, lab);
  await lab.waitPeersHold(expectedRoutes, 30_000);
  first.kill('SIGKILL');
  await first.exited;
}

/**
 * While `broken` runs cosmolet with a failing tool: /readyz must fail matching `reason`, more failed
 * attempts must follow without an exit, and a change in the cluster is made; `repair` fixes the tool.
 */
async function brokenThenRepaired(
  t: TestContext,
  lab: ControllerLab,
  c: CosmoletProcess,
  reason: RegExp,
  repair: () => void,
  failuresInLog: () => number,
): Promise<void> {
  const { missing, samples } = await sampleLeafWhile(lab, expectedRoutes, async () => {
    const r = await waitFor(
      `/readyz 503 matching ${reason}`,
      async () => {
        const x = await lab.get('/readyz').catch(() => undefined);
        return x?.status === 503 && reason.test(x.body) ? x : undefined;
      },
      30_000,
    );
    t.diagnostic(`/readyz while broken: ${r.body.replace(/\s+/g, ' ').slice(0, 1500)}`);
    const seen = failuresInLog();
    await waitFor('two more failed attempts in the log', () => failuresInLog() >= seen + 2, 60_000);
    assert.ok(c.running, `cosmolet exited:\n${c.log().slice(-2000)}`);
    assert.equal((await lab.get('/healthz')).status, 200, '/healthz stays 200');
    // A change in the cluster while the router cannot be programmed.
    lab.api.upsert('endpointslices', slice('api', 'IPv4', [{ ip: '10.1.0.2', ready: true, node: OTHER }]));
    await waitFor('one more failed attempt', () => failuresInLog() >= seen + 3, 60_000);
  });
  t.diagnostic(`${samples} leaf samples while broken`);
  assert.deepEqual([...missing], [], 'nothing installed is withdrawn while the tool fails');
  repair();
  const repairedAt = Date.now();
  await lab.waitPeersHold([...expectedRoutes, '10.96.0.11/32'].sort(), 60_000);
  await lab.waitReady(60_000);
  t.diagnostic(`exact at the leaf and ready ${Date.now() - repairedAt} ms after the repair`);
  assert.ok(c.running);
}

function tempDir(t: TestContext, lab: ControllerLab, name: string): string {
  const dir = join(lab.dir, `${name}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A vtysh that fails (exit 1, a message on stderr) while `<dir>/broken` exists, else the real one. */
function failingVtysh(dir: string): string {
  const path = join(dir, 'vtysh');
  writeFileSync(
    path,
    `#!/bin/sh\nif [ -e "${dir}/broken" ]; then echo "vtysh: simulated failure" >&2; exit 1; fi\nexec ${VTYSH} "$@"\n`,
  );
  chmodSync(path, 0o755);
  writeFileSync(join(dir, 'broken'), '');
  return path;
}

for (const origination of ['kernel', 'static'] as const) {
  const lab = new ControllerLab({ origination });
  before(() => lab.start());
  after(() => lab.teardown());

  if (origination === 'kernel') {
    test('kernel: `ip` missing from PATH: /readyz names it, no crash loop, nothing withdrawn, recovery when it is back', async (t) => {
      await installedByEarlierRun(t, lab);
      const bin = tempDir(t, lab, 'no-ip-bin');
      const c = startCosmolet(t, lab, { frr: { vtyshPath: VTYSH } }, { PATH: bin });
      const ip = IP.find((p) => existsSync(p));
      assert.ok(ip, 'ip binary');
      await brokenThenRepaired(
        t,
        lab,
        c,
        /\bip\b.*(ENOENT|not found|missing)|(ENOENT|not found|missing).*\bip\b/i,
        () => symlinkSync(ip, join(bin, 'ip')),
        () => c.log().split('ENOENT').length - 1,
      );
    });
  }

  test(`${origination}: vtysh failing (exit 1): /readyz names it, no crash loop, nothing withdrawn, recovery`, async (t) => {
    await installedByEarlierRun(t, lab);
    const dir = tempDir(t, lab, 'failing-vtysh');
    const vtysh = failingVtysh(dir);
    const c = startCosmolet(t, lab, { frr: { vtyshPath: vtysh } });
    await brokenThenRepaired(
      t,
      lab,
      c,
      /exit status 1: vtysh: simulated failure/,
      () => rmSync(join(dir, 'broken')),
      () => c.log().split('simulated failure').length - 1,
    );
  });
}
