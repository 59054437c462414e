// Watch lines decoded: events, ERROR events as errors (410: gone), and what is ignored and why.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GoneError, KubeApiError } from '../../../src/errors.js';
import { decodeWatchLine } from '../../../src/kube/watch-event.js';

void test('events carry their object', () => {
  const object = { metadata: { name: 'web', namespace: 'default', resourceVersion: '7' } };
  for (const type of ['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK'] as const)
    assert.deepEqual(decodeWatchLine(JSON.stringify({ type, object }), 'services'), { type, object });
});

void test('an ERROR event is a GoneError for 410, a KubeApiError otherwise', () => {
  const gone = decodeWatchLine('{"type":"ERROR","object":{"code":410,"message":"too old"}}', 'services');
  assert.ok('error' in gone && gone.error instanceof GoneError);
  assert.equal(gone.error.message, 'watch services: too old');
  const other = decodeWatchLine('{"type":"ERROR","object":{"code":500}}', 'nodes');
  assert.ok('error' in other && other.error instanceof KubeApiError && !(other.error instanceof GoneError));
  assert.equal(other.error.status, 500);
  assert.equal(other.error.message, 'watch nodes: error event');
  const bare = decodeWatchLine('{"type":"ERROR"}', 'nodes');
  assert.ok('error' in bare && bare.error.status === 500);
});

void test('malformed lines, unknown types and events without an object are ignored', () => {
  const why = (line: string): string | undefined => {
    const r = decodeWatchLine(line, 'services');
    return 'ignored' in r ? r.ignored : undefined;
  };
  assert.equal(why('{not json'), 'ignoring a malformed watch line');
  assert.equal(why('{"type":"SOMETHING","object":{}}'), 'ignoring a watch event of unknown type');
  assert.equal(why('{"type":"ADDED"}'), 'ignoring a watch event without an object');
  assert.equal(why('{"type":"ADDED","object":"web"}'), 'ignoring a watch event without an object');
  const long = decodeWatchLine('x'.repeat(1_000), 'services');
  assert.ok('ignored' in long && String(long.detail.line).length === 200, 'the logged line is cut');
});

void test('regression: a watch line "null" threw a TypeError and failed the watch; it is malformed', () => {
  for (const line of ['null', '5', '"text"', 'true'])
    assert.ok('ignored' in decodeWatchLine(line, 'services'), line);
});
