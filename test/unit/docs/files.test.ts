// The repository's own documents: the licence package.json declares is there verbatim, and the
// relative links of the README and docs/ point at files that exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const AGPL_SHA256 = '8486a10c4393cee1c25392769ddd3b2d6c242d6ec7928e1414efff7dfb2f07ef';

test('LICENSE is the verbatim AGPL-3.0 text that package.json, the chart and the image declare', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license?: string };
  assert.equal(pkg.license, 'AGPL-3.0-only');
  const text = readFileSync(join(ROOT, 'LICENSE'));
  // The FSF's text as the npm package @rexxars/choosealicense-list 1.1.2 ships it (licenses.json,
  // "AGPL-3.0" body), byte for byte.
  assert.equal(createHash('sha256').update(text).digest('hex'), AGPL_SHA256);
  assert.match(
    text.toString('utf8'),
    /^ {20}GNU AFFERO GENERAL PUBLIC LICENSE\n {23}Version 3, 19 November 2007\n/,
  );
  assert.match(
    text.toString('utf8'),
    /13\. Remote Network Interaction; Use with the GNU General Public License\./,
  );
  const chart = readFileSync(join(ROOT, 'charts', 'cosmolet', 'Chart.yaml'), 'utf8');
  assert.match(chart, /artifacthub\.io\/license: AGPL-3\.0-only/);
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /org\.opencontainers\.image\.licenses="AGPL-3\.0-only"/);
  assert.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), /AGPL-3\.0-only/);
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
