// The repository's own documents: the license package.json declares is there in full, and the
// relative links of the README and docs/ point at files that exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('LICENSE holds the full Apache 2.0 text that package.json declares', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license?: string };
  assert.equal(pkg.license, 'Apache-2.0');
  const text = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
  assert.match(text, /Apache License\s+Version 2\.0, January 2004/);
  for (let section = 1; section <= 9; section++) assert.match(text, new RegExp(`\\n {3}${section}\\. [A-Z]`));
  assert.match(text, /END OF TERMS AND CONDITIONS/);
  assert.match(text, /http:\/\/www\.apache\.org\/licenses\/LICENSE-2\.0/);
});

test('relative links in README.md, CHANGELOG.md, docs/ and the chart README resolve', () => {
  const files = [
    'README.md',
    'CHANGELOG.md',
    join('charts', 'cosmolet', 'README.md'),
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ];
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = (m[1] ?? '').split('#')[0] ?? '';
      if (target === '' || /^[a-z]+:/.test(target)) continue;
      assert.ok(
        existsSync(join(ROOT, dirname(file), target)),
        `${file} links to ${target}, which is missing`,
      );
    }
  }
});
