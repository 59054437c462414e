// Log records as log pipelines expect them: `level` as its name, errors under `err` through pino's
// error serializer (type, message, stack, and the error code of a CosmoletError).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { CosmoletError, ErrorCodes } from '../../../src/errors.js';
import { createLogger, type LogFormat } from '../../../src/observe/log.js';

function capture(format: LogFormat): { log: ReturnType<typeof createLogger>; lines: () => string[] } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  // pino writes synchronously to a plain stream.
  return { log: createLogger('debug', format, out), lines: () => text.split('\n').filter((l) => l !== '') };
}

test('json: "level" is the level name, not its number', () => {
  const { log, lines } = capture('json');
  log.debug('d');
  log.info({ node: 'n1' }, 'i');
  log.warn('w');
  log.error('e');
  const records = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    records.map((r) => r.level),
    ['debug', 'info', 'warn', 'error'],
  );
  assert.equal(records[1]?.node, 'n1');
  assert.equal(records[1]?.msg, 'i');
  assert.match(String(records[1]?.time), /^\d{4}-\d{2}-\d{2}T/);
});

test('json: an error under err is serialized with type, message, stack and code', () => {
  const { log, lines } = capture('json');
  const cause = new CosmoletError(ErrorCodes.COMMAND_TIMEOUT, 'vtysh timed out after 10 s');
  log.error({ err: cause }, 'reconcile failed');
  log.warn({ err: new Error('plain') }, 'x');
  log.warn({ err: 'a message only' }, 'y');
  const [a, b, c] = lines().map((l) => JSON.parse(l) as { err: Record<string, unknown> });
  assert.equal(a?.err.type, 'CosmoletError');
  assert.equal(a?.err.message, 'vtysh timed out after 10 s');
  assert.equal(a?.err.code, 'COSMOLET_COMMAND_TIMEOUT');
  assert.match(String(a?.err.stack), /CosmoletError: vtysh timed out/);
  assert.equal(b?.err.type, 'Error');
  assert.equal(b?.err.message, 'plain');
  // A bare string keeps the same shape, so a pipeline can always read err.message.
  assert.deepEqual(c?.err, { type: 'Error', message: 'a message only' });
});

test('text: the level name in capitals', () => {
  const { log, lines } = capture('text');
  log.info('hello');
  log.warn('careful');
  const [i, w] = lines();
  assert.match(i ?? '', /^\d{2}:\d{2}:\d{2}\.\d{3} INFO {2}hello$/);
  assert.match(w ?? '', / WARN {2}careful$/);
});
