import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRouter } from '../../../src/router/create.js';
import { Vtysh } from '../../../src/router/frr/vtysh.js';
import type { Origination, RouterOptions } from '../../../src/router/router.js';
import { ErrorCodes } from '../../../src/errors.js';
import { silentLogger } from '../../../src/observe/log.js';

const vtysh = new Vtysh({ vtyshPath: 'vtysh', socketDir: '/nonexistent', timeoutMs: 1000 });
const options = (origination: Origination): RouterOptions => ({
  origination,
  socketDir: '/nonexistent',
  kernelProtocol: 73,
  staticTag: 7300,
  commandTimeoutSeconds: 1,
  logger: silentLogger(),
});

void test('createRouter picks the backend named by origination', () => {
  assert.equal(createRouter(options('kernel'), vtysh).origination, 'kernel');
  assert.equal(createRouter(options('static'), vtysh).origination, 'static');
});

void test('createRouter refuses an unknown origination instead of falling back to static', () => {
  assert.throws(() => createRouter(options('bgp' as Origination), vtysh), {
    code: ErrorCodes.CONFIG_INVALID,
    message: /frr\.origination bgp/,
  });
});
