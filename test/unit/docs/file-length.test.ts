// A file in src/ over 400 lines says at its top why it is one file: long files are where several
// jobs hide, so each one has to argue that it is a single job (docs/architecture.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const LIMIT = 400;
const REASON = '// Why one file of this length:';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** The comment lines before the first line of code. */
function header(text: string): string[] {
  const lines = text.split('\n');
  const end = lines.findIndex((l) => !l.startsWith('//'));
  return lines.slice(0, end === -1 ? lines.length : end);
}

/** Lines as `wc -l` counts them (the final newline ends the last line, it does not start one). */
const lineCount = (text: string): number => text.replace(/\n$/, '').split('\n').length;

export function unexplainedLongFiles(files: { path: string; text: string }[]): string[] {
  return files
    .filter((f) => lineCount(f.text) > LIMIT && !header(f.text).some((l) => l.startsWith(REASON)))
    .map((f) => `${f.path}: ${lineCount(f.text)} lines`);
}

test(`every file in src/ and packages/*/src over ${LIMIT} lines says at its top why it is one file`, () => {
  const packages = readdirSync(join(ROOT, 'packages')).map((p) => join(ROOT, 'packages', p, 'src'));
  const files = [join(ROOT, 'src'), ...packages].flatMap(sources).map((p) => ({
    path: relative(ROOT, p),
    text: readFileSync(p, 'utf8'),
  }));
  assert.deepEqual(unexplainedLongFiles(files), [], `split these, or start them with "${REASON} ..."`);
});

test('the check finds a long file without a reason, and accepts one with it at its top', () => {
  const body = 'const x = 1;\n'.repeat(LIMIT + 1);
  assert.deepEqual(unexplainedLongFiles([{ path: 'a.ts', text: `// does a thing\n${body}` }]), [
    `a.ts: ${LIMIT + 2} lines`,
  ]);
  assert.deepEqual(
    unexplainedLongFiles([{ path: 'b.ts', text: `// does a thing\n${REASON} one job.\n${body}` }]),
    [],
  );
  // The reason must be at the top, not buried in the code.
  assert.equal(unexplainedLongFiles([{ path: 'c.ts', text: `// x\n${body}${REASON} late\n` }]).length, 1);
  assert.deepEqual(unexplainedLongFiles([{ path: 'd.ts', text: body.slice(0, 100) }]), []);
});
