// A full read of bgpd's table in ranges, paced: each range's answer parsed on its own with a pause
// after it, and a rest after each vtysh call as long as the call took.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunResult } from '../../../src/router/exec.js';
import { bgpTableInRanges } from '../../../src/router/frr/bgpd.js';
import { Vtysh } from '../../../src/router/frr/vtysh.js';

/** bgpd answering every range with one route of it, after `delayMs`; the order of events. */
class SlowBgpd extends Vtysh {
  constructor(
    private readonly events: string[],
    private readonly delayMs: number,
  ) {
    super({ vtyshPath: 'vtysh', socketDir: '/nonexistent', timeoutMs: 1000 });
  }

  override async exec(commands: readonly string[]): Promise<RunResult> {
    this.events.push(`exec ${commands.length}`);
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const stdout = commands
      .map((c) => {
        const range = /^show bgp ipv4 unicast (\S+)\.0\/24 longer-prefixes json$/.exec(c)?.[1];
        assert.ok(range, c);
        return JSON.stringify({ routes: { [`${range}.1/32`]: [{ valid: true, bestpath: true }] } });
      })
      .join('\n');
    return { stdout, stderr: '', exitCode: 0, durationMs: this.delayMs };
  }
}

void test("regression: a full read parsed a call's eight answers in one go and ran its calls back to back (flips waited up to 200 ms at 50,000 Services); now a pause after each answer and a rest as long as the call", async () => {
  const events: string[] = [];
  const ranges = ['10.96.0.0/24', '10.96.1.0/24', '10.96.2.0/24', '10.96.3.0/24', '10.96.4.0/24'];
  const view = await bgpTableInRanges(new SlowBgpd(events, 30), ranges, {
    perCall: 2,
    pause: () => {
      events.push('pause');
      return Promise.resolve();
    },
    rest: (callMs) => {
      events.push(callMs >= 25 ? 'rest as long as the call' : `rest ${callMs} ms`);
      return Promise.resolve();
    },
  });
  assert.deepEqual(
    [...view.keys()],
    ['10.96.0.1/32', '10.96.1.1/32', '10.96.2.1/32', '10.96.3.1/32', '10.96.4.1/32'],
  );
  const call = (n: number) => [`exec ${n}`, ...Array<string>(n).fill('pause'), 'rest as long as the call'];
  assert.deepEqual(events, [...call(2), ...call(2), ...call(1)]);
});
