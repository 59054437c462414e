// docs/compatibility.md says what the image is built from: the Node.js of scripts/node24.env (which
// scripts/build-image.sh puts in the image), the Dockerfile's default base for a plain docker build,
// and the Debian release of scripts/image-bases.sh (the bases scripts/build-image.sh builds on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The table row of docs/compatibility.md whose first cell is the component. */
function row(component: string): string {
  const line = read('docs/compatibility.md')
    .split('\n')
    .find((l) => l.startsWith(`| ${component} |`));
  assert.ok(line, `docs/compatibility.md has a row for ${component}`);
  return line;
}

test("docs/compatibility.md names the image's Node.js, base and Debian release", () => {
  const node = /^NODE24_VERSION=(\S+)$/m.exec(read('scripts/node24.env'))?.[1];
  assert.ok(node, 'scripts/node24.env pins NODE24_VERSION');
  const base = /^ARG RUNTIME_IMAGE=\S+:(\S+)$/m.exec(read('Dockerfile'))?.[1];
  assert.ok(base, 'the Dockerfile has a default RUNTIME_IMAGE');
  const suite = /^SUITE=(\S+)$/m.exec(read('scripts/image-bases.sh'))?.[1];
  assert.ok(suite, 'scripts/image-bases.sh names its Debian suite');
  assert.ok(
    base.startsWith(`${node}-${suite}`),
    `the Dockerfile's base ${base} is Node.js ${node} on ${suite}`,
  );

  const nodeRow = row('Node.js');
  assert.ok(nodeRow.includes(node), `the Node.js row names ${node}: ${nodeRow}`);
  assert.ok(nodeRow.includes(`node:${base}`), `the Node.js row names node:${base}`);
  // No other Node.js 24 release than the image's.
  for (const m of nodeRow.matchAll(/\b24\.\d+\.\d+\b/g)) assert.equal(m[0], node, nodeRow);
  const image = row('Container image');
  assert.ok(image.includes(`Node.js ${node}`), image);
  assert.ok(image.includes(suite), image);
});
