// The watch line framing: lines across chunk boundaries, multibyte characters split between
// chunks, CRLF and blank lines, and the cap on a line's length in bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter } from '../../../src/kube/line-splitter.js';

/** Every complete line, pushing `chunks` one by one. */
function split(chunks: (Buffer | string)[], max = 1 << 20): { lines: string[]; tooLong: boolean } {
  const splitter = new LineSplitter(max);
  const lines: string[] = [];
  let tooLong = false;
  for (const chunk of chunks) {
    const r = splitter.push(chunk);
    lines.push(...r.lines);
    tooLong ||= r.tooLong;
  }
  return { lines, tooLong };
}

void test('complete lines come out; an unfinished one waits for its newline', () => {
  const splitter = new LineSplitter(100);
  assert.deepEqual(splitter.push('{"a":1}\n{"b"'), { lines: ['{"a":1}'], tooLong: false });
  assert.deepEqual(splitter.push(':2'), { lines: [], tooLong: false });
  assert.deepEqual(splitter.push('}\n{"c":3}\n'), { lines: ['{"b":2}', '{"c":3}'], tooLong: false });
});

void test('a line split at every byte comes out whole', () => {
  const line = JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'web' } } });
  const bytes = Buffer.from(`${line}\n${line}\n`);
  const chunks = [...bytes].map((b) => Buffer.from([b]));
  assert.deepEqual(split(chunks).lines, [line, line]);
});

void test('a multibyte character split across chunks is decoded whole', () => {
  const line = '{"name":"café-☃-𝄞"}';
  const bytes = Buffer.from(`${line}\n`);
  // Cut inside each multibyte sequence: é is 2 bytes, ☃ 3, 𝄞 4.
  for (let cut = 1; cut < bytes.length; cut++) {
    const { lines } = split([bytes.subarray(0, cut), bytes.subarray(cut)]);
    assert.deepEqual(lines, [line], `cut at byte ${cut}`);
  }
});

void test('CRLF endings, surrounding spaces and blank lines are dropped', () => {
  assert.deepEqual(split(['{"a":1}\r\n\r\n  \n', ' {"b":2} \r', '\n']).lines, ['{"a":1}', '{"b":2}']);
});

void test('the cap counts bytes: a line at the cap passes, one byte more is too long', () => {
  assert.deepEqual(split(['x'.repeat(10) + '\n'], 10), { lines: ['x'.repeat(10)], tooLong: false });
  assert.deepEqual(split(['x'.repeat(11) + '\n'], 10), { lines: [], tooLong: true });
  // Five 2-byte characters are 10 bytes; six are 12.
  assert.equal(split(['é'.repeat(5) + '\n'], 10).tooLong, false);
  assert.equal(split(['é'.repeat(6) + '\n'], 10).tooLong, true);
});

void test('an unfinished line past the cap is too long before its newline arrives', () => {
  const splitter = new LineSplitter(10);
  assert.deepEqual(splitter.push('xxxxxx'), { lines: [], tooLong: false });
  assert.deepEqual(splitter.push('xxxxxx'), { lines: [], tooLong: true });
});

void test('the lines before an oversized one come out; after it the splitter takes nothing more', () => {
  const splitter = new LineSplitter(10);
  assert.deepEqual(splitter.push('{"a":1}\n' + 'x'.repeat(20) + '\n{"b":2}\n'), {
    lines: ['{"a":1}'],
    tooLong: true,
  });
  assert.deepEqual(splitter.push('{"c":3}\n'), { lines: [], tooLong: true });
});

void test('a long newline-free stream is scanned once per byte (linear)', () => {
  const splitter = new LineSplitter(64 << 20);
  const chunk = Buffer.alloc(64 << 10, 'x');
  const started = process.hrtime.bigint();
  for (let i = 0; i < 512; i++) assert.equal(splitter.push(chunk).lines.length, 0);
  const { lines } = splitter.push('\n');
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(lines[0]?.length, 32 << 20);
  assert.ok(ms < 5_000, `32 MiB took ${ms} ms`);
});
