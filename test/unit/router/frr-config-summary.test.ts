// bgpd's running configuration and summary, read in one vtysh call and split at the configuration's
// bare `end` line, against outputs shaped as FRR 8.4 prints them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bgpdConfigAndSummary } from '../../../src/router/frr/bgpd.js';
import { Vtysh } from '../../../src/router/frr/vtysh.js';
import type { RunResult } from '../../../src/router/exec.js';

/** Prints `stdout` for any call, and keeps the commands it was asked. */
class PrintingVtysh extends Vtysh {
  readonly calls: (readonly string[])[] = [];
  constructor(private readonly stdout: string) {
    super({ vtyshPath: 'vtysh', socketDir: '/nonexistent', timeoutMs: 1000 });
  }
  override exec(commands: readonly string[]): Promise<RunResult> {
    this.calls.push(commands);
    return Promise.resolve({ stdout: this.stdout, stderr: '', exitCode: 0, durationMs: 0 });
  }
}

// A description with braces, quotes and the word "end" in it: only a bare `end` line ends the config.
const CONFIG = [
  'Building configuration...',
  '',
  'Current configuration:',
  '!',
  'frr version 8.4.4',
  'frr defaults traditional',
  '!',
  'router bgp 65001',
  ' neighbor swp1 interface remote-as external',
  ' neighbor swp1 description {"end": "of rack"}',
  ' !',
  ' address-family ipv4 unicast',
  '  redistribute kernel',
  ' exit-address-family',
  'exit',
  '!',
  'end',
  '',
].join('\n');
const SUMMARY = { ipv4Unicast: { routerId: '10.0.0.1', as: 65001, tableVersion: 7, peers: {} } };

void test('the configuration and the summary come from one call, split at the bare end line', async () => {
  const v = new PrintingVtysh(CONFIG + JSON.stringify(SUMMARY, null, 2) + '\n');
  const read = await bgpdConfigAndSummary(v);
  assert.deepEqual(v.calls, [['show running-config', 'show bgp summary json']]);
  assert.equal(read.config, CONFIG.trimEnd());
  assert.deepEqual(read.summary, { json: SUMMARY });
});

void test('a summary that is not JSON is an error of the summary alone; the configuration stands', async () => {
  const read = await bgpdConfigAndSummary(new PrintingVtysh(CONFIG + '% BGP instance not found\n'));
  assert.match(read.config, /router bgp 65001/);
  assert.deepEqual(read.summary, {
    error: 'vtysh "show bgp summary json" did not print JSON: % BGP instance not found',
  });
  const empty = await bgpdConfigAndSummary(new PrintingVtysh(CONFIG));
  assert.deepEqual(empty.summary, { error: 'vtysh "show bgp summary json" printed nothing' });
});

void test('a configuration without its end line (cut short) is an error, not a configuration', async () => {
  const cut = CONFIG.slice(0, CONFIG.indexOf('exit-address-family'));
  await assert.rejects(bgpdConfigAndSummary(new PrintingVtysh(cut)), /printed no "end" line: Building/);
  await assert.rejects(bgpdConfigAndSummary(new PrintingVtysh('')), /"show running-config" printed nothing/);
});
