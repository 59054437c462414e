import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeChange } from '../../../src/controller/decision-reporter.js';

test('log lines say what happened and why', () => {
  assert.equal(
    describeChange({ service: 'default/web', ip: '10.96.0.10', from: undefined, to: 'advertised' }),
    'advertising 10.96.0.10/32 for default/web: endpoints ready',
  );
  assert.equal(
    describeChange({ service: 'default/web', ip: 'fd00::a', from: 'advertised', to: 'no-ready-endpoints' }),
    'withdrawing fd00::a/128 for default/web: no-ready-endpoints (no ready endpoint)',
  );
  assert.equal(
    describeChange({ service: 'default/web', ip: '010.1.1.1', from: undefined, to: 'invalid-ip' }),
    'not advertising 010.1.1.1 for default/web: invalid-ip (not a valid IP address)',
  );
  assert.match(
    describeChange({ service: 'default/web', ip: '10.1.1.1', from: 'advertised', to: undefined }),
    /^withdrawing 10\.1\.1\.1\/32 for default\/web/,
  );
});
