// Runs every *.test.ts below the given folders (or the given test files) with node:test through tsx.
// Node 20's test runner takes no globs, so the files are listed here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const dirs = process.argv.slice(2);
const files = dirs.flatMap((p) => (statSync(p).isDirectory() ? collect(p) : [p]));
if (files.length === 0) {
  console.error(`no test files under ${dirs.join(' ')}`);
  process.exit(1);
}
const extra = process.env.TEST_CONCURRENCY ? [`--test-concurrency=${process.env.TEST_CONCURRENCY}`] : [];
const r = spawnSync(
  process.execPath,
  ['--conditions=source', '--import', 'tsx', '--test', ...extra, ...files],
  {
    stdio: 'inherit',
  },
);
process.exit(r.status ?? 1);
