// The error catalogue (src/errors.ts): a code belongs to one class, so a caller that branches on the
// code knows what it caught; and product code throws only catalogue errors, never a plain Error
// that a caller could only tell apart by its message. The lab (test tooling) keeps its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ErrorCodes,
  GoneError,
  KubeApiError,
  OversizeError,
  SelectorError,
  InvalidPrefixError,
  RouterParseError,
} from '../../../src/errors.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SRC = join(ROOT, 'src');

/** Each class in src/errors.ts -> the codes its own body names (a subclass inherits its parent's). */
function codesByClass(): Map<string, string[]> {
  const text = readFileSync(join(SRC, 'errors.ts'), 'utf8');
  const out = new Map<string, string[]>();
  for (const m of text.matchAll(/^export class (\w+) extends \w+ \{\n([\s\S]*?)^\}$/gm)) {
    const codes = [...(m[2] ?? '').matchAll(/ErrorCodes\.(\w+)/g)].map((c) => c[1] ?? '');
    out.set(m[1] ?? '', [...new Set(codes)]);
  }
  return out;
}

test('every code of the catalogue is raised by one class at most', () => {
  const byClass = codesByClass();
  assert.ok(byClass.size >= 10, `found only ${byClass.size} classes in src/errors.ts`);
  const owner = new Map<string, string>();
  for (const [cls, codes] of byClass) {
    for (const code of codes) {
      assert.ok(code in ErrorCodes, `${cls} names ErrorCodes.${code}, which is not in the catalogue`);
      const other = owner.get(code);
      assert.equal(other, undefined, `${code} is raised by both ${other ?? ''} and ${cls}`);
      owner.set(code, cls);
    }
  }
  const values = Object.values(ErrorCodes);
  assert.equal(new Set(values).size, values.length, 'two keys of ErrorCodes share a value');
});

test('the classes that shared a code now carry their own; a 410 is a KubeApiError', () => {
  assert.equal(new OversizeError('x').code, ErrorCodes.KUBE_OVERSIZE);
  assert.equal(new SelectorError('x').code, ErrorCodes.SELECTOR_INVALID);
  assert.equal(new KubeApiError(500, 'x').code, ErrorCodes.KUBE_API);
  assert.equal(new InvalidPrefixError('x').code, ErrorCodes.PREFIX_INVALID);
  assert.equal(new RouterParseError('x').code, ErrorCodes.ROUTER_PARSE);
  const gone = new GoneError('x');
  assert.ok(gone instanceof KubeApiError);
  assert.equal(gone.status, 410);
  assert.equal(gone.code, ErrorCodes.KUBE_GONE);
});

test('the lab error class lives in the lab, not in the product catalogue', () => {
  const text = readFileSync(join(SRC, 'errors.ts'), 'utf8');
  assert.doesNotMatch(text, /\bLAB_|class LabError/);
});

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return path === join(SRC, 'lab') ? [] : sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

test('product code (src/ but the lab) throws or rejects with no plain Error', () => {
  // A thrown or rejected Error reaches a caller; one made only to carry a message into a wrapper
  // (a cause, req.destroy) does not and is not matched.
  const plain = /\b(?:throw|reject\()\s*new (?:Error|TypeError|RangeError)\(/;
  const found: string[] = [];
  for (const file of sources(SRC)) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (plain.test(line)) found.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(found, []);
});
