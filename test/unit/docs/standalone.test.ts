// The repository stands on its own: no file points a reader to design documents that live outside it
// (the decision rules are in docs/decisions.md, the design in docs/design.md), and every relative link
// of the README and docs/, anchors included, lands on a file and a heading that exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

// Spelled in pieces so that this file does not match itself.
const OUTSIDE_DOCUMENTS = [
  new RegExp(['CONTR', 'ACT', '(?:\\.md|\\b)'].join('')),
  new RegExp(['DES', 'IGN', '\\.md'].join('')),
  new RegExp(['\\.\\./', 'shared'].join('')),
];

// The files git tracks: what a clone carries. Caches, builds and downloaded tools (a node binary carries
// licence text with the word in capitals) are not the repository.
function repositoryFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((path) => path !== '' && existsSync(join(ROOT, path)))
    .map((path) => join(ROOT, path));
}

test('no file refers to design documents outside the repository', () => {
  const offenders: string[] = [];
  for (const file of repositoryFiles()) {
    const lines = readFileSync(file, 'latin1').split('\n');
    lines.forEach((line, i) => {
      if (OUTSIDE_DOCUMENTS.some((re) => re.test(line)))
        offenders.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim().slice(0, 120)}`);
    });
  }
  assert.deepEqual(offenders, [], 'point these to docs/decisions.md or docs/design.md instead');
});

test('the check above finds what it looks for', () => {
  const found = (s: string) => OUTSIDE_DOCUMENTS.some((re) => re.test(s));
  for (const s of [
    ['see ', 'CONTR', 'ACT.md'],
    ['CONTR', 'ACT rule 2'],
    ['DES', 'IGN.md'],
    ['../', 'shared/x'],
  ])
    assert.ok(found(s.join('')), s.join(''));
  assert.equal(found('the contract of the module; docs/design.md'), false);
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, -N for repeats. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = fenced ? null : /^#{1,6} (.*)$/.exec(line);
    if (!m) continue;
    const base = (m[1] ?? '')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

test('heading anchors are computed as GitHub does', () => {
  const a = headingAnchors(
    "# Title\n## `render`: input, output\n### 5. The node: exclusion\n## FRR's pitfalls\n## A\n## A\n```\n# not a heading\n```\n",
  );
  assert.deepEqual(
    [...a],
    ['title', 'render-input-output', '5-the-node-exclusion', 'frrs-pitfalls', 'a', 'a-1'],
  );
});

test('relative links in README.md and docs/ point at existing headings', () => {
  const files = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ];
  const broken: string[] = [];
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1] ?? '';
      if (/^[a-z]+:/.test(link) || !link.includes('#')) continue;
      const [path = '', anchor = ''] = link.split('#');
      const target = path === '' ? join(ROOT, file) : join(ROOT, dirname(file), path);
      if (!target.endsWith('.md') || !existsSync(target)) continue; // the file check is in files.test.ts
      if (!headingAnchors(readFileSync(target, 'utf8')).has(anchor)) broken.push(`${file}: ${link}`);
    }
  }
  assert.deepEqual(broken, []);
});
