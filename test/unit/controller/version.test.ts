// /version names cosmolet's licence and where its corresponding source is, as AGPL-3.0 section 13
// asks of a program that users interact with over a network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { node, startRig } from './daemon-rig.js';
import { sourceInfo } from '../../../src/version.js';

void test('/version names the licence and the source (AGPL-3.0 section 13)', async (t) => {
  const rig = await startRig(t, { objects: [node()] });
  const r = await rig.get('/version');
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body) as { version: string; license: string; source: string };
  assert.equal(body.license, 'AGPL-3.0-only');
  assert.match(body.source, /^https:\/\/github\.com\/cosmolet\/cosmolet(\/tree\/[0-9a-f]+)?$/);
  assert.ok(body.version);
});

void test('the source names the built commit when the build stamped one', () => {
  const info = { version: '1.2.3', commit: '0123456789ab', buildDate: 'x', nodejs: 'v20' };
  assert.equal(sourceInfo(info).source, 'https://github.com/cosmolet/cosmolet/tree/0123456789ab');
  assert.equal(sourceInfo({ ...info, commit: 'unknown' }).source, 'https://github.com/cosmolet/cosmolet');
});
