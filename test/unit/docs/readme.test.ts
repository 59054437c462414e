// The README's configuration reference cannot drift from the schema: same keys, same defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { defaultConfig } from '../../../src/config/schema.js';
import { validateConfig } from '../../../src/config/load.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

function block(marker: string): string {
  const m = new RegExp(
    `<!-- ${marker}:start -->\\s*\`\`\`yaml\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${marker}:end -->`,
  ).exec(README);
  assert.ok(m?.[1], `README has a yaml block between the ${marker} markers`);
  return m[1];
}

test('the README config reference lists every key with the schema default', () => {
  const documented: unknown = parse(block('config-reference'));
  assert.deepEqual(documented, defaultConfig());
});

test('the README config reference is itself a valid config file', () => {
  assert.deepEqual(validateConfig(parse(block('config-reference'))), defaultConfig());
});

test('the README gives the two fresh-machine commands, and they exist', () => {
  for (const script of ['scripts/lab.sh', 'scripts/test.sh']) {
    assert.match(README, new RegExp(`\`\`\`sh\\nbash ${script.replace('.', '\\.')}\\n\`\`\``));
  }
  assert.ok(readFileSync(new URL('../../../scripts/test.sh', import.meta.url), 'utf8').includes('npm test'));
});
