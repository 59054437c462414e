// The list page reader splits `items` out of a body that arrives in chunks of any size: what it hands
// over, and the head it validates, are what JSON.parse of the whole body gives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ListPageReader } from '../../../src/kube/list-page.js';

function read(body: string, chunk: number): { items: unknown[]; head: unknown } {
  const items: unknown[] = [];
  const reader = new ListPageReader('services', (raw) => items.push(raw));
  const bytes = Buffer.from(body, 'utf8');
  for (let i = 0; i < bytes.length; i += chunk) reader.write(bytes.subarray(i, i + chunk));
  return { items, head: reader.end() };
}

const tricky = [
  {
    metadata: {
      name: 'a',
      annotations: { quote: 'say "hi", [ok] {x}', slash: 'C:\\dir\\', u: '\u00e9\u4e2d\ud83d\ude00' },
    },
  },
  { metadata: { name: 'b' }, spec: { ports: [[1, [2]], { p: ']' }], empty: {}, none: null } },
  null,
  'a string item, with a comma',
  42,
  [],
];

void test('items and head are those of JSON.parse, whatever the chunk boundaries (escapes, nesting, UTF-8 split)', () => {
  const bodies = [
    JSON.stringify({
      kind: 'ServiceList',
      apiVersion: 'v1',
      metadata: { resourceVersion: '7', continue: 'tok' },
      items: tricky,
    }),
    // metadata after items, whitespace everywhere, an "items" inside another key's value
    `\n { "apiVersion" : "v1" ,\n "kind":"ServiceList", "note": {"items": [1,2]},\t"items" : [ ${tricky.map((x) => JSON.stringify(x)).join(' ,\n ')} ] , "metadata":{"resourceVersion":"8"} } \n`,
    JSON.stringify({ kind: 'ServiceList', metadata: { resourceVersion: '9' }, items: [] }),
  ];
  for (const body of bodies) {
    const expected = JSON.parse(body) as {
      items: unknown[];
      metadata: { resourceVersion: string; continue?: string };
    };
    for (const chunk of [1, 2, 3, 5, 7, 64, 1 << 20]) {
      const { items, head } = read(body, chunk);
      assert.deepEqual(items, expected.items, `chunks of ${chunk}`);
      assert.deepEqual(head, {
        kind: 'ServiceList',
        resourceVersion: expected.metadata.resourceVersion,
        continue: expected.metadata.continue ?? '',
      });
    }
  }
});

void test('a key spelled with escapes is still read (from the head), and a second items key is refused', () => {
  const { items } = read(
    '{"kind":"ServiceList","metadata":{"resourceVersion":"1"},"\\u0069tems":[{"a":1}]}',
    3,
  );
  assert.deepEqual(items, [{ a: 1 }]);
  assert.throws(
    () => read('{"kind":"ServiceList","items":[],"items":[{"a":1}],"metadata":{"resourceVersion":"1"}}', 4),
    /items appears twice/,
  );
});

void test('bodies that are not a list page are refused with what was wrong', () => {
  const cases: [string, RegExp][] = [
    ['', /the body is empty/],
    ['   ', /the body is empty/],
    ['[]', /the body is not a JSON object/],
    ['{}', /kind is missing, not a list/],
    ['{"kind":"Status","code":500,"message":"boom"}', /kind is "Status", not a list \(boom\)/],
    ['{"kind":"ServiceList","items":null,"metadata":{"resourceVersion":"1"}}', /items is null, not an array/],
    [
      '{"kind":"ServiceList","items":{},"metadata":{"resourceVersion":"1"}}',
      /items is an object, not an array/,
    ],
    ['{"kind":"ServiceList","items":[]}', /metadata.resourceVersion is missing/],
    [
      '{"kind":"ServiceList","items":[],"metadata":{"resourceVersion":""}}',
      /metadata.resourceVersion is empty/,
    ],
    ['{"kind":"ServiceList","items":[{"a":}],"metadata":{"resourceVersion":"1"}}', /an item is not JSON/],
    ['{"kind":"ServiceList","items":[{"a":1}', /ends before the JSON object does/],
    ['{"kind":"ServiceList","items":[],"metadata":{"resourceVersion":"1"}} {}', /bytes after the end/],
    ['{"kind":"ServiceList","items":[],"metadata":{"resourceVersion":"1"}}}', /bytes after the end/],
    ['{"kind":"ServiceList",,"items":[],"metadata":{"resourceVersion":"1"}}', /the response is not JSON/],
  ];
  for (const [body, why] of cases) {
    assert.throws(
      () => read(body, 2),
      (err: Error) => {
        assert.match(err.message, why, body);
        assert.match(err.message, /^list services: .*; keeping the previous state$/);
        return true;
      },
    );
  }
});

void test('items whole in one chunk are parsed together: a bad one among them, or an empty one, still refuses the page', () => {
  for (const items of ['{"a":1},{"a":},{"b":2}', '1,,2', '1,2,', ',1']) {
    const body = `{"kind":"ServiceList","metadata":{"resourceVersion":"1"},"items":[${items}]}`;
    for (const chunk of [1, 9, 1 << 20])
      assert.throws(
        () => read(body, chunk),
        /an item is not JSON|the response is not JSON/,
        `${items} in chunks of ${chunk}`,
      );
  }
  // Many small items in each chunk, some split across two: all of them, in order.
  const many = Array.from({ length: 2000 }, (_, i) => ({ i, s: `x"\\${i}`, a: [i, { b: ']' }] }));
  const body = JSON.stringify({ kind: 'ServiceList', metadata: { resourceVersion: '3' }, items: many });
  for (const chunk of [100, 4096, 65_536]) assert.deepEqual(read(body, chunk).items, many);
});

void test('regression: a small page parsed whole outlived the 2 MB semi-space and was promoted (GC 29% of a cold start); every page is now handed over as its bytes arrive', () => {
  const many = Array.from({ length: 2000 }, (_, i) => ({ metadata: { name: `svc-${i}` }, spec: { i } }));
  const body = JSON.stringify({ kind: 'ServiceList', metadata: { resourceVersion: '4' }, items: many });
  const items: unknown[] = [];
  const reader = new ListPageReader('services', (raw) => items.push(raw));
  const bytes = Buffer.from(body, 'utf8');
  const half = bytes.length >> 1;
  reader.write(bytes.subarray(0, half));
  assert.ok(items.length > 0 && items.length < many.length, `${items.length} handed over at half the page`);
  for (let i = half; i < bytes.length; i += 4096) reader.write(bytes.subarray(i, i + 4096));
  assert.equal(reader.end().resourceVersion, '4');
  assert.deepEqual(items, many);
  // A second items key is refused.
  const twice = `{"kind":"ServiceList","items":[],"items":${JSON.stringify(many)},"metadata":{"resourceVersion":"1"}}`;
  assert.throws(() => {
    const r = new ListPageReader('services', () => {});
    r.write(Buffer.from(twice, 'utf8'));
    r.end();
  }, /items appears twice/);
});
